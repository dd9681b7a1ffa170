// Writes on the mediator's desk whose answers are slow. Run by
// web/desk_order_browser_test.go. An answer is held in the browser (the
// server has answered, or — "before" — the request has not reached it yet)
// while the mediator goes on; what the screen shows once it arrives must
// be the case as the server has it, and nothing the mediator was shown or
// told may be lost.
//   - Two invitations: the invited list read after the first (Ada alone)
//     arrives after the list read after the second (Ada and Lars).
//   - One write at a time: while a disclosure is saved, adding an
//     objective waits (two writes sent together can be saved in either
//     order, and the first answer shown would lack the other).
//   - The case opened again while an objective is saved: its answer,
//     arriving after the case was read, is shown ("Added.").
//   - An objective refused after the case was drawn again: the refusal is
//     shown in the desk's status area, and what was written is kept.
//   - The outcome of one case answered while another is on screen: its
//     survey links are not put under the other case's Outcome (nor is the
//     other case's invitation link, shown once, wiped); they are shown when
//     the first case is opened again.
//   - Another open case (Bea Norland invited) visited while an objective
//     of the first is saved, and the first opened again: the objective's
//     answer, arriving before the first case's own read, draws it without
//     Bea, and its own invited list is read after all.
//   - A withdrawal answered while the other case is on screen: said in a
//     note (a pointer under the other case), never drawn in its list.
//   - Making an invitation: one at a time (the button waits, leaving the
//     page asks); ready while the other case is open, it is pointed to
//     there, and its link is shown when the first case is opened again.
//   - The link box goes once that invitation is withdrawn.
//   - A refusal quoting what was written, answered under the other case:
//     only a pointer there, the words under the first case.
import { base, check, env, newPage, run, shots } from "./harness.mjs";
import { gate, within } from "./stale-lib.mjs";

const flat = (s) => s.replace(/\s+/g, " ");
const caseID = env("PARLEY_CASE"), title = env("PARLEY_TITLE");
const closedID = env("PARLEY_CLOSED"), closedTitle = env("PARLEY_CLOSED_TITLE");
const otherID = env("PARLEY_OTHER"), otherTitle = env("PARLEY_OTHER_TITLE");
/** The answers the desk has read, taken or dropped (its data-answers). */
const answers = (page) => page.evaluate(() => Number(document.querySelector("[data-answers]")?.getAttribute("data-answers") ?? "0"));

/**
 * holdNext holds the next request of method to a path ending in tail on
 * its way to the page until release(): answered by the server at once
 * (answered resolves then), or with before, held before it reaches the
 * server (asked resolves once it is held).
 */
async function holdNext(page, method, tail, { before = false } = {}) {
  const asked = gate(), answered = gate(), released = gate();
  let armed = true, req = null;
  const match = (u) => typeof tail === "string" ? new URL(u).pathname.endsWith(tail) : tail.test(new URL(u).pathname);
  await page.route(match, async (r) => {
    if (r.request().method() !== method || !armed) return r.continue();
    armed = false;
    req = r.request();
    asked.open();
    if (before) {
      await released.p;
      return r.continue();
    }
    const res = await r.fetch();
    answered.open();
    await released.p;
    return r.fulfill({ response: res });
  });
  return {
    asked: asked.p,
    answered: answered.p,
    /** Lets the held answer reach the page and waits until the desk has read it (taken or dropped). */
    async release(what) {
      const before = await answers(page);
      released.open();
      await within((await req.response()).finished(), 30000, what + ": the answer reaches the browser");
      await page.waitForFunction((k) => Number(document.querySelector("[data-answers]")?.getAttribute("data-answers") ?? "0") > k, before, { timeout: 30000 });
      await page.unroute(match);
    },
  };
}

