// The app as a whole, in jsdom, with fetch answering as the gateway and
// Kratos do: routes, the flow lifecycle, field errors from the API, and an
// expired session.
import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeQueryClient, routes } from "./app";
import { loginPath } from "./navigation";
import { json, loginFlow } from "./test/fixtures";

type Handler = (url: URL, init: RequestInit | undefined) => Response | undefined;

/** fakeBackend answers fetch by URL; an unexpected request fails the test. */
function fakeBackend(...handlers: Handler[]) {
  const calls: { method: string; url: string; body?: unknown }[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((input: string | URL | Request, init?: RequestInit) => {
      const raw = input instanceof Request ? input.url : String(input);
      const url = new URL(raw, window.location.origin);
      const method = init?.method ?? (input instanceof Request ? input.method : "GET");
      calls.push({ method, url: url.pathname + url.search, body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined });
      for (const h of handlers) {
        const res = h(url, init);
        if (res) return Promise.resolve(res);
      }
      return Promise.reject(new Error(`unexpected ${method} ${url.pathname}${url.search}`));
    }),
  );
  return calls;
}

const session = (url: URL) =>
  url.pathname === "/.ory/kratos/public/sessions/whoami"
    ? json({ id: "s1", active: true, identity: { id: "i1", schema_id: "default", schema_url: "", traits: { email: "ada@example.com", name: "Ada" } } })
    : undefined;
const noSession = (url: URL) =>
  url.pathname === "/.ory/kratos/public/sessions/whoami" ? json({ error: { code: 401, id: "session_inactive" } }, 401) : undefined;
const kratosReady = (url: URL) => (url.pathname === "/.ory/kratos/public/health/ready" ? json({ status: "ok" }) : undefined);
const me = (url: URL) =>
  url.pathname === "/api/v1/me" ? json({ user: { id: "u1", email: "ada@example.com", displayName: "Ada", createTime: "2026-01-02T03:04:05Z" } }) : undefined;

function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const qc = makeQueryClient(() => void router.navigate(loginPath(window.location.origin + router.state.location.pathname), { replace: true }));
  render(
    <QueryClientProvider client={qc}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

afterEach(() => vi.unstubAllGlobals());

describe("the accounts page", () => {
  it("shows the profile, the empty state, and a field error from the API under the field", async () => {
    const calls = fakeBackend(session, me, (url, init) => {
      if (url.pathname !== "/api/v1/accounts") return undefined;
      if (init?.method === "POST") {
        return json(
          {
            code: 3,
            message: "name: must not be empty",
            details: [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "name", description: "must not be empty" }] }],
          },
          400,
        );
      }
      return json({ accounts: [], nextPageToken: "" });
    });
    renderAt("/");
    expect(await screen.findByTestId("profile-email")).toHaveTextContent("ada@example.com");
    expect(await screen.findByText(/No accounts yet/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Create account" }));
    const field = screen.getByLabelText("New account name");
    await waitFor(() => expect(field).toHaveAccessibleDescription("must not be empty"));
    expect(field).toHaveAttribute("aria-invalid", "true");
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({ name: "" });
  });

  it("pages through accounts with the cursor", async () => {
    const calls = fakeBackend(session, me, (url) => {
      if (url.pathname !== "/api/v1/accounts") return undefined;
      return url.searchParams.get("pageToken") === "p2"
        ? json({ accounts: [{ id: "b", name: "Second page" }], nextPageToken: "" })
        : json({ accounts: [{ id: "a", name: "First page" }], nextPageToken: "p2" });
    });
    renderAt("/");
    expect(await screen.findByRole("link", { name: "First page" })).toHaveAttribute("href", "/accounts/a");
    await userEvent.click(screen.getByRole("button", { name: "Next" }));
    expect(await screen.findByRole("link", { name: "Second page" })).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Next" })).toBeDisabled();
    expect(calls.some((c) => c.url === "/api/v1/accounts?pageSize=10&pageToken=p2")).toBe(true);
    await userEvent.click(screen.getByRole("button", { name: "Previous" }));
    expect(await screen.findByRole("link", { name: "First page" })).toBeInTheDocument();
  });

  it("sends an expired session (401) to the login page, which returns here", async () => {
    fakeBackend(session, (url) =>
      url.pathname.startsWith("/api/") ? json({ code: 16, message: "authentication required", details: [] }, 401) : undefined,
    (url) => (url.pathname === "/.ory/kratos/public/self-service/login/browser" ? json(loginFlow()) : undefined));
    const router = renderAt("/");
    await waitFor(() => expect(router.state.location.pathname).toBe("/login"));
    expect(new URLSearchParams(router.state.location.search).get("return_to")).toBe(`${window.location.origin}/`);
  });
});

