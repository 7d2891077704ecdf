// The webapp's end-to-end journey in real Chromium (Debian's, driven by
// playwright-core; run by `go tool mage e2e` against a private stack).
//
//   register -> verify the email (code from the mailbox) -> log out -> log in
//   -> create an account (and see a field error) -> rename -> request an
//   export, watch it finish, download it -> delete -> change the profile in
//   settings -> log out -> recover the account with a code from the mailbox,
//   set a new password -> log out -> log in with it -> log out
//
// With E2E_OUTAGE=1, after logging in, the database goes away with the page
// open: the script prints "E2E_OUTAGE down" and waits for the Go side to
// stop PostgreSQL and answer "down" on standard input; the reloaded page must
// say it is retrying and must not go to the login page; then "E2E_OUTAGE up",
// and after "up" the page must recover by itself. That phase is timed apart
// (outageMs), outside the journey's budget.
//
// Every page gets an axe-core scan (no serious or critical violation
// allowed) and a screenshot in E2E_SCREENSHOTS. A Content-Security-Policy
// violation or an uncaught page error fails the run. The last line is
// "E2E_RESULT <json>" for the Go side (internal/dev/webe2e).
//
// Environment: E2E_BASE_URL (the one origin), E2E_MAILPIT_URL (the mailbox
// API), E2E_CHROMIUM (default /usr/bin/chromium), E2E_SCREENSHOTS (directory).
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const base = required("E2E_BASE_URL").replace(/\/$/, "");
const mailpit = required("E2E_MAILPIT_URL").replace(/\/$/, "");
const shots = required("E2E_SCREENSHOTS");
const executablePath = process.env.E2E_CHROMIUM || "/usr/bin/chromium";

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`journey: ${name} is required`);
    process.exit(2);
  }
  return v;
}

const steps = [];
const a11y = [];
let auditMs = 0; // axe scans and screenshots: not the user's time
let outageMs = 0; // the database outage phase: timed apart

// The Go side's answers on standard input, a line at a time.
const control = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

/** askGo prints a request for the Go side and waits for its answer line. */
async function askGo(what) {
  console.log(`E2E_OUTAGE ${what}`);
  const { value, done } = await control.next();
  if (done || value.trim() !== what) throw new Error(`the Go side answered ${done ? "nothing" : JSON.stringify(value)} to ${what}`);
}
const problems = [];
let current = "start";

function log(msg) {
  console.log(`  ${msg}`);
}

async function step(name, fn) {
  current = name;
  const t = performance.now();
  await fn();
  const ms = Math.round(performance.now() - t);
  steps.push({ name, ms });
  log(`ok  ${name} (${ms} ms)`);
}

/** scan runs axe on the page and saves a screenshot named after it. */
async function scan(page, name) {
  const t = performance.now();
  try {
    await audit(page, name);
  } finally {
    auditMs += performance.now() - t;
  }
}

async function audit(page, name) {
  // Settled: no spinner or busy region left (networkidle never comes while
  // Chromium keeps a connection open).
  await page.locator('[role="status"]:has(.animate-spin), [aria-busy="true"]').first().waitFor({ state: "detached", timeout: 5_000 }).catch(() => {});
  await page.screenshot({ path: join(shots, `${String(a11y.length + 1).padStart(2, "0")}-${name}.png`), fullPage: true });
  await page.evaluate(axeSource);
  const res = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = res.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  a11y.push({ page: name, url: page.url(), violations: res.violations.map((v) => `${v.impact} ${v.id}`), serious: bad.length });
  for (const v of bad) {
    problems.push(`a11y ${name}: ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`);
  }
}

/** mailCode waits for a new message to `to` whose subject matches, and returns the 6-digit code in it. */
async function mailCode(to, subject, after) {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const r = await fetch(`${mailpit}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}`);
    if (r.ok) {
      const list = await r.json();
      const msg = (list.messages ?? []).find((m) => subject.test(m.Subject) && !after.has(m.ID));
      if (msg) {
        after.add(msg.ID);
        const full = await (await fetch(`${mailpit}/api/v1/message/${msg.ID}`)).json();
        const code = /\b(\d{6})\b/.exec(full.Text ?? "")?.[1];
        if (!code) throw new Error(`no code in mail "${msg.Subject}": ${full.Text}`);
        return code;
      }
    }
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`no mail to ${to} matching ${subject} within 20 s (is the courier sending to the mailbox?)`);
}

async function waitPath(page, re) {
  await page.waitForURL((u) => re.test(u.pathname), { timeout: 15_000 });
}

