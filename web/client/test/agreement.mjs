// The settlement agreement in real Chromium. Run by
// web/agreement_browser_test.go, which seeds a landlord-tenant case with an
// objective and invitations for two parties and a lawyer, and answers
// "ask verify PATH" (runs `parley agreement verify` on the downloaded PDF
// and on a copy with one flipped byte) and "ask signed" (the server's view).
import { passGate } from "./gate.mjs";
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";
import { mkdtempSync } from "node:fs";
import { generateKeyPairSync, sign as edSign } from "node:crypto";
import { tmpdir } from "node:os";
import { join as pjoin } from "node:path";

const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
const state = (page, text) => page.locator("#agreement-state", { hasText: text }).waitFor({ timeout: 60000 });
async function shoot(page, name, selector = "#agreement") {
  const size = page.viewportSize();
  await page.locator(selector).scrollIntoViewIfNeeded();
  await page.locator("#agreement").screenshot({ path: `${shots}/${name}.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `${name}: nothing is wider than a phone (${wide}px)`);
  // The version picker, closed, fits the phone: its box ends inside the
  // screen and the version it shows is not cut off.
  if (await page.locator("#agreement-version").count()) {
    const fit = await page.evaluate(() => {
      const sel = document.getElementById("agreement-version");
      const r = sel.getBoundingClientRect(), cs = getComputedStyle(sel);
      const ctx = document.createElement("canvas").getContext("2d");
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const text = sel.options[sel.selectedIndex]?.text ?? "";
      const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20; // the arrow
      return { left: r.left, right: r.right, view: window.innerWidth, text, textWidth: Math.ceil(ctx.measureText(text).width), room: Math.floor(room) };
    });
    log(`${name}: version picker at 390px: ` + JSON.stringify(fit));
    check(fit.left >= 0 && fit.right <= fit.view && fit.textWidth <= fit.room,
      `${name}: the version picker fits a phone, its words not cut off: ` + JSON.stringify(fit));
  }
  await page.locator("#agreement").screenshot({ path: `${shots}/${name}-phone.png` });
  await page.setViewportSize(size);
}
/** A question in the page alone, at the page's width and a phone's. */
async function shootQuestion(page, name, selector) {
  const size = page.viewportSize();
  await page.locator(selector).screenshot({ path: `${shots}/${name}.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.locator(selector).screenshot({ path: `${shots}/${name}-phone.png` });
  await page.setViewportSize(size);
}
// The pages open, by name: on a failure, what their agreement section showed is logged.
const pages = new Map();
async function join(name, link, before = async () => {}) {
  const page = await newPage(name);
  pages.set(name, page);
  await before(page);
  await page.goto(link);
  await passGate(page);
  await connected(page);
  return page;
}
/**
 * Signs the version shown after the confirmation in the page (not a
 * browser dialog, which says nothing can be undone and is easy to wave
 * through); returns the confirmation's text.
 */
async function sign(page) {
  let dialog = "";
  const onDialog = (d) => { dialog = d.message(); void d.dismiss(); };
  page.on("dialog", onDialog);
  await page.check("#agreement-read");
  await page.click("#agreement-sign");
  const q = page.locator("#agreement-sign-ask");
  await q.waitFor();
  const asked = await q.innerText();
  check(await page.evaluate(() => document.activeElement?.id) === "agreement-sign-question", "signing: the focus is on the question, not on the button that signs");
  const yes = page.locator("#agreement-sign-confirm");
  const label = await yes.innerText();
  await yes.click();
  page.off("dialog", onDialog);
  check(!dialog, "signing asks in the page, not in a browser dialog: " + dialog);
  check(/^Sign version \d+$/.test(label), "the confirmation's button names the act: " + label);
  return () => asked;
}
/**
 * Opens the mediator's question in the page for what (save, discard, file) by pressing the button that asks, and
 * returns its words; no browser dialog may appear (it says nothing of who sees what and is easy to wave through).
 */
async function question(page, what) {
  let dialog = "";
  const onDialog = (d) => { dialog = d.message(); void d.dismiss(); };
  page.on("dialog", onDialog);
  await page.click(`#agreement-${what}`);
  const q = page.locator(`#agreement-${what}-ask[role=alertdialog]`);
  await q.waitFor();
  page.off("dialog", onDialog);
  check(!dialog, `${what} asks in the page, not in a browser dialog: ${dialog}`);
  // The focus is on the question, not on the button that acts: Enter pressed twice must not confirm.
  check(await page.evaluate(() => document.activeElement?.id) === `agreement-${what}-question`, `${what}: the focus is on the question, not the button that confirms`);
  return q.innerText();
}
/** within waits for p, failing with what after ms milliseconds. */
async function within(p, ms, what) {
  let timer;
  try { return await Promise.race([p, new Promise((_, no) => { timer = setTimeout(() => no(new Error(`timed out after ${ms} ms: ${what}`)), ms); })]); }
  finally { clearTimeout(timer); }
}
// A time with its zone ("6 Dec 2026, 12:18 GMT"): the signers may be in different zones.
const zoned = /\b\d{1,2}:\d{2}(:\d{2})? (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2}(:\d{2})?)?\b/;
const noJargon = (text, who) => check(!/c_[a-z0-9]{10}|u_[a-z0-9]{10}|agreement\.(sign|draft|read)|problem|HTTP \d/.test(text), `${who}: no internal ids, action names or raw errors`);

await run(async () => {
  const med = await newPage("med");
  pages.set("med", med);
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("form button[type=submit]");
  await connected(med);
  // Party A's messages to the joint room can be held on their way (hold),
  // then let through in order (release): a comment being sent while her
  // page is drawn again.
  let holding = false;
  const held = [];
  const hold = () => { holding = true; };
  const release = () => { holding = false; for (const [server, m] of held.splice(0)) server.send(m); };
  const A = await join("partyA", env("PARLEY_INVITE_A"), (page) => page.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      if (holding && JSON.parse(String(m)).t === "pub") held.push([server, m]);
      else server.send(m);
    });
  }));
  const B = await join("partyB", env("PARLEY_INVITE_B"));
  const C = await join("counsel", env("PARLEY_INVITE_C"));
  await A.locator("#agreement", { hasText: "no written agreement in this case yet" }).waitFor();
  check(await A.locator("#agreement-start").count() === 0, "a party cannot draft the agreement");

  // The mediator drafts it from the tenancy template.
  await med.locator("#agreement-start").waitFor();
  check(await med.locator("#agreement-template option").count() === 3, "the program's three templates are offered");
  await med.selectOption("#agreement-template", "landlord-tenant");
  check((await med.innerText("#agreement")).includes("shared with everyone in the joint room"), "the draft form says who will see it");
  // The page's poll of the agreement asked just before the draft is made and
  // answered after it (a slow network, a loaded server) says "no agreement
  // yet": that old answer must not take the draft from the page, which would
  // close the editor under the mediator's next save. Later polls wait until
  // her second save, so that old answer is the only one in play.
  const polls = (u) => u.pathname.endsWith("/agreement");
  const gate = () => { let open; const p = new Promise((r) => { open = r; }); return { p, open }; };
  const pollAsked = gate(), draftShown = gate(), pollsGo = gate();
  let stalePoll = null;
  const pollsHeld = new Set(); // the polls' handlers still running
  await med.route(polls, (r) => {
    const handled = (async () => {
      if (r.request().method() !== "GET") return r.continue();
      if (stalePoll) { await pollsGo.p; return r.continue(); }
      stalePoll = r.request();
      const res = await r.fetch(); // answered now: no agreement yet
      pollAsked.open();
      await draftShown.p;
      return r.fulfill({ response: res });
    })();
    pollsHeld.add(handled);
    const done = () => pollsHeld.delete(handled);
    handled.then(done, done);
    return handled;
  });
  await within(pollAsked.p, 30000, "the page polls the agreement");
  await med.click("#agreement-start");
  await state(med, "version 1");
  draftShown.open();
  await within(stalePoll.response().then((res) => res.finished()), 30000, "the old answer reaches the page");
  const v1 = await med.innerText("#agreement-text");
  check(v1.includes("SETTLEMENT AGREEMENT — TENANCY") && v1.includes("- Ada Okafor (Tenant)") && v1.includes("- Jordan Blake (Tenant's lawyer)")
    && v1.includes("Settle the deposit and the boiler repairs"), "the template is filled with the parties and objectives");

  // Two edits.
  const edit = async (from, to) => {
    if (await med.locator("#agreement-editor[open]").count() === 0) await med.locator("#agreement-editor summary").click();
    const text = await med.inputValue("#agreement-edit");
    await med.fill("#agreement-edit", text.replace(from, to));
    await med.click("#agreement-save");
  };
  // The first save's text is stored but storage does not confirm it (the
  // server's 503 upload-unconfirmed, web TestAgreementSaveNotConfirmedSaysSo):
  // it may still appear, so the mediator is told to look before saving
  // again, not "try again" (which could add the version twice); her text stays.
  const saves = (u) => u.pathname.endsWith("/agreement/versions");
  await med.route(saves, (r) => (r.request().method() === "POST" ? r.fulfill({ status: 503, contentType: "application/problem+json",
    body: JSON.stringify({ type: "urn:parley:problem:upload-unconfirmed", title: "The upload could not be confirmed", status: 503,
      detail: "Its contents were stored, but storage did not confirm that the document or version was added, so it may still appear. Look at the documents list before adding it again." }) }) : r.continue()));
  await edit("1. Rent and arrears: [amount owed, payment plan, dates].", "1. Rent and arrears: the tenant pays 1,200 in three monthly parts from 1 January.");
  const unsure = await med.locator("#agreement-status.error").innerText();
  check(unsure.startsWith("We can't tell yet whether your text was saved as version 2.") && unsure.includes("before saving again") && !/try again|nothing was saved/i.test(unsure),
    "a save the server could not confirm says it may have been saved and to look before saving again: " + unsure);
  check((await med.inputValue("#agreement-edit")).includes("the tenant pays 1,200 in three monthly parts"), "and her text stays in the editor");
  check(await med.locator("#agreement-editor[open] #agreement-save").isVisible(), "the editor stays open for her to save again");
  await med.unroute(saves);
  await med.click("#agreement-save");
  await state(med, "version 2");
  // The polls held go on before the route goes: taken away under them, it
  // would let them go itself, and their own going on would fail.
  pollsGo.open();
  for (let i = 0; i < 20 && pollsHeld.size; i++) await within(Promise.all([...pollsHeld]), 30000, "the held polls go on");
  check(pollsHeld.size === 0, "the held polls went on");
  await med.unroute(polls);
  // Party A reads version 2 and signs it; first she opens the
  // confirmation and cancels it: nothing is signed.
  await state(A, "version 2");
  await A.check("#agreement-read");
  await A.click("#agreement-sign");
  await A.locator("#agreement-sign-ask").waitFor();
  await A.click("#agreement-sign-cancel");
  await A.locator("#agreement-sign-ask").waitFor({ state: "detached" });
  check(await A.locator("#agreement-mine").count() === 0 && await A.evaluate(() => document.activeElement?.id) === "agreement-sign",
    "Cancel signs nothing and puts the focus back on Sign");
  const asked2 = await sign(A);
  await A.locator("#agreement-mine").waitFor();
  const mine2 = await A.innerText("#agreement-mine");
  check(zoned.test(mine2), "when she signed is said with its time zone: " + mine2);
  check(asked2().includes("Sign version 2 of the agreement for “Okafor v. Lindqvist — deposit”?") &&
    asked2().includes("Everyone, including the other side, will see that you signed. You cannot take a signature back."),
    "the confirmation names the version and the case, says everyone sees it and that it cannot be taken back: " + asked2());
  check(/This version still has \d+ blanks to fill in, such as “\[[^\]]+\]”\. You can still sign/.test(asked2()),
    "version 2 still has [blanks]: the confirmation warns, and still lets her sign: " + asked2());
  // The mediator edits again: a confirmation in the page says A signed, that her signature will no longer count
  // and who reads the new version.
  await state(med, "Being signed");
  if (await med.locator("#agreement-editor[open]").count() === 0) await med.locator("#agreement-editor summary").click();
  await med.fill("#agreement-edit", (await med.inputValue("#agreement-edit")).replace("2. Repairs: [what will be repaired, by whom, by when; access arrangements].", "2. Repairs: the landlord repairs the boiler by 1 February."));
  const medAsked = await question(med, "save");
  check(medAsked.includes("Save your text as version 3?") && medAsked.includes("Ada Okafor signed version 2. That signature will no longer count: everyone signs version 3 again.") &&
    medAsked.includes("Version 3 is shared with everyone in this mediation: ") && medAsked.includes("Ada Okafor"),
    "saving over a signature asks in the page, naming who signed, that everyone signs again and who reads it: " + medAsked);
  check(await med.locator("#agreement-save-confirm").innerText() === "Save as version 3", "the confirming button names the act");
  await axeCheck(med, "mediator, saving over a signature", { selector: "#agreement" });
  await shootQuestion(med, "agreement-save-ask", "#agreement-save-ask");
  await med.click("#agreement-save-confirm");
  await state(med, "version 3");

  // The diff between versions 2 and 3.
  if (await med.locator("#agreement-compare[open]").count() === 0) await med.locator("#agreement-compare summary").click();
  await med.click("#diff-show");
  await med.locator("ol.diff li.added", { hasText: "the landlord repairs the boiler by 1 February" }).waitFor();
  check(await med.locator("ol.diff li.removed", { hasText: "[what will be repaired" }).count() === 1, "the diff shows the removed line and the added one");
  await axeCheck(med, "mediator, agreement", { selector: "#agreement" });
  await shoot(med, "agreement-mediator");
  // The mediator compares versions 1 and 3 instead.
  await med.selectOption("#diff-from", "1");
  await med.click("#diff-show");
  const diff13 = med.locator('ol.diff[aria-label="Changes from version 1 to version 3"]');
  await diff13.waitFor();

  // The mediator starts a change and leaves the box; then she presses
  // Save, thinks better of it and lets go elsewhere (no click). A party's
  // comment arriving redraws the page — the press let go must not keep the
  // page from being drawn — and the unsaved change stays, marked as
  // unsaved, and so do the versions compared and what the comparison
  // showed. Discarding it asks first, naming what goes.
  if (await med.locator("#agreement-editor[open]").count() === 0) await med.locator("#agreement-editor summary").click();
  const text3 = await med.inputValue("#agreement-edit");
  check(await med.locator("#agreement-discard").isHidden(), "nothing to discard before the mediator types");
  await med.fill("#agreement-edit", text3 + "\n4. Keys: returned on the last day.");
  await med.locator("#agreement-title").click();
  await med.locator("#agreement-save").scrollIntoViewIfNeeded();
  const saveBox = await med.locator("#agreement-save").boundingBox();
  await med.mouse.move(saveBox.x + saveBox.width / 2, saveBox.y + saveBox.height / 2);
  await med.mouse.down();
  check(await med.evaluate(() => document.activeElement?.id) === "agreement-save", "the mediator presses Save");
  await med.mouse.move(saveBox.x + saveBox.width / 2, saveBox.y - 40, { steps: 5 }); // onto the editor above it
  await med.mouse.up();
  check(await med.locator("#agreement-state", { hasText: "version 3" }).count() === 1, "let go elsewhere, Save did nothing");
  check(await med.locator("#agreement-unsaved").isVisible(), "the editor says the change is not saved and only the mediator sees it");
  await state(B, "version 3");
  await B.fill("#agreement-comment", "Could the boiler be repaired by 15 January?");
  await B.click("#agreement-comment-send");
  await B.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).waitFor({ timeout: 60000 });
  await med.locator("#agreement-comments li", { hasText: "Could the boiler be repaired by 15 January?" }).waitFor({ timeout: 30000 });
  check(true, "a press on Save let go elsewhere does not keep the page from being drawn again");
  check((await med.inputValue("#agreement-edit")).endsWith("4. Keys: returned on the last day."), "the mediator's unsaved change survives a comment arriving");
  check(await med.inputValue("#diff-from") === "1" && await med.inputValue("#diff-to") === "3" && await diff13.count() === 1,
    "the versions compared and the comparison survive a comment arriving");
  await shoot(med, "agreement-unsaved", "#agreement-editor");
  // "Keep editing" keeps them; asked again, the mediator discards them.
  const keep = await question(med, "discard");
  await axeCheck(med, "mediator, discarding changes", { selector: "#agreement" });
  await med.click("#agreement-discard-cancel");
  await med.locator("#agreement-discard-ask").waitFor({ state: "detached" });
  check((await med.inputValue("#agreement-edit")).endsWith("4. Keys: returned on the last day.") && await med.evaluate(() => document.activeElement?.id) === "agreement-discard",
    "Keep editing keeps the changes and puts the focus back on Discard");
  const discardAsked = await question(med, "discard");
  check(discardAsked === keep && discardAsked.includes("Discard your unsaved changes to the agreement?") && discardAsked.includes("goes back to the text of version 3") &&
    discardAsked.includes("you cannot get it back") && discardAsked.includes("Nobody else saw it"), "discarding asks first in the page and names what goes: " + discardAsked);
  check(await med.locator("#agreement-discard-confirm").innerText() === "Discard my changes", "the confirming button names the act");
  await med.click("#agreement-discard-confirm");
  await med.locator("#agreement-status", { hasText: "Your unsaved changes were discarded" }).waitFor();
  check(await med.inputValue("#agreement-edit") === text3 && await med.locator("#agreement-discard").isHidden(), "after discarding, the editor holds version 3 again");

  // Party B, reading version 2, tries to sign it: refused in plain words.
  await state(B, "version 3");
  await B.selectOption("#agreement-version", "2");
  await B.locator("#agreement-old").waitFor();
  await sign(B);
  await B.locator("#agreement-status.error").waitFor();
  const refused = await B.innerText("#agreement-status");
  check(refused.includes("Not signed: version 2 is no longer the agreement") && refused.includes("Read the new version"), "a signature on a superseded version is refused in plain words");
  noJargon(await B.innerText("#agreement"), "party B");

  // Everyone signs version 3 on their own device; A's signature on 2 no longer counts.
  await state(A, "version 3");
  const superseded = await A.innerText("#agreement-superseded");
  check(superseded === "1 signature on an earlier version no longer counts: the text changed after it was signed, so everyone signs version 3.",
    "a party sees that the earlier signature no longer counts, in a plain sentence (not “signature(s)”): " + superseded);
  await A.locator("#agreement-sign-box").scrollIntoViewIfNeeded();
  await axeCheck(A, "party, signing", { selector: "#agreement" });
  // Sign is off until she ticks "I have read", and says so next to it.
  check(await A.isDisabled("#agreement-sign") && await A.getAttribute("#agreement-sign", "aria-describedby") === "agreement-sign-missing" &&
    await A.innerText("#agreement-sign-missing") === "Tick “I have read version 3 and I agree to it” first.",
    "a faded Sign says what is missing: " + await A.innerText("#agreement-sign-missing"));
  // A comment with nothing typed answers in words.
  await A.fill("#agreement-comment", "  ");
  await A.click("#agreement-comment-send");
  check(await A.innerText("#agreement-comment-missing") === "Type your comment in the box first: there is nothing to send yet." &&
    await A.evaluate(() => document.activeElement?.id) === "agreement-comment", "an empty comment says to type it first, and the focus goes to the box");
  await A.fill("#agreement-comment", "");
  await A.check("#agreement-read");
  check(await A.innerText("#agreement-sign-missing") === "", "ticked, Sign no longer says anything is missing");
  await A.click("#agreement-sign");
  await A.locator("#agreement-sign-ask").waitFor();
  await axeCheck(A, "party, confirming a signature", { selector: "#agreement" });
  await shoot(A, "agreement-sign", "#agreement-sign-box");
  await A.click("#agreement-sign-cancel");
  await A.locator("#agreement-sign-ask").waitFor({ state: "detached" });
  // B and counsel tick "I have read" before A signs: their pages redraw as
  // A's (and B's) signature arrives, and the tick must survive that.
  for (const page of [A, B, C]) {
    await state(page, "version 3");
    if (await page.locator("#agreement-version").inputValue() !== "3") await page.selectOption("#agreement-version", "3");
  }
  // The focus stays too: B's on the tick, counsel's on the Sign button.
  for (const page of [B, C]) await page.check("#agreement-read");
  await C.focus("#agreement-sign");
  const focusedID = (page) => page.evaluate(() => document.activeElement?.id ?? "");
  let signedSoFar = 0;
  for (const [page, name] of [[A, "party A"], [B, "party B"], [C, "counsel"]]) {
    if (page !== A) {
      await page.locator("#agreement-signers li.verified").nth(signedSoFar - 1).waitFor({ timeout: 60000 });
      check(await page.isChecked("#agreement-read") && await page.isEnabled("#agreement-sign"),
        `${name}: the tick stays when another person's signature arrives`);
      const want = page === B ? "agreement-read" : "agreement-sign";
      const got = await focusedID(page);
      check(got === want, `${name}: the focus stays on ${want} when another person's signature arrives (it is on "${got}")`);
    }
    const asked = await sign(page);
    await page.locator("#agreement-mine").waitFor();
    signedSoFar++;
    check(asked().includes("Sign version 3 of the agreement") && asked().includes("You cannot take a signature back"), `${name} confirms signing version 3`);
    // A starts a comment at once; B's signature then redraws A's page, and
    // what A typed survives it. A sends it, and while it is on its way
    // (held here) counsel's signature draws A's page again.
    if (page === A) await A.fill("#agreement-comment", "Thank you all — we agree.");
    if (page === B) {
      await A.locator("#agreement-signers li.verified").nth(1).waitFor({ timeout: 60000 });
      check(await A.inputValue("#agreement-comment") === "Thank you all — we agree.", "party A: a comment being typed survives a redraw");
      hold();
      await A.click("#agreement-comment-send");
    }
  }
  await state(med, "Signed by everyone");
  await ask("signed");

  // A's page, drawn again while her comment is being sent, does not offer
  // to send it a second time.
  await state(A, "Signed by everyone");
  // Who signed, in plain words, as the "Visible to" line names people: a
  // party by their side, a lawyer as their side's lawyer, and "You" for
  // the reader's own row (never "(party, Tenant)").
  const signerRows = async (page) => (await page.locator("#agreement-signers li").allInnerTexts()).map((t) => t.split(":")[0].trim()).sort();
  const aRows = await signerRows(A), medRows = await signerRows(med);
  check(JSON.stringify(aRows) === JSON.stringify(["Jordan Blake (Tenant's lawyer)", "Lars Lindqvist (Landlord)", "You (Tenant)"]),
    "party A reads the signers in words, herself as “You”: " + aRows.join("; "));
  check(JSON.stringify(medRows) === JSON.stringify(["Ada Okafor (Tenant)", "Jordan Blake (Tenant's lawyer)", "Lars Lindqvist (Landlord)"]),
    "the mediator reads the signers in words: " + medRows.join("; "));
  check(holding && await A.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).count() === 0, "A's comment is still on its way");
  check(await A.isDisabled("#agreement-comment-send"), "party A: while her comment is being sent, the page drawn again keeps its Send button off");

  // The party checks the signatures in the browser; her comment then
  // arrives (drawing her page again), and what the check found stays. The
  // comment on version 3 reaches the mediator under that version, once.
  await A.click("#agreement-verify");
  await A.locator("#agreement-check-summary", { hasText: "Every signature on version 3 checks out" }).waitFor();
  release();
  await A.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).waitFor({ timeout: 60000 });
  await A.locator("#agreement-comments li", { hasText: "Thank you all — we agree." }).waitFor({ timeout: 60000 });
  check(await A.locator("#agreement-check-summary", { hasText: "Every signature on version 3 checks out" }).count() === 1,
    "party A: what the check of the signatures found survives her page being drawn again");
  check(await A.isEnabled("#agreement-comment-send"), "party A: once sent, the Send button is back");
  await med.locator("#agreement-comments li", { hasText: "Thank you all — we agree." }).waitFor({ timeout: 60000 });
  check(await med.locator("#agreement-comments li", { hasText: "Thank you all — we agree." }).count() === 1, "a comment on version 3 is shown under version 3, once");
  const checked = await A.innerText("#agreement-check");
  check(["Ada Okafor", "Lars Lindqvist", "Jordan Blake"].every((n) => checked.includes(n + " (")), "the check names who signed");
  const signedLines = checked.split("\n").filter((l) => / signed this text on /.test(l));
  check(signedLines.length === 3 && signedLines.every((l) => zoned.test(l)), "each checked signature's time is said with its time zone: " + signedLines.join(" | "));
  const commentMeta = await A.locator("#agreement-comments .meta").allInnerTexts();
  check(commentMeta.length > 0 && commentMeta.every((l) => zoned.test(l)), "each comment's time is said with its time zone: " + commentMeta.join(" | "));
  noJargon(await A.innerText("#agreement"), "party A");
  // Device keys and the command-line check are for staff: behind
  // "Technical details", closed at first, and there when opened.
  const seen = await A.innerText("#agreement");
  check(!/device key|[0-9a-f]{4} [0-9a-f]{4} [0-9a-f]{4}|parley agreement verify/.test(seen), "party A sees no device key or command line: " + seen);
  await shoot(A, "agreement-signed", "#agreement-check");
  await A.locator("#agreement-technical summary", { hasText: "Technical details" }).click();
  const tech = await A.innerText("#agreement-technical");
  check(/Ada Okafor \(Tenant\) signed with the device key [0-9a-f]{4} [0-9a-f]{4}/.test(tech) && tech.includes("parley agreement verify"),
    "Technical details name each signer's device key and the command that checks the PDF: " + tech);
  await A.locator("#agreement-check .agreement-check-technical summary").click();
  check((await A.innerText("#agreement-check")).includes("Jordan Blake (Tenant's lawyer): device key "), "the check's own Technical details name the keys it checked");

  // A server that forges: Ada's row carries a signature made with the
  // server's own key (a valid Ed25519 signature over a statement naming
  // that key), Lars's row carries the lawyer's real signature. The browser
  // checks keys against the devices it verified, not the server's word.
  await A.route(/\/agreement$/, async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    const res = await route.fetch();
    const ag = await res.json();
    const ada = ag.signers.find((s) => s.name === "Ada Okafor"), lars = ag.signers.find((s) => s.name === "Lars Lindqvist");
    const jordan = ag.signers.find((s) => s.name === "Jordan Blake");
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const pub = Buffer.from(publicKey.export({ format: "jwk" }).x, "base64url").toString("base64");
    const g = { ...ada.signed, device: "dv_forgedbytheserver00000000", deviceKey: pub };
    const st = "parley agreement signature v1\n" + [["case", ag.case], ["document", ag.document], ["version", g.version], ["text-sha256", g.sha256],
      ["outcome", ag.outcome], ["account", g.accountId], ["role", ada.role], ["device", g.device], ["device-key", g.deviceKey], ["at", g.signedAt]]
      .map(([k, v]) => `${k}: ${v}\n`).join("");
    g.signature = edSign(null, Buffer.from("parley/agreement-signature/v1\x00" + st), privateKey).toString("base64");
    ada.signed = g;
    ada.name = "Ada Forged";
    lars.signed = { ...jordan.signed };
    await route.fulfill({ response: res, json: ag });
  });
  // Her own row reads "You": the forged name is in its data-signer.
  const forgedRow = A.locator('#agreement-signers li[data-signer="Ada Forged"]');
  await forgedRow.waitFor({ timeout: 30000 });
  await A.click("#agreement-verify");
  await A.locator("#agreement-check-summary", { hasText: "Not every signature" }).waitFor();
  const forged = await A.innerText("#agreement-check");
  check(forged.includes("Ada Forged's signature does NOT check out: the signing key is not one of their own registered devices"),
    "a signature made with a key the server chose does not check out");
  check(forged.includes("Lars Lindqvist's signature does NOT check out: the signature is another person's"), "another person's signature in a row does not check out");
  check(forged.includes("Jordan Blake (") && forged.includes("checks out"), "the genuine signature still checks out");
  await A.unroute(/\/agreement$/);
  await forgedRow.waitFor({ state: "detached", timeout: 30000 });
  const [dl] = await Promise.all([A.waitForEvent("download"), A.click("#agreement-pdf")]);
  const file = pjoin(mkdtempSync(pjoin(tmpdir(), "agreement-")), "signed.pdf");
  await dl.saveAs(file);
  check(await ask("verify", file) === "verified", "the downloaded PDF verifies with the CLI, and a flipped byte does not");

  // Filing asks in the page, naming what it does and who will see the PDF; Cancel files nothing.
  await state(med, "Signed by everyone");
  const fileAsked = await question(med, "file");
  check(fileAsked.includes("File version 3 of the agreement, signed by everyone?") && fileAsked.includes("one of the case's documents, shared with everyone in this mediation: ") &&
    fileAsked.includes("Ada Okafor") && fileAsked.includes("This cannot be undone") && fileAsked.includes("records the case's outcome"),
    "filing asks in the page, naming the version, who opens the PDF and that it cannot be undone: " + fileAsked);
  check(await med.locator("#agreement-file-confirm").innerText() === "File version 3", "the confirming button names the act");
  await axeCheck(med, "mediator, filing the agreement", { selector: "#agreement" });
  await shootQuestion(med, "agreement-file-ask", "#agreement-file-ask");
  await med.click("#agreement-file-cancel");
  await med.locator("#agreement-file-ask").waitFor({ state: "detached" });
  check(await med.locator("#agreement-filed").count() === 0 && await med.evaluate(() => document.activeElement?.id) === "agreement-file",
    "Cancel files nothing and puts the focus back on File");

  // Two mediators: the first begins a change on version 3 and leaves the
  // box; a co-mediator, in her own browser, saves version 4 meanwhile. The
  // first mediator's editor warns that her changes were made to version 3,
  // and Save asks before it replaces version 4, naming it.
  const coEmail = await ask("comediator");
  const co = await newPage("co-mediator");
  pages.set("co-mediator", co);
  await co.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await co.fill("#email", coEmail);
  await co.fill("#password", env("PARLEY_PASSWORD"));
  await co.click("form button[type=submit]");
  await connected(co);
  // The co-mediator reads nothing of the case until a mediator already in
  // it admits them (the server's gate): the first mediator does, and the
  // co-mediator's page opens the case by itself.
  await co.locator("#admission-wait").waitFor({ timeout: 60000 });
  await med.locator("#mediator-admissions button.admit-mediator-ask").click();
  await med.locator("#admit-mediator-confirm").click();
  await med.locator("#mediator-admissions .admit-mediator").waitFor({ state: "detached", timeout: 60000 });
  await co.locator("#rooms button[data-room]").first().waitFor({ timeout: 60000 });
  await connected(co);
  await state(co, "version 3");
  await state(med, "version 3");
  if (await med.locator("#agreement-editor[open]").count() === 0) await med.locator("#agreement-editor summary").click();
  const mine = (await med.inputValue("#agreement-edit")) + "\n5. Costs: each side bears its own.";
  await med.fill("#agreement-edit", mine);
  await med.locator("#agreement-title").click();
  check(await med.locator("#agreement-edit-stale").count() === 0, "no warning while nobody else saved");
  await co.locator("#agreement-editor summary").click();
  await co.fill("#agreement-edit", (await co.inputValue("#agreement-edit")) + "\n5. Costs: the landlord bears them.");
  check((await question(co, "save")).includes("Jordan Blake"), "everyone signed version 3: the co-mediator is asked, naming who signed");
  await co.click("#agreement-save-confirm");
  await state(co, "version 4");
  const stale = med.locator("#agreement-edit-stale");
  await stale.waitFor({ timeout: 30000 });
  check((await stale.innerText()).includes("Your unsaved changes were made to version 3; version 4 was saved since"), "the editor warns that a newer version was saved: " + await stale.innerText());
  check(await med.inputValue("#agreement-edit") === mine, "the mediator's changes are still in the editor");
  const staleAsked = await question(med, "save");
  check(staleAsked.includes("Version 4 was saved since you began your changes on version 3") && staleAsked.includes("replaces what version 4 changed") && staleAsked.includes("Save your text as version 5?"),
    "Save asks first, naming the newer version it replaces: " + staleAsked);
  await med.click("#agreement-save-cancel");
  await med.locator("#agreement-save-ask").waitFor({ state: "detached" });
  check((await med.innerText("#agreement-state")).includes("version 4") && await med.inputValue("#agreement-edit") === mine, "declined: nothing is saved and the changes stay");
  await question(med, "save");
  await med.click("#agreement-save-confirm");
  await state(med, "version 5");
  check((await med.innerText("#agreement-text")).includes("5. Costs: each side bears its own."), "accepted: the mediator's text is saved as version 5");

  // Everyone signs version 5, and the mediator files it after the question in the page.
  for (const page of [A, B, C]) {
    await state(page, "version 5");
    if (await page.locator("#agreement-version").inputValue() !== "5") await page.selectOption("#agreement-version", "5");
    await sign(page);
    await page.locator("#agreement-mine").waitFor();
  }
  await state(med, "Signed by everyone");
  check((await question(med, "file")).includes("File version 5 of the agreement"), "filing version 5 names it");
  await med.click("#agreement-file-confirm");
  await med.locator("#agreement-filed").waitFor({ timeout: 60000 });
  check((await med.innerText("#agreement-status")).includes("Filed. The signed PDF is with the case's documents."), "once confirmed, the agreement is filed");
  log("agreement done");
}, async () => {
  log("(failed)");
  // What each page's agreement section showed: its state line and status, whether the editor is open and Save
  // shown, which question is open (null: not on that page).
  for (const [name, page] of pages) {
    const seen = await within(page.evaluate(() => {
      const el = document.getElementById("agreement");
      const text = (id) => document.getElementById(id)?.innerText ?? null;
      const save = document.getElementById("agreement-save");
      return el ? JSON.stringify({ state: text("agreement-state") ?? el.innerText.slice(0, 200), status: text("agreement-status"),
        editorOpen: document.getElementById("agreement-editor")?.hasAttribute("open") ?? null, saveShown: save ? save.checkVisibility() : null,
        asking: [...el.querySelectorAll("[role=alertdialog]")].map((q) => q.id) }) : "no agreement section";
    }), 5000, "reading the page").catch((e) => "could not be read: " + e.message);
    log(`${name}'s agreement section: ${seen}`);
  }
});
