// A subscribe the server could not take ("could not subscribe; try
// again", as a node answers one sent while it was still checking this
// person's access) is asked again on the same connection, and the room
// follows; one refused every time ends, after a few tries, in plain
// words that the room is not updating, with a reload offered.
// Run by web/sub_refused_browser_test.go: a node, a mediator and a case.
import { base, check, env, newPage, run, shots } from "./harness.mjs";

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 });
  // The socket goes through this route: the first "sub" of the joint
  // room, and every "sub" of the stalled room, is answered with the
  // refusal a node sends, not passed to the server.
  let stalled = ""; // the room refused every time (chosen from the page's first subscribes)
  let refuseJoint = 1;
  let conns = 0;
  let page = null; // the page's side of the socket now
  const subs = new Map(); // "conn|room" → how many subscribes the page sent on that connection
  const subscribed = new Set(); // "conn|room" the server answered "subscribed" to
  await med.routeWebSocket(/\/ws$/, (ws) => {
    const conn = ++conns;
    page = ws;
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "sub") {
        const k = conn + "|" + f.room;
        subs.set(k, (subs.get(k) ?? 0) + 1);
        if (!stalled && f.room !== "joint" && f.room !== "mediators") stalled = f.room;
        if ((f.room === "joint" && refuseJoint > 0) || f.room === stalled) {
          if (f.room === "joint") refuseJoint--;
          ws.send(JSON.stringify({ t: "error", room: f.room, refused: "sub", code: "unavailable", detail: "could not subscribe; try again" }));
          return;
        }
      }
      server.send(m);
    });
    server.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "subscribed") subscribed.add(conn + "|" + f.room);
      ws.send(m);
    });
  });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  check(stalled !== "", "the page subscribed to a caucus besides the joint room: " + stalled);

  // The joint room's refused subscribe is asked again on the same
  // connection (about a second later), and the server takes it.
  for (let i = 0; i < 200 && !subscribed.has("1|joint"); i++) await med.waitForTimeout(100); // bounded: 20 s
  check((subs.get("1|joint") ?? 0) === 2, "the refused subscribe to the joint room was sent again on the same connection: " + subs.get("1|joint"));
  check(subscribed.has("1|joint"), "and the server answered it: the joint room follows on this connection");
  check(conns === 1, "without a reconnection");

  // A room refused every time: after five more tries the page says so,
  // in plain words, naming the room by its title, and offers a reload.
  const note = med.locator("#notice", { hasText: "not reaching this page" });
  await note.waitFor({ timeout: 40000 });
  const words = await note.innerText();
  check((subs.get("1|" + stalled) ?? 0) === 6, "the stalled room was asked for six times on the connection, no more: " + subs.get("1|" + stalled));
  check(words.includes("caucus") && words.includes("Reload the page"), "the notice names the room and says what to do: " + words);
  check(!words.includes(stalled) && !/unavailable|subscribe|could not subscribe/i.test(words), "without the room's internal name or the server's words: " + words);
  const reload = med.locator("#room-stalled-reload");
  check(await reload.isVisible(), "a Reload button is offered");
  await med.screenshot({ path: `${shots}/room-stalled.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#notice").scrollIntoViewIfNeeded();
  await med.screenshot({ path: `${shots}/room-stalled-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });

  // Once the server takes it again, a reconnection (here the connection
  // dropped as too slow) brings the room back, and the notice goes.
  const room = stalled;
  stalled = "-";
  page.close({ code: 4008, reason: "fell behind" });
  for (let i = 0; i < 200 && !subscribed.has("2|" + room); i++) await med.waitForTimeout(100); // bounded: 20 s
  check(subscribed.has("2|" + room), "the reconnection subscribed the room again");
  await med.locator("#notice", { hasText: "not reaching this page" }).waitFor({ state: "detached", timeout: 10000 });
  check(true, "and the notice is gone");
});
