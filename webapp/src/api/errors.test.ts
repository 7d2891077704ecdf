import { describe, expect, it } from "vitest";
import { ApiError, fieldViolations, parseStatus } from "./errors";

const badRequest = (violations: { field: string; description: string }[]) => ({
  "@type": "type.googleapis.com/google.rpc.BadRequest",
  fieldViolations: violations,
});

describe("fieldViolations", () => {
  it("reads google.rpc.BadRequest details, joining several rules of one field", () => {
    const st = {
      code: 3,
      message: "name: must not be empty; name: must not be only whitespace; page_size: must not be negative",
      details: [
        badRequest([
          { field: "name", description: "must not be empty" },
          { field: "name", description: "must not be only whitespace" },
          { field: "page_size", description: "must not be negative" },
        ]),
      ],
    };
    expect(fieldViolations(st)).toEqual({
      name: "must not be empty; must not be only whitespace",
      page_size: "must not be negative",
    });
  });

  it("falls back to the message, which starts with the field name", () => {
    expect(fieldViolations({ code: 3, message: "name: must be at most 100 characters", details: [] })).toEqual({
      name: "must be at most 100 characters",
    });
  });

  it("finds no field in other errors", () => {
    expect(fieldViolations({ code: 6, message: "an account with this name already exists", details: [] })).toEqual({});
    expect(fieldViolations({ code: 13, message: "internal error: x: y" })).toEqual({});
    expect(fieldViolations(undefined)).toEqual({});
  });

  it("ignores details of other types", () => {
    const st = { code: 3, message: "id: must be a UUID", details: [{ "@type": "type.googleapis.com/google.rpc.ErrorInfo", reason: "x" }] };
    expect(fieldViolations(st)).toEqual({ id: "must be a UUID" });
  });
});

describe("parseStatus", () => {
  it("accepts a google.rpc.Status and rejects anything else", () => {
    expect(parseStatus({ code: 5, message: "account not found", details: [] })).toEqual({ code: 5, message: "account not found", details: [] });
    expect(parseStatus("<html>502</html>")).toBeUndefined();
    expect(parseStatus(null)).toBeUndefined();
    expect(parseStatus({ error: "x" })).toBeUndefined();
  });
});

describe("ApiError", () => {
  it("knows an expired session and what no field shows", () => {
    const e = new ApiError(400, { code: 3, message: "name: must not be empty; id: bad", details: [] }, "fallback");
    expect(e.unauthenticated).toBe(false);
    expect(e.field("name")).toBe("must not be empty");
    expect(e.generalMessage(["name"])).toBe("id: bad");
    expect(e.generalMessage(["name", "id"])).toBeUndefined();
    expect(new ApiError(401, { code: 16, message: "authentication required" }, "").unauthenticated).toBe(true);
    const conflict = new ApiError(409, { code: 6, message: "an account with this name already exists" }, "");
    expect(conflict.generalMessage(["name"])).toBe("an account with this name already exists");
    expect(new ApiError(502, undefined, "The server answered 502").message).toBe("The server answered 502");
  });
});
