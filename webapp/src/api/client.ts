// The API client: one function, typed by the generated Operations, that
// calls any operation by its operationId. Paths and methods come from the
// generated operationRoutes; nothing here is hand-written per endpoint.
import { ApiError, parseStatus } from "./errors";
import { operationRoutes, type OperationId, type Operations } from "./types.gen";

type Empty = Record<string, never>;

/** The arguments of an operation: path parameters, query and body as it needs them. */
export type Args<K extends OperationId> = (Operations[K]["pathParams"] extends Empty
  ? { path?: undefined }
  : { path: Operations[K]["pathParams"] }) &
  ([Operations[K]["body"]] extends [never] ? { body?: undefined } : { body: Operations[K]["body"] }) & {
    query?: Operations[K]["query"];
    signal?: AbortSignal;
  };

export type Response<K extends OperationId> = Operations[K]["response"];

/** Builds the URL of an operation from its path template. */
export function operationURL<K extends OperationId>(op: K, args: Args<K>): string {
  const route = operationRoutes[op];
  const params = (args.path ?? {}) as Record<string, string>;
  const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined || v === "") throw new Error(`${op}: path parameter ${name} is required`);
    return encodeURIComponent(v);
  });
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries((args.query ?? {}) as Record<string, unknown>)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) v.forEach((x) => q.append(k, String(x)));
    else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") q.set(k, String(v));
  }
  const qs = q.toString();
  return qs ? `${path}?${qs}` : path;
}

/**
 * call runs one operation. Every request carries Content-Type:
 * application/json (the server refuses cookie-authenticated writes without
 * it: its CSRF check, docs/server.md) and the session cookie of this origin.
 * A failure throws an ApiError with the server's google.rpc.Status.
 */
export async function call<K extends OperationId>(op: K, args: Args<K>): Promise<Response<K>> {
  const { method } = operationRoutes[op];
  const init: RequestInit = {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    signal: args.signal,
  };
  if (args.body !== undefined) init.body = JSON.stringify(args.body);
  let res: globalThis.Response;
  try {
    res = await fetch(operationURL(op, args), init);
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, undefined, "The server cannot be reached. Check your connection and try again.");
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    throw new ApiError(res.status, parseStatus(body), `The server answered ${res.status} ${res.statusText}`.trim());
  }
  return body as Response<K>;
}
