// Kratos flows as Kratos 1.3 sends them (trimmed from real answers of the
// local stack), for the renderer's tests.
import type { LoginFlow, RegistrationFlow, UiNode } from "@ory/kratos-client-fetch";

const csrf: UiNode = {
  type: "input",
  group: "default",
  attributes: { name: "csrf_token", type: "hidden", value: "csrf-123", required: true, disabled: false, node_type: "input" },
  messages: [],
  meta: {},
};

export function loginFlow(overrides: Partial<LoginFlow> = {}): LoginFlow {
  return {
    id: "login-1",
    type: "browser",
    expires_at: new Date(Date.now() + 600_000),
    issued_at: new Date(),
    request_url: "http://127.0.0.1:8080/self-service/login/browser",
    state: "choose_method",
    ui: {
      action: "http://127.0.0.1:8080/.ory/kratos/public/self-service/login?flow=login-1",
      method: "POST",
      nodes: [
        csrf,
        {
          type: "input",
          group: "default",
          attributes: { name: "identifier", type: "text", value: "", required: true, disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070004, text: "E-Mail", type: "info" } },
        },
        {
          type: "input",
          group: "password",
          attributes: { name: "password", type: "password", required: true, autocomplete: "current-password", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070001, text: "Password", type: "info" } },
        },
        {
          type: "input",
          group: "password",
          attributes: { name: "method", type: "submit", value: "password", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1010001, text: "Sign in", type: "info" } },
        },
      ],
    },
    ...overrides,
  };
}

export function registrationFlowWithErrors(): RegistrationFlow {
  return {
    id: "reg-1",
    type: "browser",
    expires_at: new Date(Date.now() + 600_000),
    issued_at: new Date(),
    request_url: "http://127.0.0.1:8080/self-service/registration/browser",
    state: "choose_method",
    ui: {
      action: "http://127.0.0.1:8080/.ory/kratos/public/self-service/registration?flow=reg-1",
      method: "POST",
      messages: [{ id: 4000007, text: "An account with the same identifier (email, phone, username, ...) exists already.", type: "error" }],
      nodes: [
        csrf,
        {
          type: "input",
          group: "profile",
          attributes: { name: "traits.email", type: "email", value: "ada", required: true, autocomplete: "email", disabled: false, node_type: "input" },
          messages: [{ id: 4000001, text: '"ada" is not valid "email"', type: "error" }],
          meta: { label: { id: 1070002, text: "E-Mail", type: "info" } },
        },
        {
          type: "input",
          group: "profile",
          attributes: { name: "traits.name", type: "text", value: "Ada", required: true, disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1070002, text: "Name", type: "info" } },
        },
        {
          type: "input",
          group: "profile",
          attributes: { name: "method", type: "submit", value: "profile", disabled: false, node_type: "input" },
          messages: [],
          meta: { label: { id: 1040001, text: "Sign up", type: "info" } },
        },
        {
          type: "text",
          group: "default",
          attributes: { id: "note", text: { id: 1, text: "codes: 1234 5678", type: "info" }, node_type: "text" },
          messages: [],
          meta: { label: { id: 2, text: "Backup codes", type: "info" } },
        },
        {
          type: "script",
          group: "default",
          attributes: { id: "webauthn", src: "/x.js", async: true, referrerpolicy: "", crossorigin: "", integrity: "", type: "", nonce: "", node_type: "script" },
          messages: [],
          meta: {},
        },
      ],
    },
  } as unknown as RegistrationFlow;
}

/** The JSON a fetch answer carries (Dates as strings, like the wire). */
export function json(v: unknown, status = 200): Response {
  return new Response(JSON.stringify(v), { status, headers: { "Content-Type": "application/json" } });
}
