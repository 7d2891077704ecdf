// What a Kratos answer means for the UI. Kratos's browser flows answer JSON
// when asked with Accept: application/json: a flow (200, or 400 with
// messages), a session or continue_with items (200), a redirect the browser
// must follow (422 browser_location_change_required, 403
// session_refresh_required), or an error ({error: {id, message, reason}}).
import type { ContinueWith, UiContainer } from "@ory/kratos-client-fetch";
import type { KratosAnswer } from "./client";

export type Outcome =
  | { kind: "flow"; flow: { id: string; ui: UiContainer } }
  | { kind: "redirect"; to: string }
  | { kind: "restart"; message?: string; useFlowId?: string }
  | { kind: "signin" }
  | { kind: "home" }
  | { kind: "done"; continueWith: ContinueWith[]; returnTo?: string }
  | { kind: "error"; message: string };

interface ErrorBody {
  error?: { id?: string; message?: string; reason?: string; code?: number };
  redirect_browser_to?: string;
  use_flow_id?: string;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function isFlow(v: unknown): v is { id: string; ui: UiContainer } {
  return isObject(v) && typeof v.id === "string" && isObject(v.ui) && Array.isArray(v.ui.nodes);
}

/** interpret maps a Kratos answer (of a submission or a flow fetch) to what the UI does next. */
export function interpret(a: KratosAnswer, returnTo?: string): Outcome {
  const body = a.body;
  if (a.status === 200 && isFlow(body)) {
    // A finished step that opens another flow (recovery -> settings) says
    // so in continue_with; follow it. Otherwise show the flow's new state.
    const cw = (body as { continue_with?: ContinueWith[] }).continue_with ?? [];
    if (cw.some((c) => c.action.startsWith("show_"))) return { kind: "done", continueWith: cw, returnTo };
    return { kind: "flow", flow: body };
  }
  if (a.status >= 200 && a.status < 300) {
    const cw = isObject(body) && Array.isArray(body.continue_with) ? (body.continue_with as ContinueWith[]) : [];
    return { kind: "done", continueWith: cw, returnTo };
  }
  if (a.status === 400 && isFlow(body)) return { kind: "flow", flow: body };
  const eb: ErrorBody = isObject(body) ? (body) : {};
  const id = eb.error?.id;
  if (eb.redirect_browser_to && (a.status === 422 || id === "session_refresh_required" || id === "browser_location_change_required")) {
    return { kind: "redirect", to: eb.redirect_browser_to };
  }
  switch (id) {
    case "session_already_available":
      return { kind: "home" };
    case "session_inactive":
      return { kind: "signin" };
    case "self_service_flow_expired":
      return { kind: "restart", message: "That form expired. Please try again.", useFlowId: eb.use_flow_id };
    case "security_csrf_violation":
    case "security_identity_mismatch":
      return { kind: "restart", message: "Your form was out of date. Please try again." };
  }
  if (a.status === 401) return { kind: "signin" };
  if (a.status === 404 || a.status === 410 || a.status === 403) {
    return { kind: "restart", useFlowId: eb.use_flow_id };
  }
  return {
    kind: "error",
    message: eb.error?.reason || eb.error?.message || `The identity service answered ${a.status}. Please try again.`,
  };
}

/**
 * Where continue_with items lead: a flow UI to show first (Kratos lists the
 * verification flow after a plain redirect to the return URL, but the user
 * should see it), else the redirect.
 */
export function nextFlowPath(items: ContinueWith[]): string | undefined {
  let redirect: string | undefined;
  for (const c of items) {
    switch (c.action) {
      case "show_verification_ui":
        return `/verification?flow=${encodeURIComponent(c.flow.id)}`;
      case "show_settings_ui":
        return `/settings?flow=${encodeURIComponent(c.flow.id)}`;
      case "show_recovery_ui":
        return `/recovery?flow=${encodeURIComponent(c.flow.id)}`;
      case "redirect_browser_to":
        redirect ??= c.redirect_browser_to;
    }
  }
  return redirect;
}