const email = `e2e-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
const password = "a long enough passphrase 42";
const newPassword = "another long passphrase 7";
const seenMail = new Set();

mkdirSync(shots, { recursive: true });
const userDataDir = mkdtempSync(join(tmpdir(), "groundwork-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  acceptDownloads: true,
  viewport: { width: 1100, height: 800 },
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(15_000);
page.on("console", (m) => {
  if (m.type() === "error" && /Content Security Policy/i.test(m.text())) problems.push(`CSP on ${current}: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error on ${current}: ${e.message}`));

let failed;
const t0 = performance.now();
try {
  await step("unauthenticated / goes to login with return_to", async () => {
    await page.goto(`${base}/`);
    await waitPath(page, /^\/login$/);
    if (!new URL(page.url()).searchParams.get("return_to")) throw new Error(`no return_to in ${page.url()}`);
    await page.getByRole("button", { name: /sign in/i }).waitFor();
    await scan(page, "login");
  });

  await step("register", async () => {
    await page.getByRole("link", { name: "Create an account" }).click();
    await waitPath(page, /^\/registration$/);
    await page.locator('input[name="traits.email"]').waitFor();
    await scan(page, "registration");
    await page.locator('input[name="traits.email"]').fill(email);
    await page.locator('input[name="traits.name"]').fill("Ada Tester");
    // Kratos 1.3 with the profile method asks for the traits first, then
    // for the password: whatever the flow shows, the renderer draws.
    const profileStep = page.locator('button[name="method"][value="profile"]');
    if ((await profileStep.count()) > 0) {
      await profileStep.click();
      await page.locator('input[name="password"]').waitFor();
      await scan(page, "registration-password");
    }
    await page.locator('input[name="password"]').fill(password);
    await page.locator('button[name="method"][value="password"]').click();
    await waitPath(page, /^\/verification$/);
  });

  await step("verify the email with the code from the mailbox", async () => {
    await page.locator('input[name="code"]').waitFor();
    await scan(page, "verification");
    const code = await mailCode(email, /verify/i, seenMail);
    await page.locator('input[name="code"]').fill(code);
    await page.locator('button[name="method"][value="code"]').click();
    await page.locator('[data-flow-state="passed_challenge"]').waitFor();
    await page.getByRole("button", { name: "Continue" }).click();
    await waitPath(page, /^\/$/);
  });

  await step("profile (GetMe) and the empty state", async () => {
    await page.getByTestId("profile-email").filter({ hasText: email }).waitFor();
    await page.getByText("No accounts yet").waitFor();
    await scan(page, "home-empty");
  });

  await step("log out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await waitPath(page, /^\/login$/);
    await page.locator('input[name="identifier"]').waitFor();
  });

  await step("log in", async () => {
    await page.locator('input[name="identifier"]').fill(email);
    await page.locator('input[name="password"]').fill(password);
    await page.locator('button[name="method"][value="password"]').click();
    await waitPath(page, /^\/$/);
    await page.getByTestId("profile-email").filter({ hasText: email }).waitFor();
  });

  if (process.env.E2E_OUTAGE === "1") {
    const t = performance.now();
    await step("database outage: the page waits, nobody is signed out", async () => {
      await askGo("down");
      // The page open: coming back to the tab refetches its queries, which
      // now fail; the page keeps what it shows and says it is retrying.
      await page.evaluate(() => window.dispatchEvent(new Event("visibilitychange")));
      await page.getByText(/unavailable right now; retrying/).waitFor({ timeout: 15_000 });
      await page.getByTestId("profile-email").filter({ hasText: email }).waitFor();
      // A reload during the outage: the session check cannot tell, and waits.
      await page.reload();
      await page.getByText(/unavailable right now; retrying/).waitFor({ timeout: 15_000 });
      // Long enough for several retries, each of which used to sign out.
      await new Promise((res) => setTimeout(res, 3000));
      if (new URL(page.url()).pathname !== "/") throw new Error(`the outage navigated to ${page.url()}`);
      await page.getByText(/unavailable right now; retrying/).waitFor();
      await page.screenshot({ path: join(shots, "outage.png"), fullPage: true });
      await askGo("up");
      await page.getByTestId("profile-email").filter({ hasText: email }).waitFor({ timeout: 30_000 });
      await page.getByText(/unavailable right now; retrying/).waitFor({ state: "detached", timeout: 15_000 });
      if (new URL(page.url()).pathname !== "/") throw new Error(`after the outage the page is ${page.url()}`);
    });
    outageMs += performance.now() - t;
  }

  let accountURL;
  await step("create an account (a field error first)", async () => {
    await page.getByRole("button", { name: "Create account" }).click();
    // The server's field violation appears under the field, tied to it.
    const field = page.getByLabel("New account name");
    await page.locator('input[name="name"][aria-invalid="true"]').waitFor();
    const err = page.locator("#" + (await field.getAttribute("aria-describedby")));
    await err.filter({ hasText: /must not be empty/ }).waitFor();
    await scan(page, "home-field-error");
    await page.getByLabel("New account name").fill("Savings");
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("link", { name: "Savings" }).click();
    await waitPath(page, /^\/accounts\/[^/]+$/);
    accountURL = page.url();
    await page.getByRole("heading", { level: 1, name: "Savings" }).waitFor();
    await scan(page, "account");
  });

  await step("rename", async () => {
    await page.getByLabel("Name", { exact: true }).fill("Savings renamed");
    await page.getByRole("button", { name: "Rename" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByRole("heading", { level: 1, name: "Savings renamed" }).waitFor();
  });

  await step("request an export and watch it finish without reload", async () => {
    const before = page.url();
    await page.getByRole("button", { name: "Request export" }).click();
    await page.locator("[data-export-state]").waitFor();
    const first = await page.locator("[data-export-state]").getAttribute("data-export-state");
    log(`    export state after the request: ${first}`);
    await page.locator('[data-export-state="STATE_SUCCEEDED"], [data-export-state="STATE_FAILED"]').waitFor({ timeout: 30_000 });
    const state = await page.locator("[data-export-state]").getAttribute("data-export-state");
    if (state !== "STATE_SUCCEEDED") throw new Error(`export ended in ${state}: ${await page.locator("[data-export-state]").innerText()}`);
    if (!page.url().startsWith(before.split("?")[0])) throw new Error("the page changed while waiting");
    await scan(page, "export-ready");
  });

  await step("download the export", async () => {
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download export" }).click()]);
    const file = await download.path();
    const doc = JSON.parse(readFileSync(file, "utf8"));
    const text = JSON.stringify(doc);
    if (!text.includes("Savings renamed")) throw new Error(`the export does not name the account: ${text.slice(0, 300)}`);
    log(`    downloaded ${download.suggestedFilename()} (${text.length} bytes)`);
  });

  await step("delete", async () => {
    await page.getByRole("button", { name: "Delete account…" }).click();
    await page.getByRole("button", { name: "Delete for good" }).click();
    await waitPath(page, /^\/$/);
    await page.getByText("No accounts yet").waitFor();
    await page.goto(accountURL);
    await page.getByRole("heading", { name: "Account not found" }).waitFor();
    await scan(page, "account-not-found");
  });

  await step("change the profile in settings", async () => {
    await page.getByRole("link", { name: "Settings" }).click();
    await waitPath(page, /^\/settings$/);
    const profile = page.getByRole("form", { name: "Profile" });
    await profile.locator('input[name="traits.name"]').waitFor();
    await scan(page, "settings");
    await profile.locator('input[name="traits.name"]').fill("Ada Lovelace");
    await profile.locator('button[name="method"][value="profile"]').click();
    await page.getByText(/saved/i).first().waitFor();
    await page.goto(`${base}/`);
    await page.getByTestId("profile-name").filter({ hasText: "Ada Lovelace" }).waitFor();
  });

  await step("log out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await waitPath(page, /^\/login$/);
  });

  await step("recover the account with a code from the mailbox", async () => {
    await page.getByRole("link", { name: "Forgot your password?" }).click();
    await waitPath(page, /^\/recovery$/);
    await page.locator('input[name="email"]').waitFor();
    await scan(page, "recovery");
    await page.locator('input[name="email"]').fill(email);
    await page.locator('button[name="method"][value="code"]').click();
    await page.locator('input[name="code"]').waitFor();
    const code = await mailCode(email, /recover/i, seenMail);
    await page.locator('input[name="code"]').fill(code);
    await page.locator('button[name="method"][value="code"]').click();
    await waitPath(page, /^\/settings$/);
    const pw = page.getByRole("form", { name: "Change password" });
    await pw.locator('input[name="password"]').waitFor();
    await pw.locator('input[name="password"]').fill(newPassword);
    await pw.locator('button[name="method"][value="password"]').click();
    await page.getByText(/saved/i).first().waitFor();
  });

  await step("log out, log in with the new password, log out", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await waitPath(page, /^\/login$/);
    await page.locator('input[name="identifier"]').fill(email);
    await page.locator('input[name="password"]').fill(newPassword);
    await page.locator('button[name="method"][value="password"]').click();
    await waitPath(page, /^\/$/);
    await page.getByTestId("profile-email").filter({ hasText: email }).waitFor();
    await page.getByRole("button", { name: "Sign out" }).click();
    await waitPath(page, /^\/login$/);
  });

  await step("error and not-found pages", async () => {
    await page.goto(`${base}/error?id=00000000-0000-0000-0000-000000000000`);
    await page.getByRole("heading", { name: "Something went wrong" }).waitFor();
    await page.getByRole("alert").waitFor();
    await scan(page, "error");
    await page.goto(`${base}/no/such/page`);
    await page.getByRole("heading", { name: "Page not found" }).waitFor();
    await scan(page, "not-found");
  });
} catch (e) {
  failed = `${current}: ${e instanceof Error ? e.message : String(e)}`;
  await page.screenshot({ path: join(shots, "failure.png"), fullPage: true }).catch(() => {});
}
// The journey is the user's time: everything but the audits in between.
const totalMs = Math.round(performance.now() - t0);
const journeyMs = Math.round(totalMs - auditMs - outageMs);
await context.close();
rmSync(userDataDir, { recursive: true, force: true });

const result = {
  ok: !failed && problems.length === 0,
  failed,
  problems,
  journeyMs,
  totalMs,
  auditMs: Math.round(auditMs),
  outageMs: Math.round(outageMs),
  steps,
  a11y,
  email,
};
console.log(`E2E_RESULT ${JSON.stringify(result)}`);
process.exit(result.ok ? 0 : 1);
