// The account page against a stubbed gateway: the export's state is polled
// until it finishes, without a reload, then downloaded; renaming shows the
// server's errors.
import { QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router";
import { afterEach, describe, expect, it, vi } from "vitest";
import { makeQueryClient, routes } from "../app";
import { json } from "../test/fixtures";

const account = { id: "a1", name: "Savings", createTime: "2026-01-01T00:00:00Z", updateTime: "2026-01-01T00:00:00Z" };

function backend(exportStates: string[], extra?: (url: URL, init?: RequestInit) => Response | undefined) {
  const polls: string[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn((input: string, init?: RequestInit) => {
      const url = new URL(input, window.location.origin);
      const r = extra?.(url, init);
      if (r) return Promise.resolve(r);
      switch (url.pathname) {
        case "/.ory/kratos/public/sessions/whoami":
          return Promise.resolve(json({ id: "s", active: true, identity: { id: "i", traits: { email: "ada@example.com" } } }));
        case "/api/v1/accounts/a1":
          return Promise.resolve(json({ account }));
        case "/api/v1/accounts/a1/exports":
          return Promise.resolve(json({ export: { id: "e1", accountId: "a1", state: "STATE_PENDING" } }));
        case "/api/v1/accounts/a1/exports/e1": {
          const state = exportStates[Math.min(polls.length, exportStates.length - 1)] ?? "STATE_PENDING";
          polls.push(state);
          return Promise.resolve(json({ export: { id: "e1", accountId: "a1", state, error: state === "STATE_FAILED" ? "disk full" : "" } }));
        }
        case "/api/v1/accounts/a1/exports/e1/content":
          return Promise.resolve(json({ filename: "account-a1-export.json", contentType: "application/json", content: btoa('{"name":"Savings"}') }));
      }
      return Promise.reject(new Error(`unexpected ${init?.method ?? "GET"} ${url.pathname}`));
    }),
  );
  return polls;
}

function renderAt(path: string) {
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  render(
    <QueryClientProvider client={makeQueryClient(() => {})}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

afterEach(() => vi.unstubAllGlobals());

/** jsdom's Blob has no text(); its FileReader does the job. */
function readBlob(b: Blob | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    if (!b) return reject(new Error("no blob"));
    const r = new FileReader();
    r.onload = () => resolve(typeof r.result === "string" ? r.result : "");
    r.onerror = () => reject(new Error("read failed"));
    r.readAsText(b);
  });
}

describe("the account page", () => {
  it("polls a requested export until it succeeded, on the same page, then downloads it", async () => {
    const polls = backend(["STATE_PENDING", "STATE_RUNNING", "STATE_SUCCEEDED"]);
    const created: Blob[] = [];
    vi.stubGlobal("URL", Object.assign(URL, { createObjectURL: (b: Blob) => (created.push(b), "blob:x"), revokeObjectURL: () => {} }));
    const clicked = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
    const router = renderAt("/accounts/a1");
    await userEvent.click(await screen.findByRole("button", { name: "Request export" }));
    await waitFor(() => expect(router.state.location.search).toBe("?export=e1"));
    expect(await screen.findByTestId("export-state")).toHaveTextContent("Waiting for a worker");
    await waitFor(() => expect(screen.getByTestId("export-state")).toHaveTextContent("Ready"), { timeout: 5000 });
    expect(polls.slice(0, 3)).toEqual(["STATE_PENDING", "STATE_RUNNING", "STATE_SUCCEEDED"]);
    const after = polls.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(polls.length).toBe(after); // finished: no more polling

    await userEvent.click(screen.getByRole("button", { name: "Download export" }));
    expect(await screen.findByText("Saved as account-a1-export.json.")).toBeInTheDocument();
    expect(clicked).toHaveBeenCalled();
    expect(created[0]?.type).toBe("application/json");
    expect(await readBlob(created[0])).toBe('{"name":"Savings"}');
  }, 10_000);

  it("shows why an export failed", async () => {
    backend(["STATE_FAILED"]);
    renderAt("/accounts/a1?export=e1");
    expect(await screen.findByTestId("export-state")).toHaveTextContent("Failed");
    expect(screen.getByRole("alert")).toHaveTextContent("disk full");
    expect(screen.queryByRole("button", { name: "Download export" })).toBeNull();
  });

  it("shows a rename's conflict and a field error where they belong", async () => {
    let n = 0;
    backend([], (url, init) => {
      if (url.pathname !== "/api/v1/accounts/a1" || init?.method !== "PATCH") return undefined;
      n++;
      return n === 1
        ? json({ code: 6, message: "an account with this name already exists", details: [] }, 409)
        : json({ code: 3, message: "name: must be at most 100 characters", details: [] }, 400);
    });
    renderAt("/accounts/a1");
    const name = await screen.findByLabelText("Name");
    await userEvent.clear(name);
    await userEvent.type(name, "Taken");
    await userEvent.click(screen.getByRole("button", { name: "Rename" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("an account with this name already exists");
    expect(name).not.toHaveAttribute("aria-invalid");
    await userEvent.click(screen.getByRole("button", { name: "Rename" }));
    await waitFor(() => expect(name).toHaveAccessibleDescription("must be at most 100 characters"));
  });

  it("says so when the account does not exist", async () => {
    backend([], (url) => (url.pathname === "/api/v1/accounts/gone" ? json({ code: 5, message: "account not found", details: [] }, 404) : undefined));
    renderAt("/accounts/gone");
    expect(await screen.findByRole("heading", { name: "Account not found" })).toBeInTheDocument();
  });
});
