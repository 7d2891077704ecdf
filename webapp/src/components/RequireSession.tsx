import { Navigate, Outlet, useLocation } from "react-router";
import { useSession } from "../session";
import { loginPath } from "../navigation";
import { ErrorNote, Spinner } from "./ui";

/** Pages below need a session: without one, sign in and come back here. */
export function RequireSession() {
  const session = useSession();
  const location = useLocation();
  if (session.isPending) return <Spinner label="Checking your session" />;
  if (session.isError) return <ErrorNote>The identity service cannot be reached. Please reload the page.</ErrorNote>;
  if (!session.data) {
    const here = new URL(`${location.pathname}${location.search}${location.hash}`, window.location.origin).href;
    return <Navigate to={loginPath(here)} replace />;
  }
  return <Outlet />;
}
