// API errors: the gateway answers a failed call with a google.rpc.Status
// ({code, message, details}). For INVALID_ARGUMENT the message is
// "field: rule; other_field: rule" and details carry a google.rpc.BadRequest
// with the same field violations (server/internal/grpcerr); field names are
// the proto names ("name", "page_token").
import type { Any, Status } from "./types.gen";

const badRequestType = "type.googleapis.com/google.rpc.BadRequest";

/** gRPC status codes the UI branches on. */
export const Code = {
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  FailedPrecondition: 9,
  Unimplemented: 12,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

/** A failed API call: the HTTP status, the gRPC status and its field violations. */
export class ApiError extends Error {
  readonly httpStatus: number;
  readonly code: number | undefined;
  /** Field violations by proto field name; several joined by "; ". */
  readonly fields: Readonly<Record<string, string>>;

  constructor(httpStatus: number, status: Status | undefined, fallback: string) {
    super(status?.message || fallback);
    this.name = "ApiError";
    this.httpStatus = httpStatus;
    this.code = status?.code;
    this.fields = fieldViolations(status);
  }

  /** The session is missing or expired: sign in again. */
  get unauthenticated(): boolean {
    return this.httpStatus === 401 || this.code === Code.Unauthenticated;
  }

  /** The service cannot answer now (UNAVAILABLE, 503): wait and retry; never a sign-out. */
  get unavailable(): boolean {
    return this.httpStatus === 503 || this.code === Code.Unavailable;
  }

  /** The message for one field, if the server named it. */
  field(name: string): string | undefined {
    return this.fields[name];
  }

  /** What to show that no field of the form shows. */
  generalMessage(shownFields: readonly string[]): string | undefined {
    const rest = Object.keys(this.fields).filter((f) => !shownFields.includes(f));
    if (Object.keys(this.fields).length > 0 && rest.length === 0) return undefined;
    if (rest.length > 0) return rest.map((f) => `${f}: ${this.fields[f]}`).join("; ");
    return this.message;
  }
}

interface FieldViolation {
  field?: string;
  description?: string;
}

function isBadRequest(d: Any): d is Any & { fieldViolations?: FieldViolation[] } {
  return d["@type"] === badRequestType;
}

/**
 * fieldViolations reads google.rpc.BadRequest details; without them it
 * parses the message ("name: must not be empty; id: ..."), which always
 * starts with the field name for INVALID_ARGUMENT.
 */
export function fieldViolations(status: Status | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  const add = (field: string, description: string) => {
    out[field] = out[field] ? `${out[field]}; ${description}` : description;
  };
  for (const d of status?.details ?? []) {
    if (!isBadRequest(d)) continue;
    for (const v of d.fieldViolations ?? []) {
      if (v.field && v.description) add(v.field, v.description);
    }
  }
  if (Object.keys(out).length > 0 || status?.code !== Code.InvalidArgument || !status.message) {
    return out;
  }
  for (const part of status.message.split("; ")) {
    const m = /^([a-z_][a-z0-9_.]*): (.+)$/.exec(part);
    if (m?.[1] && m[2]) add(m[1], m[2]);
  }
  return out;
}

/** Reads an error body as a Status when it is one. */
export function parseStatus(body: unknown): Status | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.code !== "number" && typeof b.message !== "string") return undefined;
  return {
    code: typeof b.code === "number" ? b.code : undefined,
    message: typeof b.message === "string" ? b.message : undefined,
    details: Array.isArray(b.details) ? (b.details as Any[]) : [],
  };
}
