// Review 404 M2: a party's page whose live stream missed a seal wraps no
// document key under the statement the room was sealed past. Run by
// web/e2ee_docs_stale_browser_test.go, which starts a node, makes a
// mediator, a case and invitations for party A and A's lawyer, and answers
// "ask remove NAME" (takes that participant out of the case: the server
// seals A's caucus into a new epoch) and "ask docs" (how many documents
// the case holds).
//
// A and A's lawyer join; the mediator's page signs them in and is closed,
// so no mediator signs the removal. A's WebSocket is routed through the
// script, which from then on passes nothing the server sends (a dropped
// fan-out event). The lawyer is removed; A's page, told nothing, uploads a
// document encrypted for the Tenant caucus: refused in plain words
// (nothing stored), where before it was wrapped under the statement that
// still named the lawyer's device.
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run } from "./harness.mjs";

const LONG = 60000;
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });

await run(async () => {
  const med = await newPage("mediator");
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await connected(med);

  const a = await newPage("party A");
  let drop = false; // pass nothing the server sends to A's page
  const dropped = [];
  await a.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => server.send(m));
    server.onMessage((m) => {
      if (drop) { dropped.push(JSON.parse(m)); return; }
      ws.send(m);
    });
  });
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome-dismiss").click();
  await connected(a);

  const counsel = await newPage("counsel A");
  await counsel.goto(env("PARLEY_INVITE_COUNSEL_A"));
  await passGate(counsel);
  await counsel.locator("#welcome-dismiss").click();
  await connected(counsel);

  // A's page holds the statement that gives the lawyer the caucus's keys.
  await a.locator(`#rooms button[data-room="caucus:A"]`).click();
  await a.locator("#room > .banner", { hasText: "Jordan Blake" }).waitFor({ timeout: LONG });
  await med.close(); // no mediator's device left to sign the removal

  drop = true;
  await ask("remove", "Jordan Blake");
  for (let i = 0; i < 600 && !dropped.some((f) => f.t === "seal" && f.room === "caucus:A"); i++) await new Promise((r) => setTimeout(r, 100));
  check(dropped.some((f) => f.t === "seal" && f.room === "caucus:A"), "the server sealed the caucus (the seal kept from A's page)");

  await a.setInputFiles("#doc-file", { name: "Bottom-line.pdf", mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 A's bottom line, after the lawyer left\n") });
  await a.selectOption("#doc-audience", "caucus:A");
  await a.selectOption("#doc-class", "evidence");
  await a.check("#doc-e2ee");
  await a.click("#doc-upload");
  const status = a.locator("#doc-upload-status"), err = a.locator("#doc-upload-error");
  let said = "";
  for (let i = 0; i < 600; i++) {
    // Each read once: the error read apart from the words reported could come between them.
    const e = (await err.innerText().catch(() => "")).trim();
    said = (e + " | " + (await status.innerText().catch(() => ""))).trim();
    if (e !== "" || /extra lock/.test(said)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  log("A's page says: " + said);
  check(!said.includes("With the extra lock"), "the upload was not encrypted under the statement the caucus was sealed past: " + said);
  check(await ask("docs") === "0", "nothing was stored");
  check(said.includes("can't lock the file for everyone who may see it yet") && !/audience|statement|epoch|E2EE/.test(said), "the refusal says why, in plain words: " + said);
  log("e2ee-docs-stale: all passed");
});
