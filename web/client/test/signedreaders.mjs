// A party's "Visible to" names everyone the verified membership gives a
// room's keys to, whatever the case record says. Run by
// web/signedreaders_browser_test.go, which starts a node, makes a
// mediator, a case and an invitation for party A, and answers "ask
// unsealed" (the server marks the mediator recused in the case record and
// never seals the rooms, so no mediator signs the removal: the signed
// statement still gives the mediator the keys).
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";

const LONG = 60000;
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
const openRoom = async (page, r) => {
  await page.locator(`#rooms button[data-room="${r}"]`).click();
  await page.locator(`#floor-bar[data-room="${r}"]`).waitFor({ state: "attached" });
};
const banner = (page) => page.innerText("#room > .banner");

await run(async () => {
  const med = await newPage("mediator");
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await connected(med);

  const a = await newPage("party A");
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome-dismiss").click();
  await connected(a);
  await openRoom(a, "caucus:A");
  await a.fill("#draft", "Only for Morgan.");
  await a.click("#room form button[type=submit]");
  await a.locator("#room ol.log li", { hasText: "Only for Morgan." }).first().waitFor({ timeout: LONG });
  const before = await banner(a);
  check(before.includes("you") && before.includes("the mediator Morgan Reyes"), "A's caucus names A and the mediator: " + before);
  await med.close();

  // The server writes Morgan as recused into the case record and seals nothing.
  await ask("unsealed");
  await a.reload();
  await connected(a);
  await openRoom(a, "caucus:A");
  const after = await banner(a);
  check(after.includes("the mediator Morgan Reyes"),
    "the record says Morgan left, but the signed membership still gives Morgan the caucus's keys: the banner still names Morgan: " + after);
  await openRoom(a, "joint");
  check((await banner(a)).includes("the mediator Morgan Reyes"), "so does the joint room's: " + await banner(a));
  check(await a.locator("#safety button", { hasText: "Safety number with Morgan Reyes" }).count() === 1,
    "and A can still compare a safety number with Morgan");
  const phone = await a.context().newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await connected(phone);
  await openRoom(phone, "caucus:A");
  check((await banner(phone)).includes("the mediator Morgan Reyes"), "at phone width too: " + await banner(phone));
  await phone.screenshot({ path: `${shots}/signed-readers-phone.png`, fullPage: false });
  await phone.close();
  log("signed readers done");
}, async () => {
  log("(failed)");
});
