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
import { base, check, env, newPage, run, shots } from "./harness.mjs";
import { gate, within } from "./stale-lib.mjs";

const flat = (s) => s.replace(/\s+/g, " ");
const caseID = env("PARLEY_CASE"), title = env("PARLEY_TITLE");
const closedID = env("PARLEY_CLOSED"), closedTitle = env("PARLEY_CLOSED_TITLE");
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
  const match = (u) => new URL(u).pathname.endsWith(tail);
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
  await med.waitForSelector("#desk-invite-link");
  await out.release("the other case's outcome");
  check(await med.locator("#desk-surveys").count() === 0, "its survey links are not put under this case's Outcome");
  check(await med.locator("#desk-invite-link").count() === 1, "this case's invitation link, shown only once, is still on screen");
  check((await med.innerText("#desk-title")) === title, "this case is still the one on screen");
  const recorded = flat(await med.locator("#desk-notes .done").innerText({ timeout: 30000 }));
  check(recorded.includes(`The outcome of “${closedTitle}” is recorded`), "the desk says the other case's outcome is recorded: " + recorded);
  await reopen(med, closedID);
  await med.waitForSelector("#desk-outcome #desk-surveys");
  check(flat(await med.innerText("#desk-outcome")).includes("Full agreement"), "opened again, the closed case shows its outcome and its survey links");
});