/** Back to the list of cases, and the case id opened from it. */
async function reopen(page, id) {
  await page.click("#desk-back");
  await page.click(`#desk-cases tr[data-case="${id}"] button.link`);
  await page.waitForSelector("#desk-title:not(:has-text('Case desk'))");
  await page.waitForSelector("#desk-outcome");
}

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 }, { timezoneId: "Europe/London" });
  await med.goto(base + "/app#desk=" + caseID);
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.waitForSelector("#desk-invite");

  // Two invitations.
  const list = await holdNext(med, "GET", `/cases/${caseID}/invites`);
  await med.fill("#desk-invite-name", "Ada Okafor");
  await med.selectOption("#desk-invite-side", "A");
  await med.click("#desk-invite button[type=submit]");
  await within(list.answered, 30000, "the invited list after the first invitation is asked and answered");
  await med.fill("#desk-invite-name", "Lars Lindqvist");
  await med.selectOption("#desk-invite-side", "B");
  await med.click("#desk-invite button[type=submit]");
  await med.waitForSelector(`#desk-pending li:has-text("Lars Lindqvist")`);
  check(flat(await med.innerText("#desk-pending")).includes("Ada Okafor"), "after the second invitation, both are listed");
  await list.release("the invited list");
  const pend = flat(await med.innerText("#desk-pending"));
  check(pend.includes("Ada Okafor (Tenant)") && pend.includes("Lars Lindqvist (Landlord)"),
    "the old invited list does not take the second invitation off the screen: " + pend);

  // One write at a time: a disclosure being saved, an objective waits.
  const add = "#desk-objective-form button[type=submit]";
  const disc = await holdNext(med, "POST", `/cases/${caseID}/disclosures`);
  await med.fill("#desk-disclosure-text", "I once rented a flat through the landlord's agency");
  await med.click("#desk-disclosure-ask");
  await med.click("#desk-disclosure-confirm");
  await within(disc.answered, 30000, "the disclosure is saved");
  check(await med.isDisabled(add), "while the disclosure is being saved, the objective's Add button waits");
  const hint = flat(await med.innerText("#desk-saving"));
  check(hint.includes("Saving… one change at a time"), "and the desk says why: " + hint);
  await disc.release("the disclosure's answer");
  await med.waitForSelector(`#desk-disclosures .done:has-text("Disclosed.")`);
  check(!(await med.isDisabled(add)) && (await med.innerText("#desk-saving")) === "", "once it is saved, objectives can be added again");
  await med.fill("#desk-objective-text", "Agree what happens to the deposit");
  await med.click(add);
  await med.waitForSelector(`#desk-objective li:has-text("the deposit")`);
  check(flat(await med.innerText("#desk-disclosures")).includes("through the landlord's agency"), "the disclosure is still listed after the objective");

  // The case opened again while an objective is on its way to the server.
  const slow = await holdNext(med, "POST", `/cases/${caseID}/objectives`, { before: true });
  await med.fill("#desk-objective-text", "Agree who repairs the boiler");
  await med.click(add);
  await within(slow.asked, 30000, "the objective is sent");
  await reopen(med, caseID);
  check(!flat(await med.innerText("#desk-objectives")).includes("boiler"), "opened again before the objective is saved, the case is read without it");
  check(await med.isDisabled(add) && await med.isDisabled("#desk-stepoff-form button[type=submit]") && await med.isDisabled("#desk-stage-forward"),
    "and adding another, stepping off or moving the stage waits");
  await slow.release("the objective's answer, after the case was read again");
  await med.waitForSelector(`#desk-objectives .done:has-text("Added.")`, { timeout: 30000 });
  const objs = flat(await med.innerText("#desk-objectives"));
  check(objs.includes("Agree who repairs the boiler") && objs.includes("Agree what happens to the deposit"),
    "the objective's answer, arriving after the case was read again, is shown: " + objs);

  // A refusal arriving after the case was drawn again.
  const nothing = "\u200B\u200B"; // no visible character: the server refuses it
  const bad = await holdNext(med, "POST", `/cases/${caseID}/objectives`);
  await med.fill("#desk-objective-text", nothing);
  await med.click(add);
  await within(bad.answered, 30000, "the objective is refused");
  await reopen(med, caseID);
  await bad.release("the refusal, after the case was drawn again");
  const refusal = med.locator("#desk-notes .error");
  await refusal.waitFor({ timeout: 30000 });
  const said = flat(await refusal.innerText());
  check(said.includes(`On “${title}”: Not added:`), "the refusal is shown in the desk's status area, naming the case: " + said);
  check(await med.inputValue("#desk-objective-text") === nothing, "what was written is back in the form");
  await med.locator("#desk-said").screenshot({ path: shots + "/desk-refusal-note.png" });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#desk-said").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/desk-refusal-note-phone.png", fullPage: false });
  await med.setViewportSize({ width: 1280, height: 900 });
  await med.click("#desk-notes .desk-note-dismiss");
  check(await refusal.count() === 0, "the note goes once dismissed");

  // The outcome of the closed case, answered while this case is on screen.
  await reopen(med, closedID);
  await med.selectOption("#desk-outcome-result", "full-agreement");
  await med.fill("#desk-outcome-sessions", "2");
  await med.fill("#desk-outcome-hours", "3");
  await med.click("#desk-outcome-ask");
  const out = await holdNext(med, "POST", `/cases/${closedID}/outcome`);
  await med.click("#desk-outcome-confirm");
  await within(out.answered, 30000, "the outcome is recorded");
  await reopen(med, caseID);
  await med.fill("#desk-invite-name", "Pat Quinn");
  await med.selectOption("#desk-invite-side", "A");
  await med.click("#desk-invite button[type=submit]");
  // (Lars's link box, kept since the second invitation, is on screen already: wait for Pat's.)
  await med.waitForSelector(`#desk-invite-out h3:has-text("Pat Quinn")`);
  await out.release("the other case's outcome");
  check(await med.locator("#desk-surveys").count() === 0, "its survey links are not put under this case's Outcome");
  check(await med.locator("#desk-invite-link").count() === 1, "this case's invitation link, shown only once, is still on screen");
  check((await med.innerText("#desk-title")) === title, "this case is still the one on screen");
  const recorded = flat(await med.locator("#desk-notes .done").innerText({ timeout: 30000 }));
  check(recorded.includes(`The outcome of “${closedTitle}” is recorded`), "the desk says the other case's outcome is recorded: " + recorded);
  await reopen(med, closedID);
  await med.waitForSelector("#desk-outcome #desk-surveys");
  check(flat(await med.innerText("#desk-outcome")).includes("Full agreement"), "opened again, the closed case shows its outcome and its survey links");

  // Another open case visited while an objective is on its way, then this
  // one opened again: the objective is answered before this case's read.
  await reopen(med, caseID);
  const keys = await holdNext(med, "POST", `/cases/${caseID}/objectives`, { before: true });
  await med.fill("#desk-objective-text", "Agree when the keys are returned");
  await med.click(add);
  await within(keys.asked, 30000, "the objective is sent");
  await reopen(med, otherID);
  await med.waitForSelector(`#desk-pending li:has-text("Bea Norland")`);
  const read = await holdNext(med, "GET", `/cases/${caseID}`);
  await med.click("#desk-back");
  await med.click(`#desk-cases tr[data-case="${caseID}"] button.link`);
  await within(read.answered, 30000, "the case is read again");
  await keys.release("the objective's answer, before the case's own read");
  await med.waitForSelector(`#desk-objectives .done:has-text("Added.")`, { timeout: 30000 });
  let pendNow = flat(await med.innerText("#desk-pending"));
  check(!pendNow.includes("Bea Norland") && !pendNow.includes("b***@example.org") && await med.locator(`#desk-pending button[aria-label*="Bea Norland"]`).count() === 0,
    "drawn by the objective's answer, this case does not show the other case's invited list: " + pendNow);
  await read.release("the case's own read, older than the objective's answer");
  await med.waitForSelector(`#desk-pending li:has-text("Ada Okafor")`, { timeout: 30000 });
  pendNow = flat(await med.innerText("#desk-pending"));
  check(pendNow.includes("Lars Lindqvist") && !pendNow.includes("Bea Norland"), "its own invited list is read all the same: " + pendNow);

  // A withdrawal answered while the other case is on screen.
  await reopen(med, caseID); // (each step starts from the case drawn afresh)
  await med.click(`#desk-pending li:has-text("Ada Okafor") .withdraw-invite`);
  const wd = await holdNext(med, "DELETE", /\/invites\/[^/]+$/);
  await med.click(".withdraw-confirm");
  await within(wd.answered, 30000, "the invitation is withdrawn");
  await reopen(med, otherID);
  await med.waitForSelector(`#desk-pending li:has-text("Bea Norland")`);
  await wd.release("the withdrawal, answered under the other case");
  await med.waitForSelector(`#desk-notes [data-case="${caseID}"]`, { timeout: 30000 });
  pendNow = flat(await med.innerText("#desk-pending"));
  check(!pendNow.includes("Ada") && !pendNow.includes("Withdrawn"), "the withdrawal is not drawn under the other case: " + pendNow);
  let notesNow = flat(await med.innerText("#desk-notes"));
  check(notesNow.includes(`A change to “${title}” was saved`) && !notesNow.includes("Ada"), "there, a pointer names the case, without its words: " + notesNow);
  await reopen(med, caseID);
  notesNow = flat(await med.innerText("#desk-notes"));
  check(notesNow.includes(`On “${title}”: Withdrawn: the invitation for Ada Okafor no longer works.`), "under its case, the note says it: " + notesNow);
  await med.waitForSelector(`#desk-pending li:has-text("Lars Lindqvist")`);
  check(!flat(await med.innerText("#desk-pending")).includes("Ada Okafor"), "and Ada is no longer listed");
  const dismissed = med.locator(`#desk-notes [data-case="${caseID}"]:has-text("Withdrawn") .desk-note-dismiss`);
  const describedBy = await dismissed.getAttribute("aria-describedby");
  check(!!describedBy && flat(await med.innerText("#" + describedBy)).includes("Withdrawn"), "its Dismiss button is described by the note");
  await dismissed.click();
  check(await med.evaluate(() => document.activeElement?.id) === "desk-title", "dismissed, focus goes to the page's heading");

  // Making an invitation: one at a time; its link ready while the other case is open.
  await reopen(med, caseID); // (each step starts from the case drawn afresh)
  const inv = await holdNext(med, "POST", `/cases/${caseID}/invites`, { before: true });
  await med.fill("#desk-invite-name", "Cy Moreno");
  await med.selectOption("#desk-invite-side", "B");
  await med.click("#desk-invite button[type=submit]");
  await within(inv.asked, 30000, "the invitation is asked for");
  check(await med.isDisabled("#desk-invite button[type=submit]"), "while it is made, the button waits (no second live link)");
  check(await med.evaluate(() => { const e = new Event("beforeunload", { cancelable: true }); dispatchEvent(e); return e.defaultPrevented; }),
    "and leaving the page asks first");
  await reopen(med, otherID);
  await inv.release("the invitation, answered under the other case");
  await med.waitForSelector(`#desk-notes [data-case="${caseID}"]:has-text("invitation link")`, { timeout: 30000 });
  notesNow = flat(await med.innerText("#desk-notes"));
  check(notesNow.includes(`An invitation link for “${title}” is ready: open “${title}” again to copy it before you leave the page.`), "the other case points to it: " + notesNow);
  check(await med.locator("#desk-invite-link").count() === 0, "its link is not drawn under the other case");
  await reopen(med, caseID);
  await med.waitForSelector("#desk-invite-link");
  notesNow = flat(await med.innerText("#desk-notes"));
  check(notesNow.includes(`The invitation link for Cy Moreno in “${title}” is ready`), "under its case, the note names the person: " + notesNow);
  check(flat(await med.innerText("#desk-invite-out")).includes("Invitation for Cy Moreno"), "and the link is shown");

  // A second invitation for the same person, then the first withdrawn
  // before the invited list shows the second: the box knows the
  // invitation it shows (the server names it), so the live link's box
  // stays (review 266 H-1: matched by name, role and side, it was emptied).
  const firstLink = await med.inputValue("#desk-invite-link");
  const list2 = await holdNext(med, "GET", `/cases/${caseID}/invites`);
  await med.fill("#desk-invite-name", "Cy Moreno");
  await med.selectOption("#desk-invite-side", "B");
  await med.click("#desk-invite button[type=submit]");
  await med.waitForFunction((old) => { const l = document.getElementById("desk-invite-link"); return !!l && l.value !== old; }, firstLink, { timeout: 30000 });
  await within(list2.asked, 30000, "the invited list read after the second invitation");
  check(await med.locator(`#desk-pending li:has-text("Cy Moreno")`).count() === 1, "the list still shows the first invitation only");
  await med.click(`#desk-pending li:has-text("Cy Moreno") .withdraw-invite`);
  await med.click(".withdraw-confirm");
  await med.waitForSelector(`#desk-pending-said:has-text("Withdrawn: the invitation for Cy Moreno")`);
  check(await med.locator("#desk-invite-link").count() === 1 && (await med.inputValue("#desk-invite-link")) !== firstLink,
    "the second invitation's link, still working, keeps its box");
  await list2.release("the invited list read after the second invitation");

  // The link box goes once that invitation is withdrawn.
  await reopen(med, caseID); // (each step starts from the case drawn afresh)
  await med.waitForSelector(`#desk-pending li:has-text("Cy Moreno")`);
  await med.click(`#desk-pending li:has-text("Cy Moreno") .withdraw-invite`);
  await med.click(".withdraw-confirm");
  await med.waitForSelector(`#desk-pending-said:has-text("Withdrawn: the invitation for Cy Moreno")`);
  check(await med.locator("#desk-invite-link").count() === 0, "the withdrawn invitation's link box is gone");
  await reopen(med, caseID);
  check(await med.locator("#desk-invite-link").count() === 0, "and stays gone when the case is opened again");

  // A refusal quoting what was written, answered under the other case.
  await reopen(med, caseID); // (each step starts from the case drawn afresh)
  const words = "\u200B\u200B";
  const no = await holdNext(med, "POST", `/cases/${caseID}/objectives`);
  await med.fill("#desk-objective-text", words);
  await med.click(add);
  await within(no.answered, 30000, "the objective is refused");
  await reopen(med, otherID);
  await no.release("the refusal, under the other case");
  await med.waitForSelector(`#desk-notes .error[data-case="${caseID}"]`, { timeout: 30000 });
  notesNow = flat(await med.innerText("#desk-notes"));
  check(notesNow.includes(`A change to “${title}” needs your attention: open “${title}”.`) && !notesNow.includes("What you wrote") && !notesNow.includes("Not added"),
    "under the other case, only a pointer, without what was written: " + notesNow);
  await med.locator("#desk-said").screenshot({ path: shots + "/desk-note-pointer.png" });
  await med.click(`#desk-notes .error[data-case="${caseID}"] .desk-note-open`);
  await med.waitForSelector(`#desk-notes .error:has-text("Not added")`, { timeout: 30000 });
  check(flat(await med.innerText("#desk-notes")).includes(`On “${title}”: Not added:`), "opened from the pointer, the case shows the refusal");
});
