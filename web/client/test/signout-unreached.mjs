// A sign-out that never reaches the server, in real Chromium. Run by
// web/forget_browser_test.go TestBrowserSignOutUnreached, which makes a
// mediator, a case and an invitation for a party, and answers "ask link"
// (a link back in for the party). The page's DELETE /api/v1/session is
// made to fail as a dropped connection does; the party must be told they
// are NOT signed out, stay on the page (the case no longer on it), and be
// signed out by pressing Sign out again once the connection is back — or,
// after "forget this browser", by the page itself when the browser says
// it is back online.
import { axeCheck } from "./axe.mjs";
import { passGate } from "./gate.mjs";
import { check, ask, env, fitsWidth, newPage, run, shots } from "./harness.mjs";

const SESSION = "**/api/v1/session";
/** Makes every sign-out of page fail as a dropped connection does; other requests go through. */
const dropSignOut = (page) => page.route(SESSION, (r) => (r.request().method() === "DELETE" ? r.abort("internetdisconnected") : r.continue()));
const status = (page) => page.evaluate(async () => (await fetch("/api/v1/me")).status);

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await fitsWidth(page, name);
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}

/** What the not-signed-out page says, and whether the case is still on screen. */
async function notSignedOutPage(page, what) {
  await page.locator("#not-signed-out-title", { hasText: "You are not signed out yet" }).waitFor({ timeout: 60000 });
  const words = await page.innerText("#not-signed-out");
  for (const w of ["You are not signed out yet: Parley could not reach the server.", "Check your connection and press Sign out again.",
    "Until then, anyone using this browser can open your mediation."]) {
    check(words.includes(w), `${what}: the page says: ${w}`);
  }
  check(!/\b(HTTP|ERR_|internetdisconnected|fetch)\b|[a-z]_[a-z2-7]{6,}/i.test(words), `${what}: and shows no raw error or id: ${words}`);
  check((await page.locator("#rooms, #room, #forget[open], #signout-confirm[open]").count()) === 0, `${what}: the case and the question are no longer on screen`);
  check((await page.locator("#case-title").innerText()).trim() === "", `${what}: nor is the case's title (it often names the parties)`);
  check(new URL(page.url()).hash.startsWith("#case="), `${what}: the page did not go to a signed-out page: ${page.url()}`);
  check((await page.locator("#signout-retry", { hasText: /^Sign out$/ }).count()) === 1, `${what}: a Sign out button is there to try again`);
  check(await status(page) === 200, `${what}: and indeed the session is still valid at this browser`);
  await axeCheck(page, what);
  return words;
}

