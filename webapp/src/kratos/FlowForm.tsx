// The generic renderer of a Kratos flow: whatever nodes the flow has, in its
// order, as accessible form controls — no form is written per flow. Kratos
// decides the fields (identity schema traits, password, code, ...), their
// labels and their messages; this component only draws them and hands the
// submitted values to onSubmit.
import { useId, useState, type FormEvent } from "react";
import type { UiNode, UiNodeInputAttributes, UiText } from "@ory/kratos-client-fetch";
import { formToJSON, inputTypes } from "./formdata";

export interface FlowFormProps {
  nodes: readonly UiNode[];
  /** Only these groups (plus "default": the CSRF token); all when absent. */
  groups?: readonly string[];
  onSubmit: (body: Record<string, unknown>) => Promise<void>;
  /** Accessible name of the form. */
  label: string;
}

function messageClass(t: UiText): string {
  switch (t.type) {
    case "error":
      return "text-red-700";
    case "success":
      return "text-emerald-700";
    default:
      return "text-slate-600";
  }
}

export function Messages({ messages, id }: { messages: readonly UiText[]; id?: string }) {
  if (messages.length === 0) return null;
  const isError = messages.some((m) => m.type === "error");
  return (
    <div
      id={id}
      role={isError ? "alert" : "status"}
      className={`rounded-md border px-3 py-2 text-sm ${isError ? "border-red-200 bg-red-50" : "border-slate-200 bg-white"}`}
    >
      {messages.map((m) => (
        <p key={`${m.id}-${m.text}`} className={messageClass(m)} data-message-id={m.id}>
          {m.text}
        </p>
      ))}
    </div>
  );
}

function labelOf(n: UiNode, a: UiNodeInputAttributes): string {
  return n.meta.label?.text ?? a.label?.text ?? a.name;
}

function InputNode({ node, attrs, formId, disabled }: { node: UiNode; attrs: UiNodeInputAttributes; formId: string; disabled: boolean }) {
  const id = `${formId}-${attrs.name}`;
  const msgId = `${id}-messages`;
  const hasError = node.messages.some((m) => m.type === "error");
  const value = attrs.value === null || attrs.value === undefined ? undefined : String(attrs.value as string | number | boolean);
  switch (attrs.type) {
    case "hidden":
      return <input type="hidden" name={attrs.name} value={value ?? ""} />;
    case "submit":
    case "button":
      return (
        <button
          type="submit"
          name={attrs.name}
          value={value ?? ""}
          disabled={disabled || attrs.disabled}
          className="w-full rounded-md bg-teal-700 px-4 py-2 font-medium text-white hover:bg-teal-800 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-600 focus-visible:ring-offset-2 disabled:opacity-60"
        >
          {labelOf(node, attrs)}
        </button>
      );
    case "checkbox":
      return (
        <div className="flex flex-col gap-1">
          <label htmlFor={id} className="flex items-center gap-2 text-sm">
            <input
              id={id}
              type="checkbox"
              name={attrs.name}
              value="true"
              defaultChecked={attrs.value === true}
              disabled={attrs.disabled}
              aria-invalid={hasError || undefined}
              aria-describedby={node.messages.length ? msgId : undefined}
              className="h-4 w-4"
            />
            {labelOf(node, attrs)}
          </label>
          <Messages messages={node.messages} id={msgId} />
        </div>
      );
    default:
      return (
        <div className="flex flex-col gap-1">
          <label htmlFor={id} className="text-sm font-medium text-slate-700">
            {labelOf(node, attrs)}
          </label>
          <input
            id={id}
            type={attrs.type}
            name={attrs.name}
            defaultValue={value}
            required={attrs.required}
            disabled={attrs.disabled}
            autoComplete={attrs.autocomplete ?? (attrs.name === "identifier" ? "username" : undefined)}
            pattern={attrs.pattern}
            maxLength={attrs.maxlength}
            aria-invalid={hasError || undefined}
            aria-describedby={node.messages.length ? msgId : undefined}
            className={`rounded-md border px-3 py-2 shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-600 ${hasError ? "border-red-500" : "border-slate-300"}`}
          />
          {node.messages.length > 0 && (
            <div id={msgId} className="text-sm">
              {node.messages.map((m) => (
                <p key={`${m.id}-${m.text}`} className={messageClass(m)}>
                  {m.text}
                </p>
              ))}
            </div>
          )}
        </div>
      );
  }
}

/** Node renders one UI node of any type. */
export function Node({ node, formId, disabled }: { node: UiNode; formId: string; disabled: boolean }) {
  const a = node.attributes;
  switch (a.node_type) {
    case "input":
      return <InputNode node={node} attrs={a} formId={formId} disabled={disabled} />;
    case "text":
      return (
        <div className="text-sm">
          {node.meta.label && <p className="font-medium">{node.meta.label.text}</p>}
          <p id={a.id} className="font-mono">
            {a.text.text}
          </p>
        </div>
      );
    case "img":
      return <img id={a.id} src={a.src} width={a.width} height={a.height} alt={node.meta.label?.text ?? ""} />;
    case "a":
      return (
        <a id={a.id} href={a.href} className="text-teal-800 underline">
          {a.title.text}
        </a>
      );
    default:
      // Scripts (WebAuthn) are not run: the CSP allows none but our own,
      // and no method that needs one is enabled.
      return null;
  }
}

export function FlowForm({ nodes, groups, onSubmit, label }: FlowFormProps) {
  const formId = useId();
  const [busy, setBusy] = useState(false);
  const shown = groups ? nodes.filter((n) => n.group === "default" || groups.includes(n.group)) : nodes;

  async function handle(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const native = e.nativeEvent as SubmitEvent;
    const submitter = native.submitter instanceof HTMLElement ? native.submitter : null;
    const data = new FormData(e.currentTarget, submitter);
    setBusy(true);
    try {
      await onSubmit(formToJSON(data.entries(), inputTypes(shown)));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form aria-label={label} aria-busy={busy} className="flex flex-col gap-4" onSubmit={(e) => void handle(e)} noValidate>
      {shown.map((n, i) => (
        <Node key={`${n.group}-${nodeKey(n)}-${i}`} node={n} formId={formId} disabled={busy} />
      ))}
    </form>
  );
}

function nodeKey(n: UiNode): string {
  const a = n.attributes;
  switch (a.node_type) {
    case "input":
      return `${a.name}-${String(a.value as string)}`;
    default:
      return a.id;
  }
}
