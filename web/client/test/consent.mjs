// Ground rules and consent in real Chromium. Run by
// web/consent_browser_test.go, which seeds a case (terms set, one
// disclosure, three invitations) and answers "ask …" lines: it tries the
// opening stage through the API and adds a later disclosure.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { axeCheck } from "./axe.mjs";

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
async function ask(verb) {
  process.stdout.write(`ask ${verb}\n`);
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
async function newPage(name, viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/London" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  return page;
}
const room = (page, r) => page.locator(`#rooms button[data-room="${r}"]`);
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });

// A time with its zone ("6 Dec 2026, 12:18 GMT"): the people in a case may be in different zones.
const zoned = /\b\d{1,2}:\d{2}(:\d{2})? (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2}(:\d{2})?)?\b/;

/** Reads the gate, accepts the terms and acknowledges every open disclosure, then goes on. */
async function consent(page, shot) {
  await page.waitForSelector("#consent-title");
  const text = await page.innerText("main");
  check(text.includes("What is said here stays here") && text.includes("Ten years ago I worked at the same firm"), "the gate shows the case's terms and the disclosure");
  check(text.includes("the mediators and the program's records will see it"), "the gate says who will see the acceptance");
  check(!/c_[a-z0-9]{10}|dv_|case\.terms|caucus:/.test(text), "the gate shows no internal ids or action names");
  // A worrying disclosure: what to do comes first, before going on (UX review 367 M8).
  check(text.includes("If it worries you, don't go on yet: phone your mediator or the mediation program. Acknowledging only says you have read it.") &&
    await page.innerText("#consent-continue") === "Go on to your mediation", "the gate says not to go on yet if a disclosure worries them, and Go on names the mediation: " + await page.innerText("#consent-continue"));
  const disclosed = await page.locator("main .meta", { hasText: "Disclosed by" }).first().innerText();
  check(zoned.test(disclosed), "when the mediator disclosed is said with its time zone: " + disclosed);
  check(await page.isDisabled("#accept-terms") && await page.isDisabled("#consent-continue"), "nothing is accepted, and the case stays closed, until the person confirms");
  // Each faded button says, next to it, what is missing.
  check(await page.getAttribute("#accept-terms", "aria-describedby") === "accept-terms-missing" &&
    await page.innerText("#accept-terms-missing") === "Tick “I have read these terms and I accept them” first.",
    "a faded Accept says what is missing: " + await page.innerText("#accept-terms-missing"));
  const todo = await page.innerText("#consent-continue-missing");
  check(await page.getAttribute("#consent-continue", "aria-describedby") === "consent-continue-missing" &&
    /^To go on, first accept the terms and acknowledge the (disclosure|\d+ disclosures) above\.$/.test(todo), "a faded Go on says what is still to do: " + todo);
  if (shot) await page.screenshot({ path: shots + "/" + shot, fullPage: true });
  await page.check("#terms-read");
  // Acknowledging a disclosure draws the gate again: the tick on the terms stays.
  for (let n = await page.locator("button.ack-disclosure").count(); n > 0; n--) {
    await page.locator("button.ack-disclosure").first().click();
    await page.waitForFunction((k) => document.querySelectorAll("button.ack-disclosure").length < k, n);
  }
  check(await page.isChecked("#terms-read") && await page.isEnabled("#accept-terms"), "the tick on the terms stays while disclosures are acknowledged");
  check(await page.innerText("#accept-terms-missing") === "" && await page.innerText("#consent-continue-missing") === "To go on, first accept the terms above.",
    "ticked and acknowledged, only accepting is left: " + await page.innerText("#consent-continue-missing"));
  await page.click("#accept-terms");
  await page.waitForSelector("#terms-accepted");
  const accepted = await page.innerText("#terms-accepted");
  check(zoned.test(accepted), "when the person accepted is said with its time zone: " + accepted);
  check(await page.innerText("#consent-continue-missing") === "", "all done, Go on says nothing is missing");
  await page.click("#consent-continue");
}

