// Tap targets on a phone: every control a party uses on the main party
// screens is at least 44 × 44 CSS px at 390 × 844 (WCAG 2.5.5's size; the
// app's own rule for people who take part from a phone). Run by
// web/taptargets_browser_test.go, which makes a case with an invitation
// for party A (Ada Okafor) and a proposed session.
// What is measured and what is excepted (links in a sentence): taps.mjs.
import { passGate } from "./gate.mjs";
import { tooSmall } from "./taps.mjs";
import { check, env, log, newPage, run, shots } from "./harness.mjs";

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
  // Sign out asks first.
  await A.click("#signout");
  await A.waitForSelector("#signout-confirm[open]");
  await measure(A, "the sign-out question");
  await A.click("#signout-yes");
  await A.waitForSelector("#email-link-open, #come-back-title");
  await measure(A, "signed out");
  check(failed.length === 0, `every control on the party's screens is at least ${MIN}×${MIN} px at phone width (${failed.length} are not)`);
});
