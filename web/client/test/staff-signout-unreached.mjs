// A staff member's sign-out that the server does not take, in real
// Chromium. Run by web/forget_browser_test.go
// TestBrowserStaffSignOutUnreached, which makes a mediator with a case and
// a records clerk (PARLEY_RECORDS_EMAIL). Staff are not asked before they
// sign out (they sign in again with their password), so "Sign out" acts at
// once; when its DELETE /api/v1/session never reaches the server (the
// connection drops), or the server cannot end the session (503), the page
// must not look signed out: it says in plain words that they are NOT
// signed out yet and that anyone using this browser can open their
// account until they are, the case or the records are no longer on
// screen, and Sign out again signs out once the server takes it.
import { axeCheck } from "./axe.mjs";
import { check, env, fitsWidth, run, shots, signIn, signInMediator, newPage } from "./harness.mjs";

const SESSION = "**/api/v1/session";
/** Makes every sign-out of page fail as a dropped connection does; other requests go through. */
const dropSignOut = (page) => page.route(SESSION, (r) => (r.request().method() === "DELETE" ? r.abort("internetdisconnected") : r.continue()));
/** Makes every sign-out of page answered as a server that cannot end the session (503). */
const refuseSignOut = (page) => page.route(SESSION, (r) => (r.request().method() === "DELETE"
  ? r.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "1" },
    body: JSON.stringify({ type: "urn:parley:problem:unavailable", title: "Storage is unavailable; try again shortly", status: 503 }) })
  : r.continue()));
const status = (page) => page.evaluate(async () => (await fetch("/api/v1/me")).status);

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await fitsWidth(page, name);
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}

/** The not-signed-out page for a staff member: what it says, and that nothing of their work is left on it. */
async function notSignedOutPage(page, what, gone, why) {
  await page.locator("#not-signed-out-title", { hasText: "You are not signed out yet" }).waitFor({ timeout: 60000 });
  const words = await page.innerText("#not-signed-out");
  for (const w of ["You are not signed out yet: " + why, "Until then, anyone using this browser can open your account."]) {
    check(words.includes(w), `${what}: the page says: ${w}`);
  }
  check(!/mediation/i.test(words), `${what}: and speaks of their account, not of a mediation: ${words}`);
  check(!/\b(HTTP|ERR_|internetdisconnected|fetch|storage|unavailable|503)\b|[a-z]_[a-z2-7]{6,}/i.test(words), `${what}: and shows no raw error or id: ${words}`);
  check((await page.locator(gone).count()) === 0, `${what}: what they were working on is no longer on screen (${gone})`);
  check((await page.locator("#case-title").innerText()).trim() === "", `${what}: nor is a case's title`);
  check(await page.locator("#signout").isHidden() && (await page.locator(".staff-nav").count()) === 0,
    `${what}: the header's Sign out and Change password are gone (the page's own Sign out tries again)`);
  check((await page.locator("#signout-retry", { hasText: /^Sign out$/ }).count()) === 1, `${what}: a Sign out button is there to try again`);
  check(await status(page) === 200, `${what}: and indeed the session is still valid at this browser`);
  await axeCheck(page, what);
  return words;
}

await run(async () => {
  // --- a mediator, in their case ---
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await signInMediator(med);
  await dropSignOut(med);
  await med.click("#signout");
  await notSignedOutPage(med, "a mediator's sign-out that did not reach the server", "#rooms, #room",
    "Parley could not reach the server. Check your connection and press Sign out again.");
  const back = med.locator("#signout-back");
  check((await back.count()) === 1 && /^Stay signed in and go back$/.test((await back.innerText()).trim()),
    "it offers to go back, in words for staff: " + (await back.allInnerTexts()).join("|"));
  check(new URL(med.url()).hash.startsWith("#case="), "the page did not go to the sign-in page: " + med.url());
  await shoot(med, "staff-signout-unreached");
  // The server answers but cannot end the session: said in its own plain words.
  await med.unroute(SESSION);
  await refuseSignOut(med);
  await med.click("#signout-retry");
  await med.locator("#not-signed-out-words", { hasText: "the server could not sign you out just now. Wait a moment and press Sign out again." }).waitFor();
  await med.locator("#signout-retry:not([disabled])").waitFor();
  await notSignedOutPage(med, "a mediator's sign-out the server could not take", "#rooms, #room",
    "the server could not sign you out just now. Wait a moment and press Sign out again.");
  check(await med.innerText("#signout-retry-status") === "Still not signed out.", "a failed try says so");
  // The server takes it: signed out, and at the sign-in form.
  await med.unroute(SESSION);
  await med.click("#signout-retry");
  await med.locator("#email").waitFor({ timeout: 60000 });
  check(await status(med) === 401, "pressed again once the server takes it, the mediator is signed out");

  // --- a records clerk, at the records screen ---
  const rec = await signIn("records", env("PARLEY_RECORDS_EMAIL"));
  await rec.locator("main h1", { hasText: "Records" }).waitFor({ timeout: 60000 });
  await refuseSignOut(rec);
  await rec.click("#signout");
  await notSignedOutPage(rec, "a records clerk's sign-out the server could not take", "main h1:text-is('Records')",
    "the server could not sign you out just now. Wait a moment and press Sign out again.");
  await shoot(rec, "staff-signout-refused");
  // Going back instead: still signed in, the records screen again.
  await rec.click("#signout-back");
  await rec.locator("main h1", { hasText: "Records" }).waitFor({ timeout: 60000 });
  check(await rec.locator("#signout").isVisible(), "going back, the records clerk is at the records screen with Sign out in its place");
  // Having chosen to stay signed in, the connection dropping and coming
  // back does not sign them out behind their back (the page's tries by
  // itself ended with it).
  let deletes = 0;
  rec.on("request", (r) => { if (r.method() === "DELETE" && r.url().endsWith("/api/v1/session")) deletes++; });
  await rec.context().setOffline(true);
  await rec.waitForFunction(() => !navigator.onLine);
  const onlineSeen = rec.evaluate(() => new Promise((res) => addEventListener("online", () => setTimeout(res, 0), { once: true })));
  await rec.context().setOffline(false);
  await onlineSeen;
  check(deletes === 0 && await status(rec) === 200 && await rec.locator("#signout").isVisible(),
    `back online, the records clerk who chose to stay is still signed in (sign-outs tried: ${deletes})`);
  await rec.unroute(SESSION);
  await rec.click("#signout");
  await rec.locator("#email").waitFor({ timeout: 60000 });
  check(await status(rec) === 401, "the records clerk's next sign-out, which the server takes, signs them out");
});
