// A whole mediation in real Chromium, with no CLI. Run by
// web/wholecase_browser_test.go, which starts a node whose session clock it
// can move, creates the staff accounts (two mediators and an administrator)
// and answers "ask …" lines with checks of what the server holds.
//
// The mediator opens the case in the desk and invites; two parties and a
// lawyer join in their own browsers, accept the terms and acknowledge a
// disclosure (opening is refused, naming who is missing, until the last
// accepts); they talk in the caucuses; the Tenant's session ends on the
// test clock and a re-entry link brings them back to the same account and
// history; they add a phone from their laptop by pairing code and read the
// caucus there; the Landlord loses their browser, is admitted again by the
// mediator and reads only what follows; an administrator disables a second
// mediator, whose open case closes; the case goes through every stage to
// closure, the outcome is recorded and a party answers the survey.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { axeCheck } from "./axe.mjs";
import { passGate } from "./gate.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("PARLEY_URL");
const shots = env("PARLEY_SCREENSHOTS");
const title = env("PARLEY_TITLE");
const pw = env("PARLEY_PASSWORD");
mkdirSync(shots, { recursive: true });
const T = 30000;
const LONG = 60000;
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
const flat = (s) => s.replace(/\s+/g, " ");

const browser = await chromium.launch({
  executablePath: env("PARLEY_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
const pages = [];
function watch(name, page) {
  pages.push([name, page]);
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(base + "/")) problems.push(`${name}: third-party request to ${r.url()}`); });
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  // Requests on their way (a WebSocket is not one): quiet() waits for them.
  pending.set(page, 0);
  page.on("request", () => pending.set(page, pending.get(page) + 1));
  for (const ev of ["requestfinished", "requestfailed"]) page.on(ev, () => pending.set(page, pending.get(page) - 1));
  return page;
}
const pending = new Map();
/** Stops page's requests and waits until the server has answered every one
 * already sent: a request still on its way when the test clock moves would
 * count as a use on the later day. */
