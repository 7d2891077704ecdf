import { useIsFetching, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { logout, useSession } from "../session";

function navClass({ isActive }: { isActive: boolean }) {
  return `rounded px-2 py-1 text-sm ${isActive ? "bg-teal-50 font-medium text-teal-900" : "text-slate-700 hover:text-slate-950"}`;
}

/**
 * OutageNotice says, without blocking the page, that a request is being
 * retried because the service cannot answer right now: the page stays, and
 * recovers by itself when the retry succeeds.
 */
export function OutageNotice() {
  const retrying = useIsFetching({ predicate: (q) => q.state.fetchFailureCount > 0 });
  if (retrying === 0) return null;
  return (
    <p role="status" aria-live="polite" className="bg-amber-50 px-4 py-2 text-center text-sm text-amber-900">
      The service is unavailable right now; retrying…
    </p>
  );
}

export function Layout() {
  const session = useSession();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [signingOut, setSigningOut] = useState(false);
  const identity = session.data?.identity;
  const traits = (identity?.traits ?? {}) as { email?: string; name?: string };

  async function signOut() {
    setSigningOut(true);
    try {
      await logout();
    } finally {
      qc.clear();
      setSigningOut(false);
      void navigate("/login");
    }
  }

  return (
    <div className="flex min-h-screen flex-col">
      <header className="border-b border-slate-200 bg-white">
        <nav aria-label="Main" className="mx-auto flex max-w-4xl flex-wrap items-center gap-3 px-4 py-3">
          <Link to="/" className="mr-auto text-lg font-semibold text-teal-800">
            Groundwork
          </Link>
          {identity ? (
            <>
              <NavLink to="/" end className={navClass}>
                Accounts
              </NavLink>
              <NavLink to="/settings" className={navClass}>
                Settings
              </NavLink>
              <span className="hidden text-sm text-slate-600 sm:inline">{traits.email}</span>
              <button
                type="button"
                onClick={() => void signOut()}
                disabled={signingOut}
                className="rounded-md border border-slate-300 px-3 py-1 text-sm hover:bg-slate-50 focus:outline-none focus-visible:ring-2 focus-visible:ring-teal-600"
              >
                Sign out
              </button>
            </>
          ) : (
            session.isSuccess && (
              <>
                <NavLink to="/login" className={navClass}>
                  Sign in
                </NavLink>
                <NavLink to="/registration" className={navClass}>
                  Create account
                </NavLink>
              </>
            )
          )}
        </nav>
      </header>
      <OutageNotice />
      <main className="mx-auto w-full max-w-4xl flex-1 px-4 py-8">
        <Outlet />
      </main>
    </div>
  );
}
