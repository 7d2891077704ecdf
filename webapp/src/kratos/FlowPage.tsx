// One page for every Kratos browser flow: create or fetch the flow named in
// ?flow=, render it with FlowForm, submit, and follow Kratos's answer
// (another state of the same flow, another flow, a redirect, or done).
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useState, type ReactNode } from "react";
import { useNavigate, useSearchParams } from "react-router";
import type { UiContainer } from "@ory/kratos-client-fetch";
import { answerOf, createFlow, getFlow, submitFlow, type FlowKind } from "./client";
import { interpret, nextFlowPath, type Outcome } from "./answers";
import { FlowForm, Messages } from "./FlowForm";
import { appPath, loginPath } from "../navigation";
import { Card, Spinner } from "../components/ui";
import { sessionKey } from "../session";

interface Flow {
  id: string;
  ui: UiContainer;
  return_to?: string;
  state?: unknown;
}

export interface FlowPageProps {
  kind: FlowKind;
  title: string;
  /** Render one form per group (settings: profile, password). */
  groupForms?: { group: string; title: string }[];
  /** Below the form: links to the other flows. */
  footer?: ReactNode;
  /** Called when the flow is finished; the default goes to return_to or home. */
  onDone?: (o: Extract<Outcome, { kind: "done" }>, flow: Flow) => void;
  /** Extra content for a given flow state (e.g. verification passed). */
  stateNote?: (flow: Flow) => ReactNode;
}

export function FlowPage({ kind, title, groupForms, footer, onDone, stateNote }: FlowPageProps) {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const flowId = params.get("flow");
  const returnTo = params.get("return_to") ?? undefined;
  const [flow, setFlow] = useState<Flow | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();

  const follow = useCallback(
    (o: Outcome, current?: Flow) => {
      switch (o.kind) {
        case "flow":
          setFlow(o.flow);
          setError(undefined);
          if (o.flow.id !== flowId) {
            setParams((p) => {
              p.set("flow", o.flow.id);
              return p;
            }, { replace: true });
          }
          return;
        case "redirect":
          go(navigate, o.to);
          return;
        case "home":
          qc.removeQueries({ queryKey: sessionKey });
          void navigate("/", { replace: true });
          return;
        case "signin":
          void navigate(loginPath(window.location.href), { replace: true });
          return;
        case "restart":
          setNotice(o.message);
          setFlow(undefined);
          setParams((p) => {
            if (o.useFlowId) p.set("flow", o.useFlowId);
            else p.delete("flow");
            return p;
          }, { replace: true });
          return;
        case "error":
          setError(o.message);
          return;
        case "done":
          // Signed in, out, or changed: nothing cached before holds.
          qc.removeQueries();
          if (onDone && current) {
            onDone(o, current);
            return;
          }
          go(navigate, nextFlowPath(o.continueWith) ?? current?.return_to ?? "/");
      }
    },
    [flowId, navigate, onDone, qc, setParams],
  );

  useEffect(() => {
    if (flow && flow.id === flowId) return;
    let cancelled = false;
    const load = flowId ? getFlow(kind, flowId) : createFlow(kind, { returnTo, refresh: params.get("refresh") === "true" });
    load
      .then((f) => {
        if (!cancelled) follow({ kind: "flow", flow: f });
      })
      .catch(async (e: unknown) => {
        try {
          const a = await answerOf(e);
          if (!cancelled) follow(interpret(a));
        } catch {
          if (!cancelled) setError("The identity service cannot be reached. Please try again.");
        }
      });
    return () => {
      cancelled = true;
    };
  }, [kind, flowId, flow, returnTo, params, follow]);

  const submit = useCallback(
    async (body: Record<string, unknown>) => {
      if (!flow) return;
      setNotice(undefined);
      try {
        const answer = await submitFlow(kind, flow.id, body);
        follow(interpret(answer, flow.return_to), flow);
      } catch {
        setError("The identity service cannot be reached. Please try again.");
      }
    },
    [flow, kind, follow],
  );

  return (
    <Card title={title}>
      {notice && <p role="status" className="mb-4 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{notice}</p>}
      {error && <p role="alert" className="mb-4 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">{error}</p>}
      {!flow && !error && <Spinner label={`Loading ${title.toLowerCase()}`} />}
      {flow && (
        <div className="flex flex-col gap-6" data-flow-kind={kind} data-flow-state={typeof flow.state === "string" ? flow.state : undefined}>
          <Messages messages={flow.ui.messages ?? []} />
          {stateNote?.(flow)}
          {groupForms ? (
            groupForms
              .filter((g) => flow.ui.nodes.some((n) => n.group === g.group))
              .map((g) => (
                <section key={g.group} aria-labelledby={`group-${g.group}`} className="flex flex-col gap-3">
                  <h2 id={`group-${g.group}`} className="text-lg font-semibold">
                    {g.title}
                  </h2>
                  <FlowForm label={g.title} nodes={flow.ui.nodes} groups={[g.group]} onSubmit={submit} />
                </section>
              ))
          ) : (
            <FlowForm label={title} nodes={flow.ui.nodes} onSubmit={submit} />
          )}
        </div>
      )}
      {footer && <div className="mt-6 border-t border-slate-200 pt-4 text-sm">{footer}</div>}
    </Card>
  );
}

/** go follows a URL: inside the app when it is on this origin, else the browser. */
export function go(navigate: (to: string, o?: { replace?: boolean }) => void | Promise<void>, to: string) {
  const path = appPath(to);
  if (path !== undefined) void navigate(path, { replace: true });
  else window.location.assign(to);
}
