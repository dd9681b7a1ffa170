// The harness every Playwright script shares. A script is run by a Go test
// (web/*_browser_test.go, through runBrowserScript) that starts a node and
// passes it the environment: PARLEY_URL, PARLEY_CHROMIUM,
// PARLEY_SCREENSHOTS, and what else the script reads with env(). The
// script speaks to the Go test on stdout/stdin: `ask VERB ARG` asks it to
// check or do something on the server's side and waits for `ok VALUE` (or
// `error WHY`, which fails the script); `ok: …` lines record a passed
// check; the last line is PASS or FAIL.
//
//   import { ask, check, newPage, run, shots } from "./harness.mjs";
//   await run(async () => { const p = await newPage("party"); … });
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";

/** env returns a required environment variable. */
export const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
export const base = env("PARLEY_URL");
export const shots = env("PARLEY_SCREENSHOTS");
mkdirSync(shots, { recursive: true });
/** T is the default timeout of every page action, in milliseconds. */
export const T = 30000;

const lines = createInterface({ input: process.stdin });
const answers = [];
const waiters = [];
lines.on("line", (l) => (waiters.length ? waiters.shift()(l) : answers.push(l)));

/** ask has the Go test check or do verb (with arg) and returns its answer. */
export async function ask(verb, arg = "") {
  process.stdout.write(`ask ${verb} ${arg}\n`);
  const a = answers.length ? answers.shift() : await new Promise((r) => waiters.push(r));
  if (!a.startsWith("ok")) throw new Error(`${verb}: ${a}`);
  return a.slice(3);
}
export function log(s) { process.stdout.write(s + "\n"); }
/** check fails the script unless cond holds, and records what passed. */
export function check(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
  log("ok: " + what);
}

export const browser = await chromium.launch({
  executablePath: env("PARLEY_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
/** problems collects page errors and requests to anywhere but the node. */
export const problems = [];

/** watch gives page the default timeout and records its problems, and its HTTP errors in the log. */
export function watch(page, name) {
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(base + "/")) problems.push(`${name}: third-party request to ${r.url()}`); });
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  return page;
}

/** newPage opens a page in a new browser context: a new person's browser. */
export async function newPage(name, viewport = { width: 1280, height: 900 }, options = {}) {
  const ctx = await browser.newContext({ viewport, locale: "en-GB", ...options });
  return watch(await ctx.newPage(), name);
}

/** signIn opens a new browser for a person with a password and signs them in at /app. */
export async function signIn(name, email, password = env("PARLEY_PASSWORD"), options = {}) {
  const page = await newPage(name, { width: 1280, height: 900 }, options);
  await page.goto(base + "/app");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("form button[type=submit]");
  return page;
}

/** signInMediator signs the case's mediator (PARLEY_MEDIATOR_EMAIL) in on page, straight into the case (PARLEY_CASE). */
export async function signInMediator(page) {
  await page.goto("about:blank");
  await page.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await page.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await page.fill("#password", env("PARLEY_PASSWORD"));
  await page.click("button[type=submit]");
  await page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
}

/** joinByInvite opens an invitation link on page, accepts the case's terms and continues past the disclosures, until connected. */
export async function joinByInvite(page, link = env("PARLEY_INVITE")) {
  await page.goto(link);
  await page.check("#terms-read");
  await page.click("#accept-terms");
  await page.click("#consent-continue");
  await page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
}

/**
 * run runs the script's body, then prints PASS (no problems seen) or FAIL
 * (after onFail, which may log what the pages show), and exits.
 */
export async function run(body, onFail = async () => {}) {
  try {
    await body();
    check(problems.length === 0, "no page errors or third-party requests: " + problems.join("; "));
    await browser.close();
    log("PASS");
    process.exit(0);
  } catch (e) {
    log("FAIL: " + (e.stack || e));
    await onFail().catch(() => {});
    await browser.close().catch(() => {});
    process.exit(1);
  }
}

/** fitsWidth checks that page (at its current viewport) has no horizontal overflow: nothing wider than the screen, so nothing cut off or scrolled sideways. */
export async function fitsWidth(page, what) {
  const w = await page.evaluate(() => {
    const wide = [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > innerWidth + 1).slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${e.className && typeof e.className === "string" ? "." + e.className.split(" ")[0] : ""}`);
    return { scroll: document.documentElement.scrollWidth, inner: innerWidth, wide };
  });
  check(w.scroll <= w.inner, `${what}: no horizontal overflow at ${w.inner}px (page ${w.scroll}px wide${w.wide.length ? "; too wide: " + w.wide.join(", ") : ""})`);
}
