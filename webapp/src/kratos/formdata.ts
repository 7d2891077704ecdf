// From a rendered flow form to the JSON body Kratos expects: the form's
// values (and the clicked button's name and value, as a native submission
// sends them), dotted names as nested objects ("traits.email" ->
// {traits: {email}}), checkboxes as booleans and number inputs as numbers —
// typed by the flow's own nodes.
import type { UiNode } from "@ory/kratos-client-fetch";

export function inputTypes(nodes: readonly UiNode[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const n of nodes) {
    if (n.attributes.node_type === "input") m.set(n.attributes.name, n.attributes.type);
  }
  return m;
}

export function formToJSON(entries: Iterable<[string, FormDataEntryValue]>, types: Map<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, raw] of entries) {
    if (typeof raw !== "string") continue; // no file inputs in Kratos flows
    let value: unknown = raw;
    switch (types.get(name)) {
      case "checkbox":
        value = raw === "true" || raw === "on";
        break;
      case "number":
        value = raw === "" ? undefined : Number(raw);
        break;
    }
    if (value === undefined) continue;
    const path = name.split(".");
    let obj = out;
    for (const key of path.slice(0, -1)) {
      const next = obj[key];
      if (typeof next === "object" && next !== null && !Array.isArray(next)) {
        obj = next as Record<string, unknown>;
      } else {
        const fresh: Record<string, unknown> = {};
        obj[key] = fresh;
        obj = fresh;
      }
    }
    obj[path[path.length - 1] ?? name] = value;
  }
  return out;
}
