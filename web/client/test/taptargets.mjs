// Tap targets on a phone: every control a party uses on the main party
// screens is at least 44 × 44 CSS px at 390 × 844 (WCAG 2.5.5's size; the
// app's own rule for people who take part from a phone). Run by
// web/taptargets_browser_test.go, which makes a case with an invitation
// for party A (Ada Okafor) and a proposed session, and answers "ask session"
// (Ada on a second phone) and "ask survey" (the case closed: her survey link).
// What is measured and what is excepted (links in a sentence): taps.mjs.
import { passGate } from "./gate.mjs";
import { tooSmall } from "./taps.mjs";
import { ask, base, check, env, log, newPage, run, shots, signInMediator } from "./harness.mjs";

const phone = { width: 390, height: 844 };
const MIN = 44;

// Every screen is measured before the script fails, so one run lists every control that is too small.
const failed = [];
async function measure(page, what) {
  const { out, prose, count } = await tooSmall(page, MIN);
  for (const s of prose) log(`${what}: a link in a sentence, not measured: ${s}`);
  for (const s of out) { log(`${what}: too small: ${s}`); failed.push(`${what}: ${s}`); }
  if (out.length === 0) check(true, `${what}: every visible control (of ${count}) is at least ${MIN}×${MIN} px at phone width`);
}

await run(async () => {
  const A = await newPage("partyA", phone, { isMobile: true, hasTouch: true });
  await A.goto(env("PARLEY_INVITE"));
  await A.waitForSelector("#consent-title");
  await measure(A, "the case's terms");
  await A.check("#terms-read");
  await A.click("#accept-terms");
  await A.waitForSelector("#terms-accepted");
  await measure(A, "the terms accepted");
  await passGate(A);
  await A.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await A.waitForSelector("#rooms-title");
  await measure(A, "the room, first visit");
  // Every room the party has.
  const rooms = await A.locator(".rooms button").count();
  for (let i = 0; i < rooms; i++) {
    await A.locator(".rooms button").nth(i).click();
    await measure(A, `room ${i + 1} of ${rooms}`);
  }
  // Signing the agreement: ticked "I have read", then the question, then signed.
  await A.locator("#agreement-read").scrollIntoViewIfNeeded();
  await A.check("#agreement-read");
  await measure(A, "the agreement, ready to sign");
  await A.click("#agreement-sign");
  await A.waitForSelector("#agreement-sign-ask");
  await measure(A, "the agreement's signing question");
  await A.click("#agreement-sign-confirm");
  await A.waitForSelector("#agreement-mine", { timeout: 60000 });
  await measure(A, "the agreement, signed");
  // A document uploaded, with the word that it is (the party's own caucus is the only place offered).
  await A.locator(".rooms button[data-room='caucus:A']").click();
  await A.locator("#doc-file").scrollIntoViewIfNeeded();
  await A.setInputFiles("#doc-file", { name: "Lease.pdf", mimeType: "application/pdf", buffer: Buffer.from("lease") });
  await A.selectOption("#doc-class", "evidence");
  await A.click("#doc-upload");
  await A.locator("#documents li", { hasText: "Lease.pdf" }).first().waitFor({ timeout: 60000 });
  await measure(A, "a document uploaded");
  // The question an upload to a wider place asks ("Share … with everyone in
  // the joint room?"). A party is asked it only from a room the mediator
  // opened for some people; measured here on the mediator's phone, from
  // the Tenant caucus to the joint room.
  const M = await newPage("mediator-phone", phone, { isMobile: true, hasTouch: true });
  await signInMediator(M);
  await M.locator(".rooms button[data-room='caucus:A']").click();
  await M.locator("#docs-title", { hasText: "Tenant caucus" }).waitFor();
  await M.locator("#doc-file").scrollIntoViewIfNeeded();
  await M.setInputFiles("#doc-file", { name: "Agenda.pdf", mimeType: "application/pdf", buffer: Buffer.from("agenda") });
  await M.selectOption("#doc-audience", "joint");
  await M.selectOption("#doc-class", "evidence");
  await M.click("#doc-upload");
  await M.locator("#doc-upload-ask .confirm").waitFor();
  await measure(M, "the upload question (who will see it)");
  await M.click("#doc-upload-cancel");
  await M.context().close();
  // Your devices: Ada signs in on a second phone, which is not yet added
  // ("Link this browser"); "Add a device" on the first shows a code to
  // type there; both show a number to compare; the first adds it.
  const P = await newPage("partyA-second-phone", phone, { isMobile: true, hasTouch: true });
  await P.context().addCookies([{ name: env("PARLEY_SESSION_COOKIE"), value: await ask("session"), url: base, httpOnly: true, sameSite: "Strict" }]);
  await P.goto(base + "/app");
  await P.locator("#new-device").waitFor({ timeout: 60000 });
  await P.locator("#new-device").scrollIntoViewIfNeeded();
  await measure(P, "a second phone, not yet added");
  await A.locator("#pair-start").scrollIntoViewIfNeeded();
  await A.click("#pair-start");
  await A.waitForSelector("#pair-code");
  await measure(A, "adding a device (the code shown)");
  await P.fill("#pair-code-input", (await A.locator("#pair-code").innerText()).trim());
  await P.click("#pair-form button[type=submit]");
  await P.locator("#pair-number").waitFor({ timeout: 60000 });
  await A.locator("#pair-number").waitFor({ timeout: 60000 });
  await measure(A, "adding a device (the numbers to compare)");
  await measure(P, "the second phone (the numbers to compare)");
  await A.click("#pair-confirm");
  await A.locator("#pair-out", { hasText: "Added." }).waitFor({ timeout: 60000 });
  await measure(A, "a device added");
  await P.locator("#pair-start").waitFor({ timeout: 60000 });
  await measure(P, "the second phone, added");
  await P.context().close();
  // "Sign out and forget this browser" asks first.
  await A.click("#forget-open");
  await A.waitForSelector("#forget[open]");
  await measure(A, "the forget-this-browser question");
  await A.click("#forget-cancel");
  await A.locator("#forget").waitFor({ state: "detached" });
  // Sign out asks first.
  await A.click("#signout");
  await A.waitForSelector("#signout-confirm[open]");
  await measure(A, "the sign-out question");
  await A.click("#signout-yes");
  await A.waitForSelector("#email-link-open, #come-back-title");
  await measure(A, "signed out");
  // The survey, once the mediator has closed the case and recorded its outcome.
  await A.goto(await ask("survey"));
  await A.waitForSelector("#survey:not([hidden]) fieldset");
  await measure(A, "the survey");
  for (const fs of await A.locator("#survey fieldset").all()) await fs.locator("label").nth(3).click();
  await A.click("#survey button[type=submit]");
  await A.locator("#status", { hasText: "Thank you" }).waitFor();
  await measure(A, "the survey, sent");
  check(failed.length === 0, `every control on the party's screens is at least ${MIN}×${MIN} px at phone width (${failed.length} are not)`);
});
