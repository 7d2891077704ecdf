// Body of Kratos's web hook to the server's identity-sync endpoint
// (server/internal/auth.HookHandler on the server's ops port), sent after
// registration and after a profile change (identity-hook.yml). The server
// upserts its users row from it. See docs/auth.md.
function(ctx) {
  identity_id: ctx.identity.id,
  email: ctx.identity.traits.email,
  name: if std.objectHas(ctx.identity.traits, 'name') then ctx.identity.traits.name else '',
}