async function quiet(page) {
  await page.route("**/*", (r) => r.abort());
  for (let i = 0; pending.get(page) > 0; i++) {
    if (i === LONG / 50) throw new Error(`a page still has ${pending.get(page)} requests on their way`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
async function newPage(name, viewport = { width: 1280, height: 900 }) {
  const ctx = await browser.newContext({ viewport, locale: "en-GB", timezoneId: "Europe/London" });
  return watch(name, await ctx.newPage());
}
/** Another tab in the same browser (the same cookies and keys). */
async function sameBrowser(name, page) {
  return watch(name, await page.context().newPage());
}
async function signIn(page, email) {
  await page.goto(base + "/app");
  await page.fill("#email", email);
  await page.fill("#password", pw);
  await page.click("form button[type=submit]");
}
const room = (page, r) => page.locator(`#rooms button[data-room="${r}"]`);
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
const said = (page, text) => page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: LONG });
async function openRoom(page, r) {
  await room(page, r).click();
  await page.locator(`#room-title`).waitFor();
}
async function send(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await said(page, text);
}
/** A mediator's page moves to the case desk of the case it has open. */
async function toDesk(page) {
  await page.click("#open-desk");
  await page.waitForSelector("#desk-stage");
}
async function toRooms(page) {
  await page.click("#desk-rooms");
  await page.locator("#rooms-title").waitFor();
  await connected(page);
}
const stageNow = (p) => p.getAttribute("#desk-stages li[aria-current=step]", "data-stage");
/** The mediator makes a link back in for name; returns it. */
async function reentryLink(med, name) {
  const row = med.locator(`#people li[data-person="${name}"]`);
  const before = await row.locator("input[readonly]").count() ? await row.locator("input[readonly]").inputValue() : "";
  await row.locator("button.reentry").click();
  await med.waitForFunction(([n, old]) => {
    const i = document.querySelector(`#people li[data-person="${n}"] input[readonly]`);
    return i && i.value && i.value !== old;
  }, [name, before]);
  return row.locator("input[readonly]").inputValue();
}

// What is said, and where. Side A's caucus must never reach side B.
const M_A = "Mediator to the Tenant side: what would settle this for you?";
const A_1 = "Ada: we could accept 4,000 if it is paid this month";
const M_B = "Mediator to the Landlord side: how firm is the 5,000?";
const B_1 = "Lars: I could go down to 4,500, no lower";
const M_B2 = "Mediator to Lars, on the new phone: welcome back";
const A_2 = "Ada, back a week later: the offer still stands";

try {
  // 1. The mediator signs in and opens the case in the desk.
  const med = await newPage("med");
  await med.goto(base + "/app#desk");
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", pw);
  await med.click("form button[type=submit]");
  await med.waitForSelector("#new-case");
  await med.fill("#new-title", title);
  await med.fill("#new-type", "tenancy");
  await med.fill("#new-referral", "court");
  await med.fill("#new-reference", env("PARLEY_REFERENCE"));
  await med.fill("#new-side-1", "Tenant");
  await med.fill("#new-side-2", "Landlord");
  await axeCheck(med, "desk, new case form");
  await med.click("#new-case button[type=submit]");
  await med.waitForSelector("#desk-invite");
  const caseID = new URLSearchParams((await med.evaluate(() => location.hash)).slice(1)).get("desk");
  await ask("created", caseID);
  check(flat(await med.innerText("#main")).includes("docket or file number " + env("PARLEY_REFERENCE")), "the desk shows the case's reference");

  // Invitations, one per side and the Tenant's lawyer: each link read from the page.
  const links = {};
  for (const [name, role, side] of [["Ada Okafor", "party", "A"], ["Lars Lindqvist", "party", "B"], ["Jordan Blake", "counsel", "A"]]) {
    await med.fill("#desk-invite-name", name);
    await med.selectOption("#desk-invite-role", role);
    await med.selectOption("#desk-invite-side", side);
    await med.click("#desk-invite button[type=submit]");
    await med.waitForSelector(`#desk-invite-out :text("${name}")`);
    links[name] = await med.inputValue("#desk-invite-link");
    check(links[name].startsWith(base + "/join#") && (await med.innerText("#desk-invite-out")).includes("shown only once"), `${name}'s link is shown once`);
  }
  await axeCheck(med, "desk, invitation shown");
  check(new Set(Object.values(links)).size === 3, "each invitation has its own link");

  // A conflict disclosure, made before anyone joins: it cannot be withdrawn,
  // so it asks first, quoting the text and saying who will read it.
  const disclosure = "Ten years ago I worked at the same firm as the landlord's agent.";
  await med.fill("#desk-disclosure-text", disclosure);
  await med.click("#desk-disclosure-ask");
  await med.waitForSelector("#desk-disclosure-box [role=alertdialog]");
  const dq = flat(await med.innerText("#desk-disclosure-box [role=alertdialog]"));
  check(dq.includes("Disclose this to everyone in the case?") && dq.includes(disclosure) && dq.includes("everyone who joins the case") &&
    dq.includes("Nobody has joined yet") && dq.includes("cannot be withdrawn"), "the disclosure's confirmation quotes it and says who will read it: " + dq);
  await axeCheck(med, "desk, disclosure confirmation");
  await med.locator("#desk-disclosures").screenshot({ path: shots + "/wholecase-disclosure-confirm.png" });
  const wide = med.viewportSize();
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#desk-disclosure-box").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/wholecase-disclosure-confirm-phone.png" });
  await med.setViewportSize(wide);
  await med.click("#desk-disclosure-confirm");
  await med.waitForSelector("#desk-disclosure-list li:has-text('Ten years ago')");

  // The rooms; the mediator sets the case's terms (the program's are the default).
  await toRooms(med);
  await med.locator("#consent-panel summary", { hasText: "Edit the terms" }).click();
  const terms = "Agreement to mediate\nYou take part voluntarily; the mediator decides nothing.\n\nConfidentiality\nWhat is said in this mediation stays in it.\n\nGround rules\nOne person speaks at a time.";
  await med.fill("#terms-edit", terms);
  await med.click("#terms-save");
  await med.locator("#terms-edit-status", { hasText: "Saved as version" }).waitFor();
  check(await med.inputValue("#terms-edit") === terms, "the mediator's terms are saved, and the page says so: " + await med.innerText("#terms-edit-status"));
  await axeCheck(med, "mediator, case rooms with the terms panel");

  // 2. The two parties and the lawyer join in their own browsers.
  const a = await newPage("ada");
  await a.goto(links["Ada Okafor"]);
  await a.waitForSelector("#consent-title");
  const gate = flat(await a.innerText("main"));
  check(gate.includes("What is said in this mediation stays in it") && gate.includes("Ten years ago I worked"), "the gate shows the mediator's terms and the disclosure");
  await axeCheck(a, "the terms and disclosures gate");
  await passGate(a);
  await room(a, "caucus:A").waitFor();
  const b = await newPage("lars", { width: 390, height: 844 });
  await b.goto(links["Lars Lindqvist"]);
  await passGate(b);
  await room(b, "caucus:B").waitFor();
  check(await room(b, "caucus:A").count() === 0, "the Landlord has no way into the Tenant's caucus");
  const counsel = await newPage("jordan");
  await counsel.goto(links["Jordan Blake"]);
  await counsel.waitForSelector("#consent-title");

  // The lawyer has not accepted yet: opening is refused, naming them.
  await med.reload();
  await toDesk(med);
  check(await stageNow(med) === "preparation", "the case starts in preparation");
  await med.click("#desk-stage-forward");
  await med.waitForSelector("#desk-stage-out.error");
  const refused = flat(await med.innerText("#desk-stage-out"));
  check(refused.includes("Jordan Blake") && !refused.includes("Ada Okafor") && !refused.includes("Lars Lindqvist"), "opening is refused, naming only who has not accepted: " + refused);
  check(!/HTTP|409|case\.stage|c_[a-z0-9]{8}/.test(refused), "in plain words");
  await axeCheck(med, "desk, opening refused");
  await ask("still preparation");

  await passGate(counsel);
  await room(counsel, "caucus:A").waitFor();
  await med.click("#desk-stage-forward");
  await med.waitForSelector("#desk-stages li[data-stage=opening][aria-current=step]");
  await ask("opened");
  check(true, "opening goes ahead once the last person accepted");

  // 3. The caucuses.
  await toRooms(med);
  await connected(a);
  await connected(b);
  await send(med, "caucus:A", M_A);
  await openRoom(a, "caucus:A");
  await said(a, M_A);
  await send(a, "caucus:A", A_1);
  await openRoom(counsel, "caucus:A");
  await said(counsel, A_1);
  await send(med, "caucus:B", M_B);
  await openRoom(b, "caucus:B");
  await said(b, M_B);
  await send(b, "caucus:B", B_1);
  await openRoom(med, "caucus:B");
  await said(med, B_1);
  check(!(await b.innerText("body")).includes("4,000"), "nothing of the Tenant's caucus is on the Landlord's screen");

  // Four days pass: everyone but Ada comes back to the case (a use slides
  // the session); Ada's browser stays closed.
  // Her page goes quiet and closes, and the server sees her gone (her
  // socket closed) before the clock moves.
  const adaCtx = a.context();
  await quiet(a);
  await a.close();
  await openRoom(med, "joint");
  await med.locator("#present").filter({ hasNotText: "Ada Okafor" }).waitFor({ timeout: LONG });
  await ask("days", "4");
  for (const p of [med, b, counsel]) {
    await p.reload();
    await passGate(p);
    await connected(p);
  }
  // Four more: Ada's session has been idle eight days, past its window.
  await ask("days", "4");
  const a2 = await sameBrowser("ada-later", { context: () => adaCtx });
  await a2.goto(base + "/app");
  await a2.locator("#come-back-title").waitFor();
  check((await a2.innerText("#come-back")).includes("You have been signed out"), "Ada is told she was signed out, in words");
  await axeCheck(a2, "come back (session ended)");

  // The mediator makes a link back in; Ada is the same account, with her history.
  const back = await reentryLink(med, "Ada Okafor");
  await axeCheck(med, "mediator, link back in shown");
  await a2.goto(back);
  await passGate(a2);
  await connected(a2);
  const me = await a2.evaluate(async () => (await (await fetch("/api/v1/me")).json()).id);
  await ask("same", me);
  await openRoom(a2, "caucus:A");
  await said(a2, M_A);
  await said(a2, A_1);
  check(true, "Ada is back in the same account and reads what was said before");
  await send(a2, "caucus:A", A_2);

  // 4a. Ada adds her phone from her laptop by a pairing code.
  const phoneLink = await reentryLink(med, "Ada Okafor");
  const phone = await newPage("ada-phone", { width: 390, height: 844 });
  await phone.goto(phoneLink);
  await passGate(phone);
  await phone.locator("#new-device").waitFor({ timeout: LONG });
  await axeCheck(phone, "a new browser, not linked yet");
  await a2.click("#pair-start");
  const code = (await a2.locator("#pair-code").innerText()).trim();
  await phone.fill("#pair-code-input", code);
  await phone.click("#pair-form button[type=submit]");
  await phone.locator("#pair-number").waitFor({ timeout: LONG });
  await a2.locator("#pair-number").waitFor({ timeout: LONG });
  check(await a2.innerText("#pair-number") === await phone.innerText("#pair-number"), "both of Ada's browsers show the same safety number");
  await axeCheck(a2, "adding a device, comparing numbers");
  await a2.click("#pair-confirm");
  await a2.locator("#pair-out", { hasText: "Added." }).waitFor({ timeout: LONG });
  await phone.locator("#pair-start").waitFor({ timeout: LONG });
  await openRoom(phone, "caucus:A");
  await said(phone, M_A);
  await said(phone, A_1);
  await said(phone, A_2);
  check(true, "Ada's phone reads the earlier caucus messages");

  // 4b. Lars loses his browser: a new one, by a link back in, admitted by the mediator.
  await b.context().close();
  const larsLink = await reentryLink(med, "Lars Lindqvist");
  const b2 = await newPage("lars-new", { width: 390, height: 844 });
  await b2.goto(larsLink);
  await passGate(b2);
  await b2.locator("#new-device").waitFor({ timeout: LONG });
  const admit = med.locator("#admit button", { hasText: "Admit this new device of Lars Lindqvist" });
  await admit.waitFor({ timeout: LONG });
  await axeCheck(med, "mediator, a device waiting to be admitted");
  // Admitting asks in the page (not a browser dialog), naming the number to compare by phone, what the device
  // will read and who is told.
  let admitDialog = "";
  const onAdmitDialog = (d) => { admitDialog = d.message(); void d.dismiss(); };
  med.on("dialog", onAdmitDialog);
  // By keyboard: the focus moves to Cancel, not to the button that admits, so Enter pressed twice admits nothing
  // (UX review 379 H1).
  await admit.focus();
  await med.keyboard.press("Enter");
  const admitAsk = med.locator("#admit [role=alertdialog]");
  await admitAsk.waitFor();
  check(await med.evaluate(() => document.activeElement?.id) === "admit-cancel", "the focus is on Cancel, not on the button that admits: " + await med.evaluate(() => document.activeElement?.id));
  med.off("dialog", onAdmitDialog);
  const admitWords = flat(await admitAsk.innerText());
  check(!admitDialog && admitWords.includes("Admit this new device of Lars Lindqvist?") && /read you the same number from their new device: \d{5}( \d{5}){5}/.test(admitWords) &&
    admitWords.includes("from now on (not earlier messages), and every document Lars Lindqvist may see, earlier ones included") && admitWords.includes("Lars Lindqvist's other devices will be told"),
    "admitting a device asks in the page, naming the number to compare and what the device will read: " + (admitDialog || admitWords));
  await axeCheck(med, "mediator, confirming a device's admission");
  if (await med.evaluate(() => document.activeElement?.id) !== "admit-cancel") await med.focus("#admit-cancel");
  await med.keyboard.press("Enter"); // the second Enter
  await admitAsk.waitFor({ state: "detached" });
  check(await med.locator("#admit", { hasText: "Admitted." }).count() === 0, "the second Enter (on Cancel) admits nothing");
  await admit.click();
  await med.click("#admit-confirm");
  await med.locator("#admit", { hasText: "Admitted." }).waitFor({ timeout: LONG });
  await ask("admitted");
  await send(med, "caucus:B", M_B2);
  await openRoom(b2, "caucus:B");
  await said(b2, M_B2);
  await b2.locator("#new-device").waitFor({ state: "detached" });
  await b2.locator("#pair-start").waitFor();
  check(true, "once admitted, Lars's new browser no longer says nobody sends it messages");
  const unreadable = b2.locator("#room ol.log li.unreadable");
  await unreadable.waitFor();
  const line = flat(await unreadable.innerText());
  check(/earlier messages? can't be shown here/.test(line) && line.includes("before this browser had keys"), "Lars's new browser says in plain words that earlier messages can't be shown: " + line);
  const seen = await b2.innerText("#room ol.log");
  check(!seen.includes(M_B) && !seen.includes(B_1), "and shows nothing from before it was admitted");
  await axeCheck(b2, "the Landlord's new browser, after admission");

  // 5. An administrator disables the second mediator, whose open case closes.
  const sam = await newPage("sam");
  await signIn(sam, env("PARLEY_MEDIATOR2_EMAIL"));
  await sam.waitForSelector("#new-case");
  await sam.fill("#new-title", "Ng v. Harlow — noise");
  await sam.fill("#new-type", "neighbour");
  await sam.fill("#new-side-1", "Upstairs");
  await sam.fill("#new-side-2", "Downstairs");
  await sam.click("#new-case button[type=submit]");
  await sam.waitForSelector("#desk-invite");
  await toRooms(sam);
  const admin = await newPage("admin");
  await signIn(admin, env("PARLEY_ADMIN_EMAIL"));
  await admin.click("#nav-people");
  const samRow = admin.locator(`tr[data-email="${env("PARLEY_MEDIATOR2_EMAIL")}"]`);
  await samRow.locator("button[data-act=disable]").click();
  await samRow.locator(".confirm button.primary").click();
  await admin.waitForSelector(`tr[data-email="${env("PARLEY_MEDIATOR2_EMAIL")}"]:has-text("Disabled")`);
  await sam.waitForSelector("#status.error:has-text('disabled by the program administrator')", { timeout: LONG });
  check(true, "the disabled mediator's open case closed, and says why: " + flat(await sam.innerText("#status")));
  await ask("disabled");
  await med.reload();
  await passGate(med);
  await connected(med);
  check(true, "the case's own mediator carries on");

  // 6. Every stage to closure; the outcome; a party answers the survey.
  await toDesk(med);
  for (const s of ["issues", "negotiation"]) {
    await med.click("#desk-stage-forward");
    await med.waitForSelector(`#desk-stages li[data-stage=${s}][aria-current=step]`);
  }
  await med.click("#desk-close-ask");
  await axeCheck(med, "desk, closing confirmation");
  await med.click("#desk-close-confirm");
  await med.waitForSelector("#desk-outcome-form");
  check(await med.locator("#desk-outcome-ask").isDisabled(), "no outcome is preselected: it cannot be recorded before the mediator chooses");
  await med.selectOption("#desk-outcome-result", "full-agreement");
  await med.fill("#desk-outcome-sessions", "3");
  await med.fill("#desk-outcome-hours", "5");
  await med.click("#desk-outcome-ask");
  await med.waitForSelector("#desk-outcome-box [role=alertdialog]");
  const oq = flat(await med.innerText("#desk-outcome-box [role=alertdialog]"));
  check(oq.includes("Record “Full agreement”, 3 sessions, 5 hours for “") && oq.includes("cannot be changed afterwards") &&
    ["Ada Okafor", "Lars Lindqvist", "Jordan Blake"].every((n) => oq.includes(n)), "the outcome's confirmation names what is recorded and who gets a survey: " + oq);
  await axeCheck(med, "desk, outcome confirmation");
  await med.locator("#desk-outcome").screenshot({ path: shots + "/wholecase-outcome-confirm.png" });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#desk-outcome-box").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/wholecase-outcome-confirm-phone.png" });
  await med.setViewportSize(wide);
  await med.click("#desk-outcome-confirm");
  await med.waitForSelector("#desk-surveys");
  await axeCheck(med, "desk, outcome and survey links");
  const surveys = await med.$$eval(".survey-links li", (xs) => xs.map((x) => [x.querySelector("label").textContent, x.querySelector("input").value]));
  check(surveys.length === 3, "a survey link for each party and the lawyer: " + surveys.map((s) => s[0]).join(", "));
  const adaSurvey = surveys.find(([l]) => l.includes("Ada Okafor"))[1];
  const s = await sameBrowser("ada-survey", { context: () => adaCtx });
  await s.goto(adaSurvey);
  await s.waitForSelector("#survey:not([hidden]) fieldset");
  await axeCheck(s, "the survey");
  // The export releases each comment's words (names and contact details
  // removed): the survey must not promise they are only seen combined.
  const surveyWho = await s.locator("main").innerText();
  check(!surveyWho.includes("combined with others") && !/\banonymous\b/.test(surveyWho),
    "the survey does not promise that comments are only seen combined with others' answers");
  check(surveyWho.includes("The scores are only ever shown added up with other people's.") &&
    surveyWho.includes("A comment may be read as you wrote it, with names and contact details removed") &&
    surveyWho.includes("Don't write anything said in the mediation that should stay private."),
    "it says a comment may be read as written, and not to write what should stay private: " + surveyWho.slice(0, 400));
  const commentLabel = await s.locator('label[for="comment"]').innerText();
  check(commentLabel.includes("it may be read as you wrote it"), "and the comment box says so too: " + commentLabel);
  for (const fs of await s.locator("#survey fieldset").all()) await fs.getByLabel("Agree", { exact: true }).check();
  await s.fill("#comment", "Clear and calm throughout.");
  // Its one action looks like the app's main action (filled blue), not a grey browser default.
  const sendLook = await s.$eval("#survey button[type=submit]", (b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color].join(" / "));
  check(sendLook === "rgb(11, 87, 208) / rgb(255, 255, 255)", "the survey's Send button is shown as the main action: " + sendLook);
  await s.screenshot({ path: shots + "/wholecase-survey.png", fullPage: true });
  await s.setViewportSize({ width: 390, height: 844 });
  await s.screenshot({ path: shots + "/wholecase-survey-phone.png", fullPage: true });
  // Offline, the survey says so in words and can be sent again.
  const responses = (u) => u.pathname === "/api/v1/surveys/responses";
  await s.route(responses, (r) => r.abort("internetdisconnected"));
  await s.click("#survey button[type=submit]");
  const offline = await s.locator("#status", { hasText: "not sent" }).innerText();
  check(offline === "Your answers were not sent: the connection dropped. Check it and press Send again.", "offline, the survey says so in words: " + offline);
  check(await s.isEnabled("#survey button[type=submit]"), "and the answers can be sent again");
  await s.unroute(responses);
  await s.click("#survey button[type=submit]");
  await s.locator("#status", { hasText: "Thank you" }).waitFor();
  await s.screenshot({ path: shots + "/wholecase-survey-sent-phone.png", fullPage: true });
  await ask("final");

  check(problems.length === 0, "no page errors or third-party requests: " + problems.join("; "));
  log("PASS");
} catch (e) {
  log("FAIL: " + (e.stack || e));
  // First each page's connection and status lines, short enough to survive
  // a CI log that keeps only part of the output; then the pages' text.
  for (const [name, p] of pages) {
    const line = async (sel) => flat(await p.innerText(sel, { timeout: 1000 }).catch(() => "-"));
    log(`${name}: connection "${await line("#conn")}", status "${await line("#status")}", at ${p.url()}`);
  }
  for (const [name, p] of pages) log(`${name} shows: ` + flat(await p.innerText("body", { timeout: 2000 }).catch(() => "(nothing)")).slice(0, 1500));
  process.exitCode = 1;
} finally {
  await browser.close().catch(() => {});
  lines.close();
}
