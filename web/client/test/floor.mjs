// Room controls in real Chromium: a timed caucus, a notice to every room,
// a raised hand, a speaking turn. Run by web/floor_browser_test.go, which
// starts a node, makes a mediator, a case (Tenant, Landlord) and an
// invitation for a party on each side, and answers "ask timer-soon ROOM"
// (a timer that ends in 3 s) and "ask hands" (how many hands the server
// holds).
import { passGate } from "./gate.mjs";
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 390, `${name}: nothing is wider than the phone (${wide} px)`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: false });
  await page.setViewportSize(size);
}
const openRoom = async (page, r) => {
  await page.locator(`#rooms button[data-room="${r}"]`).click();
  await page.locator(`#floor-bar[data-room="${r}"]`).waitFor({ state: "attached" });
};
const logOf = (page) => page.locator("#room ol.log");
async function sendText(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  return waitText(page, text);
}
async function waitText(page, text) {
  const li = logOf(page).locator("li", { hasText: text }).first();
  await li.waitFor({ timeout: 60000 });
  return li;
}
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
async function party(name, invite, jointWho) {
  const p = await newPage(name, { width: 1280, height: 900 });
  await p.goto(invite);
  await passGate(p);
  // Who reads the joint room, on the welcome: a side nobody has joined for yet is said to read it once they join.
  const who = (await p.locator("#welcome .welcome-who").first().innerText()).trim();
  check(jointWho(who), `${name}'s welcome says who reads the joint room: ${who}`);
  await p.locator("#welcome-dismiss").click();
  await connected(p);
  return p;
}
const text = (page, sel) => page.locator(sel).innerText();

const NOTICE = "We meet again in the joint room at 11:00.";

