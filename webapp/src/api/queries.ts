// Server state through TanStack Query: one query key per resource, so a
// mutation invalidates exactly what it changed.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { call } from "./client";
import type { AccountExport, State } from "./types.gen";

export const keys = {
  me: ["me"] as const,
  accounts: ["accounts"] as const,
  accountPage: (pageToken: string, pageSize: number) => ["accounts", "page", pageSize, pageToken] as const,
  account: (id: string) => ["accounts", "one", id] as const,
  export: (accountId: string, id: string) => ["exports", accountId, id] as const,
};

export const pageSize = 10;

export function useMe() {
  return useQuery({ queryKey: keys.me, queryFn: ({ signal }) => call("UserService_GetMe", { signal }) });
}

export function useAccountPage(pageToken: string) {
  return useQuery({
    queryKey: keys.accountPage(pageToken, pageSize),
    queryFn: ({ signal }) => call("AccountService_ListAccounts", { query: { pageSize, pageToken }, signal }),
    placeholderData: keepPreviousData,
  });
}

export function useAccount(id: string) {
  return useQuery({
    queryKey: keys.account(id),
    queryFn: ({ signal }) => call("AccountService_GetAccount", { path: { id }, signal }),
  });
}

export function useCreateAccount() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => call("AccountService_CreateAccount", { body: { name } }),
    onSuccess: () => qc.invalidateQueries({ queryKey: keys.accounts }),
  });
}

export function useRenameAccount(id: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (name: string) => call("AccountService_UpdateAccount", { path: { id }, body: { name } }),
    onSuccess: (res) => {
      qc.setQueryData(keys.account(id), res);
      return qc.invalidateQueries({ queryKey: keys.accounts });
    },
  });
}

export function useDeleteAccount() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => call("AccountService_DeleteAccount", { path: { id } }),
    onSuccess: (_res, id) => {
      qc.removeQueries({ queryKey: keys.account(id) });
      return qc.invalidateQueries({ queryKey: keys.accounts });
    },
  });
}

export function useCreateExport(accountId: string) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: () => call("AccountService_CreateAccountExport", { path: { accountId }, body: {} }),
    onSuccess: (res) => {
      if (res.export?.id) qc.setQueryData(keys.export(accountId, res.export.id), res);
    },
  });
}

/** An export is finished when it succeeded or failed; until then it is polled. */
export function exportFinished(state: State | undefined): boolean {
  return state === "STATE_SUCCEEDED" || state === "STATE_FAILED";
}

export const exportPollMs = 1000;

/** The export's state, polled every second until it is finished. */
export function useExport(accountId: string, id: string | undefined) {
  return useQuery({
    queryKey: keys.export(accountId, id ?? ""),
    queryFn: ({ signal }) => call("AccountService_GetAccountExport", { path: { accountId, id: id ?? "" }, signal }),
    enabled: Boolean(id),
    refetchInterval: (q) => (exportFinished(q.state.data?.export?.state) ? false : exportPollMs),
  });
}

/** Fetches a finished export and hands it to the browser as a file. */
export async function downloadExport(exp: AccountExport): Promise<string> {
  const res = await call("AccountService_DownloadAccountExport", {
    path: { accountId: exp.accountId ?? "", id: exp.id ?? "" },
  });
  const bytes = Uint8Array.from(atob(res.content ?? ""), (c) => c.charCodeAt(0));
  const blob = new Blob([bytes], { type: res.contentType || "application/json" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = res.filename || `account-${exp.accountId ?? ""}-export.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return a.download;
}
