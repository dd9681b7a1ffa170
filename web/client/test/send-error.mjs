// A failed send after the room was drawn again; a send the server did
// not store this time, which goes again by itself; a message too long for
// the others' screens; and the server closing the case to this person.
// Run by web/send_error_browser_test.go: a node, a mediator and a case.
import { base, check, env, newPage, run, shots } from "./harness.mjs";

const TEXT = "Mediator: a message the server will not store";

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 });
  // The socket goes through this route: the first "pub" of TEXT's send is
  // held (not sent to the server) until the script answers it with an
  // error frame, as a server in trouble would.
  let failNext = false, unavailableNext = false;
  let withholdIn = ""; // a room whose pubs are dropped: the server never confirms them
  let withheld = 0;
  let held = null; // { ws, id }
  let page = null; // the page's side of the socket now
  const pubs = new Map(); // pub id → how many times the page sent it
  await med.routeWebSocket(/\/ws$/, (ws) => {
    page = ws;
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = JSON.parse(m);
      if (f.t === "pub") pubs.set(f.id, (pubs.get(f.id) ?? 0) + 1);
      if (failNext && f.t === "pub") { failNext = false; held = { ws, id: f.id }; return; }
      if (withholdIn && f.t === "pub" && f.room === withholdIn) { withheld++; return; }
      if (unavailableNext && f.t === "pub") {
        // Answered as a node does when its store did not take the message.
        unavailableNext = false;
        ws.send(JSON.stringify({ t: "error", room: f.room, id: f.id, code: "unavailable", detail: "not stored; send again" }));
        return;
      }
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
  check(words.includes("Not sent") && words.includes("could not take this message") && !words.includes("internal") && !words.includes("could not store it"),
    "the composer on the page says in plain words that the message was not sent, without the server's code or detail: " + words);
  check(await med.inputValue("#draft") === TEXT, "and the words typed are still in the box, to send again");
  await med.locator("#room form.composer button[type=submit]:not([disabled])").waitFor();
  check(true, "Send is on again");

  // The server did not store a message this time ("unavailable"): the page
  // sends the same frame again by itself, and it is stored.
  const AGAIN = "Mediator: stored on the second try";
  unavailableNext = true;
  await med.fill("#draft", AGAIN);
  await med.click("#room form.composer button[type=submit]");
  await med.locator("#room ol.log li", { hasText: AGAIN }).first().waitFor({ timeout: 20000 });
  check([...pubs.values()].some((n) => n >= 2), "a frame the server did not store was sent again with the same id");
  check(await med.inputValue("#draft") === "", "and the message went: the box is empty");
  check(await med.locator("#room form.composer .error", { hasText: "Not sent" }).count() === 0, "with no error shown");

  // A comment on the agreement the server never confirms: after a minute
  // the page says it may or may not have reached the joint room (the others
  // may read it already), not "Not sent … reload" (the page's clock is
  // moved, not waited for).
  await med.locator("#agreement-start").waitFor();
  await med.click("#agreement-start");
  await med.locator("#agreement-state", { hasText: "version 1" }).waitFor({ timeout: 60000 });
  await med.clock.install();
  withholdIn = "joint";
  const COMMENT = "Mediator: a comment the server does not confirm";
  await med.fill("#agreement-comment", COMMENT);
  await med.click("#agreement-comment-send");
  for (let i = 0; i < 300 && withheld === 0; i++) await med.waitForTimeout(100); // bounded: until the pub is dropped
  check(withheld === 1, "the comment's frame reached the socket and is dropped");
  await med.clock.fastForward("01:01");
  const unsureComment = med.locator("#agreement-status", { hasText: "may or may not" });
  await unsureComment.waitFor({ timeout: 20000 });
  const unsureWords = await unsureComment.innerText();
  check(unsureWords === "Parley did not confirm your comment, so it may or may not have reached the joint room. If it does not appear under this version within a minute, send it again.",
    "a comment the server did not confirm says it may have reached the joint room: " + unsureWords);
  check(await med.inputValue("#agreement-comment") === COMMENT, "and the comment stays in the box, to send again");

  // A notice to every room the server does not confirm in the joint room:
  // the page says it may have arrived there, not that it could not be sent.
  const NOTICE = "Mediator: a notice the joint room does not confirm";
  await med.fill("#notice-text", NOTICE);
  await med.click("#send-notice");
  for (let i = 0; i < 300 && withheld === 1; i++) await med.waitForTimeout(100); // bounded: until the pub is dropped
  check(withheld === 2, "the notice's frame to the joint room reached the socket and is dropped");
  await med.clock.fastForward("01:01");
  await med.locator("#floor-result.error", { hasText: "may or may not" }).waitFor({ timeout: 30000 });
  const unsureNotice = await med.innerText("#floor-result");
  check(unsureNotice.includes("The server did not confirm it in the Joint room, so it may or may not have arrived there: look there first.")
    && !unsureNotice.includes("could not be sent to"), "a notice the server did not confirm in a room says it may have arrived there: " + unsureNotice);
  withholdIn = "";
  await med.screenshot({ path: `${shots}/comment-unconfirmed.png`, fullPage: true });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#agreement-status").scrollIntoViewIfNeeded();
  await med.screenshot({ path: `${shots}/comment-unconfirmed-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });

  // A message longer than every screen accepts (40 KiB of UTF-8; the box
  // counts characters, and these take three bytes each) is not sent.
  const before = pubs.size;
  const long = "調停".repeat(7000); // 14,000 characters, 42,000 bytes
  await med.fill("#draft", long);
  await med.click("#room form.composer button[type=submit]");
  await med.locator("#room form.composer .error", { hasText: "too long" }).waitFor();
  const longWords = await med.innerText("#room form.composer .error");
  check(longWords.includes("Split it into two"), "a message too long is refused before sending, saying what to do: " + longWords);
  check(pubs.size === before, "and nothing of it was sent");
  check(await med.inputValue("#draft") === long, "the words stay in the box");

  // The server closes the case to her (removed, recused): the page says
  // so, instead of a composer that can never send.
  page.close({ code: 4003, reason: "access lost" });
  await med.locator("h1", { hasText: "You are no longer part of this mediation" }).waitFor();
  check(await med.locator("#draft").count() === 0, "the composer is gone");
  const gone = await med.innerText("main");
  check(gone.includes("Your part in this mediation has ended, so its rooms and documents are closed to you. If you did not expect this, contact the mediation program.") &&
    await med.innerText("#access-ended-back") === "Back to your cases" && await med.getAttribute("#status", "class") !== "error",
    "and the page says, in plain words and not as an error, what to do (a mediator has no mediator to contact; her start page is her cases): " + gone);
  check(await med.locator("#signout").isHidden() && await med.locator("#nav-password").count() === 0, "and it offers no Sign out or Change password button there");
  await med.screenshot({ path: `${shots}/access-ended.png`, fullPage: true });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.screenshot({ path: `${shots}/access-ended-phone.png`, fullPage: true });
});
