// End-to-end tests of the browser client in real Chromium (Debian's
// package, driven by playwright-core). Run by web/browser_test.go, which
// starts the server, seeds the case, keeps a Go client (side A's lawyer) in
// caucus A and answers "ask …" lines on stdin. Any failed expectation
// exits non-zero.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
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
async function ask(verb, arg = "") {
  process.stdout.write(`ask ${verb} ${arg}\n`);
  const a = answers.length ? answers.shift() : await new Promise((r) => waiters.push(r));
  if (!a.startsWith("ok")) throw new Error(`${verb}: ${a}`);
}
function log(s) { process.stdout.write(s + "\n"); }
function check(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
  log("ok: " + what);
}

// Test messages. None may ever reach the server in the clear.
const KEEP = "CANARY-never-leaves-caucus-A: we could accept 4000";
const CARRY = "CANARY-carry-me: the deposit can be returned in two parts";
const FROM_GO = "CANARY-from-the-Go-lawyer: agreed, hold at 4000";
const JOINT = "CANARY-joint-hello from the landlord";
const AFTER = "CANARY-after-restart: still here";
const DRAFT = "CANARY-draft typed for caucus A";
const canaries = [KEEP, CARRY, FROM_GO, JOINT, AFTER, DRAFT];
const DOC_TEXT = "Settlement offer, for side A only.\n";

