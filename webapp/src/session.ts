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

/** whoami returns the session, or null when signed out. */
export async function whoami(): Promise<Session | null> {
  const res = await kratosGet("/sessions/whoami");
  if (res.status === 401 || res.status === 403) return null; // signed out (or a second factor is due)
  if (!res.ok) throw new Error(`The identity service answered ${res.status}.`);
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
