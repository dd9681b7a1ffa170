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
  let stalled = new Set(); // the rooms refused every time (two caucuses, chosen from the page's first subscribes)
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
        if (conn === 1 && stalled.size < 2 && f.room !== "joint" && f.room !== "mediators") stalled.add(f.room);
        if ((f.room === "joint" && refuseJoint > 0) || stalled.has(f.room)) {
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
  check(stalled.size === 2, "the page subscribed to two caucuses besides the joint room: " + [...stalled]);
  const [first, second] = [...stalled];

  // The joint room's refused subscribe is asked again on the same
  // connection (about a second later), and the server takes it.
  for (let i = 0; i < 200 && !subscribed.has("1|joint"); i++) await med.waitForTimeout(100); // bounded: 20 s
  check((subs.get("1|joint") ?? 0) === 2, "the refused subscribe to the joint room was sent again on the same connection: " + subs.get("1|joint"));
  check(subscribed.has("1|joint"), "and the server answered it: the joint room follows on this connection");
  check(conns === 1, "without a reconnection");

  // Rooms refused every time: after five more tries the page says so,
  // in plain words, naming each room by its title (one notice for both),
  // and offers a reload.
  const note = med.locator("#notice", { hasText: "not reaching this page" });
  await note.waitFor({ timeout: 40000 });
  for (let i = 0; i < 100 && !(await note.innerText()).includes(" and "); i++) await med.waitForTimeout(100); // bounded: 10 s
  const words = await note.innerText();
  for (const r of stalled) check((subs.get("1|" + r) ?? 0) === 6, "a stalled room was asked for six times on the connection, no more: " + subs.get("1|" + r));
  check((words.match(/caucus/g) ?? []).length === 2 && words.includes(" and ") && words.includes("Reload the page"), "the notice names both rooms and says what to do: " + words);
  check(![...stalled].some((r) => words.includes(r)) && !/unavailable|subscribe|could not subscribe/i.test(words), "without the rooms' internal names or the server's words: " + words);
  // A reload opens the room on the screen again (UX review 367 H2): the notice says which, so text copied from it goes back there.
  check(words.includes("it opens again in “Joint room”, the room you are in now (copy any message you have not sent yet first)"), "the notice says which room the reload opens: " + words);
  const reload = med.locator("#room-stalled-reload");
  check(await reload.isVisible(), "a Reload button is offered");
  await med.screenshot({ path: `${shots}/room-stalled.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#notice").scrollIntoViewIfNeeded();
  await med.screenshot({ path: `${shots}/room-stalled-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });

  // Once the server takes it again, a reconnection (here the connection
  // dropped as too slow) brings the room back, and the notice goes.
  // The first is taken again and the second still refused: the notice
  // names the second alone; once that one is taken too, it goes.
  stalled = new Set([second]);
  page.close({ code: 4008, reason: "fell behind" });
  for (let i = 0; i < 200 && !subscribed.has("2|" + first); i++) await med.waitForTimeout(100); // bounded: 20 s
  check(subscribed.has("2|" + first), "the reconnection subscribed the first room again");
  await note.waitFor({ timeout: 40000 });
  for (let i = 0; i < 100 && (await note.innerText()).includes(" and "); i++) await med.waitForTimeout(100); // bounded: 10 s
  const rest = await note.innerText();
  check((rest.match(/caucus/g) ?? []).length === 1 && !rest.includes(" and "), "the notice names only the room still not updating: " + rest);
  stalled = new Set();
  page.close({ code: 4008, reason: "fell behind" });
  for (let i = 0; i < 200 && !subscribed.has("3|" + second); i++) await med.waitForTimeout(100); // bounded: 20 s
  check(subscribed.has("3|" + second), "the next reconnection subscribed the second room again");
  await med.locator("#notice", { hasText: "not reaching this page" }).waitFor({ state: "detached", timeout: 10000 });
  check(true, "and the notice is gone");
});