await run(async () => {
  const party = await newPage("party", { width: 1280, height: 900 });
  await party.goto(env("PARLEY_INVITE"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });

  // A plain sign-out as the connection drops: not signed out, and said so.
  await dropSignOut(party);
  await party.click("#signout");
  await party.locator("#signout-confirm[open] button", { hasText: /^Sign out$/ }).click();
  await notSignedOutPage(party, "a plain sign-out that did not reach the server");
  check((await party.locator("#signout-back").count()) === 1, "a plain sign-out that failed also offers to go back to the mediation");
  await shoot(party, "signout-unreached");
  // Pressed again while still cut off: still not signed out.
  await party.click("#signout-retry");
  await party.locator("#signout-retry:not([disabled])").waitFor();
  await notSignedOutPage(party, "a second sign-out that did not reach the server");
  check(await party.innerText("#signout-retry-status") === "Still not signed out." &&
    await party.evaluate(() => document.activeElement?.id) === "signout-retry",
    "a failed try says so and puts the focus back on Sign out (it was disabled while it had it)");
  // The server answers, but cannot end the session (503): said so too.
  await party.unroute(SESSION);
  await party.route(SESSION, (r) => (r.request().method() === "DELETE"
    ? r.fulfill({ status: 503, contentType: "application/problem+json", body: JSON.stringify({ type: "urn:parley:problem:unavailable", title: "Storage is unavailable; try again shortly", status: 503 }) })
    : r.continue()));
  await party.click("#signout-retry");
  await party.locator("#not-signed-out-words", { hasText: "the server could not sign you out just now. Wait a moment and press Sign out again." }).waitFor();
  const said = await party.innerText("#not-signed-out-words");
  check(said.startsWith("You are not signed out yet:") && said.includes("anyone using this browser can open your mediation") && !/storage|unavailable|503/i.test(said),
    "a sign-out the server could not take is said in plain words, not the server's: " + said);
  // The connection is back: Sign out again signs out.
  await party.unroute(SESSION);
  await party.click("#signout-retry");
  await party.locator("#come-back-title", { hasText: "You are signed out" }).waitFor({ timeout: 60000 });
  check(await status(party) === 401, "pressed again with the connection back, the party is signed out");

  // Back in. A sign-out that fails; back online, the page's first try by
  // itself fails too and it says it will try again; the party chooses to
  // stay signed in while the page reloads slowly (the connection has just
  // come back): nothing signs them out after that, not the tries the page
  // had planned (the reload is held past the first of them).
  await party.goto(await ask("link"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await dropSignOut(party);
  await party.click("#signout");
  await party.locator("#signout-confirm[open] button", { hasText: /^Sign out$/ }).click();
  await party.locator("#not-signed-out-title").waitFor({ timeout: 60000 });
  await party.context().setOffline(true);
  await party.waitForFunction(() => !navigator.onLine);
  await party.context().setOffline(false);
  await party.locator("#signout-retry-status", { hasText: "Parley will try again in a few seconds" }).waitFor({ timeout: 60000 });
  let deletes = 0;
  const countDeletes = (r) => { if (r.method() === "DELETE" && r.url().endsWith("/api/v1/session")) deletes++; };
  let release;
  const released = new Promise((res) => { release = res; });
  const holdReload = async (r) => { if (r.request().isNavigationRequest()) await released; await r.continue(); };
  await party.route("**/app*", holdReload);
  party.on("request", countDeletes);
  // Pressed from the page (a click through Playwright would wait for the held reload).
  await party.evaluate(() => document.getElementById("signout-back").click());
  // The page's next try by itself was due 3 s after its first failed: a
  // sign-out sent within 6 s of pressing Stay is that try.
  await party.waitForRequest((r) => r.method() === "DELETE" && r.url().endsWith("/api/v1/session"), { timeout: 6000 }).catch(() => {});
  check(deletes === 0, `having chosen to stay, the party is not signed out by the tries the page had planned (sign-outs tried after: ${deletes})`);
  release();
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  party.off("request", countDeletes);
  await party.unroute("**/app*", holdReload);
  await party.unroute(SESSION);
  check(await status(party) === 200, "and back in the mediation, still signed in");

  // Forgetting this browser as the connection drops: the keys go (that
  // needs no server), and the party is told they are not signed out.
  await party.goto(await ask("link"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await dropSignOut(party);
  await party.click("#forget-open");
  await party.click("#forget-confirm");
  const words = await notSignedOutPage(party, "forgetting this browser without reaching the server");
  check(words.includes("keys and its copies of documents are already deleted") && words.includes("until you are signed out, someone using this browser can still see"),
    "it says the keys are gone but the session is not: " + words);
  check((await party.locator("#signout-back").count()) === 0, "after forgetting, it offers no way back into the case");
  const dbs = await party.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
  check(dbs.length === 0, "this browser's keys are deleted all the same: " + dbs.join(", "));
  await shoot(party, "forget-unreached");
  // Offline and back online: the page signs out by itself. The first try,
  // as the browser says it is back online, still does not get through
  // (as on a phone whose connection carries nothing for a moment): the
  // page says it will try again, and does.
  await party.context().setOffline(true);
  await party.waitForFunction(() => !navigator.onLine);
  await party.context().setOffline(false);
  await party.locator("#signout-retry-status", { hasText: "Parley will try again in a few seconds" }).waitFor({ timeout: 60000 });
  check(await status(party) === 200, "the first try by itself did not sign the party out (it did not get through)");
  await party.unroute(SESSION);
  await party.locator("#come-back-title", { hasText: "this browser has forgotten you" }).waitFor({ timeout: 60000 });
  check(await status(party) === 401, "back online, the page signed the party out by itself, trying again after a first try that failed");
});
