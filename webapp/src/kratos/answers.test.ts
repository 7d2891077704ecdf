import { describe, expect, it } from "vitest";
import { interpret, nextFlowPath } from "./answers";

const flow = { id: "f1", ui: { action: "/x", method: "POST", nodes: [], messages: [] } };

describe("interpret", () => {
  it("shows a flow, with or without validation messages", () => {
    expect(interpret({ status: 200, body: flow })).toEqual({ kind: "flow", flow });
    expect(interpret({ status: 400, body: flow })).toEqual({ kind: "flow", flow });
  });
  it("follows a flow whose continue_with opens another flow (recovery -> settings)", () => {
    const cw = [{ action: "show_settings_ui", flow: { id: "s1", url: "http://x/settings?flow=s1" } }];
    const o = interpret({ status: 200, body: { ...flow, state: "passed_challenge", continue_with: cw } });
    expect(o.kind).toBe("done");
  });
  it("follows Kratos's redirects", () => {
    expect(interpret({ status: 422, body: { error: { id: "browser_location_change_required" }, redirect_browser_to: "http://127.0.0.1:8080/settings?flow=2" } })).toEqual({
      kind: "redirect",
      to: "http://127.0.0.1:8080/settings?flow=2",
    });
    expect(interpret({ status: 403, body: { error: { id: "session_refresh_required" }, redirect_browser_to: "/login?refresh=true" } }).kind).toBe("redirect");
  });
  it("restarts expired or forged flows", () => {
    expect(interpret({ status: 410, body: { error: { id: "self_service_flow_expired" }, use_flow_id: "new" } })).toMatchObject({ kind: "restart", useFlowId: "new" });
    expect(interpret({ status: 403, body: { error: { id: "security_csrf_violation" } } }).kind).toBe("restart");
    expect(interpret({ status: 404, body: {} }).kind).toBe("restart");
  });
  it("goes home when already signed in, and to sign-in without a session", () => {
    expect(interpret({ status: 400, body: { error: { id: "session_already_available" } } }).kind).toBe("home");
    expect(interpret({ status: 401, body: { error: { id: "session_inactive" } } }).kind).toBe("signin");
  });
  it("reports anything else with Kratos's reason", () => {
    expect(interpret({ status: 500, body: { error: { reason: "database down" } } })).toEqual({ kind: "error", message: "database down" });
    expect(interpret({ status: 502, body: undefined })).toMatchObject({ kind: "error" });
  });
});

describe("nextFlowPath", () => {
  it("prefers showing the next flow over a plain redirect", () => {
    expect(
      nextFlowPath([
        { action: "redirect_browser_to", redirect_browser_to: "http://127.0.0.1:8080/" },
        { action: "show_verification_ui", flow: { id: "v1", url: "", verifiable_address: "a@b.c" } },
      ]),
    ).toBe("/verification?flow=v1");
    expect(nextFlowPath([{ action: "redirect_browser_to", redirect_browser_to: "http://127.0.0.1:8080/" }])).toBe("http://127.0.0.1:8080/");
    expect(nextFlowPath([])).toBeUndefined();
  });
});
