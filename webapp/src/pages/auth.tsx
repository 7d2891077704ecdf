// The Kratos flow pages: each is the generic FlowPage with a title and links.
import { Link, useNavigate } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "react-router";
import { FlowPage, go } from "../kratos/FlowPage";
import { answerOf, frontend } from "../kratos/client";
import { Card, ErrorNote, Spinner } from "../components/ui";

const link = "text-teal-800 underline hover:text-teal-950";

export function LoginPage() {
  return (
    <FlowPage
      kind="login"
      title="Sign in"
      footer={
        <p className="flex flex-wrap justify-between gap-2">
          <Link className={link} to="/registration">
            Create an account
          </Link>
          <Link className={link} to="/recovery">
            Forgot your password?
          </Link>
        </p>
      }
    />
  );
}

export function RegistrationPage() {
  return (
    <FlowPage
      kind="registration"
      title="Create your account"
      footer={
        <p>
          Already registered?{" "}
          <Link className={link} to="/login">
            Sign in
          </Link>
        </p>
      }
    />
  );
}

export function SettingsPage() {
  return (
    <FlowPage
      kind="settings"
      title="Settings"
      groupForms={[
        { group: "profile", title: "Profile" },
        { group: "password", title: "Change password" },
      ]}
    />
  );
}

export function RecoveryPage() {
  return (
    <FlowPage
      kind="recovery"
      title="Recover your account"
      footer={
        <Link className={link} to="/login">
          Back to sign in
        </Link>
      }
    />
  );
}

export function VerificationPage() {
  const navigate = useNavigate();
  return (
    <FlowPage
      kind="verification"
      title="Verify your email"
      stateNote={(f) =>
        f.state === "passed_challenge" ? (
          <button type="button" className="self-start text-teal-800 underline" onClick={() => go(navigate, f.return_to ?? "/")}>
            Continue
          </button>
        ) : null
      }
      footer={
        <Link className={link} to="/">
          Skip for now
        </Link>
      }
    />
  );
}

/** Kratos sends the browser here with ?id= when a flow fails unrecoverably. */
export function KratosErrorPage() {
  const [params] = useSearchParams();
  const id = params.get("id");
  const q = useQuery({
    queryKey: ["kratos-error", id],
    enabled: Boolean(id),
    retry: false,
    queryFn: async () => {
      try {
        return await frontend.getFlowError({ id: id ?? "" });
      } catch (e) {
        const a = await answerOf(e);
        throw new Error(a.status === 404 ? "This error is no longer available." : `The identity service answered ${a.status}.`);
      }
    },
  });
  const err = q.data?.error as { message?: string; reason?: string } | undefined;
  return (
    <Card title="Something went wrong">
      {q.isLoading && <Spinner label="Loading the error" />}
      {q.isError && <ErrorNote>{q.error.message}</ErrorNote>}
      {err && <ErrorNote>{err.reason ?? err.message ?? "An unknown error occurred."}</ErrorNote>}
      {!id && <p>No error was given.</p>}
      <p className="mt-4 text-sm">
        <Link className={link} to="/">
          Back to the start
        </Link>
      </p>
    </Card>
  );
}

export function NotFoundPage() {
  return (
    <Card title="Page not found">
      <p className="text-sm">
        There is nothing at this address.{" "}
        <Link className={link} to="/">
          Go to your accounts
        </Link>
      </p>
    </Card>
  );
}
