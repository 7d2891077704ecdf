import { afterEach, describe, expect, it, vi } from "vitest";
import { call, operationURL } from "./client";
import { ApiError } from "./errors";

function mockFetch(status: number, body: unknown) {
  const fn = vi.fn((_url: string, _init?: RequestInit) =>
    Promise.resolve(new Response(typeof body === "string" ? body : JSON.stringify(body), { status })),
  );
  vi.stubGlobal("fetch", fn);
  return fn;
}

afterEach(() => vi.unstubAllGlobals());

describe("operationURL", () => {
  it("fills path parameters from the generated routes and encodes them", () => {
    expect(operationURL("AccountService_GetAccountExport", { path: { accountId: "a/b", id: "e 1" } })).toBe(
      "/api/v1/accounts/a%2Fb/exports/e%201",
    );
  });
  it("adds only the query parameters that are set", () => {
    expect(operationURL("AccountService_ListAccounts", { query: { pageSize: 10, pageToken: "" } })).toBe("/api/v1/accounts?pageSize=10");
  });
  it("refuses an empty path parameter", () => {
    expect(() => operationURL("AccountService_GetAccount", { path: { id: "" } })).toThrow(/id is required/);
  });
});

describe("call", () => {
  it("sends JSON with the generated method, always with Content-Type (the CSRF check)", async () => {
    const f = mockFetch(200, { account: { id: "1", name: "Savings" } });
    const res = await call("AccountService_CreateAccount", { body: { name: "Savings" } });
    expect(res.account?.name).toBe("Savings");
    const [url, init] = f.mock.calls[0] ?? [];
    expect(url).toBe("/api/v1/accounts");
    expect(init?.method).toBe("POST");
    expect(init?.body).toBe('{"name":"Savings"}');
    expect(init?.credentials).toBe("same-origin");
    expect((init?.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
  });

  it("sends Content-Type on a DELETE without a body too", async () => {
    const f = mockFetch(200, {});
    await call("AccountService_DeleteAccount", { path: { id: "42" } });
    const init = f.mock.calls[0]?.[1];
    expect(init?.method).toBe("DELETE");
    expect(init?.body).toBeUndefined();
    expect((init?.headers as Record<string, string>)["Content-Type"]).toBe("application/json");
  });

  it("throws an ApiError with the field violations of a 400", async () => {
    mockFetch(400, {
      code: 3,
      message: "name: must not be empty",
      details: [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations: [{ field: "name", description: "must not be empty" }] }],
    });
    const err = await call("AccountService_CreateAccount", { body: { name: "" } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).httpStatus).toBe(400);
    expect((err as ApiError).field("name")).toBe("must not be empty");
  });

  it("reports a 401 as an expired session", async () => {
    mockFetch(401, { code: 16, message: "authentication required", details: [] });
    const err = (await call("UserService_GetMe", {}).catch((e: unknown) => e)) as ApiError;
    expect(err.unauthenticated).toBe(true);
  });

  it("survives a body that is not JSON (a proxy's error page)", async () => {
    mockFetch(502, "<html>Bad Gateway</html>");
    const err = (await call("UserService_GetMe", {}).catch((e: unknown) => e)) as ApiError;
    expect(err.httpStatus).toBe(502);
    expect(err.message).toMatch(/502/);
  });

  it("turns a network failure into a readable ApiError", async () => {
    vi.stubGlobal("fetch", vi.fn(() => Promise.reject(new TypeError("Failed to fetch"))));
    const err = (await call("UserService_GetMe", {}).catch((e: unknown) => e)) as ApiError;
    expect(err).toBeInstanceOf(ApiError);
    expect(err.message).toMatch(/cannot be reached/);
  });
});
