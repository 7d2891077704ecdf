// Kratos's public API on this origin (the proxy strips the prefix). The
// generated SDK (@ory/kratos-client-fetch, Kratos's 1.3 line) gives the
// types and the flow-creating calls; flow submissions go through submitFlow,
// which posts exactly what the rendered form holds.
import { Configuration, FrontendApi, ResponseError } from "@ory/kratos-client-fetch";
import type {
  LoginFlow,
  RecoveryFlow,
  RegistrationFlow,
  SettingsFlow,
  VerificationFlow,
} from "@ory/kratos-client-fetch";

import { kratosBase } from "./base";

export const frontend = new FrontendApi(
  new Configuration({
    basePath: kratosBase,
    credentials: "include",
    headers: { Accept: "application/json" },
  }),
);

export type FlowKind = "login" | "registration" | "settings" | "recovery" | "verification";

export interface FlowTypes {
  login: LoginFlow;
  registration: RegistrationFlow;
  settings: SettingsFlow;
  recovery: RecoveryFlow;
  verification: VerificationFlow;
}

export type AnyFlow = FlowTypes[FlowKind];

/** Creates a browser flow of kind; returnTo is an absolute URL on this origin. */
export function createFlow<K extends FlowKind>(kind: K, opts: { returnTo?: string; refresh?: boolean }): Promise<FlowTypes[K]> {
  const returnTo = opts.returnTo || undefined;
  switch (kind) {
    case "login":
      return frontend.createBrowserLoginFlow({ returnTo, refresh: opts.refresh || undefined }) as Promise<FlowTypes[K]>;
    case "registration":
      return frontend.createBrowserRegistrationFlow({ returnTo }) as Promise<FlowTypes[K]>;
    case "settings":
      return frontend.createBrowserSettingsFlow({ returnTo }) as Promise<FlowTypes[K]>;
    case "recovery":
      return frontend.createBrowserRecoveryFlow({ returnTo }) as Promise<FlowTypes[K]>;
    default:
      return frontend.createBrowserVerificationFlow({ returnTo }) as Promise<FlowTypes[K]>;
  }
}

/** Fetches an existing flow by id. */
export function getFlow<K extends FlowKind>(kind: K, id: string): Promise<FlowTypes[K]> {
  switch (kind) {
    case "login":
      return frontend.getLoginFlow({ id }) as Promise<FlowTypes[K]>;
    case "registration":
      return frontend.getRegistrationFlow({ id }) as Promise<FlowTypes[K]>;
    case "settings":
      return frontend.getSettingsFlow({ id }) as Promise<FlowTypes[K]>;
    case "recovery":
      return frontend.getRecoveryFlow({ id }) as Promise<FlowTypes[K]>;
    default:
      return frontend.getVerificationFlow({ id }) as Promise<FlowTypes[K]>;
  }
}

/** Kratos's answer to a submission: the HTTP status and the JSON body. */
export interface KratosAnswer {
  status: number;
  body: unknown;
}

/**
 * submitFlow posts the form's values as JSON to the flow's endpoint, like
 * the browser would post the form itself, and returns Kratos's answer
 * whatever the status (400 carries the flow with messages, 422 a redirect).
 */
export async function submitFlow(kind: FlowKind, flowId: string, body: Record<string, unknown>): Promise<KratosAnswer> {
  const res = await fetch(`${kratosBase}/self-service/${kind}?flow=${encodeURIComponent(flowId)}`, {
    method: "POST",
    credentials: "include",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed };
}

/** Turns an SDK ResponseError into a KratosAnswer; rethrows anything else. */
export async function answerOf(e: unknown): Promise<KratosAnswer> {
  if (e instanceof ResponseError) {
    let body: unknown;
    try {
      body = await e.response.json();
    } catch {
      body = undefined;
    }
    return { status: e.response.status, body };
  }
  throw e;
}

