// Devices in real Chromium. Run by web/devices_browser_test.go: the
// mediator (Go client) said three things in side A's caucus before A's
// lawyer joined; the lawyer's browser shows one line that counts and
// explains them, and the room's unread badge counts only what the lawyer
// can read.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("PARLEY_URL");
const shots = env("PARLEY_SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const T = 30000;
const lines = createInterface({ input: process.stdin });
const answers = [];
const waiters = [];
lines.on("line", (l) => (waiters.length ? waiters.shift()(l) : answers.push(l)));
async function ask(verb, arg = "") {
  process.stdout.write(`ask ${verb} ${arg}\n`);
  const a = answers.length ? answers.shift() : await new Promise((r) => waiters.push(r));
  if (!a.startsWith("ok")) throw new Error(`${verb}: ${a}`);
  return a.slice(3);
}
function log(s) { process.stdout.write(s + "\n"); }
function check(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
  log("ok: " + what);
}

const browser = await chromium.launch({
  executablePath: env("PARLEY_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
async function newPage(name, viewport) {
  const ctx = await browser.newContext({ viewport, locale: "en-GB" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(base + "/")) problems.push(`${name}: third-party request to ${r.url()}`); });
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  return page;
}
const room = (page, r) => page.locator(`#rooms button[data-room="${r}"]`);

try {
  const lawyer = await newPage("lawyer", { width: 1280, height: 900 });
  await lawyer.goto(env("PARLEY_INVITE_COUNSEL"));
  await room(lawyer, "caucus:A").waitFor();
  await lawyer.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await room(lawyer, "joint").click();
  await lawyer.locator("#room-title").waitFor();

  await ask("welcome");
  // The welcome is the only new message the lawyer can read in the caucus.
  const badge = room(lawyer, "caucus:A").locator(".unread");
  await badge.waitFor({ timeout: 60000 });
  await lawyer.locator('#rooms button[data-room="caucus:A"] .unread', { hasText: /^1$/ }).waitFor({ timeout: 60000 });
  check((await badge.innerText()) === "1", "the caucus's unread badge counts only the readable message, not the three sent before");

  await room(lawyer, "caucus:A").click();
  const log_ = lawyer.locator("#room ol.log");
  await log_.locator("li", { hasText: "Welcome, Jordan" }).waitFor({ timeout: 60000 });
  const collapsed = log_.locator("li.unreadable");
  check(await collapsed.count() === 1, "the three unreadable messages are one line");
  const text = await collapsed.innerText();
  check(text.includes("3 earlier messages can't be shown here") && text.includes("before this browser had keys") && text.includes("Everything sent from now on reaches this browser"),
    "the line counts them and says why, in plain words: " + text);
  check(!/no key|chain|dv_|e2ee/i.test(text), "the line carries no internal terms");
  await lawyer.locator("#room").screenshot({ path: shots + "/devices-unreadable.png" });
  await lawyer.setViewportSize({ width: 390, height: 844 });
  await collapsed.scrollIntoViewIfNeeded();
  await lawyer.screenshot({ path: shots + "/devices-unreadable-phone.png" });

  check(problems.length === 0, "no page errors or third-party requests: " + problems.join("; "));
  await browser.close();
  log("PASS");
  process.exit(0);
} catch (e) {
  log("FAIL: " + (e.stack || e));
  await browser.close().catch(() => {});
  process.exit(1);
}
