// What a party reads when something goes wrong, in real Chromium, on a
// phone. Run by web/words_browser_test.go, which makes a case with two
// invitations for the same party (Ada Okafor) and answers "ask agreement"
// (the mediator drafts version 1 of the agreement).
import { passGate } from "./gate.mjs";
import { axeCheck } from "./axe.mjs";
import { ask, check, env, log, newPage, run, shots, signInMediator } from "./harness.mjs";
// Kind starts on "Choose…" (documents.ts): Upload, choosing the first kind offered if none is chosen yet.
const pressUpload = async (page) => {
  if (!(await page.inputValue("#doc-class"))) await page.selectOption("#doc-class", { index: 1 });
  await page.click("#doc-upload");
};

const phone = { width: 390, height: 844 };
const caseID = env("PARLEY_CASE");
// Never shown to a party: ids, wire names, field descriptions meant for programs, browser network text.
const internal = /\b[a-z]{1,4}_[a-z2-7]{6,}|dv_|caucus:|Ed25519|base64|full-agreement|Failed to fetch|HTTP \d|\brequired\.|membership statement|\[agreement v/;
const plain = (text, what) => check(!internal.test(text), `${what}: no internal words (${text.match(internal)?.[0] ?? ""})`);
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });

await run(async () => {
  // The mediator has the case open: her browser signs who can read each room when Ada joins.
  const med = await newPage("med");
  await signInMediator(med);

  // 1. Ada opens her invitation on her phone (a touch screen); the connection drops while it is redeemed.
  const A = await newPage("partyA", phone, { isMobile: true, hasTouch: true });
  // Her socket goes through this route: it counts the messages her page
  // sends ("pub" frames), and drops them while swallow is set, as a
  // connection that loses them on the way would.
  let pubs = 0, swallowed = 0, swallow = false;
  await A.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      if (JSON.parse(m).t === "pub") {
        pubs++;
        if (swallow) { swallowed++; return; }
      }
      server.send(m);
    });
    server.onMessage((m) => ws.send(m));
  });
  const redeem = (u) => u.pathname === "/api/v1/invites/redeem";
  await A.route(redeem, (r) => r.abort("connectionreset"));
  await A.goto(env("PARLEY_INVITE"));
  const failed = await A.locator("#status.error").innerText();
  log("invitation, connection dropped: " + failed);
  check(failed.includes("connection dropped") && failed.includes("try again"), "a dropped connection says what happened and to try again");
  plain(failed, "invitation, connection dropped");
  await A.screenshot({ path: `${shots}/invite-retry-phone.png`, fullPage: true });
  await A.unroute(redeem);
  // She reloads the page (or presses Try again): the invitation is still there and works.
  await A.reload();
  await A.waitForSelector("#consent-title, #rooms-title, #email, #come-back-title, #status.error");
  check(await A.locator("#email, #come-back-title").count() === 0, "after a failed first try, a reload opens the invitation, not a staff sign-in form");
  check(await A.locator("#consent-title").count() === 1, "the reload takes Ada to the case's terms");

  // 2 and 5. Accepting the terms is refused once (the server cannot check the device): plain words, in red;
  // then it is recorded, and the success is not shown as an error.
  const accept = (u) => u.pathname.endsWith("/terms/accept");
  await A.route(accept, (r) => r.continue({ postData: JSON.stringify({ ...r.request().postDataJSON(), device: "x" }) }));
  await A.check("#terms-read");
  await A.click("#accept-terms");
  const refusedStatus = A.locator("#consent-status.error");
  await refusedStatus.waitFor();
  const refused = await refusedStatus.innerText();
  log("acceptance refused: " + refused);
  check(refused.includes("was not recorded") && refused.includes("Reload the page and try again"), "a refused acceptance says it was not recorded and what to do");
  plain(refused, "acceptance refused");
  await A.unroute(accept);
  if (!(await A.isChecked("#terms-read"))) await A.check("#terms-read");
  await A.click("#accept-terms");
  await A.waitForSelector("#terms-accepted");
  const ok = A.locator("#consent-status");
  check((await ok.innerText()).includes("Your acceptance is recorded."), "the acceptance is recorded after the retry");
  check(!(await ok.getAttribute("class") ?? "").includes("error"), "and the success is not shown as an error");
  await passGate(A);
  await connected(A);

  // 7. The mediator's browser said who can read each room, in plain words.
  const notice = med.locator("#notice", { hasText: "Who can read each room is up to date" });
  await notice.waitFor({ timeout: 60000 });
  const said = await notice.innerText();
  check(said.includes("Now admitted: Ada Okafor"), "the mediator is told who can read each room and who was admitted: " + said);
  plain(said, "mediator's notice");

  // 8. On a phone, Enter starts a new line: a stray tap on it sends nothing to the joint room; the button sends.
  await A.locator('#rooms button[data-room="joint"]').click();
  await A.locator("#room-title", { hasText: "Joint room" }).waitFor();
  const hint = await A.innerText("#draft-hint");
  check(!hint.includes("Enter sends") && !hint.includes("Shift"), "on a touch screen the composer does not say Enter sends: " + hint);
  const sendButton = A.locator("#room form.composer button[type=submit]");
  const label = await sendButton.innerText();
  check(label.includes("everyone"), "the Send button in the joint room says everyone reads it: " + label);
  // Send with nothing typed answers in words next to the box (not a browser bubble a phone may not show), and sends nothing.
  const pubsEmpty = pubs;
  await sendButton.tap();
  check(await A.innerText("#draft-error") === "Type your message in the box first: there is nothing to send yet." && pubs === pubsEmpty &&
    await A.evaluate(() => document.activeElement?.id) === "draft", "Send with an empty box says to type a message first: " + await A.innerText("#draft-error"));
  const pubsBefore = pubs;
  await A.tap("#draft");
  await A.keyboard.type("First, the deposit.");
  await A.keyboard.press("Enter");
  await A.keyboard.type("Second, the repairs.");
  check(await A.innerText("#draft-error") === "", "once she types, the words about an empty box go");
  check(await A.inputValue("#draft") === "First, the deposit.\nSecond, the repairs.", "Enter made a new line in the box: " + JSON.stringify(await A.inputValue("#draft")));
  await sendButton.tap();
  const both = A.locator("#room ol.log li", { hasText: "Second, the repairs." });
  await both.first().waitFor({ timeout: 60000 });
  check(await A.locator("#room ol.log li", { hasText: "First, the deposit." }).count() === 1 && (await both.first().innerText()).includes("First, the deposit."),
    "Enter sent nothing: the button sent both lines as one message");
  check(await A.inputValue("#draft") === "", "and the box is empty after the button sent it");
  const shown = await both.first().locator(".text").innerText();
  check(shown === "First, the deposit.\nSecond, the repairs.", "the message shows the two lines its author made: " + JSON.stringify(shown));
  check(pubs > pubsBefore, "the message went through the socket this test watches");
  const overflow = await A.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check(overflow <= 0, "the composer fits the phone's width");
  await A.locator("#draft").scrollIntoViewIfNeeded();
  await A.screenshot({ path: `${shots}/composer-touch-phone.png` });

  // 2. An upload the server refuses for its name says what to do, not "required".
  const uploads = (u) => u.pathname.endsWith("/documents");
  await A.route(uploads, (r) => (r.request().method() === "POST" ? r.continue({ headers: { ...r.request().headers(), "parley-document-name": "" } }) : r.continue()));
  await A.setInputFiles("#doc-file", { name: "Lease.pdf", mimeType: "application/pdf", buffer: Buffer.from("lease") });
  await pressUpload(A);
  const upErr = A.locator("#doc-upload-error", { hasText: "was not accepted" });
  await upErr.waitFor();
  const up = await upErr.innerText();
  log("upload refused: " + up);
  check(up.includes("file name") && up.includes("try again"), "a refused upload says what to do");
  plain(up, "upload refused");
  await A.unroute(uploads);

  // 2, 4 and 6. The agreement: refused signatures say why, and what to do.
  await ask("agreement");
  await A.locator("#agreement-state", { hasText: "version 1" }).waitFor({ timeout: 60000 });
  A.on("dialog", (d) => void d.accept());
  const sign = (u) => u.pathname.endsWith("/agreement/sign");
  const signOnce = async () => {
    if (!(await A.isChecked("#agreement-read"))) await A.check("#agreement-read");
    await A.click("#agreement-sign");
    await A.click("#agreement-sign-confirm");
    await A.locator("#agreement-status.error").waitFor();
    const t = await A.innerText("#agreement-status");
    await A.unroute(sign);
    return t;
  };
  // A signature the server cannot verify (the real server's refusal).
  await A.route(sign, (r) => r.continue({ postData: JSON.stringify({ ...r.request().postDataJSON(), signature: Buffer.alloc(64).toString("base64") }) }));
  const badSig = await signOnce();
  log("signature refused: " + badSig);
  check(badSig.startsWith("Not signed:") && badSig.includes("tell your mediator"), "a signature the server could not check says what to do");
  plain(badSig, "signature refused");
  // The agreement was filed meanwhile (the server's answer, as it gives it).
  const conflict = (type, detail) => A.route(sign, (r) => r.fulfill({ status: 409, contentType: "application/problem+json",
    body: JSON.stringify({ type: "urn:parley:problem:" + type, title: "This conflicts with the current state", status: 409, detail }) }));
  await conflict("agreement-filed", "the agreement was already signed by everyone and filed");
  await A.locator("#agreement-status.error").evaluate((e) => { e.textContent = ""; e.className = ""; });
  const filed = await signOnce();
  log("signature on a filed agreement: " + filed);
  check(filed.includes("already signed by everyone and filed") && !filed.includes("new version"), "a signature on a filed agreement says so, not that a new version was saved");
  await conflict("conflict", "the case is closed");
  await A.locator("#agreement-status.error").evaluate((e) => { e.textContent = ""; e.className = ""; });
  const closed = await signOnce();
  log("signature in a closed case: " + closed);
  check(closed.includes("the case is closed") && !closed.includes("new version"), "a signature in a closed case says so");
  // A conflict whose detail the server did not write for people (a package's own error): never shown; plain words instead.
  for (const detail of ["keydir: you have seen a log of 12 entries, this one has 9", 'room "joint" is already closed']) {
    await conflict("conflict", detail);
    await A.locator("#agreement-status.error").evaluate((e) => { e.textContent = ""; e.className = ""; });
    const said = await signOnce();
    log("signature refused with an internal conflict: " + said);
    check(!said.includes("keydir") && !said.includes("12 entries") && !said.includes('"joint"') && !said.includes("already closed") && said.includes("reload the page"),
      "a conflict the server did not word for people is not shown, plain words instead: " + said);
  }
  // A comment on version 1 reads as one in the joint room.
  await A.fill("#agreement-comment", "Thank you all — we agree.");
  await A.click("#agreement-comment-send");
  await A.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).waitFor({ timeout: 60000 });
  await A.locator('#rooms button[data-room="joint"]').click();
  const line = A.locator("#room ol.log li", { hasText: "Thank you all — we agree." }).first();
  await line.waitFor({ timeout: 60000 });
  const comment = await line.innerText();
  check(comment.includes("Comment on version 1 of the agreement: Thank you all — we agree.") && !comment.includes("[agreement"), "the comment reads as one in the joint room: " + comment);

  // 9. A message the server does not confirm within a minute (lost on the way): the page does not say it
  // was not sent (it may have arrived), keeps the text in the box and says what to do. The page's clock
  // is moved on, not waited for.
  const LOST = "Can we meet on Thursday instead?";
  await A.clock.install();
  swallow = true;
  await A.fill("#draft", LOST);
  await sendButton.tap();
  for (let i = 0; i < 300 && swallowed === 0; i++) await A.waitForTimeout(100); // bounded: until a frame of it is dropped
  check(swallowed > 0, "a frame of the message was lost on the way");
  await A.clock.fastForward("01:01");
  const unconfirmed = A.locator("#draft-error", { hasText: "did not confirm" });
  await unconfirmed.waitFor({ timeout: 10000 });
  const unsure = await unconfirmed.innerText();
  log("message not confirmed: " + unsure);
  check(!unsure.startsWith("Not sent") && unsure.includes("may or may not have arrived") && unsure.includes("still in the box") && unsure.includes("send it again") && !/\b60 s\b/.test(unsure),
    "an unconfirmed message says it may have arrived, that the text is kept, and what to do: " + unsure);
  plain(unsure, "message not confirmed");
  check(await A.inputValue("#draft") === LOST, "and the text is still in the box");
  await A.screenshot({ path: `${shots}/send-unconfirmed-phone.png` });
  // Sent again, it arrives.
  swallow = false;
  await sendButton.tap();
  await A.locator("#room ol.log li", { hasText: LOST }).first().waitFor({ timeout: 60000 });
  check(await A.inputValue("#draft") === "", "sent again with the button, it arrives and the box empties");

  // 3. The server shows another record of who is in the case than this browser checked before:
  // the page stops the case and says to tell the mediator, not to reload (which cannot help).
  const changed = await A.evaluate((id) => new Promise((resolve, reject) => {
    const rq = indexedDB.open("parley");
    rq.onerror = () => reject(rq.error);
    rq.onsuccess = () => {
      const tx = rq.result.transaction("pins", "readwrite");
      let n = 0;
      const cur = tx.objectStore("pins").openCursor();
      cur.onsuccess = () => {
        const c = cur.result;
        if (!c) return;
        const v = c.value;
        if (v.cases?.[id]) { v.cases[id].latest = "00".repeat(32); c.update(v); n++; }
        c.continue();
      };
      tx.oncomplete = () => { rq.result.close(); resolve(n); };
      tx.onerror = () => reject(tx.error);
    };
  }), caseID);
  check(changed === 1, "the test changed what this browser pinned");
  await A.reload();
  // The alarm screen: what happened in plain words, that nothing was sent, and what to do; the technical
  // reason only behind "Technical details".
  const alarm = A.locator("#security-stop");
  await alarm.waitFor({ timeout: 60000 });
  const stopped = await alarm.innerText();
  log("pinned record changed: " + stopped);
  check((await A.innerText("#security-stop h1")).startsWith("Stop: this case is not safe to use on this device"), "the alarm screen says to stop, in its heading");
  check((await A.innerText("#security-stop-what")).includes("the record of who is in this case that this browser checked before: it was changed or removed"),
    "it says what happened in plain words: " + await A.innerText("#security-stop-what"));
  check((await A.innerText("#security-stop-sent")).startsWith("Your messages were not sent."), "it says her messages were not sent");
  const todo = await A.innerText("#security-stop-do");
  check(todo.includes("Phone your mediator or the mediation program") && todo.includes("Do not write, upload or sign anything in this case on this device until they tell you it is safe"),
    "it says exactly what to do: phone the mediator or the program, and not use the case here until told: " + todo);
  check(!/reload/i.test(stopped) && !stopped.includes("Something went wrong"), "it does not say to reload (which cannot help)");
  const technical = await A.innerText("#security-stop-technical");
  check(!(await A.locator("#security-stop-technical").evaluate((d) => d.open)), "the technical details are closed until asked for");
  const seen = stopped.replace(technical, "") + (await A.locator("#security-stop-technical summary").innerText());
  check(!/\b(statement|epoch|pin|pinned|fork|hash|id)\b/i.test(seen), "the words a party reads name no statement, epoch, pin or fork: " + seen.match(/\b(statement|epoch|pin|pinned|fork|hash|id)\b/i)?.[0]);
  await A.locator("#security-stop-technical summary").click();
  check((await A.innerText("#security-stop-technical")).includes("statement-changed"), "the technical details, opened, name the check that failed");
  // The party quotes this on the phone: a date no reader can take the wrong way round (not "06/12/2026") and the time's zone.
  const stopShownAt = /Shown ([^\n]+)\./.exec(await A.innerText("#security-stop-technical"))?.[1] ?? "";
  check(/^\d{1,2} [A-Z][a-z]+ \d{4}, \d{1,2}:\d{2}:\d{2} (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2})?$/.test(stopShownAt), "when the alarm was shown is said with the month in words and the time zone: " + stopShownAt);
  check(await A.locator("#conn").innerText() === "Stopped for safety" && await A.locator("#draft").count() === 0, "no composer is left to type into");
  plain(stopped, "the alarm screen");
  await axeCheck(A, "the alarm screen");
  await A.screenshot({ path: `${shots}/words-pinned-phone.png`, fullPage: true });
  await A.setViewportSize({ width: 1280, height: 900 });
  await A.screenshot({ path: `${shots}/words-pinned.png`, fullPage: true });
  await A.setViewportSize(phone);

  // 3b. Another tab, loaded after an update, saved this browser's pins in a newer form: this (older) page cannot
  // read them, so it refuses the case as before, and says the page is out of date, not that something went wrong.
  const newer = await A.evaluate(() => new Promise((resolve, reject) => {
    const rq = indexedDB.open("parley");
    rq.onerror = () => reject(rq.error);
    rq.onsuccess = () => {
      const tx = rq.result.transaction("pins", "readwrite");
      let n = 0;
      const cur = tx.objectStore("pins").openCursor();
      cur.onsuccess = () => {
        const c = cur.result;
        if (!c) return;
        c.update({ ...c.value, format: 99, signedRooms: {} }); n++;
        c.continue();
      };
      tx.oncomplete = () => { rq.result.close(); resolve(n); };
      tx.onerror = () => reject(tx.error);
    };
  }));
  check(newer === 1, "the test saved the pins in a newer form");
  await A.reload();
  const outdated = await A.locator("#status.error").innerText({ timeout: 60000 });
  check(outdated === "This page is out of date: reload it.", "pins in a newer form: the page says it is out of date and to reload: " + outdated);
  check(await A.locator("#draft").count() === 0 && await A.locator("#security-stop").count() === 0, "and the case stays closed");

  // 1. The second invitation for Ada, who has joined: a link back in, not a new invitation.
  const again = await newPage("partyA-again", phone);
  await again.goto(env("PARLEY_INVITE_AGAIN"));
  await again.locator("#status.error").waitFor();
  const joined = await again.locator("#main").innerText();
  log("invitation for someone already in: " + joined);
  check(joined.includes("link back in") && !joined.includes("ask your mediator for a new link") && joined.includes("do not ask for a new invitation"),
    "an invitation for someone already in says to ask for a link back in, not a new invitation");
  // The link may have been forwarded or intercepted: the page must not tell
  // the person it was "most likely you", and must say what to do if not.
  check(!joined.includes("most likely you"), "the page does not assume it was the person who used the link");
  const ifYou = await again.locator("#joined-if-you").innerText().catch(() => "");
  const notYou = await again.locator("#joined-not-you").innerText().catch(() => "");
  check(ifYou.startsWith("If that was you") && ifYou.includes("link back in") && ifYou.includes("do not ask for a new invitation"),
    "the link back in, and not asking for a new invitation, are said only for the case where it was them: " + ifYou);
  check(notYou.includes("someone else may have used your link") && notYou.includes("don't write anything") && notYou.includes("phone your mediator now"),
    "and if they never opened the mediation: don't write, phone the mediator now: " + notYou);
  check(await again.locator("#invite-again").count() === 0, "and offers no Try again that cannot help");
  plain(joined, "invitation for someone already in");
  await again.screenshot({ path: `${shots}/invite-already-joined-phone.png`, fullPage: true });
});
