// Routes and the query client. Flow pages (/login, /registration, /settings,
// /recovery, /verification, /error) are the URLs Kratos's selfservice config
// points at (k8s/base/kratos/kratos.yml); the rest need a session.
import { MutationCache, QueryCache, QueryClient } from "@tanstack/react-query";
import { createBrowserRouter, type RouteObject } from "react-router";
import { ApiError } from "./api/errors";
import { Layout } from "./components/Layout";
import { RequireSession } from "./components/RequireSession";
import { loginPath } from "./navigation";
import { HomePage } from "./pages/HomePage";
import { IdentityUnavailable, sessionKey } from "./session";
import { Spinner } from "./components/ui";

// The flow pages (and the Kratos SDK they use) and the account page load on
// demand: the first page a signed-in user sees needs neither.
const auth = () => import("./pages/auth");
const flowPage = (name: "LoginPage" | "RegistrationPage" | "RecoveryPage" | "VerificationPage" | "SettingsPage" | "KratosErrorPage" | "NotFoundPage") =>
  async () => ({ Component: (await auth())[name] });

export const routes: RouteObject[] = [
  {
    element: <Layout />,
    hydrateFallbackElement: <Spinner label="Loading" />,
    children: [
      { path: "/login", lazy: flowPage("LoginPage") },
      { path: "/registration", lazy: flowPage("RegistrationPage") },
      { path: "/recovery", lazy: flowPage("RecoveryPage") },
      { path: "/verification", lazy: flowPage("VerificationPage") },
      { path: "/error", lazy: flowPage("KratosErrorPage") },
      { path: "/settings", lazy: flowPage("SettingsPage") },
      {
        element: <RequireSession />,
        children: [
          { path: "/", element: <HomePage /> },
          { path: "/accounts/:id", lazy: async () => ({ Component: (await import("./pages/AccountPage")).AccountPage }) },
        ],
      },
      { path: "*", lazy: flowPage("NotFoundPage") },
    ],
  },
];

/**
 * isOutage tells a service that cannot answer now — the API's UNAVAILABLE
 * (503), no answer at all, the identity service not ready — from an answer.
 * An outage is waited out, never taken for a sign-out.
 */
export function isOutage(e: unknown): boolean {
  return (e instanceof ApiError && (e.unavailable || e.httpStatus === 0)) || e instanceof IdentityUnavailable;
}

/** retryDelay backs off from 0.25 s, doubling, to at most 10 s between tries. */
export const retryDelay = (failures: number) => Math.min(250 * 2 ** failures, 10_000);

/**
 * makeQueryClient retries what may succeed on a retry: an outage until it
 * ends (with backoff; OutageNotice says so meanwhile), other 5xx twice,
 * never a 4xx. It sends an expired session (401 from any query or
 * mutation) to the login page, which returns here afterwards.
 */
export function makeQueryClient(onUnauthenticated: () => void): QueryClient {
  const on401 = (e: unknown) => {
    if (e instanceof ApiError && e.unauthenticated) onUnauthenticated();
  };
  const qc: QueryClient = new QueryClient({
    queryCache: new QueryCache({ onError: on401 }),
    mutationCache: new MutationCache({ onError: on401 }),
    defaultOptions: {
      queries: {
        retry: (n, e) => isOutage(e) || (!(e instanceof ApiError && e.httpStatus >= 400 && e.httpStatus < 500) && n < 2),
        retryDelay,
        refetchOnWindowFocus: true,
      },
    },
  });
  return qc;
}

export function makeApp() {
  const router = createBrowserRouter(routes);
  const qc = makeQueryClient(() => {
    qc.setQueryData(sessionKey, null);
    void router.navigate(loginPath(window.location.href), { replace: true });
  });
  return { router, qc };
}
