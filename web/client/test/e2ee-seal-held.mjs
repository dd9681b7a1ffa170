// Review 408: a mediator's page that pages a room's history past a seal
// before the seal's live frame arrives still signs the new epoch. Run by
// web/e2ee_seal_held_browser_test.go, which starts a node, makes a
// mediator, a case and invitations for party A and A's lawyer, and answers
// "ask statements" (how many membership statements the case holds).
//
// The mediator's page and A's are open and signed in; the mediator's
// WebSocket is routed through the script, which from then on holds back
// every seal frame. A's lawyer joins: the server seals the rooms into a new
// epoch, the frame held. The mediator's page uploads an end-to-end
// encrypted document (which reads each room up to its head first, past the
// seal), then the held frames are let through. The mediator's device must
// sign the new epoch without posting: before, the held frame found the room
// already past it and did nothing, and nothing signed until the mediator
// posted there or reloaded.
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run } from "./harness.mjs";

const LONG = 60000;
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

await run(async () => {
  const med = await newPage("mediator");
  let hold = false;
  const held = [];
  let toPage = null;
  await med.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    toPage = (m) => ws.send(m);
    server.onMessage((m) => {
      if (hold && JSON.parse(m).t === "seal") { held.push(m); return; }
      ws.send(m);
    });
  });
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
  // The mediator's page signs A in (a statement); wait until it settles.
  let before = "";
  for (let i = 0; i < 300; i++) {
    const n = await ask("statements");
    if (n === before && n !== "0") break;
    before = n;
    await sleep(500);
  }
  log("statements before the lawyer joins: " + before);

  hold = true;
  const counsel = await newPage("counsel A");
  await counsel.goto(env("PARLEY_INVITE_COUNSEL_A"));
  await passGate(counsel);
  await counsel.locator("#welcome-dismiss").click();
  for (let i = 0; i < 600 && held.length === 0; i++) await sleep(100);
  check(held.length > 0, "the server sealed a room for the lawyer's joining (its frame held from the mediator's page)");
  check(await ask("statements") === before, "nothing signed yet: the mediator's page has not heard of the seal");

  // The upload reads each room up to its head before wrapping: past the seal.
  await med.setInputFiles("#doc-file", { name: "Agenda.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 the agenda\n") });
  await med.selectOption("#doc-audience", "joint");
  await med.selectOption("#doc-class", "evidence");
  await med.check("#doc-e2ee");
  await med.click("#doc-upload");
  await sleep(1000);
  hold = false;
  for (const m of held.splice(0)) toPage(m);

  let after = before;
  for (let i = 0; i < 300 && after === before; i++) {
    await sleep(200);
    after = await ask("statements");
  }
  log("statements after: " + after);
  check(Number(after) > Number(before), "the mediator's device signed the new epoch without posting (" + before + " → " + after + ")");
  log("e2ee-seal-held: all passed");
});
