// What the carry scripts share (carry-doubt.mjs, carry-record.mjs): room
// helpers, the two messages party A writes in its caucus, and the start
// both make — the mediator signed in on the case, party A in through its
// invitation, both messages sent.
import { passGate } from "./gate.mjs";
import { base, env, newPage } from "./harness.mjs";

export const LONG = 60000;
export const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
export const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };
export const logOf = (page) => page.locator("#room ol.log");
export async function sendText(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await logOf(page).locator("li", { hasText: text }).first().waitFor({ timeout: LONG });
}

export const ASK = "I could accept 1,200 if the deposit comes back by March.";
export const KEEP = "Our lowest is 900, but do not say so.";

/** startCarryCase signs the mediator in on the case, brings party A in by its invitation, and has A write ASK and KEEP in its caucus. */
export async function startCarryCase() {
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
  await sendText(a, "caucus:A", ASK);
  await sendText(a, "caucus:A", KEEP);
  return { med, a };
}
