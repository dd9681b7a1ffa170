// A message encrypted for an epoch that a seal ended is not stored, and
// the browser encrypts it again for the new epoch without telling the
// party anything went wrong. Run by web/epochguard_browser_test.go, which
// starts a node, makes a mediator, a case and an invitation for party A,
// and answers "ask seal" (adds a co-mediator: the rooms start a new epoch)
// and "ask stored ROOM" (checks that every payload stored in ROOM names
// the epoch it is stored in; answers how many there are).
//
// Party A's page hears of the seal late: its WebSocket is routed through
// the script, which holds back the joint room's frames after the seal
// (and the mediator's page's signing of the new membership) until A's
// next pub has gone out, so A encrypts that pub for the ended
// epoch, as a party typing while someone joins would.
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run } from "./harness.mjs";

const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
const openRoom = async (page, r) => {
  await page.locator(`#rooms button[data-room="${r}"]`).click();
  await page.locator(`#floor-bar[data-room="${r}"]`).waitFor({ state: "attached" });
};
const waitText = (page, text) => page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: 60000 });
async function sendText(page, r, text) {
  await openRoom(page, r);
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await waitText(page, text);
}

await run(async () => {
  const med = await newPage("mediator");
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await connected(med);

  let hold = false; // hold back the joint room's seal and messages until A's next pub
  // The mediator's page signs the new membership only after A's pub has
  // gone out (its signing request waits while holding back): A's page can
  // learn of the new epoch neither from its socket nor from a statement,
  // as with a server slow to show the seal. (A page that already holds
  // the new statement encrypts for its epoch at once.)
  await med.route(/\/e2ee\/statements/, async (route) => {
    if (route.request().method() === "POST") {
      for (let i = 0; hold && i < 600; i++) await new Promise((r) => setTimeout(r, 100));
    }
    return route.continue();
  });

  const a = await newPage("party A");
  const held = [];
  const pubs = []; // A's pubs in the joint room: { id, epoch }
  const errors = []; // error frames A got
  await a.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "pub" && f.room === "joint") {
        pubs.push({ id: f.id, epoch: f.epoch });
        if (hold) {
          hold = false;
          setTimeout(() => { for (const h of held.splice(0)) ws.send(h); }, 0);
        }
      }
      server.send(m);
    });
    server.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "error") errors.push(f);
      if (hold && f.room === "joint" && (f.t === "seal" || f.t === "msgs")) { held.push(m); return; }
      ws.send(m);
    });
  });
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome-dismiss").click();
  await connected(a);

  await sendText(a, "joint", "Before anyone else joins.");
  const before = pubs.at(-1).epoch;
  check(before >= 1, `A's pubs name the epoch they were encrypted for (${before})`);

  hold = true;
  await ask("seal");
  const n = pubs.length;
  await sendText(a, "joint", "Sent while the room changed.");
  const first = pubs[n];
  check(first.epoch === before, `A's first pub after the seal was encrypted for the ended epoch ${before} (A had not heard of the seal)`);
  const moved = errors.find((f) => f.id === first.id);
  check(moved && moved.code === "moved" && moved.epoch > before, `the server stored none of it and answered "moved" with the new epoch ${moved && moved.epoch}`);
  const again = pubs.slice(n + 1);
  check(again.length > 0 && again.every((p) => p.epoch === moved.epoch), `A encrypted it again for epoch ${moved.epoch} (${again.length} payloads)`);
  const shown = await a.locator("#room p.error").innerText();
  check(shown.trim() === "", `the party is shown no error (${JSON.stringify(shown)})`);
  const stored = await ask("stored", "joint");
  check(Number(stored) > 0, `every one of the ${stored} payloads stored in the joint room names the epoch it is stored in`);
  log("epochguard: all passed");
});