await run(async () => {
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await connected(med);
  await med.locator("#floor-panel h2").waitFor();
  const a = await party("party A (Tenant)", env("PARLEY_INVITE_A"),
    (w) => w === "Visible to: everyone in this mediation: you, the mediator Morgan Reyes (and the Landlord side, once they join).");
  const b = await party("party B (Landlord)", env("PARLEY_INVITE_B"),
    (w) => w.includes("Ada Okafor (Tenant)") && !w.includes("once they join"));
  check(await a.locator("#floor-panel").count() === 0, "a party has no mediator controls");

  // --- a timed caucus ---
  await openRoom(med, "caucus:A");
  await med.selectOption("#timer-minutes", "15");
  await med.click("#set-timer");
  await openRoom(a, "caucus:A");
  await a.locator("#floor-timer", { hasText: /Caucus ends in 1[45] min/ }).waitFor();
  check(true, "party A's caucus shows its countdown, live: " + await text(a, "#floor-timer"));
  await openRoom(b, "caucus:B");
  check(await b.locator("#floor-timer").isHidden(), "party B's caucus has no timer, and B sees nothing of A's");
  await openRoom(b, "joint");
  check(await b.locator("#floor-timer").isHidden(), "nor in the joint room");
  check((await text(med, "#floor-timer")).includes("everyone in this room sees this countdown"), "the mediator's view says who sees the countdown");
  await axeCheck(a, "party, a timed caucus");
  await shoot(a, "floor-party-timer");
  await openRoom(b, "caucus:B");
  await ask("timer-soon", "caucus:B");
  check(await b.locator("#floor-timeup[role=status]").count() === 1, "party B's room has a polite status region for the time running out before it does");
  await b.locator("#floor-timeup[role=status]", { hasText: "Time is up — the mediator will be with you" }).waitFor({ timeout: 15000 });
  check(true, "at zero party B reads “Time is up — the mediator will be with you”, in a status region screen readers announce");
  check(await b.locator("#floor-timer").isHidden(), "and the countdown (a timer, not announced) is gone");

  // --- a raised hand (while the mediator is typing a notice) ---
  await med.fill("#notice-text", NOTICE);
  await a.click("#raise-hand");
  await a.locator("#hand-state", { hasText: "You asked for the mediator just now" }).waitFor();
  check((await text(a, "#hand-state")).includes("Only the mediators see that you asked"), "party A is told who sees their raised hand");
  const hand = med.locator("#hands li", { hasText: "Ada Okafor" });
  await hand.waitFor();
  const words = await hand.innerText();
  check(words.includes("waits in the Tenant caucus for less than a minute"), "the mediator sees, live, who waits where and for how long: " + words.replace(/\s+/g, " "));
  check(await med.inputValue("#notice-text") === NOTICE, "the notice the mediator was typing survives the live update");
  check(await ask("hands") === "1", "the server holds the hand");
  await med.locator('#rooms button[data-room="caucus:A"] .hand-badge', { hasText: "1 asking for you" }).waitFor();
  check(true, "the mediator's room list says where someone is asking (on a phone, before the panel)");
  check(await b.locator("#hands").count() === 0 && !(await b.content()).includes("waits in"), "party B sees nothing of A's raised hand");
  await axeCheck(med, "mediator, a raised hand");
  await shoot(med, "floor-mediator");

  // --- a notice to every room ---
  const targets = await text(med, "#notice-targets");
  check(targets === "This goes to: Joint room, Tenant caucus, Landlord caucus.", "before sending, the mediator reads where it goes: " + targets);
  await med.click("#send-notice");
  await med.locator("#floor-result", { hasText: "Notice sent to 3 rooms" }).waitFor({ timeout: 60000 });
  for (const [who, page, rooms] of [["party A", a, ["joint", "caucus:A"]], ["party B", b, ["joint", "caucus:B"]]]) {
    for (const r of rooms) {
      await openRoom(page, r);
      const li = logOf(page).locator("li.notice", { hasText: NOTICE });
      await li.waitFor({ timeout: 60000 });
      check((await li.innerText()).includes("Notice from the mediator Morgan Reyes (shown in every room)"), `${who} reads the notice in ${r}, shown as a notice`);
    }
  }
  await shoot(b, "floor-notice");

  // --- a speaking turn in the joint room ---
  await openRoom(med, "joint");
  await med.selectOption("#floor-side", "B");
  await med.selectOption("#floor-minutes", "5");
  await med.click("#give-floor");
  await openRoom(a, "joint");
  await a.locator("#turn-note", { hasText: "It is the Landlord side's turn to speak" }).waitFor();
  check((await text(a, "#floor-turn")).startsWith("The Landlord side is speaking now"), "party A sees whose turn it is and the time left: " + await text(a, "#floor-turn"));
  await openRoom(b, "joint");
  await b.locator("#floor-turn", { hasText: "Your side is speaking now" }).waitFor();
  check(await b.locator("#turn-note", { hasText: "Your side is speaking now" }).count() === 1, "party B's composer says it is their turn");
  const own = await sendText(b, "joint", "The deposit covered two months.");
  const early = await sendText(a, "joint", "That is not what the lease says!");
  await early.locator(".out-of-turn").waitFor();
  check((await early.innerText()).includes("Out of turn: the Landlord side had the floor"), "party A's message is sent, and marked out of turn on their own page");
  check(await own.locator(".out-of-turn").count() === 0, "party B's message in their turn is not marked");
  const onB = await waitText(b, "That is not what the lease says!");
  await onB.locator(".out-of-turn").waitFor();
  const onMed = await waitText(med, "That is not what the lease says!");
  await onMed.locator(".out-of-turn").waitFor();
  check(true, "the other side and the mediator see it marked out of turn too");
  await axeCheck(a, "party, another side's turn");
  await shoot(a, "floor-turn");
  await med.click("#take-floor");
  await a.locator("#turn-note").waitFor({ state: "hidden" });
  check(await a.locator("#floor-turn").isHidden(), "when the mediator takes the floor back, the turn is gone from party A's page");
  await a.locator("#floor-news[role=status]", { hasText: "The turn has ended: nobody is speaking now." }).waitFor();
  check(true, "and a status region tells screen readers, once, that the turn ended (the countdown itself is a timer, not read out)");
  check(await early.locator(".out-of-turn").count() === 1, "the message sent out of turn stays marked");

  // --- the mediator answers in the caucus: the hand comes down ---
  await sendText(med, "caucus:A", "I am with you now, Ada.");
  await med.locator("#hands-empty").waitFor();
  check(await med.locator("#rooms .hand-badge").count() === 0, "the room list no longer says anyone is asking");
  await openRoom(a, "caucus:A");
  await a.locator("#raise-hand").waitFor();
  check(await ask("hands") === "0", "writing in the caucus lowered the hand, on the server too");
  // --- this browser's saved keys damaged: the page says so, and what to do, not the check's own words ---
  await b.evaluate(() => new Promise((done, fail) => {
    const req = indexedDB.open("parley", 1);
    req.onerror = () => fail(req.error);
    req.onsuccess = () => {
      const db = req.result, tx = db.transaction("devices", "readwrite");
      const cur = tx.objectStore("devices").openCursor();
      cur.onsuccess = () => { const c = cur.result; if (c) { c.update({ ...c.value, kem: 99 }); c.continue(); } };
      tx.oncomplete = () => { db.close(); done(); };
      tx.onerror = () => fail(tx.error);
    };
  }));
  await b.reload();
  const damaged = b.locator("main", { hasText: "saved keys are damaged" });
  await damaged.waitFor({ timeout: 30000 });
  const damagedWords = (await b.locator("#status").innerText()).trim();
  check(damagedWords === "This browser's saved keys are damaged, so it cannot open your mediation. Use “Sign out and forget this browser”, then ask your mediator for a link back in.",
    "a browser whose saved keys are damaged says so in plain words, and what to do: " + damagedWords);
  check(await b.locator("#forget-open").isVisible(), "and “Sign out and forget this browser” is on the page");
  log("floor: done");
});