const browser = await chromium.launch({
  executablePath: env("PARLEY_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
const sent = []; // every WebSocket frame and HTTP body any page sent
const received = { med: [], a: [], b: [] };
const problems = [];
const pages = [];

async function newPage(name, viewport = { width: 1280, height: 860 }, ctx = null) {
  ctx ??= await browser.newContext({ viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  await page.setViewportSize(viewport);
  page.setDefaultTimeout(T);
  page.on("websocket", (ws) => {
    ws.on("framesent", (f) => sent.push({ who: name, kind: "ws", data: String(f.payload) }));
    ws.on("framereceived", (f) => received[name].push(String(f.payload)));
  });
  page.on("request", (r) => {
    if (!r.url().startsWith(base + "/")) problems.push(`${name}: third-party request to ${r.url()}`);
    const body = r.postDataBuffer();
    if (body) sent.push({ who: name, kind: "http", url: r.url(), data: body.toString("latin1"), bytes: body });
  });
  page.on("console", (m) => {
    if (m.type() === "error") {
      log(`${name} console: ${m.text()}`);
      if (/Content Security Policy/i.test(m.text())) problems.push(`${name}: CSP violation: ${m.text()}`);
    }
  });
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  pages.push([name, page]);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  return page;
}

const room = (page, r) => page.locator(`#rooms button[data-room="${r}"]`);
async function openRoom(page, r) {
  await room(page, r).click();
  await page.locator("#room-title").waitFor();
}
const logOf = (page) => page.locator("#room ol.log");
async function sendText(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: 60000 });
}
async function expectText(page, r, text) {
  await openRoom(page, r);
  await logOf(page).locator("li", { hasText: text }).first().waitFor({ timeout: 60000 });
}
// A party first reads and accepts the case's terms (web/client/src/consent.ts).
async function acceptTerms(page) {
  await page.check("#terms-read");
  await page.click("#accept-terms");
  await page.click("#consent-continue");
}
async function connected(page) {
  await page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
}

try {
  // The app is served with a strict CSP.
  const res = await fetch(base + "/app");
  const csp = res.headers.get("content-security-policy") ?? "";
  check(res.ok && /script-src 'self'/.test(csp) && !/unsafe-inline|unsafe-eval/.test(csp), "the app is served with a CSP without unsafe-inline or unsafe-eval");

  // The protocol vectors pass in Chromium too (WebCrypto Ed25519 and X25519, @hpke/core).
  const here = fileURLToPath(new URL(".", import.meta.url));
  const files = { "e2ee.mjs": here + "../build/browser/e2ee.mjs", "primitives.mjs": here + "../build/browser/primitives.mjs", "vectors-lib.mjs": here + "vectors-lib.mjs" };
  const vpage = await newPage("vectors");
  await vpage.route(base + "/__vectors/**", (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop();
    if (name === "index.html") return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>vectors</title>" });
    if (!files[name]) return route.fulfill({ status: 404, body: "" });
    return route.fulfill({ contentType: "text/javascript", body: readFileSync(files[name], "utf8") });
  });
  await vpage.goto(base + "/__vectors/index.html");
  const vectors = JSON.parse(readFileSync(here + "../../../e2ee/testdata/vectors.json", "utf8"));
  const vchecks = await vpage.evaluate(async (v) => {
    const E = await import("/__vectors/e2ee.mjs");
    const P = await import("/__vectors/primitives.mjs");
    const L = await import("/__vectors/vectors-lib.mjs");
    return L.runVectors(E, P.ratchet, v);
  }, vectors);
  check(vchecks > 50, `e2ee/testdata/vectors.json: ${vchecks} checks pass in Chromium`);
  await vpage.context().close();

  // The mediator signs in; the parties join by their invite links.
  const med = await newPage("med");
  await med.goto(base + "/app");
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("form button[type=submit]");
  await room(med, "joint").waitFor();
  await connected(med);
  check(await room(med, "caucus:A").count() === 1 && await room(med, "caucus:B").count() === 1 && await room(med, "mediators").count() === 1, "the mediator sees every room");

  const a = await newPage("a");
  await a.goto(env("PARLEY_INVITE_A"));
  await acceptTerms(a);
  await room(a, "caucus:A").waitFor();
  await connected(a);
  const tokenA = env("PARLEY_INVITE_A").split("#")[1];
  check(!a.url().includes(tokenA), "the invite token is dropped from the address bar");
  const programNotice = await a.locator("#program-notices").innerText();
  check(programNotice.includes("The program recused mediator Casey Cole on ") && programNotice.includes("Reason: Casey has moved to another program.") &&
    programNotice.includes("Everyone taking part in this mediation sees these notices"), "the party sees the program's notice about a mediator in plain words");
  // The mediator invites party B from the browser; the form says, in the
  // desk's words, who will see the person (their name and role).
  await med.fill("#invite-name", "Sam Chen");
  await med.selectOption("#invite-role", "observer");
  const whoObserver = (await med.innerText("#invite-who")).replace(/\s+/g, " ");
  check(whoObserver.includes("Sam Chen will read the joint room only") && whoObserver.includes("Everyone in the case sees their name and that they observe"), "for an observer, the invitation form says what they read and who sees them: " + whoObserver);
  await med.selectOption("#invite-role", "party");
  await med.selectOption("#invite-side", "B");
  const whoParty = (await med.innerText("#invite-who")).replace(/\s+/g, " ");
  check(whoParty.includes("Who will see this person") && whoParty.includes("Sam Chen will take part as a party on the Landlord side") &&
    whoParty.includes("Everyone in the case (both sides and the mediators) sees their name and role"), "the invitation form says who will see the person's name and role: " + whoParty);
  await med.locator("#invite-form").screenshot({ path: shots + "/invite-form.png" });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#invite-who").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/invite-form-phone.png" });
  await med.setViewportSize({ width: 1280, height: 860 });
  // Pressed once: the button is disabled until the server answers, so a double click makes one link, not two (UX review 379 M11).
  let posted = 0, release;
  const held = new Promise((r) => { release = r; });
  await med.route("**/api/v1/cases/*/invites", async (r) => {
    if (r.request().method() !== "POST") return r.continue();
    posted++;
    await held;
    await r.continue();
  });
  await med.click("#invite-form button[type=submit]");
  await med.locator("#invite-form button[type=submit]:disabled").waitFor();
  await med.locator("#invite-form button[type=submit]").click({ force: true }).catch(() => {});
  await med.locator("#invite-form").evaluate((f) => f.requestSubmit());
  release();
  await med.locator("#invite-link").waitFor();
  await med.unroute("**/api/v1/cases/*/invites");
  check(posted === 1 && !(await med.isDisabled("#invite-form button[type=submit]")), `while sending, the button is disabled and a second press sends nothing (${posted} sent)`);
  const inviteB = await med.inputValue("#invite-link");
  check(inviteB.startsWith(base + "/join#"), "the mediator makes an invitation link in the browser");
  const b = await newPage("b");
  await b.goto(inviteB);
  await acceptTerms(b);
  await room(b, "caucus:B").waitFor();
  await connected(b);
  check(await room(b, "caucus:A").count() === 0, "party B has no caucus A room");

  // Every room says who can read it.
  await openRoom(a, "caucus:A");
  const bannerA = await a.locator("#room .banner").innerText();
  check(/Visible to: the Tenant side only: you, your lawyer Jordan Blake, the mediator Morgan Reyes/.test(bannerA), `party A's caucus banner says who can read it (${bannerA})`);
  await openRoom(b, "joint");
  const bannerB = await b.locator("#room .banner").innerText();
  check(/Visible to: everyone in this mediation: you, /.test(bannerB) && bannerB.includes("the mediator Morgan Reyes"), "the joint room's banner lists everyone");
  const colA = await a.locator('#rooms button[data-room="caucus:A"]').evaluate((el) => getComputedStyle(el).borderLeftColor);
  const colMedA = await med.locator('#rooms button[data-room="caucus:A"]').evaluate((el) => getComputedStyle(el).borderLeftColor);
  const colMedB = await med.locator('#rooms button[data-room="caucus:B"]').evaluate((el) => getComputedStyle(el).borderLeftColor);
  check(colA === colMedA && colMedA !== colMedB, "each caucus keeps one colour across the app, distinct from the other side's");

  // Keyboard: Tab reaches the next room, Enter opens it.
  await room(b, "joint").focus();
  await b.keyboard.press("Tab");
  await b.keyboard.press("Enter");
  check((await b.locator("#room-title").innerText()) !== "Joint room", "rooms can be switched with the keyboard");

  // Browser and Go client in one caucus, both ways.
  await ask("go-open");
  await sendText(a, "caucus:A", KEEP);
  await ask("go-expect", KEEP);
  log("ok: the Go client decrypted the browser's caucus message");
  await ask("go-send", FROM_GO);
  await expectText(a, "caucus:A", FROM_GO);
  log("ok: the browser decrypted the Go client's caucus message");
  await expectText(med, "caucus:A", KEEP);
  log("ok: the mediator reads caucus A");

  // The mediator sees who is in each room.
  await room(med, "caucus:A").locator(".here", { hasText: "here" }).waitFor();
  await openRoom(med, "caucus:A");
  check((await med.locator("#present").innerText()).includes("Alex Rivera"), "the mediator sees who is present in caucus A");

  // Safety numbers: both sides compute the same 60 digits.
  const safety = async (page, name) => {
    const btn = page.locator("#safety button", { hasText: "Safety number with " + name });
    await btn.click();
    const out = btn.locator("xpath=following-sibling::p[1]");
    await out.filter({ hasText: /\d{5}( \d{5}){11}/ }).waitFor();
    return out.innerText();
  };
  const snA = await safety(a, "Morgan Reyes"), snM = await safety(med, "Alex Rivera");
  check(snA === snM, `party A and the mediator see the same safety number (${snA})`);
  // What the number is for, how to compare it and what to do if it differs, in words a party understands.
  const intro = await a.innerText("#safety-help > p");
  check(intro.includes("check that nobody else is secretly reading what you and one other person write"), "the safety numbers say what they are for: " + intro);
  const hint = await a.locator("#safety .safety-compare").first().innerText();
  check(hint.includes("Read it aloud to Morgan Reyes by phone or in a joint session") && hint.includes("If any digit differs, stop and call the mediation program"),
    "a number shown says how to compare it, with whom: " + hint);
  await a.locator("#safety-how summary").click();
  const how = await a.innerText("#safety-how");
  check(how.includes("Read it aloud to that person by phone, or in a joint session") && how.includes("If the numbers are different, stop.") &&
    how.includes("Do not type or upload anything private") && how.includes("Call the mediation program or your mediator by phone"),
    "how to check says how to compare and what to do if the numbers differ: " + how);
  check(!/\b(fingerprint|key|SHA|device id|c_[a-z0-9]{6,}|u_[a-z0-9]{6,})\b/i.test(intro + hint + how.replace(/adds or removes a device/, "")), "no technical words in the explanation");
  await axeCheck(a, "party, safety numbers explained", { selector: "#safety-numbers" });
  await a.locator("#safety-numbers").screenshot({ path: shots + "/safety-numbers.png" });
  {
    const size = a.viewportSize();
    await a.setViewportSize({ width: 390, height: 844 });
    await a.locator("#safety-numbers").screenshot({ path: shots + "/safety-numbers-phone.png" });
    await a.setViewportSize(size);
  }

  // Drafts never follow you to another room.
  await openRoom(a, "caucus:A");
  await a.fill("#draft", DRAFT);
  await openRoom(a, "joint");
  check((await a.inputValue("#draft")) === "", "a draft typed for caucus A is gone in the joint room");
  await openRoom(a, "caucus:A");
  check((await a.inputValue("#draft")) === "", "and not kept for later either");

  // A joint message from party B reaches everyone.
  await sendText(b, "joint", JOINT);
  await expectText(a, "joint", JOINT);
  await expectText(med, "joint", JOINT);
  log("ok: joint room messages reach everyone");

  // Documents: the mediator uploads to the mediators, then shares to caucus A (confirming who gains).
  // Each room lists its own documents; these checks look at all of them, and
  // the lists update by themselves (web/client/test/documents.mjs covers the rest).
  for (const p of [med, a, b]) await p.click("#doc-scope-all");
  await med.setInputFiles("#doc-file", { name: "settlement-offer.txt", mimeType: "text/plain", buffer: Buffer.from(DOC_TEXT) });
  await med.selectOption("#doc-audience", "mediators");
  await med.selectOption("#doc-class", "evidence");
  await med.click("#documents form button[type=submit]");
  const docItem = med.locator("#doc-list li", { hasText: "settlement-offer.txt" });
  await docItem.waitFor();
  check((await docItem.locator(".banner").innerText()).includes("Visible to: you"), "the document shows its audience");
  await docItem.locator("select").selectOption("caucus:A");
  await docItem.locator("button", { hasText: "Share…" }).click();
  const confirmBox = docItem.locator(".confirm");
  await confirmBox.waitFor();
  const confirmText = await confirmBox.innerText();
  check(/^Show “settlement-offer.txt” to .*They will be able to open and download it. This cannot be undone./m.test(confirmText) && confirmText.includes("Alex Rivera") && !confirmText.includes("Sam Chen"), `sharing asks to confirm who gains access (${confirmText})`);
  await confirmBox.locator("button.share-confirm").click();
  await med.locator("#doc-list li", { hasText: "settlement-offer.txt" }).locator(".banner", { hasText: "Tenant side only" }).waitFor();

  const aDoc = a.locator("#doc-list li", { hasText: "settlement-offer.txt" });
  await aDoc.waitFor();
  check((await aDoc.locator(".banner").innerText()).includes("Visible to: the Tenant side only: you, your lawyer Jordan Blake, the mediator Morgan Reyes"), "party A sees the shared document with its audience");
  const [download] = await Promise.all([a.waitForEvent("download"), aDoc.locator("button.doc-download").click()]);
  const stream = await download.createReadStream();
  let got = "";
  for await (const chunk of stream) got += chunk;
  check(got === DOC_TEXT, "party A downloads the document intact");

  await b.locator("#documents h3").waitFor();
  check(await b.locator("#doc-list li", { hasText: "settlement-offer.txt" }).count() === 0, "party B does not see caucus A's document");
  const bDocs = await b.evaluate(async () => (await fetch(location.origin + "/api/v1/cases/" + new URLSearchParams(location.hash.slice(1)).get("case") + "/documents")).text());
  check(!bDocs.includes("settlement-offer"), "nor does the API tell party B about it");

  // Party A uploads to their caucus; the mediator sees it.
  await a.setInputFiles("#doc-file", { name: "tenant-photos.txt", mimeType: "text/plain", buffer: Buffer.from("photos of the flat\n") });
  await a.selectOption("#doc-audience", "caucus:A");
  await a.selectOption("#doc-class", "evidence");
  await a.click("#documents form button[type=submit]");
  await a.locator("#doc-list li", { hasText: "tenant-photos.txt" }).waitFor();
  await med.locator("#doc-list li", { hasText: "tenant-photos.txt" }).waitFor();
  log("ok: a party's upload reaches the mediator");

  // Records staff place a legal hold, seeing metadata only.
  const docID = await med.locator("#doc-list li", { hasText: "settlement-offer.txt" }).getAttribute("data-doc");
  const rec = await newPage("rec");
  await rec.goto(base + "/app");
  await rec.fill("#email", env("PARLEY_RECORDS_EMAIL"));
  await rec.fill("#password", env("PARLEY_PASSWORD"));
  await rec.click("form button[type=submit]");
  const recItem = rec.locator(`li[data-doc="${docID}"]`);
  await recItem.waitFor();
  check(!(await recItem.innerText()).includes("settlement-offer") && (await rec.locator("a[download]").count()) === 0, "records staff see a document's metadata, not its name or content");
  await recItem.locator("input[id^=doc-reason-]").fill("Complaint received");
  await recItem.locator("input[id^=doc-authority-]").fill("Program rule 12");
  await recItem.locator("button", { hasText: "Place a legal hold" }).click();
  await rec.locator(`li[data-doc="${docID}"] .hold-state`, { hasText: "Held on its own" }).waitFor();
  await med.locator("#doc-list li", { hasText: "settlement-offer.txt" }).filter({ hasText: "on legal hold" }).waitFor();
  log("ok: records staff place a legal hold the mediator then sees");

  // Records staff hold a whole case, with reason and authority, and release it.
  const caseHolds = rec.locator(".case-holds", { has: rec.locator(`li[data-doc="${docID}"]`) });
  await caseHolds.locator("input[id^=hold-reason-]").fill("Complaint about the mediator");
  await caseHolds.locator("input[id^=hold-authority-]").fill("Program rule 12");
  await caseHolds.locator("button", { hasText: "Hold the whole case" }).click();
  const caseHold = caseHolds.locator("li[data-hold]", { hasText: "Whole case on legal hold" });
  await caseHold.filter({ hasText: "Program rule 12" }).waitFor();
  await caseHold.locator("input").fill("Complaint withdrawn");
  await caseHold.locator("button", { hasText: "Release the case hold" }).click();
  await caseHold.locator(".release-confirm input[type=checkbox]").check();
  await caseHold.locator(".release-confirm button.danger").click();
  await caseHolds.locator("li", { hasText: "No hold on the whole case" }).waitFor();
  log("ok: records staff place and release a case-wide hold with reason and authority");

  // Disposal: records user A makes a plan; A's own approval is refused.
  const t0 = Date.now();
  await rec.click("#tab-plans");
  await rec.click("#plan-form button[type=submit]");
  const planBox = rec.locator("#plan-detail section.plan");
  await planBox.waitFor();
  const planID = await planBox.getAttribute("data-plan");
  const planText = await planBox.innerText();
  check(/1 record to destroy/.test(planText) && /Mediator.s notes/.test(planText) && /Case opened (\d{1,2} [A-Z][a-z]+|[A-Z][a-z]+ \d{1,2},) \d{4} \(no reference\)/.test(planText) && !planText.includes(env("PARLEY_OLD_CASE")),
    "records user A makes a disposition plan in the browser: the closed case's due record, with its class, the case (no reference) named by the day it was opened, not its id");
  check(/Records kept \(on legal hold\)/.test(planText) && planText.includes("Complaint received (Program rule 12)"), "the held record is listed as kept, with the hold's reason");
  await rec.check("#plan-confirm");
  await rec.click("#plan-approve");
  const refusal = rec.locator("#plan-status.refusal");
  await refusal.waitFor();
  check(/a second person must approve a plan\. You made this one, so someone else must/.test(await refusal.innerText()), "the planner's own approval is refused, in plain words");

  // An administrator approves in another browser context and carries the plan out.
  const adm = await newPage("adm");
  await adm.goto(base + "/app");
  await adm.fill("#email", env("PARLEY_ADMIN_EMAIL"));
  await adm.fill("#password", env("PARLEY_PASSWORD"));
  await adm.click("form button[type=submit]");
  await adm.locator(`#plan-list li[data-plan="${planID}"] button`).click();
  await adm.check("#plan-confirm");
  await adm.click("#plan-approve");
  await adm.locator("section.plan[data-state=approved]").waitFor();
  log("ok: a second person (an administrator) approves the plan");
  await adm.check("#plan-confirm");
  await adm.click("#plan-apply");
  await adm.locator("#certificate .verified").waitFor({ timeout: 60000 });
  const certText = await adm.locator("#certificate").innerText();
  await adm.screenshot({ path: shots + "/records-disposal.png", fullPage: true });
  await axeCheck(adm, "records, disposal");
  check(/Signature verified/.test(certText) && /1 record destroyed/.test(certText) && /1 kept/.test(certText), `apply completes and the page shows a verified certificate (${certText.split("\n")[2]})`);
  check(await adm.locator("section.plan[data-state=done]").count() === 1, "the plan shows as done");
  const bar = adm.locator("#apply-bar");
  const outcomes = await adm.locator("#apply-outcomes").innerText();
  check(await bar.getAttribute("value") === await bar.getAttribute("max") && /Destroyed/.test(outcomes) && /Kept \(document hold: Complaint received/.test(outcomes),
    "the progress bar is full and each record's outcome is listed (one destroyed, one kept)");
  await adm.locator("#plan-cert").click();
  await adm.locator("#certificate .verified").waitFor();
  await adm.context().close();

  // The evaluation export: downloaded, parsed as CSV, its header that of the data dictionary.
  await rec.click("#tab-exports");
  await rec.selectOption("#export-from-year", "2000");
  await rec.selectOption("#export-from-month", "1");
  await rec.fill("#export-k", "2");
  await rec.selectOption("#export-format", "csv");
  const readAll = async (d) => { let t = ""; for await (const c of await d.createReadStream()) t += c; return t; };
  await rec.click("#export-form button[type=submit]");
  await rec.check("#export-confirm-check");
  const [csvDl] = await Promise.all([rec.waitForEvent("download"), rec.click("#export-confirm-yes")]);
  const csv = await readAll(csvDl);
  const [dictDl] = await Promise.all([rec.waitForEvent("download"), rec.click("#export-dictionary")]);
  const dict = await readAll(dictDl);
  const columns = [...dict.matchAll(/^\| ([a-z0-9_]+) \|/gm)].map((m) => m[1]).filter((c) => c !== "column");
  const header = csv.split(/\r?\n/)[0].split(",");
  check(columns.length > 5 && header.join(",") === columns.join(","), `the export downloads as CSV whose header is the data dictionary's ${columns.length} columns`);
  const report = await rec.locator("#export-report").innerText();
  check(/\d+ rows/.test(report) && /rows left out/.test(report) && /made less precise/.test(report), "the page shows the export report (rows, suppressed, generalized)");
  const recOverflow = await (async () => {
    await rec.setViewportSize({ width: 390, height: 844 });
    await rec.click("#tab-plans");
    await rec.locator(`#plan-list li[data-plan="${planID}"] button`).click();
    await rec.locator("section.plan[data-state=done]").waitFor();
    return rec.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  })();
  if (recOverflow > 0) log("wide: " + await rec.evaluate(() => [...document.querySelectorAll("body *")].filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth).slice(0, 8).map((e) => e.tagName + "." + e.className + ":" + Math.round(e.getBoundingClientRect().right) + ":" + (e.textContent || "").slice(0, 40)).join(" | ")));
  check(recOverflow <= 0, "the records screens fit a phone-width screen");
  log(`records: plan, refusal, approval, apply, certificate and export took ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  // Screenshots for the docs: the party's caucus and the mediator's view, with their audience banners.
  await openRoom(a, "caucus:A");
  await a.screenshot({ path: shots + "/party-caucus.png", fullPage: true });
  await axeCheck(a, "party, caucus");
  await openRoom(med, "caucus:A");
  await med.screenshot({ path: shots + "/mediator-caucus.png", fullPage: true });
  await axeCheck(med, "mediator, caucus");

  // Consented carry: the mediator proposes, the author approves on their own device.
  await sendText(a, "caucus:A", CARRY);
  await expectText(med, "caucus:A", CARRY);
  const medMsg = logOf(med).locator("li", { hasText: CARRY }).first();
  await medMsg.locator("button", { hasText: "Propose carrying" }).click();
  await medMsg.locator("[role=status]", { hasText: "Proposed" }).waitFor();
  await openRoom(a, "caucus:A");
  const proposal = logOf(a).locator("li.proposal", { hasText: CARRY });
  await proposal.waitFor({ timeout: 60000 });
  await openRoom(b, "joint");
  check(await logOf(b).locator("li", { hasText: CARRY }).count() === 0, "nothing reaches the joint room before the author consents");
  await proposal.locator("button", { hasText: "Approve" }).click();
  await proposal.locator("button", { hasText: "Yes, carry this text" }).click();
  await proposal.locator("[role=status]", { hasText: "Carried" }).waitFor({ timeout: 60000 });
  await expectText(b, "joint", CARRY);
  check((await logOf(b).locator("li.carried", { hasText: CARRY }).innerText()).includes("with their consent"), "party B sees the carried message, marked as consented");
  check(!(await b.content()).includes(KEEP), "party B never sees what was kept in caucus A");
  check(!received.b.some((f) => f.includes("caucus:A")), "party B's socket never carried a caucus A frame");

  // Reconnect after the server restarts: every page resumes, nothing is lost.
  await ask("restart");
  for (const p of [med, a, b]) await connected(p);
  await sendText(b, "joint", AFTER);
  await expectText(a, "joint", AFTER);
  await expectText(med, "joint", AFTER);
  log("ok: messages flow again after the server restarted");

  // Contrast: every text in the main views meets WCAG AA (4.5:1) against its background.
  for (const [name, p] of [["party A", a], ["mediator", med], ["records", rec]]) {
    const worst = await p.evaluate(() => {
      const lum = (c) => {
        const m = c.match(/[\d.]+/g).map(Number);
        const ch = m.slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
        return { l: 0.2126 * ch[0] + 0.7152 * ch[1] + 0.0722 * ch[2], a: m.length > 3 ? m[3] : 1 };
      };
      const bgOf = (el) => {
        for (let e = el; e; e = e.parentElement) {
          const b = getComputedStyle(e).backgroundColor;
          if (lum(b).a > 0) return b;
        }
        return "rgb(255, 255, 255)";
      };
      let worst = { ratio: 99, text: "" };
      const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const el = n.parentElement;
        if (!n.textContent.trim() || !el || !el.offsetParent) continue;
        const st = getComputedStyle(el);
        if (el.closest("button:disabled") || el.closest(".skip")) continue;
        const f = lum(st.color).l, b = lum(bgOf(el)).l;
        const ratio = (Math.max(f, b) + 0.05) / (Math.min(f, b) + 0.05);
        if (ratio < worst.ratio) worst = { ratio, text: n.textContent.trim().slice(0, 40) };
      }
      return worst;
    });
    check(worst.ratio >= 4.5, `${name}: every visible text has contrast of at least 4.5:1 (lowest ${worst.ratio.toFixed(2)}: "${worst.text}")`);
  }
  await rec.context().close();

  // Phone width.
  const phone = await newPage("a", { width: 390, height: 844 }, a.context());
  await phone.goto(base + "/app");
  await room(phone, "caucus:A").waitFor();
  await openRoom(phone, "caucus:A");
  await expectText(phone, "caucus:A", KEEP);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "the app fits a phone-width screen without sideways scrolling");
  await phone.screenshot({ path: shots + "/party-phone.png", fullPage: false });
  await axeCheck(phone, "party, phone width");

  // Party B's phone was asleep when B's sessions ended (the server
  // restarted meanwhile, so the page's socket is down): on reconnecting,
  // the page says in words that B was signed out and how to come back,
  // rather than trying to reconnect for minutes.
  await ask("restart-revoke", "B");
  const ended = b.locator("#status", { hasText: "signed out" });
  await ended.waitFor({ timeout: 30000 });
  const endedText = (await ended.innerText()).replace(/\s+/g, " ");
  check(endedText.includes("ask your mediator for a “link back in”") && (await b.innerText("#conn")).includes("Signed out"),
    "party B's page, reconnecting after B's sessions ended, says so and how to come back: " + endedText);
  check(!(await ended.getAttribute("class") ?? "").includes("error"), "in plain text, not as an error");
  check(await b.locator("main #email-link-open").count() === 1, "with the button to get a sign-in link by email, as the come-back page has");
  check((await b.innerText("main")).includes("If you confirmed your email address in Parley, you can also get a link yourself:"),
    "which says a link by email needs an address confirmed in Parley");
  check(await b.innerText("#case-title") === "", "and the case's title is off the screen with the case: " + await b.innerText("#case-title"));
  check(await b.locator("#signout").isHidden() && await b.locator("#nav-password").count() === 0,
    "the signed-out page offers no Sign out (or Change password) button, which would do nothing there");
  await axeCheck(b, "party signed out while away");
  await b.setViewportSize({ width: 390, height: 844 });
  await b.screenshot({ path: shots + "/party-signed-out-phone.png", fullPage: false });

  // A server that accepts party A's socket and drops it at once, before
  // any frame (a node in trouble): the page retries with a growing delay
  // (250 ms, 500 ms, 1 s, 2 s, 4 s), not every 250 ms, and comes back once
  // the server works again.
  const drops = []; // when each attempt was dropped (ms)
  let dropping = true;
  await a.routeWebSocket(/\/ws$/, (ws) => {
    if (dropping) {
      drops.push(Date.now());
      // Open first (the page sees the connection open), then dropped.
      setTimeout(() => ws.close({ code: 1011, reason: "trouble" }).catch(() => {}), 200);
      return;
    }
    ws.connectToServer();
  });
  await ask("restart"); // ends A's current socket; every new one goes through the route
  for (let i = 0; i < 200 && drops.length < 4; i++) await new Promise((r) => setTimeout(r, 100));
  const spread = drops.length >= 4 ? drops[3] - drops[0] : -1;
  // Growing: 0.5 + 1 + 2 s between the first four, plus the 0.2 s each
  // stays open; at a fixed 250 ms, about 1.35 s.
  check(spread >= 2500, `a socket dropped at once is retried with a growing delay: the first four attempts span ${spread} ms`);
  await a.locator("#conn", { hasText: "Reconnecting" }).waitFor({ timeout: 10000 });
  check(true, "party A's page says it is reconnecting meanwhile");
  dropping = false;
  await connected(a);
  check(true, "party A's page reconnects once the server works again");

  // No test message ever went to the server in the clear.
  const enc = new TextEncoder();
  const contains = (hay, needle) => Buffer.from(hay).indexOf(Buffer.from(needle)) >= 0;
  let pubs = 0;
  for (const s of sent) {
    for (const c of canaries) {
      if (s.data.includes(c) || (s.bytes && contains(s.bytes, enc.encode(c)))) throw new Error(`plaintext "${c}" sent to the server by ${s.who} (${s.kind} ${s.url ?? ""})`);
    }
    if (s.kind === "ws") {
      const f = JSON.parse(s.data);
      if (f.t === "pub") {
        pubs++;
        const body = Buffer.from(f.body, "base64");
        for (const c of canaries) if (contains(body, enc.encode(c))) throw new Error(`plaintext "${c}" inside a payload sent by ${s.who}`);
        if (body.subarray(0, 2).toString() !== "PE" || (body[3] !== 3 && body[3] !== 4)) throw new Error(`${s.who} sent a payload that is not a key distribution or message`);
      }
    }
  }
  check(pubs >= 8, `inspected ${sent.length} frames and bodies sent (${pubs} encrypted payloads): no plaintext test message among them`);
  check(problems.length === 0, "no CSP violations, page errors or third-party requests" + (problems.length ? ": " + problems.join("; ") : ""));
  log("e2e: all passed");
} catch (e) {
  console.error(e && e.stack ? e.stack : String(e));
  for (const [name, p] of pages) {
    try { console.error(`--- ${name} page text:\n` + (await p.locator("body").innerText()).slice(0, 3000)); } catch { /* closed */ }
  }
  process.exitCode = 1;
} finally {
  await browser.close();
  lines.close();
}
