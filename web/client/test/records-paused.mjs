// A disposal paused by a storage hold, in real Chromium, the way records
// clerks meet it: carrying out a plan, the case record is kept because the
// storage refused to delete a record under a legal hold; once the hold is
// released, the next plan says the earlier one began destroying the case
// and stopped, and that carrying this one out finishes it. Run by
// web/records_paused_browser_test.go, which seeds the closed case
// 2026-CV-0142 (Rivera v. Chen), due at once, with a storage hold on a
// record of it.
import { ask, check, run, shots, signIn } from "./harness.mjs";
const noIds = (text) => !/\b[cupha]_[a-z2-7]{6,}/.test(text) && !/accounts\//.test(text);
async function phoneShot(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}
// The pause was today: its day is no later than tomorrow in UTC, whatever the browser's time zone.
const latest = new Date(Date.now() + 86400000).toISOString().slice(0, 10);

/** makePlan has the clerk make a plan as of today and returns its id. */
async function makePlan(page) {
  await page.click("#tab-plans");
  await page.click("#plan-form button[type=submit]");
  const plan = page.locator("#plan-detail section.plan");
  await plan.waitFor();
  return plan.getAttribute("data-plan");
}

/** approveAndCarryOut has a second clerk approve the plan, then carry it out, and waits until it is done. */
async function approveAndCarryOut(page, planID, what) {
  await page.locator("#tab-plans").waitFor(); // signed in
  await page.reload();
  await page.click("#tab-plans");
  await page.locator(`#plan-list li[data-plan="${planID}"] button`).click();
  const approving = await page.locator("#plan-confirm-what").innerText();
  check(approving.startsWith("Approve destroying " + what), "the approval names what it destroys: " + approving);
  await page.check("#plan-confirm");
  await page.click("#plan-approve");
  await page.locator("section.plan[data-state=approved]").waitFor();
  await page.check("#plan-confirm");
  await page.click("#plan-apply");
  await page.locator("section.plan[data-state=done]").waitFor({ timeout: 60000 });
  await page.locator("#apply-outcomes tbody tr").first().waitFor();
}

await run(async () => {
  // The first plan: Rita makes it, Rob carries it out; the storage holds a record of the case.
  const rita = await signIn("rita", "rita@paused.test");
  const first = await makePlan(rita);
  const firstText = await rita.locator("#plan-detail section.plan").innerText();
  check(/The message history\s+Case 2026-CV-0142\s+Message history\s/.test(firstText) && /The case record\s+Case 2026-CV-0142\s+Case record\s/.test(firstText) && !/message-history|case-record|case-closed/.test(firstText),
    "the first plan lists the case's message history and its case record, each by what it is, the case by its reference: " + firstText);
  check(await rita.locator("[data-paused]").count() === 0, "nothing has paused yet, so the first plan says nothing of a pause");
  const rob = await signIn("rob", "rob@paused.test");
  await approveAndCarryOut(rob, first, "2 records of 1 case (2026-CV-0142): 1 message history, 1 case record.");
  const outcomes = await rob.locator("#apply-outcomes").innerText();
  check(/The message history\s+Case 2026-CV-0142\s+Destroyed/.test(outcomes) && /The case record\s+Case 2026-CV-0142\s+Kept: the storage refused to delete it \(it is under a legal hold there\)/.test(outcomes) && !/storage hold/.test(outcomes) && noIds(outcomes),
    "carrying out the first plan, the case is kept because of the storage hold, named by its reference: " + outcomes);
  await rob.screenshot({ path: shots + "/records-paused-kept.png", fullPage: true });

  // The operator releases the storage hold; Rita makes the next plan.
  await ask("release-storage-hold");
  await rita.reload();
  const second = await makePlan(rita);
  const note = rita.locator(`#plan-detail [data-paused]`);
  await note.waitFor();
  const words = await note.innerText();
  const stopped = /^Case 2026-CV-0142: an earlier plan began destroying this case and stopped on (\d{1,2} [A-Z][a-z]+ \d{4}),/.exec(words);
  check(stopped && new Date(Date.parse(stopped[1] + " UTC")).toISOString().slice(0, 10) <= latest,
    "the note names the case by its reference and the day the earlier plan stopped: " + words);
  check(words.includes("because the storage refused to delete a record under a legal hold") && words.includes("What was left has been kept") &&
    words.includes("Carrying out this plan finishes destroying it."), "the note says why it stopped, what was kept, and what this plan does: " + words);
  check(noIds(await rita.locator("#plan-detail").innerText()) && !/storage-hold|DisposalPaused|paused:/i.test(words),
    "no internal ids or state names on the plan screen");
  check(await note.isVisible(), "the note is visible");
  await rita.screenshot({ path: shots + "/records-paused-plan.png", fullPage: true });
  await phoneShot(rita, "records-paused-plan-phone.png");
  const box = await note.boundingBox();
  await rita.setViewportSize({ width: 390, height: 844 });
  const phoneBox = await note.boundingBox();
  check(phoneBox && phoneBox.x >= 0 && phoneBox.x + phoneBox.width <= 390, "at phone width the note fits the screen: " + JSON.stringify(phoneBox));
  // No word in the plan's tables (headers, buttons, cells) is broken mid-word at phone width: every
  // word of one of them lies on one line (before, "Recor d", "Clas s", "Choo se…"); a break after a
  // hyphen ("2026-CV-" / "0142") is an ordinary one.
  const broken = await rita.evaluate(() => {
    const out = [];
    for (const cell of document.querySelectorAll("#plan-detail th, #plan-detail td")) {
      const walk = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode()) {
        for (const m of n.textContent.matchAll(/[^\s-]+-?/g)) {
          const r = document.createRange();
          r.setStart(n, m.index);
          r.setEnd(n, m.index + m[0].length);
          const tops = new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top)));
          if (tops.size > 1) out.push(m[0]);
        }
      }
    }
    return out;
  });
  check(broken.length === 0, "at phone width no word in the plan's tables is broken across lines: " + JSON.stringify(broken));
  await rita.setViewportSize({ width: 1280, height: 900 });
  check(box && box.width > 600, "at desktop width the note is one wide paragraph under the list: " + JSON.stringify(box));

  // Rob carries the second plan out: the disposal finishes.
  await approveAndCarryOut(rob, second, "1 record of 1 case (2026-CV-0142): 1 case record.");
  const outcomes2 = await rob.locator("#apply-outcomes").innerText();
  check(/The case record\s+Case 2026-CV-0142\s+Destroyed/.test(outcomes2) && !outcomes2.includes("Kept"), "the second plan finishes destroying the case: " + outcomes2);
  // The carried-out plan no longer says carrying it out finishes the case.
  const doneNote = await rob.locator("#plan-detail [data-paused]").innerText();
  check(doneNote.includes("This plan has since been carried out: its certificate says what was destroyed.") && !doneNote.includes("Carrying out this plan"),
    "once carried out, the plan's note says so rather than asking for it: " + doneNote);
  await rob.screenshot({ path: shots + "/records-paused-done.png", fullPage: true });
});
