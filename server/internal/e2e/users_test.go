package e2e_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	groundworkv1 "github.com/groundwork-dev/groundwork/server/gen/groundwork/v1"
	"github.com/groundwork-dev/groundwork/server/internal/cli"
	"github.com/groundwork-dev/groundwork/server/internal/kratostest"
)

// TestChangedTraitsReachTheUsersTable: without the web hook, a user's
// changed email and name arrive with their next verified request.
func TestChangedTraitsReachTheUsersTable(t *testing.T) {
	t.Parallel()
	k := kratostest.Shared(t)
	s := startServer(t, serverOptions{kratos: k, cacheTTL: ttl(0)})
	u, ss := registerAPI(t, k)
	c := s.jsonClient(t, withHeader("X-Session-Token", ss.Token))

	_, err := c.users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	before, ok := s.userRow(t, ss.IdentityID)
	require.True(t, ok)

	email, name := "changed-"+u.Email, "Changed "+u.Name
	k.UpdateTraits(t, ss, email, name)
	me, err := c.users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	require.Equal(t, email, me.GetUser().GetEmail())
	require.Equal(t, name, me.GetUser().GetDisplayName())
	after, ok := s.userRow(t, ss.IdentityID)
	require.True(t, ok)
	require.Equal(t, email, after.Email)
	require.Equal(t, name, after.DisplayName)
	require.True(t, after.CreatedAt.Equal(before.CreatedAt))
	require.True(t, after.UpdatedAt.After(before.UpdatedAt))
}

// TestKratosWebHook runs Kratos with k8s/base/kratos/identity-hook.yml and
// the variables docs/auth.md names, and the server with the same key
// (KRATOS_HOOK_KEY): the users row appears when a user signs up, and
// follows a profile change, without the user calling the API.
func TestKratosWebHook(t *testing.T) {
	t.Parallel()
	root, err := kratostest.RepoRoot()
	require.NoError(t, err)
	// Kratos needs the hook URL when it starts, the server picks its ops
	// port when it starts: a forwarder in between, as a Service would be.
	fwd := newForwarder(t)
	env := map[string]string{}
	for _, p := range []string{
		"SELFSERVICE_FLOWS_REGISTRATION_AFTER_PASSWORD_HOOKS_0_CONFIG_",
		"SELFSERVICE_FLOWS_SETTINGS_AFTER_PROFILE_HOOKS_0_CONFIG_",
	} {
		env[p+"AUTH_CONFIG_VALUE"] = hookKey
		env[p+"URL"] = fwd.URL() + cli.KratosHookPath
		env[p+"BODY"] = "file://" + filepath.Join(root, "k8s", "base", "kratos", "identity-hook.jsonnet")
	}
	k := kratostest.Start(t, kratostest.Options{ConfigFiles: []string{"identity-hook.yml"}, Env: env})
	s := startServer(t, serverOptions{kratos: k, hookKey: hookKey})
	fwd.forwardTo(strings.TrimPrefix(s.opsURL, "http://"))

	// Signing up, through the API flow and through the browser flow,
	// writes the row; the users call nothing.
	u, ss := registerAPI(t, k)
	row := s.waitUserRow(t, ss.IdentityID, func(userRow) bool { return true })
	require.Equal(t, u.Email, row.Email)
	require.Equal(t, u.Name, row.DisplayName)
	b := kratostest.NewUser()
	bs := k.RegisterBrowser(t, b.Email, b.Name, b.Password)
	brow := s.waitUserRow(t, bs.IdentityID, func(userRow) bool { return true })
	require.Equal(t, b.Email, brow.Email)

	// A profile change reaches the row.
	email, name := "changed-"+u.Email, "Changed "+u.Name
	k.UpdateTraits(t, ss, email, name)
	changed := s.waitUserRow(t, ss.IdentityID, func(r userRow) bool { return r.Email == email })
	require.Equal(t, name, changed.DisplayName)
	require.True(t, changed.CreatedAt.Equal(row.CreatedAt))
	require.True(t, changed.UpdatedAt.After(row.UpdatedAt))
	require.Empty(t, s.log.rpcs(""), "all of it without an RPC")

	// The first request finds the row the hook wrote.
	me, err := s.grpcClient(t, "x-session-token", ss.Token).users.GetMe(t.Context(), &groundworkv1.GetMeRequest{})
	require.NoError(t, err)
	require.Equal(t, email, me.GetUser().GetEmail())
	require.Equal(t, name, me.GetUser().GetDisplayName())
	require.True(t, me.GetUser().GetCreateTime().AsTime().Equal(row.CreatedAt))

	// The hook route wants the key; without it nothing is written.
	const stranger = "0b9c7d6e-1f2a-4b3c-8d4e-5f6a7b8c9d0e"
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.opsURL+cli.KratosHookPath,
		strings.NewReader(`{"identity_id":"`+stranger+`","email":"stranger@groundwork.test","name":"Stranger"}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	_, ok := s.userRow(t, stranger)
	require.False(t, ok)
}
