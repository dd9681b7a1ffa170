// Carries, the first-time welcome and the phone layout, in real Chromium.
// Run by web/carry_browser_test.go, which starts a node, makes a mediator,
// a case and invitations for a party on each side, and answers "ask
// carries" with the carry records the server holds (state only).
import { passGate } from "./gate.mjs";
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";
async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: false });
  await page.setViewportSize(size);
}
const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };
const logOf = (page) => page.locator("#room ol.log");
async function sendText(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await logOf(page).locator("li", { hasText: text }).first().waitFor({ timeout: 60000 });
}
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });

const ASK = "I could accept 1,200 if the deposit comes back by March.";
const EDITED = "We could accept 1,200 if the deposit is returned by the end of March.";
const KEEP = "Our lowest is 900, but do not say so.";

await run(async () => {
  // --- the first-time welcome ---
  const a = await newPage("party A", { width: 1280, height: 900 });
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome").waitFor();
  const words = await a.locator("#welcome").innerText();
  check(words.includes("The joint room") && words.includes("Tenant caucus") && /end-to-end encrypted/i.test(words) && words.includes("The other side never sees it"),
    "the welcome says what the joint room and the caucus are, who sees them, and that messages are end-to-end encrypted: " + words.replace(/\s+/g, " "));
  check(words.includes("Morgan Reyes") && !/caucus:[A-Za-z0-9]|room\.post|doc\.upload/.test(words), "it names the mediator, in plain words");
  check(words.includes("What you write stays in your caucus unless you agree.") && words.includes("a document you or your lawyer added to your caucus is shown to others only if one of you allows it (either of you can).")
    && words.includes("Documents the mediator adds to your caucus are the mediator's, and the mediator may show them to others.") && !words.includes("without you"),
    "it promises only what holds: a message you wrote is carried only with your consent, a caucus document your side added shown only if one of you allows it, and one the mediator added is the mediator's");
  const whoLines = (await a.locator("#welcome .welcome-who").allInnerTexts()).map((t) => t.trim());
  check(!/\(Visible to/.test(words) && whoLines.length === 2 && whoLines[0].startsWith("Visible to: everyone in this mediation: you") &&
    whoLines[1].startsWith("Visible to: the Tenant side only: you") && whoLines.every((t) => t.endsWith(".")),
    "who reads each room is its own “Visible to: …” line, as every room says it, not in brackets: " + JSON.stringify(whoLines));
  check(await a.evaluate(() => document.activeElement?.id) === "welcome-title", "focus moves to the welcome, so it is read first");
  await connected(a);
  await axeCheck(a, "party, welcome");
  await shoot(a, "welcome-party");
  // Keyboard: the first Tab reaches "Go to your caucus", the main action (UX review 367 M2); the next "Got it, stay here", Enter.
  check(await a.locator("#welcome .row button").first().getAttribute("id") === "welcome-caucus" && await a.getAttribute("#welcome-caucus", "class") === "primary" &&
    await a.getAttribute("#welcome-dismiss", "class") !== "primary", "the welcome's first, main action is “Go to your caucus”");
  await a.keyboard.press("Tab");
  check(await a.evaluate(() => document.activeElement?.id) === "welcome-caucus", "Tab reaches “Go to your caucus” first");
  await a.keyboard.press("Tab");
  check(await a.evaluate(() => document.activeElement?.id) === "welcome-dismiss", "the next Tab reaches “Got it, stay here”");
  await a.keyboard.press("Enter");
  await a.locator("#welcome").waitFor({ state: "detached" });
  check(await a.evaluate(() => document.activeElement?.id) === "room-title", "put away, the welcome leaves the focus on the room's name");
  await a.reload();
  await connected(a);
  check(await a.locator("#welcome").count() === 0, "dismissed once, the welcome is not shown again in this browser");
  await a.waitForFunction(() => document.activeElement?.id === "room-title", null, { timeout: 30000 });
  check(true, "opened without the welcome, the case puts the focus on the room's name");
  await a.click("#show-welcome");
  await a.locator("#welcome").waitFor();

  // Party B (Landlord) on a phone; sees the welcome too, dismisses it.
  const b = await newPage("party B", { width: 390, height: 844 });
  await b.goto(env("PARLEY_INVITE_B"));
  await passGate(b);
  await b.locator("#welcome").waitFor();
  check((await b.locator("#welcome").innerText()).includes("Landlord caucus"), "party B's welcome names their own caucus");
  await b.click("#welcome-dismiss");
  await connected(b);
  // A's welcome, open while B joined, names B now as a reader of the joint room.
  const jointWho = a.locator("#welcome .welcome-who").first();
  await a.locator("#welcome .welcome-who", { hasText: "Lars Lindqvist" }).first().waitFor({ timeout: 60000 });
  const jointNow = (await jointWho.innerText()).trim();
  check(!whoLines[0].includes("Lars Lindqvist") && jointNow.includes("Lars Lindqvist (Landlord)") && !jointNow.includes("once they join"),
    "party A's welcome, open while party B joined, names B as a reader of the joint room: " + jointNow);
  await a.keyboard.press("Escape");
  await a.locator("#welcome").waitFor({ state: "detached" });
  check(true, "“About this mediation” shows it again; Escape puts it away");

  // --- the mediator, and a carry proposed, edited and approved ---
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await connected(med);
  check(await med.locator("#welcome").count() === 0, "the mediator gets no party welcome");

  await sendText(a, "caucus:A", ASK);
  await sendText(a, "caucus:A", KEEP);
  await openRoom(med, "caucus:A");
  const m1 = logOf(med).locator("li", { hasText: ASK }).first();
  await m1.waitFor({ timeout: 60000 });
  await m1.locator("button", { hasText: "Propose carrying" }).click();
  const medProposal = logOf(med).locator("li.proposal[data-carry]", { hasText: ASK }).first();
  await medProposal.waitFor({ timeout: 60000 });
  await medProposal.locator("[data-carry-state=proposed]").waitFor();
  check(true, "the mediator's proposal says it is waiting for the author");

  await openRoom(a, "caucus:A");
  const proposal = logOf(a).locator("li.proposal[data-carry]", { hasText: ASK }).first();
  await proposal.waitFor({ timeout: 60000 });
  const ta = proposal.locator("textarea");
  check(await ta.inputValue() === ASK, "the author's text box holds their words, to edit");
  check(await proposal.locator("button", { hasText: "Decline" }).count() === 1, "the author can decline");
  await ta.fill(EDITED);
  const hint = await proposal.locator(".carry-author .note").first().innerText();
  check(/Only this text goes to the joint room, from you\. You, .+ and the mediator [A-Z][a-z]+ [A-Z][a-z]+ will see it\./.test(hint) && !hint.includes("Visible to"),
    "the text box's hint says who will see it, as a list of people: " + hint);
  await axeCheck(a, "party, carry proposal");
  await shoot(a, "carry-party");
  await proposal.locator("button", { hasText: "Approve" }).click();
  const confirm = proposal.locator("[role=alertdialog]");
  check((await confirm.innerText()).includes(EDITED) && (await confirm.innerText()).includes("cannot be undone"), "approving asks for confirmation, quoting the text");
  const who = (await confirm.innerText()).split("\n")[0];
  check(/^You, .+ and the mediator [A-Z][a-z]+ [A-Z][a-z]+ will see your edited text: “/.test(who) && !who.includes("Visible to") && !who.includes("("  + "Visible"),
    "the confirmation names the people who will see it, as a list, without “Visible to:”: " + who);
  check(await a.evaluate(() => document.activeElement?.classList.contains("carry-confirm-q")), "the focus is on the question, not on the button that carries (Enter twice must not carry)");
  await proposal.locator("button", { hasText: "Yes, carry this text" }).click();
  await proposal.locator("[data-carry-state=carried-edited]").waitFor({ timeout: 60000 });

  // The mediator's view follows, without a reload.
  await medProposal.locator("[data-carry-state=carried-edited]").waitFor({ timeout: 60000 });
  const st = await medProposal.locator(".carry-state").innerText();
  check(st.includes("Ada Okafor") && st.includes("edited by them") && st.includes(EDITED), "the mediator sees, live, that it was carried as edited: " + st);
  await openRoom(med, "joint");
  const medCarried = logOf(med).locator("li.carried", { hasText: EDITED });
  await medCarried.waitFor({ timeout: 60000 });
  check((await medCarried.innerText()).includes("edited by its author"), "the joint room shows the mediator it was edited");

  await openRoom(b, "joint");
  await logOf(b).locator("li.carried", { hasText: EDITED }).waitFor({ timeout: 60000 });
  check(!(await b.content()).includes(ASK) && !(await b.content()).includes(KEEP), "party B reads exactly the edited text, never the original or what was kept");
  // What the author's browser encrypted for the joint room, as side B's
  // counsel's device opens it: the text, the source room, nothing about
  // the original's place in the caucus (how many messages it held then).
  const copies = JSON.parse(await ask("carried"));
  check(copies.length === 1 && copies[0].Text === EDITED && copies[0].Room === "caucus:A" && copies[0].Ref === "0:0" && copies[0].RefHash === "zero",
    "the carried copy side B decrypts names no position or payload hash of the original in the Tenant caucus: " + JSON.stringify(copies));

  // --- side B forges a proposal and a copy naming the consented carry ---
  // Noor Haddad (side B's counsel, a Go device) posts in the joint room a
  // "proposal" naming this carry and one of B's own joint messages, then a
  // "carried copy" naming it with the joint room as its source. Neither
  // comes from a mediator in a caucus or from the author: the genuine copy
  // stays consented and edited, and the forged one is shown as not consented.
  await openRoom(med, "caucus:A");
  const carry1 = await medProposal.getAttribute("data-carry");
  await openRoom(med, "joint");
  check(await ask("forge-proposal", carry1) === "ok", "side B's counsel posted a proposal in the joint room naming the carry");
  await logOf(med).locator(`li[data-carry="${carry1}"]:not(.carried)`).first().waitFor({ timeout: 60000 });
  check(await medCarried.locator(".error").count() === 0 && await medCarried.getAttribute("data-edited") === "true",
    "after side B's proposal, the mediator's joint room still shows the genuine copy as consented and edited: " + await medCarried.innerText());
  check(await ask("forge-copy", carry1) === "ok", "side B's counsel posted a copy naming the carry");
  for (const [who, page] of [["the mediator", med], ["the author", a]]) {
    await openRoom(page, "joint");
    const forged = logOf(page).locator("li.carried", { hasText: "FORGED" });
    await forged.waitFor({ timeout: 60000 });
    check((await forged.innerText()).includes("does not come from the message’s author"), `${who} sees side B's copy as not from the author: ` + await forged.innerText());
    const genuine = logOf(page).locator("li.carried", { hasText: EDITED });
    check(await genuine.locator(".error").count() === 0, `${who} still sees the genuine copy as consented: ` + await genuine.innerText());
    await openRoom(page, "caucus:A");
    const state = logOf(page).locator("li.proposal[data-carry]", { hasText: ASK }).first().locator(".carry-state");
    check(await state.getAttribute("data-carry-state") === "carried-edited", `${who}'s proposal still says carried, as edited: ` + await state.innerText());
    if (page === med) check((await state.innerText()).includes("Ada Okafor") && !(await state.innerText()).includes("FORGED"),
      "the mediator's proposal names Ada Okafor's consent and her text, not side B's: " + await state.innerText());
  }

  // --- another carry, declined ---
  await openRoom(med, "caucus:A");
  const m2 = logOf(med).locator("li", { hasText: KEEP }).first();
  await m2.locator("button", { hasText: "Propose carrying" }).click();
  const medProposal2 = logOf(med).locator("li.proposal[data-carry]", { hasText: KEEP }).first();
  await medProposal2.waitFor({ timeout: 60000 });
  await axeCheck(med, "mediator, carries");
  await shoot(med, "carry-mediator");
  const proposal2 = logOf(a).locator("li.proposal[data-carry]", { hasText: KEEP }).first();
  await proposal2.waitFor({ timeout: 60000 });
  // Sam Ortiz (side A, a Go device) posts a "decline" naming this carry and
  // a caucus message of their own: only the message's author declines.
  const carry2 = await medProposal2.getAttribute("data-carry");
  check(await ask("forge-decline", carry2) === "ok", "another member of side A posted a decline naming the carry");
  for (const [who, page] of [["the author", a], ["the mediator", med]]) {
    const line = logOf(page).locator(`li.declined[data-carry="${carry2}"]`).first();
    await line.waitFor({ timeout: 60000 });
    check((await line.innerText()).includes("was ignored"), `${who} sees the other member's decline as ignored: ` + await line.innerText());
  }
  check(await proposal2.locator("[data-carry-state=proposed]").count() === 1 &&
    await proposal2.locator("button", { hasText: "Approve" }).count() === 1 && await proposal2.locator("button", { hasText: "Decline" }).count() === 1,
    "the author still has Approve and Decline: " + await proposal2.locator(".carry-state").innerText());
  check(await medProposal2.locator("[data-carry-state=proposed]").count() === 1 && !(await medProposal2.innerText()).includes("Declined"),
    "the mediator does not see it declined: " + await medProposal2.locator(".carry-state").innerText());
  await proposal2.locator("button", { hasText: "Decline" }).click();
  await proposal2.locator("button", { hasText: "Yes, decline" }).click();
  await proposal2.locator("[data-carry-state=declined]").waitFor({ timeout: 60000 });
  await medProposal2.locator("[data-carry-state=declined]").waitFor({ timeout: 60000 });
  check((await medProposal2.innerText()).includes("Declined by Ada Okafor"), "the mediator sees, live, that the author declined");
  check(await medProposal2.locator("button").count() === 0, "nothing is left to do on a declined proposal");
  const server = await ask("carries");
  check(server === "consented declined", "the server holds one consented and one declined carry: " + server);
  await openRoom(b, "joint");
  check(!(await b.content()).includes(KEEP), "the declined message never reaches party B");

  // After a reload the mediator still sees each carry's real state.
  await med.reload();
  await connected(med);
  await openRoom(med, "caucus:A");
  await logOf(med).locator("li.proposal[data-carry]", { hasText: ASK }).first().locator("[data-carry-state=carried-edited]").waitFor({ timeout: 60000 });
  await logOf(med).locator("li.proposal[data-carry]", { hasText: KEEP }).first().locator("[data-carry-state=declined]").waitFor({ timeout: 60000 });
  check(true, "after a reload, the mediator's proposals show carried (edited) and declined");
  await openRoom(med, "joint");
  await logOf(med).locator("li.carried[data-edited=true]", { hasText: EDITED }).waitFor({ timeout: 60000 });
  check((await logOf(med).locator("li.carried", { hasText: EDITED }).innerText()).includes("edited by its author"),
    "after a reload too, the joint room shows the mediator it was edited (the original found through the proposal in the caucus)");
  const genuine = logOf(med).locator("li.carried", { hasText: EDITED });
  check(await genuine.locator(".error").count() === 0, "after a reload, side B's proposal does not make the genuine copy look forged: " + await genuine.innerText());
  const forgedAfter = logOf(med).locator("li.carried", { hasText: "FORGED" });
  await forgedAfter.waitFor({ timeout: 60000 });
  check((await forgedAfter.innerText()).includes("does not come from the message’s author"), "after a reload, side B's copy is still shown as not from the author");
  await openRoom(med, "caucus:A");
  const st2 = await logOf(med).locator("li.proposal[data-carry]", { hasText: ASK }).first().locator(".carry-state").innerText();
  check(st2.includes("Ada Okafor") && st2.includes("edited by them"), "after a reload, the proposal names the author's consent: " + st2);
  await openRoom(med, "joint");

  // --- phone width ---
  for (const [who, page] of [["mediator", med], ["party B", b]]) {
    await page.setViewportSize({ width: 390, height: 844 });
    await openRoom(page, who === "mediator" ? "caucus:A" : "joint");
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 390, `${who}: nothing is wider than the phone (${wide} px)`);
    const sel = await page.locator("#doc-audience").boundingBox();
    check(sel && sel.x >= 0 && sel.x + sel.width <= 390, `${who}: the audience select fits the screen (${sel && Math.round(sel.x + sel.width)} px)`);
    await page.evaluate(() => window.scrollTo(0, 0));
    const draft = await page.locator("#draft").boundingBox();
    if (draft.y + 40 <= 844) check(true, `${who}: the composer is on the first screen (top at ${Math.round(draft.y)} px)`);
    else {
      await page.click("#jump-to-draft");
      const focused = await page.evaluate(() => document.activeElement?.id);
      const after = await page.locator("#draft").boundingBox();
      check(focused === "draft" && after.y >= 0 && after.y + 40 <= 844, `${who}: the jump brings the composer into view and focuses it`);
    }
  }
  await med.evaluate(() => window.scrollTo(0, 0));
  await med.screenshot({ path: `${shots}/carry-mediator-first-screen-phone.png` });

  // --- an observer's welcome: they read the joint room and cannot write in it ---
  const obs = await newPage("observer", { width: 390, height: 844 });
  await obs.goto(env("PARLEY_INVITE_O"));
  await passGate(obs);
  await obs.locator("#welcome").waitFor({ timeout: 60000 });
  const obsWords = (await obs.locator("#welcome").innerText()).replace(/\s+/g, " ");
  check(obsWords.includes("You read the joint room; you do not write in it. To ask the mediator something, ask at the session or contact the mediation program.")
    && !obsWords.includes("write in the joint room") && !obsWords.includes("What you write there"),
    "an observer's welcome says they read the joint room and do not write in it, and how to ask the mediator: " + obsWords);
  await obs.screenshot({ path: `${shots}/welcome-observer-phone.png`, fullPage: true });
  await obs.setViewportSize({ width: 1280, height: 900 });
  await obs.locator("#welcome").screenshot({ path: `${shots}/welcome-observer.png` });
});
