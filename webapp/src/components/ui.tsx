// Small building blocks shared by the pages.
import type { ReactNode } from "react";

export function Card({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section aria-labelledby={slug(title)} className="mx-auto w-full max-w-xl rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
      <div className="mb-4 flex items-center justify-between gap-4">
        <h1 id={slug(title)} className="text-2xl font-semibold tracking-tight">
          {title}
        </h1>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function slug(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");
}

export function Spinner({ label }: { label: string }) {
  return (
    <p role="status" aria-live="polite" className="flex items-center gap-2 text-sm text-slate-600">
      <span aria-hidden="true" className="inline-block h-4 w-4 animate-spin rounded-full border-2 border-slate-300 border-t-teal-700" />
      {label}…
    </p>
  );
}

export function ErrorNote({ children }: { children: ReactNode }) {
  return (
    <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
      {children}
    </p>
  );
}

const buttonBase =
  "rounded-md px-4 py-2 text-sm font-medium focus:outline-none focus-visible:ring-2 focus-visible:ring-offset-2 disabled:opacity-60";

export const buttonStyles = {
  primary: `${buttonBase} bg-teal-700 text-white hover:bg-teal-800 focus-visible:ring-teal-600`,
  secondary: `${buttonBase} border border-slate-300 bg-white text-slate-800 hover:bg-slate-50 focus-visible:ring-teal-600`,
  danger: `${buttonBase} bg-red-700 text-white hover:bg-red-800 focus-visible:ring-red-600`,
};

/** TextField is a labelled input with its server error under it. */
export function TextField(props: {
  id: string;
  label: string;
  name: string;
  value: string;
  onChange: (v: string) => void;
  error?: string;
  maxLength?: number;
}) {
  const errId = `${props.id}-error`;
  return (
    <div className="flex flex-col gap-1">
      <label htmlFor={props.id} className="text-sm font-medium text-slate-700">
        {props.label}
      </label>
      <input
        id={props.id}
        name={props.name}
        value={props.value}
        maxLength={props.maxLength}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={props.error ? true : undefined}
        aria-describedby={props.error ? errId : undefined}
        className={`rounded-md border px-3 py-2 shadow-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-600 ${props.error ? "border-red-500" : "border-slate-300"}`}
      />
      {props.error && (
        <p id={errId} className="text-sm text-red-700">
          {props.error}
        </p>
      )}
    </div>
  );
}
