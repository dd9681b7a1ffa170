// An administrator who approved a mediator's assignment to a case tries to
// approve a reset of that mediator's password, in real Chromium. Run by
// web/resetassigner_browser_test.go (TestBrowserResetApproverAssigned),
// which starts a node where Ines approved the assignment of Maya to a case
// and Omar asked for a reset of Maya's password. The server refuses Ines's
// approval (with the temporary password she could sign in as the mediator
// she chose): the People screen says why and who approves instead, not a
// generic failure, and the request still waits.
import { axeCheck } from "./axe.mjs";
import { ask, check, env, run, shots, signIn } from "./harness.mjs";

const mediatorEmail = env("PARLEY_MEDIATOR_EMAIL");
await run(async () => {
  const admin = await signIn("assigner", env("PARLEY_ASSIGNER_EMAIL"));
  await admin.click("#nav-people");
  await admin.waitForSelector("#people-list table");
  const row = admin.locator(`tr[data-email="${mediatorEmail}"]`);
  await row.locator("button[data-act=approve-reset]").click();
  await row.locator(".confirm button.primary").click();
  // Results and refusals show under the person's row (review 397 M3).
  const status = admin.locator(`tr[data-email="${mediatorEmail}"] + tr.note-row .row-note.error`);
  await status.waitFor();
  const said = await status.innerText();
  check(said.includes("you proposed or approved assigning Maya Mediator to a case as its mediator") &&
    said.includes("Ask another administrator, who took no part in that assignment, to approve it"),
  "the refusal says why and who approves instead: " + said);
  check(!/not allowed|did not work|forbidden|reset_password|assigner-cannot/i.test(said), "no generic or internal words: " + said);
  check(await row.locator("button[data-act=decline-reset]").count() === 1, "declining it is still offered");
  await ask("still-waiting");
  await axeCheck(admin, "People, an approval refused to the assigner");
  await status.scrollIntoViewIfNeeded();
  await admin.screenshot({ path: shots + "/reset-assigner-refused.png" });
  await admin.setViewportSize({ width: 390, height: 844 });
  await status.scrollIntoViewIfNeeded();
  await admin.screenshot({ path: shots + "/reset-assigner-refused-phone.png" });
});
