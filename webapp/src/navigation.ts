// Where to send the user: same-origin URLs become in-app paths; an expired
// session goes to the login page with return_to, so the user comes back.

/** The path (with query and hash) of a URL on this origin; undefined for another origin. */
export function appPath(to: string): string | undefined {
  let u: URL;
  try {
    u = new URL(to, window.location.origin);
  } catch {
    return undefined;
  }
  if (u.origin !== window.location.origin) return undefined;
  return `${u.pathname}${u.search}${u.hash}`;
}

/** The login page that returns to returnTo (an absolute URL on this origin) afterwards. */
export function loginPath(returnTo: string): string {
  const path = appPath(returnTo);
  // Back to a flow page after login makes no sense; go home instead.
  if (!path || /^\/(login|registration|recovery|verification|error)\b/.test(path)) return "/login";
  return `/login?return_to=${encodeURIComponent(new URL(path, window.location.origin).href)}`;
}
