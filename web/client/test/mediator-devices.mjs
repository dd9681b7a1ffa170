// A mediator's second device in real Chromium. Run by
// web/mediator_devices_browser_test.go: a mediator with two cases says
// something in each case's joint room from their desk browser, then links
// a phone from case 1. The phone reads the earlier message of case 2 too
// (the pairing hands over the keys of every case of the account, not only
// the one open: review 397 M2). The phone's new-device box speaks to a
// mediator (nobody admits a mediator's browser), and "They differ: cancel"
// tells a mediator to tell the program's administration, and ends the
// pairing on the server, so the browser that entered the code stops waiting.
import { base, check, env, log, newPage, run, shots } from "./harness.mjs";

const pw = env("PARLEY_PASSWORD"), email = env("PARLEY_MEDIATOR_EMAIL");
const joint = (page) => page.locator("#rooms button", { hasText: "Joint room" }).first();

async function open(page, id, signin) {
  await page.goto("about:blank");
  await page.goto(base + "/app#case=" + id);
  if (signin) {
    await page.fill("#email", email);
    await page.fill("#password", pw);
    await page.click("button[type=submit]");
  }
}
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });

async function say(page, text) {
  await joint(page).click();
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: 60000 });
}

/** Starts a pairing on desk and enters its code on page; both show the safety number. */
async function pair(desk, page) {
  await desk.click("#pair-start");
  const code = (await desk.locator("#pair-code").innerText()).trim();
  await page.fill("#pair-code-input", code);
  await page.click("#pair-form button[type=submit]");
  await desk.locator("#pair-number").waitFor({ timeout: 60000 });
  await page.locator("#pair-number").waitFor({ timeout: 60000 });
  check(await desk.locator("#pair-number").innerText() === await page.locator("#pair-number").innerText(), "both browsers show the same safety number");
}

await run(async () => {
  const desk = await newPage("desk");
  await open(desk, env("PARLEY_CASE1"), true);
  await connected(desk);
  await say(desk, "case one earlier message");
  await open(desk, env("PARLEY_CASE2"), false);
  await connected(desk);
  await say(desk, "case two earlier message");

  // The mediator's phone: new to the account, opened on case 1.
  const phone = await newPage("phone", { width: 390, height: 844 });
  await open(phone, env("PARLEY_CASE1"), true);
  await phone.locator("#pair-code-input").waitFor({ timeout: 60000 });
  const words = (await phone.innerText("#new-device")).replace(/\s+/g, " ");
  const admitOnNew = await phone.locator("#admit").count();
  await phone.locator("#new-device").scrollIntoViewIfNeeded();
  await phone.screenshot({ path: shots + "/mediator-devices-new-phone.png" });

  await open(desk, env("PARLEY_CASE1"), false);
  await connected(desk);
  await pair(desk, phone);
  await desk.click("#pair-confirm");
  const added = desk.locator("#pair-out [role=status]", { hasText: "Added." });
  await added.waitFor({ timeout: 120000 });
  const addedText = await added.innerText();
  await desk.locator("#devices").screenshot({ path: shots + "/mediator-devices-added.png" });
  check(addedText.includes("the earlier messages of your 2 mediations"), "the desk says the new device reads the earlier messages of both mediations: " + addedText);

  // The phone reloads by itself, counts now, and reads case 1's earlier message.
  await phone.locator("#pair-start").waitFor({ timeout: 60000 });
  await joint(phone).click();
  await phone.locator("#room ol.log li", { hasText: "case one earlier message" }).waitFor({ timeout: 60000 });
  check(true, "the linked phone reads case 1's earlier message");

  // Case 2, which was not open when the phone was linked: its earlier message too.
  await open(phone, env("PARLEY_CASE2"), false);
  await connected(phone);
  await joint(phone).click();
  const earlier = phone.locator("#room ol.log li", { hasText: "case two earlier message" });
  await earlier.or(phone.locator("#room ol.log li.unreadable")).first().waitFor({ timeout: 60000 });
  await phone.locator("#room ol.log li.unreadable").waitFor({ state: "detached", timeout: 10000 }).catch(() => {});
  check(await earlier.count() === 1 && await phone.locator("#room ol.log li.unreadable").count() === 0,
    "the phone linked from case 1 reads case 2's earlier message, with no “can't be shown” line: " + (await phone.innerText("#room ol.log")).replace(/\s+/g, " ").slice(0, 200));

  // The new-device box the phone showed before it was linked: a mediator's words.
  check(!/your mediator|admit/i.test(words) && words.includes("tell the program's administration") && words.includes("all your mediations"),
    "a mediator's new browser is not told to ask their mediator to admit it, and reads that it gets all their mediations: " + words);

  check(admitOnNew === 0, "a mediator's browser that is not linked yet offers to admit nobody's devices (its admission would count for no one)");

  // A third browser enters a code and the mediator cancels: the words say someone else may have entered it.
  const tablet = await newPage("tablet", { width: 820, height: 1180 });
  await open(tablet, env("PARLEY_CASE1"), true);
  await tablet.locator("#pair-code-input").waitFor({ timeout: 60000 });
  await pair(desk, tablet);
  await desk.locator("#pair-out button", { hasText: "They differ: cancel" }).click();
  const cancelled = await desk.locator("#pair-cancelled").innerText();
  await desk.locator("#devices").screenshot({ path: shots + "/mediator-devices-cancelled.png" });
  check(cancelled.startsWith("Cancelled: nothing was added.") && cancelled.includes("someone else may have entered your code") &&
    cancelled.includes("tell the program's administration") && !cancelled.includes("your mediator") && cancelled.includes("The other device is told it was cancelled."),
    "a mediator who cancels is told someone else may have entered the code, and to tell the program's administration: " + cancelled);
  // The pairing ended on the server too: the tablet stops waiting and says so.
  const stopped = tablet.locator("#pair-out .error");
  await stopped.waitFor({ timeout: 30000 });
  const stoppedWords = await stopped.innerText();
  check(stoppedWords === "This browser was not linked: the pairing was cancelled: on your other device, press “Add a device” again for a new code, and enter it here.",
    "the browser that entered the code stops waiting once the mediator cancels: " + stoppedWords);
  check(await tablet.locator("#pair-form button[type=submit]").isEnabled(), "and it can take a new code");
  log("done");
});
