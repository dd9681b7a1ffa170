// Records staff in real Chromium: a shortened period waits for a second
// person, who approves it behind a deliberate confirmation; a plan lists
// residue (what no record class covers) by kind and count. Run by
// web/records_sweep_browser_test.go.
import { base, check, env, log, run, shots, signIn } from "./harness.mjs";
const noIds = (text) => !/\b[cu]_[a-z2-7]{6,}/.test(text);
async function phoneShot(page, name) {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
}

await run(async () => {
  // Rita proposed the shorter period: she sees it waiting, with no approve button.
  const rita = await signIn("rita", "rita@sweep.test");
  await rita.click("#tab-plans");
  // The screen says that what falls due is also mailed to records staff's addresses, and what the mail carries.
  const notice = await rita.locator("#due-notice-note").innerText();
  check(notice.includes("mails a summary of what falls due to the address of every records staff account") && notice.includes("never what the records hold") &&
    notice.includes("cannot be turned off for one account"), "the records screen states the daily notice: " + notice);
  const mine = rita.locator("#schedule-changes li[data-change]");
  await mine.waitFor();
  const mineText = await mine.innerText();
  check(mineText.includes("Records of the kind “Leftovers no record class covers” kept 0 days after it is made, instead of 30 days after it is made") && !/\bresidue\b/.test(mineText) && mineText.includes("someone else must approve it") &&
    await mine.locator("button").count() === 0, "the proposer sees the change waiting for someone else: " + mineText);

  // Rob approves it, confirming deliberately what it does.
  const rob = await signIn("rob", "rob@sweep.test");
  await rob.click("#tab-plans");
  const change = rob.locator("#schedule-changes li[data-change]");
  await change.waitFor();
  const approve = change.locator("button", { hasText: "Approve this shorter period" });
  const changeText = await change.innerText();
  check(await approve.isDisabled() && changeText.includes("become due sooner") && changeText.includes("a period of 0 days makes these records due as soon as it is made") && !/\b0d\b|\(created\)/.test(changeText) && noIds(changeText),
    "approving waits for a confirmation naming what happens, and warns of the 0-day period");
  const missingID = await approve.getAttribute("aria-describedby");
  check(/^change-confirm-.+-missing$/.test(missingID ?? "") && await rob.locator("#" + missingID).innerText() === "Tick the “I understand” box first.",
    "the faded Approve says what is missing, next to it");
  await rob.screenshot({ path: shots + "/records-sweep-approve.png", fullPage: true });
  await phoneShot(rob, "records-sweep-approve-phone.png");
  await change.locator("input[type=checkbox]").check();
  await approve.click();
  await rob.locator("#schedule-change-done", { hasText: "Approved: Records of the kind “Leftovers no record class covers” kept 0 days" }).waitFor();
  check(await rob.locator("#schedule-changes li[data-change]").count() === 0, "once approved, nothing is left waiting");

  // Rita's plan now lists the leftovers, by kind and count only.
  await rita.reload();
  await rita.click("#tab-plans");
  await rita.click("#plan-form button[type=submit]");
  const plan = rita.locator("#plan-detail section.plan");
  await plan.waitFor();
  const planID = await plan.getAttribute("data-plan");
  const residue = await rita.locator("#plan-residue").innerText();
  check(residue.includes("expired or signed-out sign-ins") && residue.includes("invitation links that expired unused") && !residue.includes("Lee") && !residue.includes("sessions/"),
    "the plan lists the leftovers by kind and count, never names or keys: " + residue);
  const planText = await plan.innerText();
  check(!/\bp_[a-z2-7]{4,}/.test(planText) && /^Plan made \d{1,2} [A-Z][a-z]+ \d{4} at \d{2}:\d{2} [A-Z][A-Za-z0-9+:-]* by /.test(await rita.innerText("#plan-title")), "the plan (its heading and its confirmation) is named by when and by whom it was made, never its id");
  await rita.screenshot({ path: shots + "/records-sweep-plan.png", fullPage: true });
  await phoneShot(rita, "records-sweep-plan-phone.png");

  // Rob's approval names the leftovers too.
  await rob.reload();
  await rob.click("#tab-plans");
  await rob.locator(`#plan-list li[data-plan="${planID}"] button`).click();
  const what = await rob.locator("#plan-confirm-what").innerText();
  check(what.includes("leftover item") && what.includes("invitation links that expired unused") && await rob.locator("#plan-approve").isDisabled(),
    "the plan's approval names the leftovers: " + what);
  await rob.check("#plan-confirm");
  await rob.click("#plan-approve");
  await rob.locator("section.plan[data-state=approved]").waitFor();
});