describe("an outage", () => {
  it("keeps the page, says it is retrying, and recovers when the API answers again", async () => {
    let unavailable = 3; // one more than the two retries other 5xx get
    fakeBackend(session, me, (url) => {
      if (url.pathname !== "/api/v1/accounts") return undefined;
      if (unavailable > 0) {
        unavailable--;
        return json({ code: 14, message: "the service is unavailable, try again", details: [] }, 503);
      }
      return json({ accounts: [], nextPageToken: "" });
    });
    const router = renderAt("/");
    expect(await screen.findByText(/unavailable right now; retrying/)).toBeInTheDocument();
    expect(await screen.findByText(/No accounts yet/, undefined, { timeout: 4000 })).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText(/retrying/)).not.toBeInTheDocument());
    expect(router.state.location.pathname).toBe("/");
  });

  it("does not take Kratos's 401 for a sign-out while Kratos is not ready", async () => {
    let ready = false;
    const calls = fakeBackend(
      (url) => (url.pathname === "/.ory/kratos/public/health/ready" ? json({ status: "not ready" }, ready ? 200 : 503) : undefined),
      (url) => (ready ? session(url) : noSession(url)),
      me,
      (url) => (url.pathname === "/api/v1/accounts" ? json({ accounts: [], nextPageToken: "" }) : undefined),
    );
    const router = renderAt("/");
    expect(await screen.findByText(/unavailable right now; retrying/)).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/");
    ready = true;
    expect(await screen.findByTestId("profile-email", undefined, { timeout: 4000 })).toHaveTextContent("ada@example.com");
    expect(router.state.location.pathname).toBe("/");
    expect(calls.some((c) => c.url === "/.ory/kratos/public/health/ready")).toBe(true);
  });

  it("still signs out on a 401 from a ready Kratos", async () => {
    fakeBackend(noSession, kratosReady, (url) => (url.pathname === "/.ory/kratos/public/self-service/login/browser" ? json(loginFlow()) : undefined));
    const router = renderAt("/");
    await waitFor(() => expect(router.state.location.pathname).toBe("/login"));
  });
});

describe("the login flow", () => {
  it("creates the flow with return_to, shows Kratos's errors, and returns after signing in", async () => {
    let attempts = 0;
    const calls = fakeBackend(noSession, kratosReady, (url, init) => {
      if (url.pathname === "/.ory/kratos/public/self-service/login/browser") return json(loginFlow());
      if (url.pathname === "/.ory/kratos/public/self-service/login" && init?.method === "POST") {
        attempts++;
        if (attempts === 1) {
          const f = loginFlow();
          f.ui.messages = [{ id: 4000006, text: "The provided credentials are invalid, check for spelling mistakes in your password or username, email address, or phone number.", type: "error" }];
          return json(f, 400);
        }
        return json({ session: { id: "s1" }, continue_with: [] });
      }
      return undefined;
    });
    const returnTo = `${window.location.origin}/accounts/42`;
    const router = renderAt(`/login?return_to=${encodeURIComponent(returnTo)}`);
    await userEvent.type(await screen.findByLabelText("E-Mail"), "ada@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "wrong");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText(/credentials are invalid/)).toBeInTheDocument();
    expect(router.state.location.search).toContain("flow=login-1");

    // Kratos keeps the flow's return_to; the app goes there after success.
    vi.unstubAllGlobals();
    fakeBackend(session, (url, init) =>
      url.pathname === "/.ory/kratos/public/self-service/login" && init?.method === "POST"
        ? json({ session: { id: "s1" }, continue_with: [{ action: "redirect_browser_to", redirect_browser_to: returnTo }] })
        : undefined,
    (url) => (url.pathname === "/api/v1/accounts/42" ? json({ account: { id: "42", name: "Savings" } }) : undefined));
    await userEvent.type(screen.getByLabelText("Password"), "right");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await waitFor(() => expect(router.state.location.pathname).toBe("/accounts/42"));
    const create = calls.find((c) => c.url.startsWith("/.ory/kratos/public/self-service/login/browser"));
    expect(new URL(create?.url ?? "", window.location.origin).searchParams.get("return_to")).toBe(returnTo);
    const submit = calls.find((c) => c.method === "POST");
    expect(submit?.body).toEqual({ csrf_token: "csrf-123", identifier: "ada@example.com", password: "wrong", method: "password" });
  });

  it("starts a new flow when the old one expired", async () => {
    let gets = 0;
    fakeBackend(noSession, kratosReady, (url) => {
      if (url.pathname !== "/.ory/kratos/public/self-service/login/flows") return undefined;
      gets++;
      return url.searchParams.get("id") === "old" ? json({ error: { id: "self_service_flow_expired", code: 410 }, use_flow_id: "login-2" }, 410) : json(loginFlow({ id: "login-2" }));
    });
    const router = renderAt("/login?flow=old");
    await waitFor(() => expect(router.state.location.search).toContain("flow=login-2"));
    expect(await screen.findByRole("button", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.getByRole("status")).toHaveTextContent(/expired/);
    expect(gets).toBe(2);
  });
});
