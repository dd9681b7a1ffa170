// Adding a device when the server refuses a step, in real Chromium. Run by
// web/pair_refused_browser_test.go TestBrowserPairRefused, which makes a
// mediator, a case and an invitation for a party, and answers "ask
// session" (a session for the party's second browser, as a link back in
// makes), "ask linked" (the party has two devices, the second endorsed,
// none revoked) and "ask fill" (it opens as many pairings for the party
// as may be open at once, as five presses of "Add a device" on pages
// since closed would). Each refusal is said in plain words, and the
// button that was pressed can be pressed again (not left disabled).
import { passGate } from "./gate.mjs";
import { ask, base, browser, check, env, fitsWidth, newPage, run, shots, watch } from "./harness.mjs";

const raw = /\b(HTTP|503|ERR_|fetch|storage|unavailable|urn:|problem|conflict)\b|[a-z]{1,3}_[a-z2-7]{6,}/i;
const unavailable = (r) => r.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "1" },
  body: JSON.stringify({ type: "urn:parley:problem:unavailable", title: "Storage is unavailable; try again shortly", status: 503 }) });
/** The words in sel on page, checked for raw errors. */
async function plain(page, sel, what) {
  const t = (await page.innerText(sel)).trim();
  check(!raw.test(t), `${what}: no raw error or id in: ${t}`);
  return t;
}

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.locator("#devices").screenshot({ path: `${shots}/${name}.png` });
  await page.setViewportSize({ width: 390, height: 844 });
  await fitsWidth(page, name);
  await page.locator("#devices").screenshot({ path: `${shots}/${name}-phone.png` });
  await page.setViewportSize(size);
}

await run(async () => {
  const alex = await newPage("alex", { width: 1280, height: 900 });
  await alex.goto(env("PARLEY_INVITE"));
  await passGate(alex);
  await alex.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const start = alex.locator("#pair-start");
  await start.waitFor({ timeout: 60000 });

  // A second browser of the party's: new to the account.
  const token = await ask("session");
  const ctx2 = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-GB" });
  await ctx2.addCookies([{ name: env("PARLEY_SESSION_COOKIE"), value: token, url: base, httpOnly: true, sameSite: "Strict" }]);
  const phone = watch(await ctx2.newPage(), "phone");
  await phone.goto(base + "/app");
  await phone.locator("#new-device").waitFor({ timeout: 60000 });
  const link = phone.locator("#pair-form button[type=submit]");

  // 1. The new browser enters a wrong code: the server refuses it.
  await phone.fill("#pair-code-input", "WXYZ-2345");
  await link.click();
  await phone.locator("#pair-out .error").waitFor();
  let said = await plain(phone, "#pair-out", "a wrong code");
  check(said === "This browser was not linked: that code is wrong, already used or expired: start again on your other device.", "a wrong code is refused in plain words: " + said);
  check(await link.isEnabled(), "and Link this browser can be pressed again");

  // 2. "Add a device" refused (the server cannot take it just now).
  await alex.route("**/api/v1/keys/pairings", (r) => (r.request().method() === "POST" ? unavailable(r) : r.continue()));
  await start.click();
  await alex.locator("#pair-out .error").waitFor();
  said = await plain(alex, "#pair-out", "Add a device refused");
  check(said.startsWith("Nothing was added: ") && /wait a minute/.test(said), "a refused Add a device says nothing was added, in plain words: " + said);
  check(await start.isEnabled(), "and Add a device can be pressed again");
  await alex.unroute("**/api/v1/keys/pairings");
  await start.click();
  const code = (await alex.locator("#pair-code").innerText()).trim();
  check(/^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/.test(code), "pressed again, it shows a code: " + code);
  check(await start.isDisabled(), "while it waits for the new device, Add a device is not pressed twice");

  // 3. The new browser links with it; "add the device" is refused once.
  await phone.fill("#pair-code-input", code);
  await link.click();
  await alex.locator("#pair-confirm").waitFor({ timeout: 60000 });
  const isComplete = (url) => /\/api\/v1\/keys\/pairings\/[^/]+\/complete$/.test(url.pathname);
  await alex.route(isComplete, unavailable);
  await alex.click("#pair-confirm");
  await alex.locator("#pair-out [role=status]", { hasText: "Not added yet" }).waitFor({ timeout: 60000 });
  said = await plain(alex, "#pair-out [role=status]", "adding refused");
  check(/^Not added yet: .*press the button again/.test(said) && !/reload/i.test(said),
    "a refused “add the device” says it is not added yet and to press the button again — not to reload, which would lose the pairing: " + said);
  check(await alex.locator("#pair-confirm").isEnabled(), "and the button can be pressed again");
  await shoot(alex, "pair-refused");
  await alex.unroute(isComplete);
  await alex.click("#pair-confirm");
  await alex.locator("#pair-out", { hasText: "Added." }).waitFor({ timeout: 60000 });
  await ask("linked");
  check(true, "pressed again, the device is added, and the server has it endorsed");
  check(await start.isEnabled(), "once added, Add a device can be pressed again (for a third device)");
  await phone.locator("#pair-start").waitFor({ timeout: 60000 }); // the new browser reloaded, linked

  // 4. Too many pairings open at once: the server refuses, in words for people.
  await ask("fill");
  await start.click();
  await alex.locator("#pair-out .error").waitFor();
  said = await plain(alex, "#pair-out", "too many pairings");
  check(said === "Nothing was added: too many new devices are waiting to be added. Wait 10 minutes, then press “Add a device” again.",
    "too many open pairings is said so, with what to do and when: " + said);
  check(await start.isEnabled(), "and Add a device can be pressed again");
  await shoot(alex, "pair-too-many");
});
