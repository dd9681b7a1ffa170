// A failed send after the room was drawn again. Run by
// web/send_error_browser_test.go: a node, a mediator and a case.
import { base, check, env, newPage, run } from "./harness.mjs";

const TEXT = "Mediator: a message the server will not store";

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 });
  // The socket goes through this route: the first "pub" of TEXT's send is
  // held (not sent to the server) until the script answers it with an
  // error frame, as a server in trouble would.
  let failNext = false;
  let held = null; // { ws, id }
  await med.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = JSON.parse(m);
      if (failNext && f.t === "pub") { failNext = false; held = { ws, id: f.id }; return; }
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await med.locator(`#rooms button[data-room="joint"]`).click();
  await med.locator("#room-title", { hasText: "Joint room" }).waitFor();

  // She sends; while it is on its way, the room is drawn again (here, its
  // button pressed again; someone joining or a room opened elsewhere does the same).
  failNext = true;
  await med.fill("#draft", TEXT);
  const first = await med.locator("#room form.composer").elementHandle();
  await med.click("#room form.composer button[type=submit]");
  await med.waitForFunction(() => document.querySelector("#room form.composer button[type=submit]")?.disabled);
  for (let i = 0; i < 300 && !held; i++) await med.waitForTimeout(100); // bounded: until the pub is held
  check(held !== null, "the message's first frame reached the socket and is held");
  await med.locator(`#rooms button[data-room="joint"]`).click();
  await med.waitForFunction((f) => !f.isConnected, first);
  check(true, "the joint room was drawn again while the message was being sent");

  // The server answers with an error: the composer on the page says so.
  held.ws.send(JSON.stringify({ t: "error", id: held.id, code: "internal", detail: "the server could not store it" }));
  await med.locator("#room form.composer .error", { hasText: "Not sent" }).waitFor({ timeout: 10000 });
  const words = await med.innerText("#room form.composer .error");
  check(words.includes("Not sent") && words.includes("could not store it"), "the composer on the page says the message was not sent: " + words);
  check(await med.inputValue("#draft") === TEXT, "and the words typed are still in the box, to send again");
  await med.locator("#room form.composer button[type=submit]:not([disabled])").waitFor();
  check(true, "Send is on again");
});
