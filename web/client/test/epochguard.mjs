// A message encrypted for an epoch that a seal ended is not stored, and
// the browser encrypts it again for the new epoch without telling the
// party anything went wrong. Run by web/epochguard_browser_test.go, which
// starts a node, makes a mediator, a case and invitations for party A and
// A's lawyer, and answers "ask seal" (adds a co-mediator: the rooms start
// a new epoch), "ask remove NAME" (takes that participant out of the
// case) and "ask stored ROOM" (checks that every payload stored in ROOM
// names the epoch it is stored in; answers how many there are).
//
// First, a room the mediator opened (sealed: the statements name only its
// slot): the lawyer is removed from the case, which starts the room's next
// epoch, and A's socket is not told (its frames for the room are held
// back). Once A's page holds the statement the mediator signed for the new
// epoch, A's next message there is encrypted for that epoch at once, not
// for the one that still held the lawyer: the later of the server's word
// and the verified chain's, for a defined room as for the joint room.
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
  const roomPubs = []; // A's pubs in other rooms: { room, id, epoch }
  let holdRoom = ""; // a room whose every frame to A is held back until A's next pub there
  const heldRoom = []; // those frames
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
      } else if (f.t === "pub") {
        roomPubs.push({ room: f.room, id: f.id, epoch: f.epoch });
        if (holdRoom && f.room === holdRoom) {
          holdRoom = "";
          setTimeout(() => { for (const h of heldRoom.splice(0)) ws.send(h.m); }, 0);
        }
      }
      server.send(m);
    });
    server.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "error") errors.push(f);
      if (hold && f.room === "joint" && (f.t === "seal" || f.t === "msgs")) { held.push(m); return; }
      if (holdRoom && f.room === holdRoom) { heldRoom.push({ f, m }); return; }
      ws.send(m);
    });
  });
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome-dismiss").click();
  await connected(a);

  // 1. A defined room (sealed), whose epoch moves on when A's lawyer is
  // removed from the case; A's socket does not say so.
  const counsel = await newPage("counsel A");
  await counsel.goto(env("PARLEY_INVITE_COUNSEL_A"));
  await passGate(counsel);
  await counsel.locator("#welcome-dismiss").click();
  await connected(counsel);
  await med.reload(); // the room form lists the people who were in the case when it was drawn
  await connected(med);
  await med.fill("#room-label", "Ada, Jordan and the mediator");
  await med.getByLabel("Ada Okafor (Tenant)").check();
  await med.getByLabel("Jordan Blake (Tenant's lawyer)").check();
  await med.click("#open-room-form button[type=submit]");
  await med.locator("#room-opened").waitFor({ timeout: 60000 });
  const defined = await med.locator("#rooms button", { hasText: "Ada, Jordan and the mediator" }).getAttribute("data-room");
  check(defined.startsWith("room:"), `the mediator opened a one-side defined room (${defined})`);
  await a.locator(`#rooms button[data-room="${defined}"]`).waitFor({ timeout: 60000 });
  await sendText(a, defined, "Before Jordan leaves.");
  const was = roomPubs.filter((p) => p.room === defined).at(-1).epoch;

  holdRoom = defined;
  await ask("remove", "Jordan Blake");
  for (let i = 0; i < 600 && !heldRoom.some((h) => h.f.t === "seal"); i++) await new Promise((r) => setTimeout(r, 100));
  check(heldRoom.some(({ f }) => f.t === "seal" && f.seal && f.seal.next > was), `the server sealed the room's epoch ${was} (held back from A's socket)`);
  // The mediator writes in the room (its page signs the room's new
  // membership first), then in the joint room: A reads that one, whose
  // keys name the new statement, so A's page fetches it.
  await sendText(med, defined, "Jordan has left the case.");
  await sendText(med, "joint", "Jordan Blake is no longer in this mediation.");
  await openRoom(a, "joint");
  await waitText(a, "Jordan Blake is no longer in this mediation.");
  const m0 = roomPubs.length;
  await sendText(a, defined, "Sent after Jordan left.");
  const firstD = roomPubs.slice(m0).find((p) => p.room === defined);
  check(firstD && firstD.epoch > was, `A's first pub in the defined room after the removal was encrypted for the signed epoch ${firstD && firstD.epoch}, not the one the server last told it (${was}), which still held Jordan`);
  check(!errors.some((f) => f.id === firstD.id), `the server stored it as it was sent (no "moved")`);
  check(holdRoom === "" && heldRoom.length === 0, "the room's held-back frames reached A after its pub");
  const storedD = await ask("stored", defined);
  check(Number(storedD) > 0, `every one of the ${storedD} payloads stored in the defined room names the epoch it is stored in`);

  // 2. The joint room: A hears of a seal late, and knows no later statement.
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
