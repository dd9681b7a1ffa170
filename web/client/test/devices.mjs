// Devices in real Chromium. Run by web/devices_browser_test.go: the
// mediator (Go client) said three things in side A's caucus before A's
// lawyer joined; the lawyer's browser shows one line that counts and
// explains them, and the room's unread badge counts only what the lawyer
// can read. axe-core runs on each screen.
import { axeCheck } from "./axe.mjs";
import { passGate } from "./gate.mjs";
import { ask, base, browser, check, env, log, newPage, run, shots, watch } from "./harness.mjs";

const room = (page, r) => page.locator(`#rooms button[data-room="${r}"]`);

await run(async () => {
  const lawyer = await newPage("lawyer", { width: 1280, height: 900 });
  await lawyer.goto(env("PARLEY_INVITE_COUNSEL"));
  await passGate(lawyer);
  await room(lawyer, "caucus:A").waitFor();
  await lawyer.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await room(lawyer, "joint").click();
  await lawyer.locator("#room-title").waitFor();

  await ask("welcome");
  // The welcome is the only new message the lawyer can read in the caucus.
  const badge = room(lawyer, "caucus:A").locator(".unread");
  await badge.waitFor({ timeout: 60000 });
  await lawyer.locator('#rooms button[data-room="caucus:A"] .unread', { hasText: /^1$/ }).waitFor({ timeout: 60000 });
  check((await badge.innerText()) === "1", "the caucus's unread badge counts only the readable message, not the three sent before");
  const label = await lawyer.locator('#rooms button[data-room="caucus:A"]').evaluate((b) => {
    // The button's text as a screen reader takes it: what is hidden from it left out.
    const walk = (n) => n.nodeType === 3 ? n.textContent : n.getAttribute?.("aria-hidden") === "true" ? "" : [...n.childNodes].map(walk).join("");
    return walk(b).replace(/\s+/g, " ").trim();
  });
  check(/, 1 new message$/.test(label) && !/here \d|\d$/.test(label.replace(/1 new message$/, "")), "a screen reader hears the badge as “1 new message”, not a bare number: " + label);

  await room(lawyer, "caucus:A").click();
  const log_ = lawyer.locator("#room ol.log");
  await log_.locator("li", { hasText: "Welcome, Jordan" }).waitFor({ timeout: 60000 });
  const collapsed = log_.locator("li.unreadable");
  check(await collapsed.count() === 1, "the three unreadable messages are one line");
  const text = await collapsed.innerText();
  check(text.includes("3 earlier messages can't be shown here") && text.includes("before this browser had keys") && text.includes("Everything sent from now on reaches this browser"),
    "the line counts them and says why, in plain words: " + text);
  check(!/no key|chain|dv_|e2ee/i.test(text), "the line carries no internal terms");
  await axeCheck(lawyer, "a room with messages this browser cannot read");
  check(!text.includes("add this browser from it") && text.includes("If another device of yours was in this room then, they can be read there."),
    "the lawyer's browser counts already, so the line does not say to add it from another device (it cannot be added again): " + text);
  await lawyer.locator("#room").screenshot({ path: shots + "/devices-unreadable.png" });
  await lawyer.setViewportSize({ width: 390, height: 844 });
  await collapsed.scrollIntoViewIfNeeded();
  await lawyer.screenshot({ path: shots + "/devices-unreadable-phone.png" });

  // --- Alex adds a second browser from the first ---
  const alex = await newPage("alex", { width: 1280, height: 900 });
  await alex.goto(env("PARLEY_INVITE_A"));
  await passGate(alex);
  await room(alex, "caucus:A").waitFor();
  await alex.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await room(alex, "caucus:A").click();
  await ask("reply"); // the mediator's client also signs the membership that has Alex in
  await alex.locator("#room ol.log li", { hasText: "Mediator to Alex" }).first().waitFor({ timeout: 60000 });
  await alex.fill("#draft", "Alex: we could accept 4,000 if the deposit comes back");
  await alex.click("#room form button[type=submit]");
  await alex.locator("#room ol.log li", { hasText: "we could accept 4,000" }).first().waitFor({ timeout: 60000 });
  check(true, "Alex and the mediator talk in the tenant's caucus");

  const token = await ask("session");
  const ctx2 = await browser.newContext({ viewport: { width: 390, height: 844 }, locale: "en-GB" });
  await ctx2.addCookies([{ name: env("PARLEY_SESSION_COOKIE"), value: token, url: base, httpOnly: true, sameSite: "Strict" }]);
  const phone = watch(await ctx2.newPage(), "phone");
  await phone.goto(base + "/app");
  await phone.locator("#new-device").waitFor({ timeout: 60000 });
  check((await phone.innerText("#new-device")).includes("A browser your mediator lets in can't say yes when your mediator asks to show your words or your documents to the other side"),
    "the new browser's box says one a mediator lets in cannot consent to showing the party's words or documents to the other side");
  await room(phone, "caucus:A").click();
  await phone.locator("#room ol.log li.unreadable").waitFor();
  const before = await phone.locator("#room ol.log li.unreadable").innerText();
  check(await phone.locator("#room ol.log li.unreadable").count() === 1 && /\d+ earlier messages can't be shown here/.test(before) &&
    await phone.locator("#room ol.log li", { hasText: "Mediator to Alex" }).count() === 0, "the new browser cannot read the caucus yet, and says so in one line: " + before.slice(0, 60));
  await phone.locator("#new-device").scrollIntoViewIfNeeded();
  await axeCheck(phone, "a new browser, on a phone");
  await phone.screenshot({ path: shots + "/devices-new-browser-phone.png" });

  await alex.click("#pair-start");
  const code = (await alex.locator("#pair-code").innerText()).trim();
  check(/^[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}$/.test(code), "the old browser shows a short code: " + code);
  await axeCheck(alex, "adding a device: the code");
  await alex.locator("#devices").screenshot({ path: shots + "/devices-add-code.png" });
  await phone.fill("#pair-code-input", code.toLowerCase());
  await phone.click("#pair-form button[type=submit]");
  await phone.locator("#pair-number").waitFor({ timeout: 60000 });
  await alex.locator("#pair-number").waitFor({ timeout: 60000 });
  const n1 = await alex.locator("#pair-number").innerText(), n2 = await phone.locator("#pair-number").innerText();
  check(n1 === n2 && n1.replace(/\D/g, "").length === 60, "both browsers show the same safety number: " + n1);
  await axeCheck(alex, "adding a device: comparing the number");
  await axeCheck(phone, "the new device: comparing the number, on a phone");
  await alex.locator("#devices").screenshot({ path: shots + "/devices-compare.png" });
  await phone.locator("#pair-number").scrollIntoViewIfNeeded();
  await phone.screenshot({ path: shots + "/devices-compare-phone.png" });
  await alex.click("#pair-confirm");
  await alex.locator("#pair-out", { hasText: "Added." }).waitFor({ timeout: 60000 });
  check(true, "the old browser added the new one");

  // The phone reloads by itself and reads the earlier caucus messages.
  await phone.locator("#devices-title").waitFor({ timeout: 60000 });
  await phone.locator("#pair-start").waitFor({ timeout: 60000 });
  await room(phone, "caucus:A").click();
  await phone.locator("#room ol.log li", { hasText: "we could accept 4,000" }).waitFor({ timeout: 60000 });
  await phone.locator("#room ol.log li", { hasText: "Mediator to Alex" }).waitFor({ timeout: 60000 });
  // What stays unreadable is only what was said before Alex joined: the
  // first browser cannot read it either.
  const strong = async (p) => (await p.locator("#room ol.log li.unreadable strong").allInnerTexts()).join("|");
  const onPhone = await strong(phone), onDesk = await strong(alex);
  check(onPhone === onDesk && onPhone === "4 earlier messages can't be shown here",
    `the linked browser reads the earlier caucus messages the first one reads (unreadable on both: ${onDesk})`);
  await phone.screenshot({ path: shots + "/devices-linked-phone.png" });
  await axeCheck(phone, "the linked device, on a phone");

  // The phone (now a device that counts) starts adding another one: a party has no password, so the words say how
  // they open the mediation there. The code then expires before anyone enters it (the pairing's answer is held
  // until the words are read, then answered as spent): the phone says what to do on this device.
  let release;
  const held = new Promise((r) => { release = r; });
  await phone.route(/\/api\/v1\/keys\/pairings\/[^/]+$/, async (r) => {
    if (r.request().method() !== "GET") return r.continue();
    await held;
    return r.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ id: "x", state: "spent" }) });
  });
  await phone.click("#pair-start");
  await phone.locator("#pair-code").waitFor({ timeout: 60000 });
  const how = await phone.locator("#pair-out p").first().innerText();
  check(how.includes("with a link back in from your mediator, or with “Email me a link to sign in”") && !how.includes("sign in, or") && !how.includes("re-entry"),
    "a party adding a device reads how to open the mediation there without a password: " + how);
  release();
  const ended = phone.locator("#pair-out .error");
  await ended.waitFor({ timeout: 60000 });
  const endedWords = await ended.innerText();
  check(endedWords === "Nothing was added: the code has expired or was used: press “Add a device” again here for a new code.",
    "a code that expired says, on the device that showed it, to press “Add a device” again there: " + endedWords);
  await axeCheck(phone, "a code that expired, on a phone");
  await phone.unrouteAll();
});
