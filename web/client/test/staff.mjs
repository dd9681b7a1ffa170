// Staff accounts in real Chromium. Run by web/staff_browser_test.go, which
// starts a node, creates an administrator and a mediator with a case, and
// answers "ask …" lines (checks on the server's side).
//
// An admin disables the mediator, whose open conversation (a second
// browser context) closes with a plain message; signing in then says the
// account is disabled; the admin enables it again; resets its password
// (the mediator must choose a new one at the next sign-in, before anything
// else); the mediator changes their own password. A mediator whose
// password is still the one the administrator who made the account chose
// (an account from before first passwords were approved) is told at
// sign-in, in plain words, to ask for a reset. axe-core runs on each
// screen, and the main controls are reached by keyboard.
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";

async function signIn(page, email, password) {
  await page.goto(base + "/app");
  await page.fill("#email", email);
  await page.fill("#password", password);
  await page.click("button[type=submit]");
}
/** Tab from the top of the page and list the ids (or text) focused, up to n stops. */
async function tabOrder(page, n) {
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  await page.focus("body");
  const seen = [];
  for (let i = 0; i < n; i++) {
    await page.keyboard.press("Tab");
    seen.push(await page.evaluate(() => { const e = document.activeElement; return e ? (e.id || e.textContent?.trim().split("\n")[0].slice(0, 40) || e.tagName) : ""; }));
  }
  return seen;
}

