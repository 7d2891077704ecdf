// Profile (GetMe) and the caller's accounts: a page at a time, with a form
// to create one.
import { useId, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { ApiError } from "../api/errors";
import { useAccountPage, useCreateAccount, useMe } from "../api/queries";
import { buttonStyles, ErrorNote, Spinner, TextField } from "../components/ui";

function formatDate(s?: string): string {
  if (!s) return "";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

function Profile() {
  const me = useMe();
  return (
    <section aria-labelledby="profile-title" className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
      <h2 id="profile-title" className="mb-3 text-lg font-semibold">
        Your profile
      </h2>
      {me.isPending && <Spinner label="Loading your profile" />}
      {me.isError && <ErrorNote>{me.error.message}</ErrorNote>}
      {me.data?.user && (
        <dl className="grid grid-cols-[max-content_1fr] gap-x-6 gap-y-1 text-sm">
          <dt className="text-slate-600">Name</dt>
          <dd data-testid="profile-name">{me.data.user.displayName || me.data.user.email}</dd>
          <dt className="text-slate-600">Email</dt>
          <dd data-testid="profile-email">{me.data.user.email}</dd>
          <dt className="text-slate-600">Member since</dt>
          <dd>{formatDate(me.data.user.createTime)}</dd>
        </dl>
      )}
    </section>
  );
}

function CreateAccount() {
  const id = useId();
  const [name, setName] = useState("");
  const create = useCreateAccount();
  const err = create.error instanceof ApiError ? create.error : undefined;

  async function submit(e: FormEvent) {
    e.preventDefault();
    try {
      await create.mutateAsync(name);
      setName("");
    } catch {
      // shown below from create.error
    }
  }

  return (
    <form aria-label="Create an account" onSubmit={(e) => void submit(e)} className="flex flex-col gap-3 sm:flex-row sm:items-start">
      <div className="flex-1">
        <TextField id={`${id}-name`} label="New account name" name="name" value={name} onChange={setName} error={err?.field("name")} maxLength={200} />
      </div>
      <button type="submit" className={`${buttonStyles.primary} sm:mt-6`} disabled={create.isPending}>
        {create.isPending ? "Creating…" : "Create account"}
      </button>
      {create.error && !err?.field("name") && (
        <div className="sm:basis-full">
          <ErrorNote>{err?.generalMessage(["name"]) ?? create.error.message}</ErrorNote>
        </div>
      )}
    </form>
  );
}

function Accounts() {
  // The tokens of the pages before this one: Previous pops, Next pushes.
  const [tokens, setTokens] = useState<string[]>([""]);
  const token = tokens[tokens.length - 1] ?? "";
  const page = useAccountPage(token);
  const accounts = page.data?.accounts ?? [];
  const next = page.data?.nextPageToken;

  return (
    <section aria-labelledby="accounts-title" className="flex flex-col gap-4 rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
      <h2 id="accounts-title" className="text-lg font-semibold">
        Your accounts
      </h2>
      <CreateAccount />
      {page.isPending && <Spinner label="Loading accounts" />}
      {page.isError && <ErrorNote>{page.error.message}</ErrorNote>}
      {page.isSuccess && accounts.length === 0 && tokens.length === 1 && (
        <p className="rounded-md border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-600">
          No accounts yet. Create your first one above.
        </p>
      )}
      {accounts.length > 0 && (
        <ul aria-label="Accounts" aria-busy={page.isFetching} className="divide-y divide-slate-200 rounded-md border border-slate-200">
          {accounts.map((a) => (
            <li key={a.id} className="flex items-center justify-between gap-4 px-4 py-3">
              <Link to={`/accounts/${a.id ?? ""}`} className="font-medium text-teal-800 underline-offset-2 hover:underline">
                {a.name}
              </Link>
              <span className="text-xs text-slate-600">created {formatDate(a.createTime)}</span>
            </li>
          ))}
        </ul>
      )}
      {(tokens.length > 1 || next) && (
        <nav aria-label="Pages" className="flex items-center justify-between">
          <button type="button" className={buttonStyles.secondary} disabled={tokens.length === 1} onClick={() => setTokens((t) => t.slice(0, -1))}>
            Previous
          </button>
          <span className="text-sm text-slate-600">Page {tokens.length}</span>
          <button type="button" className={buttonStyles.secondary} disabled={!next || page.isPlaceholderData} onClick={() => next && setTokens((t) => [...t, next])}>
            Next
          </button>
        </nav>
      )}
    </section>
  );
}

export function HomePage() {
  return (
    <div className="flex flex-col gap-6">
      <h1 className="text-2xl font-semibold tracking-tight">Welcome</h1>
      <Profile />
      <Accounts />
    </div>
  );
}
