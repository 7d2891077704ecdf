// The Kratos session of this browser (GET /sessions/whoami), for the header
// and for guarding the pages that need one. A plain fetch typed by the SDK's
// Session: the SDK's runtime stays in the flow pages' lazily loaded chunk.
import { useQuery } from "@tanstack/react-query";
import type { LogoutFlow, Session } from "@ory/kratos-client-fetch";
import { kratosBase } from "./kratos/base";

export const sessionKey = ["session"] as const;

async function kratosGet(path: string): Promise<Response> {
  return fetch(`${kratosBase}${path}`, { credentials: "include", headers: { Accept: "application/json" } });
}

/**
 * IdentityUnavailable means the identity service cannot tell right now
 * whether this browser is signed in: an outage, to wait out, not a sign-out.
 */
export class IdentityUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IdentityUnavailable";
  }
}

/** kratosReady reports whether Kratos answers /health/ready (it checks its own database). */
async function kratosReady(): Promise<boolean> {
  try {
    return (await kratosGet("/health/ready")).ok;
  } catch {
    return false;
  }
}

/**
 * whoami returns the session, or null when signed out. Kratos answers 401 for
 * every session while it cannot reach its database, so a 401 or 403 means
 * "signed out" only from a Kratos that is ready; otherwise whoami throws
 * IdentityUnavailable and the query retries.
 */
export async function whoami(): Promise<Session | null> {
  let res: Response;
  try {
    res = await kratosGet("/sessions/whoami");
  } catch {
    throw new IdentityUnavailable("The identity service cannot be reached.");
  }
  if (res.status === 401 || res.status === 403) {
    if (await kratosReady()) return null; // signed out (or a second factor is due)
    throw new IdentityUnavailable("The identity service is not ready.");
  }
  if (!res.ok) throw new IdentityUnavailable(`The identity service answered ${res.status}.`);
  return (await res.json()) as Session;
}

/** logout ends the session: a logout flow, then its token. */
export async function logout(): Promise<void> {
  const res = await kratosGet("/self-service/logout/browser");
  if (res.status === 401) return; // already signed out
  if (!res.ok) throw new Error(`The identity service answered ${res.status}.`);
  const flow = (await res.json()) as LogoutFlow;
  const done = await kratosGet(`/self-service/logout?token=${encodeURIComponent(flow.logout_token)}`);
  if (!done.ok && done.status !== 401) throw new Error(`The identity service answered ${done.status}.`);
}

export function useSession() {
  return useQuery({ queryKey: sessionKey, queryFn: whoami, staleTime: 30_000 });
}