const medEmail = env("PARLEY_MEDIATOR_EMAIL");
const newEmail = env("PARLEY_NEW_EMAIL");
const legacyEmail = env("PARLEY_LEGACY_EMAIL");
const medName = env("PARLEY_MEDIATOR_NAME");
const pw = env("PARLEY_PASSWORD");
/** What an action on a person's row said: under that row. */
const noteOf = (page, email) => page.locator(`tr[data-email="${email}"] + tr.note-row .row-note`);
/** Whether the element (the first of the locator) is inside the viewport, top and bottom. */
const inView = (loc) => loc.first().evaluate((e) => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; });
/** Whether the focus is inside the element (or on it). */
const focusIn = (loc) => loc.first().evaluate((e) => e.contains(document.activeElement));
await run(async () => {
  // The mediator works in a case: the conversation is open (a socket).
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await signIn(med, medEmail, pw);
  await med.waitForSelector("#conn:has-text('Connected')");
  check(true, "the mediator's conversation is open");

  // A mediator's account from before first passwords were approved: the
  // right password (its creator's) is refused, in plain words that say
  // what to do, with no id, problem type or raw error.
  const legacy = await newPage("old account", { width: 1280, height: 900 });
  await signIn(legacy, legacyEmail, pw);
  await legacy.waitForSelector("form .error:has-text('reset')");
  const refused = await legacy.innerText("form .error");
  check(refused.includes("Your password was chosen by the administrator who made your account") && refused.includes("Ask an administrator to reset it") &&
    refused.includes("a second administrator approves"), "an old account with its creator's password is told to ask for a reset: " + refused);
  check(!/u_[a-z0-9]|password-reset-needed|forbidden|403|urn:|error/i.test(refused), "the refusal shows no id, problem type or raw error: " + refused);
  check(await legacy.locator("#signin-title").count() === 1 && await legacy.locator("#nav-password").count() === 0, "nothing opens: the sign-in form stays");
  await ask("refused-reset-needed", legacyEmail);
  await axeCheck(legacy, "sign-in, a reset needed");
  await legacy.screenshot({ path: shots + "/staff-reset-needed.png" });

  // A sign-in while the server checks as many passwords as it can at once
  // (503 "busy", its answer as web/problem.go writes it for
  // account.ErrHashBusy): the form says so in the server's plain words.
  const session = (u) => u.pathname === "/api/v1/session";
  await legacy.route(session, (r) => r.fulfill({ status: 503, headers: { "Content-Type": "application/problem+json", "Retry-After": "5" },
    body: JSON.stringify({ type: "urn:parley:problem:busy", title: "The server is busy", status: 503,
      detail: "Too many people are signing in right now. Try again in a few seconds.", instance: "/api/v1/session" }) }));
  await signIn(legacy, legacyEmail, pw);
  await legacy.waitForSelector("form .error:has-text('signing in')");
  const busy = await legacy.innerText("form .error");
  check(busy === "Too many people are signing in right now. Try again in a few seconds.", "a busy server's refusal is shown in its plain words: " + busy);
  await legacy.unroute(session);
  await legacy.setViewportSize({ width: 390, height: 844 });
  await legacy.screenshot({ path: shots + "/staff-reset-needed-phone.png", fullPage: true });
  await legacy.close();

  // The admin opens People, by keyboard from the header.
  const admin = await newPage("admin", { width: 1280, height: 900 });
  await signIn(admin, env("PARLEY_ADMIN_EMAIL"), pw);
  await admin.waitForSelector("#nav-people");
  await admin.focus("#nav-people");
  await admin.keyboard.press("Enter");
  await admin.waitForSelector("#people-list table");
  const row = admin.locator(`tr[data-email="${medEmail}"]`);
  check((await row.innerText()).includes("Active"), "the admin sees the mediator, active");
  // A mediator's account this admin created has no password yet: it says
  // so, and its creator may only withdraw the request, not approve it.
  const newRow = admin.locator(`tr[data-email="${newEmail}"]`);
  check((await newRow.innerText()).includes("waiting for a second administrator to approve the first password"),
    "a new account reads as waiting for its first password: " + await newRow.innerText());
  check(await newRow.locator("button[data-act=approve-reset]").count() === 0, "its creator is not offered Approve");
  check(await newRow.locator("button[data-act=withdraw-reset]").count() === 1, "its creator may withdraw the request");
  // The old account whose password is still its creator's says so, in
  // words (not the raw flag), and offers the reset that ends it.
  const legacyRow = admin.locator(`tr[data-email="${legacyEmail}"]`);
  const legacyState = await legacyRow.innerText();
  check(legacyState.includes("Must ask for a password reset before signing in: the password was chosen by the administrator who made this account"),
    "the admin sees that the old account needs a password reset, and why: " + legacyState);
  check(!/ownPassword|passwordResetNeeded|true/.test(legacyState), "the row shows words, not a flag: " + legacyState);
  check(await legacyRow.locator("button[data-act=reset]").count() === 1, "the admin is offered the reset it needs");
  check(!(await row.innerText()).includes("password reset before signing in") && !(await newRow.innerText()).includes("password reset before signing in"),
    "accounts whose password is not their creator's do not say so");
  await axeCheck(admin, "People");
  const order = await tabOrder(admin, 12);
  check(order.includes("nav-people") && order.includes("nav-password") && order.includes("signout") &&
    order.some((s) => s.startsWith("Disable")), "People's controls are reached by Tab in order: " + order.join(" → "));
  await admin.screenshot({ path: shots + "/staff-people.png", fullPage: true });

  // The People screen at 1280 px leaves the email column room to be read (UX review 397 L5).
  const emailLines = await admin.locator("#people-list tbody td.long-value").evaluateAll((tds) => tds.map((td) => {
    const r = document.createRange(); r.selectNodeContents(td);
    return new Set([...r.getClientRects()].map((x) => Math.round(x.top))).size;
  }));
  check(emailLines.every((n) => n === 1), "every email address is on one line at 1280 px: " + emailLines.join(", "));

  // The last admin cannot disable themselves, and is told why.
  const adminEmail = env("PARLEY_ADMIN_EMAIL");
  const selfDisable = admin.locator(`tr[data-email="${adminEmail}"] button[data-act=disable]`);
  await selfDisable.click();
  check(await admin.evaluate(() => document.activeElement?.classList.contains("confirm-q")), "the focus is on the question, not the button that acts");
  // The question is labelled by its first sentence and described by the rest (UX review 397 L4); Escape and
  // Cancel close it and give the focus back to the button that opened it.
  const selfConfirm = admin.locator(`tr[data-email="${adminEmail}"] .confirm`);
  const labelled = await selfConfirm.evaluate((b) => ({ label: document.getElementById(b.getAttribute("aria-labelledby") ?? "")?.textContent ?? "",
    desc: document.getElementById(b.getAttribute("aria-describedby") ?? "")?.textContent ?? "", aria: b.getAttribute("aria-label") }));
  check(labelled.label === "Disable Ines Admin (you)?" && labelled.desc.startsWith("You will be signed out at once") && labelled.aria === null,
    "the question is labelled by its question and described by what it does: " + JSON.stringify(labelled));
  await admin.keyboard.press("Escape");
  check(await selfConfirm.count() === 0, "Escape closes the question");
  check(await selfDisable.evaluate((b) => b === document.activeElement), "after Escape the focus is back on the button that opened it");
  await selfDisable.click();
  await selfConfirm.locator("button", { hasText: "Cancel" }).click();
  check(await selfConfirm.count() === 0 && await selfDisable.evaluate((b) => b === document.activeElement), "after Cancel the focus is back on the button that opened it");
  await selfDisable.click();
  await admin.keyboard.press("Tab"); // to the confirmation's first button
  await admin.keyboard.press("Enter");
  const lastAdminNote = noteOf(admin, adminEmail);
  await lastAdminNote.locator("text=last enabled administrator").waitFor();
  const lastAdmin = await lastAdminNote.innerText();
  check(lastAdmin.includes("last enabled administrator") && await lastAdminNote.evaluate((e) => e.classList.contains("error")),
    "disabling the last admin is refused in words, under the row: " + lastAdmin);
  check(await focusIn(lastAdminNote), "the refusal has the focus");

  // Disable the mediator, by keyboard, with a confirmation naming what happens.
  // A second press of the same button asks once, not twice.
  await row.locator("button[data-act=disable]").click();
  await row.locator("button[data-act=disable]").focus();
  await admin.keyboard.press("Enter");
  check(await row.locator(".confirm").count() === 1, "pressing Disable twice asks one question, not two stacked: " + await row.locator(".confirm").count());
  const confirmText = await row.locator(".confirm").innerText();
  check(confirmText.includes("signed out at once") && confirmText.includes("refused") && confirmText.includes("links back in"), "the confirmation says what disabling does: " + confirmText);
  await axeCheck(admin, "People, confirming a disable");
  // Enter pressed twice does not disable: the focus is on the question.
  check(await admin.evaluate(() => document.activeElement?.classList.contains("confirm-q")), "the focus is on the question, not on the button that disables");
  await admin.keyboard.press("Enter");
  check(await row.locator(".confirm").count() === 1 && (await row.innerText()).includes("Active"), "a second Enter disables nothing: the question stays open");
  await admin.keyboard.press("Tab");
  await admin.keyboard.press("Enter");
  await admin.waitForSelector(`tr[data-email="${medEmail}"]:has-text("Disabled")`);
  check(true, "the mediator is shown as disabled");
  const disabledNote = noteOf(admin, medEmail);
  check((await disabledNote.innerText()).includes(`${medName} is disabled and has been signed out everywhere.`) && await focusIn(disabledNote),
    "what happened shows under the mediator's row, with the focus: " + await disabledNote.innerText());

  // The mediator's open conversation closes, with a plain message.
  await med.waitForSelector("#status.error:has-text('disabled by the program administrator')");
  check(true, "the disabled mediator's socket closed and they are told why: " + (await med.innerText("#status")));
  await med.screenshot({ path: shots + "/staff-disabled.png" });
  await ask("disabled", medEmail);
  // Signing in says the account is disabled.
  await signIn(med, medEmail, pw);
  await med.waitForSelector("form .error:has-text('disabled')");
  check((await med.innerText("form .error")).includes("Ask the program administrator"), "sign-in says the account is disabled");
  await axeCheck(med, "sign-in, refused");

  // Enable again, after a question that says the mediator's unused invitations and links back in work again
  // (UX review 397 L3).
  await admin.locator(`tr[data-email="${medEmail}"] button[data-act=enable]`).click();
  const enableText = await admin.locator(`tr[data-email="${medEmail}"] .confirm`).innerText();
  check(enableText.includes(`Enable ${medName}?`) && enableText.includes("Invitations and links back in that they made, not used yet and not expired, work again"),
    "enabling asks first, and says what comes back: " + enableText);
  check(await admin.locator(`tr[data-email="${medEmail}"]`).innerText().then((t) => t.includes("Disabled")), "nothing is enabled before the answer");
  await admin.locator(`tr[data-email="${medEmail}"] .confirm button.primary`).click();
  await admin.waitForSelector(`tr[data-email="${medEmail}"]:has-text("Active")`);
  await signIn(med, medEmail, pw);
  await med.waitForSelector("#conn:has-text('Connected')");
  check(true, "enabled again, the mediator signs in and the case opens");
  // The composer: Enter sends, Shift+Enter starts a new line, and it says so.
  check((await med.innerText("#draft-hint")).includes("Shift+Enter"), "the composer shows how Enter works");
  await med.focus("#draft");
  await med.keyboard.type("first line");
  await med.keyboard.press("Shift+Enter");
  await med.keyboard.type("second line");
  check((await med.inputValue("#draft")) === "first line\nsecond line", "Shift+Enter inserts a new line");
  await med.keyboard.press("Enter");
  await med.locator("#room ol.log li", { hasText: "second line" }).first().waitFor();
  check((await med.inputValue("#draft")) === "", "Enter sent the message");
  check(await med.locator("#room > .banner[role=status]").count() === 1, "the audience banner is a live region (read out when it changes)");
  await axeCheck(med, "mediator, case open");

  // One admin asks for a reset of the mediator's password: the mediator is
  // signed out, but no password is made and the admin gets none.
  const medRow = () => admin.locator(`tr[data-email="${medEmail}"]`);
  await medRow().locator("button[data-act=reset]").click();
  const askText = await medRow().locator(".confirm").innerText();
  check(askText.includes("second administrator") && askText.includes("signed out"), "the reset confirmation says a second administrator must approve: " + askText);
  await medRow().locator(".confirm button.primary").click();
  await admin.waitForSelector(`tr[data-email="${medEmail}"]:has-text("waiting for a second administrator")`);
  check(await admin.locator(".temp-password").count() === 0, "the requesting admin sees no temporary password");
  check(await medRow().locator("button[data-act=approve-reset]").count() === 0, "the requesting admin is not offered Approve");
  check(await medRow().locator("button[data-act=withdraw-reset]").count() === 1, "the requesting admin may withdraw the request");
  await axeCheck(admin, "People, a reset waiting");
  await admin.screenshot({ path: shots + "/staff-reset-waiting.png", fullPage: true });
  await med.waitForSelector("#status.error:has-text('signed out')");
  check(true, "the reset request signed the mediator out: " + (await med.innerText("#status")));
  await ask("reset-requested", medEmail);

  // A second administrator approves, with a confirmation naming what
  // happens, and alone gets the temporary password.
  await ask("second-admin");
  const admin2 = await newPage("second admin", { width: 1280, height: 900 });
  await signIn(admin2, env("PARLEY_ADMIN2_EMAIL"), pw);
  await admin2.waitForSelector("#nav-people");
  await admin2.click("#nav-people");
  await admin2.waitForSelector("#people-list table");
  const row2 = admin2.locator(`tr[data-email="${medEmail}"]`);
  check((await row2.innerText()).includes("Ines Admin"), "the second admin sees who asked for the reset");
  await row2.locator("button[data-act=approve-reset]").focus();
  await admin2.keyboard.press("Enter");
  const approveText = await row2.locator(".confirm").innerText();
  check(approveText.includes("stops working") && approveText.includes("shown only to you") && approveText.includes("audit log"),
    "the approval confirmation names what happens: " + approveText);
  await axeCheck(admin2, "People, confirming an approval");
  await admin2.setViewportSize({ width: 390, height: 844 });
  await admin2.screenshot({ path: shots + "/staff-approve-reset-phone.png", fullPage: true });
  await admin2.setViewportSize({ width: 1280, height: 900 });
  await row2.locator(".confirm button.primary").click();
  const medNote2 = noteOf(admin2, medEmail);
  await medNote2.locator(".temp-password").waitFor();
  const temp = (await medNote2.locator(".temp-password").innerText()).trim();
  check(temp.length >= 16, "the approving admin sees a temporary password once");
  check(await inView(medNote2.locator(".temp-password")) && await focusIn(medNote2), "the temporary password shows under the row, in view, with the focus");
  await axeCheck(admin2, "People, after an approval");
  await admin2.screenshot({ path: shots + "/staff-reset-approved.png", fullPage: true });
  // The second admin approves the new account's first password.
  const newRow2 = admin2.locator(`tr[data-email="${newEmail}"]`);
  check((await newRow2.innerText()).includes("approve the first password") && (await newRow2.innerText()).includes("Ines Admin"),
    "the second admin sees a new account waiting for its first password, and who asked: " + await newRow2.innerText());
  // On a phone, near the bottom of the list (UX review 397 M3): the password shows where the admin is, with the focus.
  await admin2.setViewportSize({ width: 390, height: 844 });
  await newRow2.locator("button[data-act=approve-reset]").click();
  const firstText = await newRow2.locator(".confirm").innerText();
  check(firstText.includes("first password") && firstText.includes("shown only to you") && firstText.includes("first sign-in"),
    "the first password's confirmation names what happens: " + firstText);
  await newRow2.locator(".confirm button.primary").click();
  const newNote2 = noteOf(admin2, newEmail);
  await newNote2.locator("text=first password is made").waitFor();
  const firstTemp = newNote2.locator(".temp-password");
  check((await firstTemp.innerText()).trim().length >= 16, "the approving admin sees the first password once");
  check(await inView(firstTemp), "on a phone the first password is in view: top " + await firstTemp.evaluate((e) => Math.round(e.getBoundingClientRect().top)));
  check(await focusIn(newNote2), "and the focus is on it: " + await admin2.evaluate(() => document.activeElement?.tagName + " " + document.activeElement?.className));
  await admin2.screenshot({ path: shots + "/staff-first-password-phone.png" });
  await admin2.setViewportSize({ width: 1280, height: 900 });
  // Both passwords stay until their administrator hides them; then the focus goes back to the row.
  check(await medNote2.locator(".temp-password").count() === 1 && await newNote2.locator("button.temp-copy").count() === 1,
    "the first temporary password is still there, and each has a Copy button");
  await newNote2.locator("button.temp-done").click();
  check(await newNote2.locator(".temp-password").count() === 0 && await medNote2.locator(".temp-password").count() === 1, "Done hides that password only");
  await ask("first-password", newEmail);
  await admin.setViewportSize({ width: 390, height: 844 });
  await admin.reload();
  await admin.waitForSelector(`tr[data-email="${medEmail}"]:has-text("Must choose a new password")`);
  await admin.screenshot({ path: shots + "/staff-people-phone.png", fullPage: true });
  await admin.setViewportSize({ width: 1280, height: 900 });

  // Next sign-in with the temporary password: choose a new one first.
  await signIn(med, medEmail, temp);
  await med.waitForSelector("#password-form");
  check((await med.innerText("#pw-title")) === "Choose a new password", "the mediator must choose a new password first");
  check(await med.locator("#pw-current").count() === 0, "the temporary password is not asked for twice");
  await axeCheck(med, "forced password change");
  await med.screenshot({ path: shots + "/staff-forced-change.png" });
  await med.fill("#pw-new", "short");
  await med.fill("#pw-again", "short");
  await med.press("#pw-again", "Enter");
  await med.waitForSelector("#pw-status.error");
  check((await med.innerText("#pw-status")).includes("at least 12"), "a short password is refused in words");
  const chosen = "the mediator's own passphrase";
  await med.fill("#pw-new", chosen);
  await med.fill("#pw-again", chosen);
  await med.press("#pw-again", "Enter");
  await med.waitForSelector("#pw-status:has-text('Your password is changed')");
  await med.click("#pw-continue");
  await med.waitForSelector("#conn:has-text('Connected')");
  check(true, "after choosing a new password the case opens");
  await ask("changed-after-reset", medEmail);

  // The mediator changes their own password (the current one required).
  await med.click("#nav-password");
  await med.waitForSelector("#password-form");
  await axeCheck(med, "change password");
  await med.setViewportSize({ width: 390, height: 844 });
  await med.screenshot({ path: shots + "/staff-change-password-phone.png", fullPage: true });
  await med.setViewportSize({ width: 1280, height: 900 });
  await med.screenshot({ path: shots + "/staff-change-password.png" });
  await med.fill("#pw-current", "not my password at all");
  await med.fill("#pw-new", "yet another passphrase");
  await med.fill("#pw-again", "yet another passphrase");
  await med.press("#pw-again", "Enter");
  await med.waitForSelector("#pw-status.error:has-text('not your current password')");
  check(true, "a wrong current password is refused in words");
  await med.fill("#pw-current", chosen);
  // Enter twice (UX review 397 M4): one change is sent, and the page says it was changed.
  const changes = { sent: 0, answered: 0 };
  const isChange = (r) => r.url().endsWith("/api/v1/me/password") && r.method() === "POST";
  med.on("request", (r) => { if (isChange(r)) changes.sent++; });
  med.on("response", (r) => { if (isChange(r.request())) changes.answered++; });
  await med.evaluate(() => { const f = document.getElementById("password-form"); f.requestSubmit(); f.requestSubmit(); });
  await med.waitForSelector("#pw-status:has-text('Your password is changed')");
  for (let i = 0; i < 100 && changes.answered < changes.sent; i++) await med.waitForTimeout(50);
  check(changes.sent === 1 && (await med.innerText("#pw-status")).startsWith("Your password is changed"),
    `submitting twice sends one change and says it was changed (${changes.sent} sent): ` + await med.innerText("#pw-status"));
  await ask("changed", medEmail + " yet another passphrase");

  // A reset of the old account asked for: the row says it waits for a
  // second administrator, and still why it is needed.
  const legacyRow2 = () => admin.locator(`tr[data-email="${legacyEmail}"]`);
  await legacyRow2().locator("button[data-act=reset]").click();
  await legacyRow2().locator(".confirm button.primary").click();
  await admin.waitForSelector(`tr[data-email="${legacyEmail}"]:has-text("waiting for a second administrator")`);
  const waiting = await legacyRow2().locator(".reset-needed").innerText();
  check(waiting.includes("chosen by the administrator who made this account") && waiting.includes("a password reset is needed"),
    "with a reset waiting, the old account's row still says why it needs one: " + waiting);
  await axeCheck(admin, "People, an old account's reset waiting");

  // Withdrawing it while the answer is lost (UX review 397 L1): it may have happened, and the page says so; the
  // row's buttons are off while a request is on its way, on again after.
  const withdraw = legacyRow2().locator("button[data-act=withdraw-reset]");
  const declinePath = (u) => u.pathname.endsWith("/reset-password/decline");
  await admin.route(declinePath, (r) => r.abort("connectionreset"));
  await withdraw.click();
  const legacyNote = noteOf(admin, legacyEmail);
  await legacyNote.locator("text=We can't tell whether it went through").waitFor();
  check((await legacyNote.innerText()).includes("We can't tell whether it went through: reload the page to see."), "a lost answer says it may have happened: " + await legacyNote.innerText());
  check(await withdraw.isEnabled(), "after a failure the row's buttons are on again");
  await admin.unroute(declinePath);
  let release;
  const held = new Promise((r) => { release = r; });
  await admin.route(declinePath, async (r) => { await held; await r.continue(); });
  await withdraw.click();
  check(await withdraw.isDisabled() && await legacyRow2().locator("button[data-act=disable]").isDisabled(), "while the request is on its way the row's buttons are off");
  release();
  await legacyNote.locator("text=You withdrew the password reset").waitFor();
  await admin.unroute(declinePath);
  check(true, "then the withdrawal is said under the row: " + await legacyNote.innerText());

  // An administrator who disables their own account (another one is left) sees the signed-out screen (UX review 397 L2).
  await admin.locator(`tr[data-email="${adminEmail}"] button[data-act=disable]`).click();
  await admin.locator(`tr[data-email="${adminEmail}"] .confirm button.primary`).click();
  await admin.locator("#signed-out-self").waitFor();
  const out = await admin.innerText("#signed-out-self");
  check(out.includes("You disabled your own account, so you have been signed out everywhere") && await admin.locator(".staff-nav").count() === 0 &&
    await admin.evaluate(() => document.activeElement?.id) === "signed-out-title", "disabling yourself shows the signed-out screen: " + out);
  await axeCheck(admin, "signed out after disabling yourself");
});
