// One account: rename, delete, and export (request, watch the background
// job's state without reloading, download when it has succeeded).
import { useEffect, useId, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { ApiError, Code } from "../api/errors";
import {
  downloadExport,
  exportFinished,
  useAccount,
  useCreateExport,
  useDeleteAccount,
  useExport,
  useRenameAccount,
} from "../api/queries";
import type { Account, State } from "../api/types.gen";
import { buttonStyles, Card, ErrorNote, Spinner, TextField } from "../components/ui";

const stateLabels: Record<State, string> = {
  STATE_UNSPECIFIED: "Unknown",
  STATE_PENDING: "Waiting for a worker",
  STATE_RUNNING: "Being written",
  STATE_SUCCEEDED: "Ready",
  STATE_FAILED: "Failed",
};

function Rename({ account }: { account: Account }) {
  const id = useId();
  const [name, setName] = useState(account.name ?? "");
  const [saved, setSaved] = useState(false);
  const rename = useRenameAccount(account.id ?? "");
  const err = rename.error instanceof ApiError ? rename.error : undefined;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setSaved(false);
    try {
      await rename.mutateAsync(name);
      setSaved(true);
    } catch {
      // shown from rename.error
    }
  }

  return (
    <form aria-label="Rename account" onSubmit={(e) => void submit(e)} className="flex flex-col gap-3">
      <TextField id={`${id}-name`} label="Name" name="name" value={name} onChange={(v) => { setName(v); setSaved(false); }} error={err?.field("name")} maxLength={200} />
      {rename.error && !err?.field("name") && <ErrorNote>{err?.generalMessage(["name"]) ?? rename.error.message}</ErrorNote>}
      <div className="flex items-center gap-3">
        <button type="submit" className={buttonStyles.primary} disabled={rename.isPending}>
          {rename.isPending ? "Saving…" : "Rename"}
        </button>
        {saved && (
          <p role="status" className="text-sm text-emerald-700">
            Saved.
          </p>
        )}
      </div>
    </form>
  );
}

function Delete({ account }: { account: Account }) {
  const [confirming, setConfirming] = useState(false);
  const del = useDeleteAccount();
  const navigate = useNavigate();

  async function confirm() {
    try {
      await del.mutateAsync(account.id ?? "");
      void navigate("/", { replace: true, state: { deleted: account.name } });
    } catch {
      // shown from del.error
    }
  }

  return (
    <section aria-labelledby="delete-title" className="flex flex-col gap-3">
      <h2 id="delete-title" className="text-lg font-semibold">
        Delete
      </h2>
      {!confirming ? (
        <button type="button" className={`${buttonStyles.secondary} self-start`} onClick={() => setConfirming(true)}>
          Delete account…
        </button>
      ) : (
        <div role="group" aria-label="Confirm deletion" className="flex flex-wrap items-center gap-3 rounded-md bg-red-50 p-3">
          <p className="text-sm text-red-900">Delete “{account.name}”? Its name becomes free again.</p>
          <button type="button" className={buttonStyles.danger} onClick={() => void confirm()} disabled={del.isPending}>
            {del.isPending ? "Deleting…" : "Delete for good"}
          </button>
          <button type="button" className={buttonStyles.secondary} onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </div>
      )}
      {del.error && <ErrorNote>{del.error.message}</ErrorNote>}
    </section>
  );
}

function ExportStatus({ accountId, exportId }: { accountId: string; exportId: string }) {
  const exp = useExport(accountId, exportId);
  const [downloading, setDownloading] = useState(false);
  const [downloaded, setDownloaded] = useState<string>();
  const [downloadError, setDownloadError] = useState<string>();
  const e = exp.data?.export;
  const state = e?.state ?? "STATE_UNSPECIFIED";

  async function download() {
    if (!e) return;
    setDownloading(true);
    setDownloadError(undefined);
    try {
      setDownloaded(await downloadExport(e));
    } catch (err) {
      setDownloadError(err instanceof Error ? err.message : String(err));
    } finally {
      setDownloading(false);
    }
  }

  if (exp.isPending) return <Spinner label="Loading the export" />;
  if (exp.isError) return <ErrorNote>{exp.error.message}</ErrorNote>;
  return (
    <div className="flex flex-col gap-3 rounded-md border border-slate-200 p-3" data-export-state={state}>
      <p className="text-sm" aria-live="polite">
        Export <span className="font-mono text-xs">{exportId}</span>: <strong data-testid="export-state">{stateLabels[state]}</strong>
        {!exportFinished(state) && <span className="text-slate-600"> (updates by itself)</span>}
      </p>
      {state === "STATE_FAILED" && <ErrorNote>{e?.error || "The export failed."}</ErrorNote>}
      {state === "STATE_SUCCEEDED" && (
        <div className="flex items-center gap-3">
          <button type="button" className={buttonStyles.primary} onClick={() => void download()} disabled={downloading}>
            {downloading ? "Downloading…" : "Download export"}
          </button>
          {downloaded && (
            <p role="status" className="text-sm text-emerald-700">
              Saved as {downloaded}.
            </p>
          )}
        </div>
      )}
      {downloadError && <ErrorNote>{downloadError}</ErrorNote>}
    </div>
  );
}

function Export({ account }: { account: Account }) {
  const accountId = account.id ?? "";
  const [params, setParams] = useSearchParams();
  const exportId = params.get("export") ?? undefined;
  const create = useCreateExport(accountId);

  async function request() {
    try {
      const res = await create.mutateAsync();
      const id = res.export?.id;
      if (id) setParams({ export: id }, { replace: true });
    } catch {
      // shown from create.error
    }
  }

  return (
    <section aria-labelledby="export-title" className="flex flex-col gap-3">
      <h2 id="export-title" className="text-lg font-semibold">
        Export
      </h2>
      <p className="text-sm text-slate-600">A JSON file with this account's data, written in the background.</p>
      <button type="button" className={`${buttonStyles.secondary} self-start`} onClick={() => void request()} disabled={create.isPending}>
        {create.isPending ? "Requesting…" : "Request export"}
      </button>
      {create.error && <ErrorNote>{create.error.message}</ErrorNote>}
      {exportId && <ExportStatus accountId={accountId} exportId={exportId} />}
    </section>
  );
}

export function AccountPage() {
  const { id = "" } = useParams();
  const account = useAccount(id);
  const err = account.error instanceof ApiError ? account.error : undefined;
  const a = account.data?.account;

  useEffect(() => {
    if (a?.name) document.title = `${a.name} · Groundwork`;
    return () => {
      document.title = "Groundwork";
    };
  }, [a?.name]);

  if (account.isPending) {
    return (
      <Card title="Account">
        <Spinner label="Loading the account" />
      </Card>
    );
  }
  if (err?.code === Code.NotFound || err?.code === Code.InvalidArgument) {
    return (
      <Card title="Account not found">
        <p className="text-sm">
          It does not exist or was deleted.{" "}
          <Link to="/" className="text-teal-800 underline">
            Back to your accounts
          </Link>
        </p>
      </Card>
    );
  }
  if (account.isError || !a) {
    return (
      <Card title="Account">
        <ErrorNote>{account.error?.message ?? "No account in the answer."}</ErrorNote>
      </Card>
    );
  }
  return (
    <Card
      title={a.name ?? "Account"}
      actions={
        <Link to="/" className="text-sm text-teal-800 underline">
          All accounts
        </Link>
      }
    >
      <div className="flex flex-col gap-8">
        <Rename key={a.id} account={a} />
        <Export account={a} />
        <Delete account={a} />
      </div>
    </Card>
  );
}
