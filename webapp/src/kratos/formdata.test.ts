import { describe, expect, it } from "vitest";
import type { UiNode } from "@ory/kratos-client-fetch";
import { formToJSON, inputTypes } from "./formdata";

const input = (name: string, type: string): UiNode =>
  ({ type: "input", group: "default", attributes: { name, type, node_type: "input", disabled: false }, messages: [], meta: {} }) as UiNode;

describe("formToJSON", () => {
  it("nests dotted names and types values by the flow's nodes", () => {
    const types = inputTypes([input("traits.email", "email"), input("traits.newsletter", "checkbox"), input("traits.age", "number")]);
    const body = formToJSON(
      [
        ["csrf_token", "tok"],
        ["traits.email", "ada@example.com"],
        ["traits.newsletter", "true"],
        ["traits.age", "36"],
        ["method", "password"],
      ],
      types,
    );
    expect(body).toEqual({ csrf_token: "tok", method: "password", traits: { email: "ada@example.com", newsletter: true, age: 36 } });
  });

  it("leaves an empty number out instead of sending NaN", () => {
    expect(formToJSON([["traits.age", ""]], inputTypes([input("traits.age", "number")]))).toEqual({});
  });
});
