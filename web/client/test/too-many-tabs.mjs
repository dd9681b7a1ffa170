// Parley open in more tabs of one browser than the server lets one sign-in
// connect: the tab refused says so in plain words with a Reconnect button,
// and connects once another tab is closed and Reconnect is pressed.
// Run by web/too_many_tabs_browser_test.go: a node that lets one sign-in
// hold one case socket, a mediator and a case.
import { base, check, env, newPage, run, shots, signInMediator, watch } from "./harness.mjs";

const WORDS = "Parley is open in too many browser tabs on this device. Close the other Parley tabs, then press Reconnect.";

await run(async () => {
  const first = await newPage("med");
  await signInMediator(first);
  check(true, "the first tab is connected");

  // A second tab of the same browser (the same sign-in) opens the case:
  // its connection is past the limit.
  const second = watch(await first.context().newPage(), "med-tab2");
  await second.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await second.locator("#reconnect").waitFor({ timeout: 60000 });
  const words = await second.innerText("#notice");
  check(words.startsWith(WORDS) && !/\d/.test(words), "the second tab says in plain words, with no code or id, that Parley is open in too many tabs: " + words);
  check(await second.innerText("#conn") === "Not connected", "and that it is not connected");
  check(await second.innerText("#reconnect") === "Reconnect", "with a Reconnect button");
  await second.screenshot({ path: `${shots}/too-many-tabs.png`, fullPage: true });
  await second.setViewportSize({ width: 390, height: 844 });
  await second.locator("#notice").scrollIntoViewIfNeeded();
  await second.screenshot({ path: `${shots}/too-many-tabs-phone.png` });
  await second.setViewportSize({ width: 1280, height: 900 });

  // The first tab is closed; the server gives its place back once it has
  // seen the connection end, so Reconnect is pressed until the tab
  // connects (bounded), as a person would press it again.
  await first.close();
  let connected = false;
  for (let i = 0; i < 30 && !connected; i++) {
    await second.click("#reconnect");
    await second.waitForFunction(() => (document.getElementById("conn")?.textContent ?? "").startsWith("Connected") || document.getElementById("reconnect"), null, { timeout: 20000 });
    connected = (await second.innerText("#conn")).startsWith("Connected");
    if (!connected) await second.waitForTimeout(200);
  }
  check(connected, "after the other tab closed and Reconnect was pressed, the tab is connected");
  check(await second.locator("#reconnect").count() === 0 && !(await second.innerText("#notice")).includes("too many tabs"), "and the words and the button are gone");
});