try {
  // The mediator has the case open the whole time and never posts in a caucus.
  const med = await newPage("med");
  await med.goto(base + "/app");
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("form button[type=submit]");
  await room(med, "joint").waitFor();
  await connected(med);
  await med.waitForSelector("#consent-panel h2");
  check((await med.innerText("#consent-panel")).includes("Nobody has joined yet"), "the mediator's panel says nobody has joined yet");

  // Party A (desktop) joins, reads and accepts, and sends in their caucus at once.
  const a = await newPage("a");
  await a.goto(env("PARLEY_INVITE_A"));
  await consent(a, "consent-party.png");
  await room(a, "caucus:A").waitFor();
  await connected(a);
  await room(a, "caucus:A").click();
  await a.fill("#draft", "We could accept 4,000 if it is paid this month.");
  await a.click("#room form button[type=submit]");
  // It arrives at the mediator's open page without the mediator posting there.
  await room(med, "caucus:A").click();
  await med.locator("#room ol.log li", { hasText: "We could accept 4,000" }).first().waitFor({ timeout: 60000 });
  check(true, "party A's first caucus message reaches the mediator, who never posted in that caucus");
  const aNotice = await a.innerText("#notice");
  check(!/caucus:|statement|no mediator has confirmed/.test(aNotice), "party A is shown no internal room ids: " + JSON.stringify(aNotice));

  // Party B on a phone.
  const b = await newPage("b", { width: 390, height: 844 });
  await b.goto(env("PARLEY_INVITE_B"));
  await consent(b, "consent-party-phone.png");
  await room(b, "caucus:B").waitFor();

  // The lawyer joins but has not accepted yet: opening is refused, naming them.
  const counsel = await newPage("counsel");
  await counsel.goto(env("PARLEY_INVITE_COUNSEL"));
  await counsel.waitForSelector("#consent-title");
  const refusal = await ask("opening refused");
  check(refusal.includes("Jordan Blake (Tenant's lawyer)"), "opening is refused, naming who is missing: " + refusal);
  await med.reload();
  await med.waitForSelector("#terms-table");
  const panel = await med.innerText("#consent-panel");
  const waits = await med.innerText("#terms-summary");
  check(waits === "The opening session waits until this person accepts the terms: Jordan Blake (Tenant's lawyer).",
    "the mediator's panel names who has not accepted, in words (the side's name and “lawyer”, not “counsel”): " + waits);
  check(/Ada Okafor[\s\S]*Accepted/.test(panel) && /Jordan Blake[\s\S]*Not yet/.test(panel), "the panel shows who has and has not accepted");
  const acceptedCells = (await med.locator("#terms-table tbody td:nth-child(3)").allInnerTexts()).filter((c) => c.startsWith("Accepted"));
  check(acceptedCells.length > 0 && acceptedCells.every((c) => zoned.test(c)), "the mediator's table says each acceptance's time with its zone: " + acceptedCells.join(" | "));
  const roles = await med.locator("#terms-table tbody td:nth-child(2)").allInnerTexts();
  check(roles.includes("Tenant's lawyer") && roles.every((r) => !/counsel|party\b|observer\b/.test(r)), "the terms table says each role in words (“Tenant’s lawyer”, not “counsel”): " + roles.join(" | "));
  check(panel.includes("Acknowledged by: Ada Okafor, Lars Lindqvist") && panel.includes("Not yet: Jordan Blake"), "the panel shows who acknowledged the disclosure");
  await med.locator("#consent-panel").screenshot({ path: shots + "/consent-mediator.png" });
  // Saving terms someone already accepted asks in the page (not a browser dialog), naming whose acceptance no
  // longer counts and who is shown the new terms; Cancel saves nothing.
  await med.locator("#consent-panel summary", { hasText: "Edit the terms" }).click();
  const termsBefore = await med.inputValue("#terms-edit");
  await med.fill("#terms-edit", termsBefore + "\nSessions start on time.");
  let browserDialog = "";
  const onDialog = (d) => { browserDialog = d.message(); void d.dismiss(); };
  med.on("dialog", onDialog);
  // By keyboard, Enter pressed twice: the second lands on the question, not on the button that saves (UX review 379 H1).
  await med.focus("#terms-save");
  await med.keyboard.press("Enter");
  const termsAsk = med.locator("#terms-save-box [role=alertdialog]");
  await termsAsk.waitFor();
  await med.keyboard.press("Enter");
  med.off("dialog", onDialog);
  const termsWords = await termsAsk.innerText();
  check(!browserDialog && termsWords.includes("Save the terms as version 2?") && /Ada Okafor \(Tenant\)/.test(termsWords) &&
    termsWords.includes("already accepted version 1. Those acceptances no longer count: everyone must accept version 2 before the opening session.") &&
    termsWords.includes("Every party, lawyer and observer of this case is shown the new terms"),
    "saving accepted terms asks in the page, naming who accepted and who is shown the new terms: " + (browserDialog || termsWords));
  check(await med.evaluate(() => document.activeElement?.id) === "terms-save-q" && await termsAsk.count() === 1 && await med.innerText("#terms-save-confirm") === "Save as version 2",
    "Enter pressed twice leaves the focus on the question, which stays open; the button names the act: " + await med.evaluate(() => document.activeElement?.id));
  await axeCheck(med, "mediator, saving terms someone accepted", { selector: "#consent-panel" });
  await med.locator("#consent-panel").screenshot({ path: shots + "/consent-terms-save-ask.png" });
  await med.click("#terms-save-cancel");
  await termsAsk.waitFor({ state: "detached" });
  check(await med.evaluate(() => document.activeElement?.id) === "terms-save" && (await med.innerText("#consent-panel")).includes("version 1 of the terms"),
    "Cancel saves nothing and puts the focus back on Save");
  const medPhone = await newPage("med-phone", { width: 390, height: 844 });
  await medPhone.context().addCookies(await med.context().cookies());
  await medPhone.goto(base + "/app");
  await medPhone.waitForSelector("#terms-table");
  // (The page settles first: the documents and devices panels load after the terms table.)
  await medPhone.waitForFunction(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth, null, { timeout: 10000 }).catch(() => {});
  const overflow = await medPhone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  const widest = overflow > 0 ? await medPhone.evaluate(() => [...document.querySelectorAll("body *")].filter((e) => e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0).map((e) => `${e.tagName}#${e.id}.${e.className}: ${(e.textContent ?? "").slice(0, 50)}`).slice(-3).join(" | ")) : "";
  check(overflow <= 0, `the mediator's panel fits a phone without sideways scrolling (${overflow}px: ${widest})`);
  await medPhone.locator("#consent-panel").screenshot({ path: shots + "/consent-mediator-phone.png" });
  await medPhone.context().close();

  // The lawyer accepts; now opening goes ahead.
  await consent(counsel);
  await room(counsel, "caucus:A").waitFor();
  await ask("signed");
  await ask("opening");
  check(true, "opening is allowed once the last person accepted");

  // A later disclosure is shown again to a party who comes back.
  await ask("disclose");
  await a.reload();
  await a.waitForSelector("#consent-title");
  const again = await a.innerText("main");
  check(again.includes("Since then my sister has rented a flat") && again.includes("You accepted these terms on"), "the later disclosure is shown again; the terms stay accepted");
  check(await a.locator("button.ack-disclosure").count() === 1, "only the new disclosure waits for an acknowledgement");
  await a.screenshot({ path: shots + "/consent-later-disclosure.png", fullPage: true });
  await a.click("button.ack-disclosure");
  await a.waitForSelector("#consent-continue:not([disabled])");
  await a.click("#consent-continue");
  await room(a, "caucus:A").waitFor();
  check(true, "party A goes on after acknowledging the later disclosure");

  // No mediator online: a lawyer who joins now writes in their caucus; the
  // message waits, and says so in words, until the mediator opens the case.
  // (The page closes; its browser keeps the mediator's device keys, as a
  // closed laptop does: a new browser would be a new, unlinked device.)
  const medCtx = med.context();
  await med.close();
  const link = await ask("invite counsel B");
  const late = await newPage("late");
  await late.goto(link);
  await late.check("#terms-read");
  await late.click("#accept-terms");
  await late.waitForSelector("#terms-accepted");
  for (let n = await late.locator("button.ack-disclosure").count(); n > 0; n--) {
    await late.locator("button.ack-disclosure").first().click();
    await late.waitForFunction((k) => document.querySelectorAll("button.ack-disclosure").length < k, n);
  }
  await late.click("#consent-continue");
  await room(late, "caucus:B").waitFor();
  await connected(late);
  await room(late, "caucus:B").click();
  await late.fill("#draft", "Robin here, for the landlord.");
  await late.click("#room form button[type=submit]");
  await late.locator("#notice", { hasText: "will be sent when your mediator connects" }).waitFor({ timeout: 20000 });
  const waiting = await late.innerText("main");
  const jargon = waiting.match(/.{0,60}(caucus:[A-Za-z]|no mediator has confirmed|statement).{0,60}/)?.[0];
  const failed = (await late.innerText("#room .error")).trim();
  check(!jargon && !failed, `the waiting message is explained in words, with no internal ids and no failure (${jargon ?? ""}${failed})`);
  await late.screenshot({ path: shots + "/consent-waiting.png", fullPage: false });
  const med2 = await medCtx.newPage();
  med2.setDefaultTimeout(T);
  med2.on("pageerror", (e) => problems.push(`med2: page error: ${e.message}`));
  await med2.goto(base + "/app");
  await room(med2, "caucus:B").click();
  await med2.locator("#room ol.log li", { hasText: "Robin here, for the landlord." }).first().waitFor({ timeout: 60000 });
  await late.locator("#room ol.log li", { hasText: "Robin here, for the landlord." }).first().waitFor({ timeout: 30000 });
  check(true, "the waiting message went once the mediator opened the case");

  check(problems.length === 0, "no page errors: " + problems.join("; "));
  log("PASS");
} catch (e) {
  log("FAIL " + (e?.stack ?? e));
  process.exitCode = 1;
} finally {
  await browser.close();
  lines.close();
}
