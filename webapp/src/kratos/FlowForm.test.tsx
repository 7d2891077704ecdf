import { act, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { FlowForm, Messages } from "./FlowForm";
import { loginFlow, registrationFlowWithErrors } from "../test/fixtures";

describe("FlowForm", () => {
  it("renders any flow's nodes as labelled controls, in order", () => {
    render(<FlowForm label="Sign in" nodes={loginFlow().ui.nodes} onSubmit={vi.fn()} />);
    expect(screen.getByRole("form", { name: "Sign in" })).toBeInTheDocument();
    expect(screen.getByLabelText("E-Mail")).toHaveAttribute("name", "identifier");
    expect(screen.getByLabelText("E-Mail")).toHaveAttribute("autocomplete", "username");
    expect(screen.getByLabelText("Password")).toHaveAttribute("type", "password");
    expect(screen.getByLabelText("Password")).toHaveAttribute("autocomplete", "current-password");
    expect(screen.getByRole("button", { name: "Sign in" })).toHaveAttribute("value", "password");
    expect(document.querySelector('input[type="hidden"][name="csrf_token"]')).toHaveValue("csrf-123");
  });

  it("submits the form's values as JSON with the clicked button, like a native post", async () => {
    const onSubmit = vi.fn(() => Promise.resolve());
    render(<FlowForm label="Sign in" nodes={loginFlow().ui.nodes} onSubmit={onSubmit} />);
    await userEvent.type(screen.getByLabelText("E-Mail"), "ada@example.com");
    await userEvent.type(screen.getByLabelText("Password"), "a long enough passphrase 42");
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(onSubmit).toHaveBeenCalledWith({
      csrf_token: "csrf-123",
      identifier: "ada@example.com",
      password: "a long enough passphrase 42",
      method: "password",
    });
  });

  it("shows each field's messages next to it, tied by aria-describedby", () => {
    const flow = registrationFlowWithErrors();
    render(
      <>
        <Messages messages={flow.ui.messages ?? []} />
        <FlowForm label="Create your account" nodes={flow.ui.nodes} onSubmit={vi.fn()} />
      </>,
    );
    const email = screen.getByLabelText("E-Mail");
    expect(email).toHaveAttribute("aria-invalid", "true");
    expect(email).toHaveAccessibleDescription('"ada" is not valid "email"');
    expect(email).toHaveValue("ada");
    expect(screen.getByLabelText("Name")).not.toHaveAttribute("aria-invalid");
    expect(screen.getByRole("alert")).toHaveTextContent("exists already");
    expect(screen.getByText("codes: 1234 5678")).toBeInTheDocument();
    expect(document.querySelector("script")).toBeNull(); // scripts are never run
  });

  it("nests traits and only sends the chosen group's fields", async () => {
    const onSubmit = vi.fn(() => Promise.resolve());
    const flow = registrationFlowWithErrors();
    render(<FlowForm label="Profile" nodes={flow.ui.nodes} groups={["profile"]} onSubmit={onSubmit} />);
    await userEvent.clear(screen.getByLabelText("E-Mail"));
    await userEvent.type(screen.getByLabelText("E-Mail"), "ada@example.com");
    await userEvent.click(screen.getByRole("button", { name: "Sign up" }));
    expect(onSubmit).toHaveBeenCalledWith({ csrf_token: "csrf-123", traits: { email: "ada@example.com", name: "Ada" }, method: "profile" });
  });

  it("disables its buttons while a submission runs", async () => {
    let finish: () => void = () => {};
    const onSubmit = vi.fn(() => new Promise<void>((r) => (finish = r)));
    render(<FlowForm label="Sign in" nodes={loginFlow().ui.nodes} onSubmit={onSubmit} />);
    await userEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(screen.getByRole("button", { name: "Sign in" })).toBeDisabled();
    await act(async () => {
      finish();
      await Promise.resolve();
    });
    await vi.waitFor(() => expect(screen.getByRole("button", { name: "Sign in" })).toBeEnabled());
  });
});
