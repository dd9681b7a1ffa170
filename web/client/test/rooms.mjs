// Rooms a mediator opens, in real Chromium. Run by web/rooms_browser_test.go,
// which makes a mediator, a case (Tenant, Landlord) and invitations for the
// tenant (Ada Okafor), the tenant's lawyer (Jordan Blake) and the
// landlord's lawyer (Sam Lindqvist), and answers "ask audited EVENTS". It ends
// with a timer, a raised hand and a notice to every room once a room is closed.
import { axeCheck } from "./axe.mjs";
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run, shots } from "./harness.mjs";
import { staleAnswers } from "./stale-lib.mjs";

const CASE = env("PARLEY_CASE");
const t0 = Date.now();
const stage = (what) => log(`stage ${((Date.now() - t0) / 1000).toFixed(1)}s: ${what}`);
const ROOM1 = "Ada and the mediator";
const ROOM2 = "Lawyers' talk";
const ROOM3 = "Ada once more";

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const wide = await page.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 392, `${name} fits a phone (${wide}px wide)`);
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}
async function join(name, link) {
  const page = await newPage(name);
  await page.goto(link);
  await passGate(page);
  await page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await page.click("#welcome-dismiss");
  return page;
}
const roomButton = (page, label) => page.locator("#rooms button", { hasText: label });
async function openRoom(page, label) {
  await roomButton(page, label).waitFor({ timeout: 20000 });
  await roomButton(page, label).click();
  await page.locator("#room-title", { hasText: label }).waitFor();
}
async function say(page, text) {
  await page.fill("#draft", text);
  await page.click("#room form button[type=submit]");
  await page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: 60000 });
}
const sees = (page, text) => page.locator("#room ol.log li", { hasText: text }).first().waitFor({ timeout: 60000 });

await run(async () => {
  const party = await join("party", env("PARLEY_INVITE_PARTY"));
  const counselA = await join("counselA", env("PARLEY_INVITE_COUNSEL_A"));
  const counselB = await join("counselB", env("PARLEY_INVITE_COUNSEL_B"));
  const med = await newPage("med");
  await med.goto(base + "/app#case=" + CASE);
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await med.locator("#open-room-form").waitFor();
  for (const p of [party, counselA, counselB]) {
    check(await p.locator("#open-room-form").count() === 0, "participants have no room form");
  }

  stage("joined and signed in");
  // 1. The tenant alone with the mediator, without her lawyer.
  await med.fill("#room-label", ROOM1);
  await med.getByLabel("Ada Okafor (Tenant)").check();
  const who = await med.innerText("#room-who");
  check(who.includes("Ada Okafor") && who.includes("Nobody else can read or join it") && who.includes("never its name or its people") && !who.includes("Jordan"), "the form says who will see the room before it is saved: " + who);
  await axeCheck(med, "mediator, open a room form", { selector: "#defined-rooms" });
  await shoot(med, "rooms-open-form");
  await med.click("#open-room-form button[type=submit]");
  await med.locator("#room-opened").waitFor({ timeout: 60000 });
  await med.locator("#room-title", { hasText: ROOM1 }).waitFor();
  const room1 = await roomButton(med, ROOM1).getAttribute("data-room");
  check(room1.startsWith("room:"), "the room's id stays internal: " + room1);
  await say(med, "Ada, how do you feel about the offer?");

  await openRoom(party, ROOM1);
  const banner1 = await party.innerText("#room .banner");
  check(banner1.includes("only the people in this room") && banner1.includes("you") && banner1.includes("Morgan Reyes") && !banner1.includes("Jordan") && !banner1.includes("cross-side"),
    "the tenant's banner names everyone in the room: " + banner1);
  check(!(await party.innerText("body")).includes(room1), "the tenant never sees the room's id");
  await sees(party, "Ada, how do you feel about the offer?");
  await say(party, "Honestly, I would take 1,200.");
  await sees(med, "Honestly, I would take 1,200.");
  // What she is typing stays when her room is drawn again (a room opening
  // or closing elsewhere redraws it, as pressing its button again does).
  await party.fill("#draft", "And the deposit back by March.");
  const kinds = await party.locator("#doc-class option").evaluateAll((os) => os.map((o) => o.value));
  const chosen = kinds.find((v) => v !== kinds[0]);
  if (chosen) await party.selectOption("#doc-class", chosen);
  await roomButton(party, ROOM1).click();
  check(await party.inputValue("#draft") === "And the deposit back by March.", "the tenant's unsent message survives her room being drawn again");
  check(chosen !== undefined && await party.inputValue("#doc-class") === chosen, "and so does the kind of document she chose to add");
  await party.fill("#draft", "");
  // The room's documents are named as its composer names it ("Message in “Ada and the mediator”"), not "of the Ada and the mediator".
  const docsHeading = await party.innerText("#docs-title");
  const docsNone = await party.innerText("#doc-none");
  check(docsHeading === `Documents of “${ROOM1}”` && docsNone === `No documents in “${ROOM1}” yet.`,
    "the documents of a room the mediator named are called by its name in quotes: " + JSON.stringify([docsHeading, docsNone]));
  // Policy lets a party add documents to her own side's caucus only, never
  // to a room the mediator named: the form offers her caucus and says, in
  // the room, that the document goes there and not to this room, and the
  // "Visible to" line names exactly who can read it (her lawyer included).
  const places = await party.locator("#doc-audience option").evaluateAll((os) => os.map((o) => o.value));
  const placeNote = await party.locator("#doc-place-note").count() ? await party.innerText("#doc-place-note") : "";
  const visible = await party.innerText("#doc-audience-note");
  check(places.length === 1 && places[0].startsWith("caucus:") && await party.inputValue("#doc-audience") === places[0] &&
    placeNote === `Documents can't be added to “${ROOM1}”. This one will go to your Tenant caucus instead: your lawyer Jordan Blake, who is not in this room, will see it too.` &&
    visible === "Visible to: the Tenant side only: you, your lawyer Jordan Blake, the mediator Morgan Reyes",
  "in a room the mediator named, the tenant's upload form says it goes to her caucus, not this room, and who will see it: " + JSON.stringify({ places, placeNote, visible }));
  // The mediator, in the same room, is told the same of the place his form starts on.
  const medPlace = await med.locator("#doc-place-note").count() ? await med.innerText("#doc-place-note") : "";
  const medTo = await med.inputValue("#doc-audience");
  const medWhere = { joint: "the Joint room", mediators: "the mediators only" }[medTo] ?? "";
  check(medWhere !== "" && medPlace.startsWith(`Documents can't be added to “${ROOM1}”. This one will go to ${medWhere} instead`) && !medPlace.includes("your "),
    "the mediator's upload form in that room says where a document goes instead: " + JSON.stringify({ medTo, medPlace }));
  await shoot(party, "rooms-party");

  stage("room 1 used");
  // Her lawyer sees nothing of it, and the server refuses it to him.
  check(await roomButton(counselA, ROOM1).count() === 0 && !(await counselA.innerText("body")).includes(ROOM1), "the tenant's lawyer sees nothing of the room");
  const refused = await counselA.evaluate(async ({ c, r }) => {
    const list = await (await fetch(`/api/v1/cases/${c}/defined-rooms`)).json();
    const rooms = await (await fetch(`/api/v1/cases/${c}/rooms`)).json();
    const hist = await fetch(`/api/v1/cases/${c}/rooms/${encodeURIComponent(r)}/messages`);
    const close = await fetch(`/api/v1/cases/${c}/defined-rooms/${encodeURIComponent(r)}/close`, { method: "POST" });
    return { list: list.length, listed: rooms.some((x) => x.name === r), hist: hist.status, close: close.status };
  }, { c: CASE, r: room1.replace(/[^a-z0-9:]/g, "") });
  check(refused.list === 0 && !refused.listed && refused.hist === 404 && refused.close === 404, "the API refuses the room to the tenant's lawyer like a room that does not exist: " + JSON.stringify(refused));

  stage("room 1 refused to counsel");
  // 2. The two lawyers with the mediator: refused until declared cross-side.
  await med.fill("#room-label", ROOM2);
  await med.getByLabel("Jordan Blake (Tenant's lawyer)").check();
  await med.getByLabel("Sam Lindqvist (Landlord's lawyer)").check();
  await med.click("#open-room-form button[type=submit]");
  const err = med.locator("#open-room-form .error");
  await err.waitFor();
  const why = await err.innerText();
  check(why.includes("different sides") && why.includes("cross-side") && !why.includes("mixing-sides"), "a room mixing sides is refused in plain words: " + why);
  await med.check("#room-cross");
  check((await med.innerText("#room-who")).includes("both sides"), "the form says both sides will read each other's words");
  await med.click("#open-room-form button[type=submit]");
  await med.locator("#room-opened", { hasText: ROOM2 }).waitFor({ timeout: 60000 });
  const room2 = await roomButton(med, ROOM2).getAttribute("data-room");
  check(room2.startsWith("cross:"), "the cross-side declaration is in the signed name: " + room2);
  await say(med, "Counsel, let us talk about costs.");

  for (const [p, mine, other] of [[counselA, "Jordan Blake", "Sam Lindqvist"], [counselB, "Sam Lindqvist", "Jordan Blake"]]) {
    await openRoom(p, ROOM2);
    const b = await p.innerText("#room .banner");
    check(b.includes("cross-side") && b.includes("both sides") && b.includes(other) && b.includes("Morgan Reyes") && !b.includes("Ada"), `${mine}'s banner says cross-side and names everyone: ${b}`);
    await sees(p, "Counsel, let us talk about costs.");
  }
  // A cross-side room looks like no caucus (UX review 367 H3): not the first side's orange in another shade, but a
  // double edge and a striped ground that no caucus has; its Send button says both sides read it.
  const looks = await counselA.evaluate(() => {
    const look = (el) => { const s = getComputedStyle(el); return { edge: s.borderLeftStyle, colour: s.borderLeftColor, ground: s.backgroundImage, bg: s.backgroundColor }; };
    const cross = look(document.querySelector("#room .banner"));
    const caucuses = [0, 1, 2, 3].map((i) => { const p = document.createElement("p"); p.className = "banner room-side-" + i; document.body.append(p); const l = look(p); p.remove(); return l; });
    return { cross, caucuses };
  });
  check(looks.cross.edge === "double" && looks.cross.ground.includes("gradient") &&
    looks.caucuses.every((c) => c.edge !== looks.cross.edge && c.ground === "none" && c.colour !== looks.cross.colour),
    "the cross-side room's banner has an edge, ground and colour no caucus has: " + JSON.stringify(looks));
  check(await counselA.innerText("#room form.composer button[type=submit]") === `Send to both sides (“${ROOM2}”)`,
    "the cross-side room's Send button says both sides read it: " + await counselA.innerText("#room form.composer button[type=submit]"));
  await say(counselB, "My client caps costs at 300.");
  await sees(counselA, "My client caps costs at 300.");
  await axeCheck(counselA, "counsel, cross-side room");
  await shoot(counselA, "rooms-counsel-cross");
  check(await roomButton(party, ROOM2).count() === 0, "the tenant sees nothing of the lawyers' room");

  stage("room 2 used");
  // The server lies in its list of rooms: the lawyers' room is not cross-side, it holds the tenant,
  // and there is a room "Secret meeting" the signed membership never named. The banner keeps what
  // was signed, and the unsigned room is not shown.
  const ada = await counselA.evaluate(async (c) => (await (await fetch(`/api/v1/cases/${c}`)).json()).participants.find((p) => p.name === "Ada Okafor").accountId, CASE);
  await counselA.route("**/defined-rooms", async (route) => {
    const res = await route.fetch();
    const list = (await res.json()).map((r) => ({ ...r, crossSide: false, members: [...r.members, ada] }));
    list.push({ ...list[0], id: "fake", room: "room:fake", label: "Secret meeting" });
    await route.fulfill({ response: res, json: list });
  });
  await counselA.reload();
  await counselA.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await openRoom(counselA, ROOM2);
  const lied = await counselA.innerText("#room .banner");
  check(lied.includes("cross-side") && lied.includes("Sam Lindqvist") && !lied.includes("Ada"), "the banner shows the signed room, not the server's list: " + lied);
  check(await roomButton(counselA, "Secret meeting").count() === 0 && !(await counselA.innerText("body")).includes("Secret meeting"), "a room no signed statement names is not shown");
  await counselA.unroute("**/defined-rooms");
  stage("server's list not trusted");
  // 3. Closing the first room asks first, naming who loses it. A button that asks before it acts ends in "…", as
  // "Withdraw…", "Share…" and "Record the outcome…" do; so does Remove, whose question names the person and what
  // removing does, and whose "Keep" removes nothing.
  const asksFirst = [await med.innerText(`li[data-room-label="${ROOM1}"] button.close-room`), await med.innerText('button.remove[aria-label="Remove Sam Lindqvist"]')];
  check(JSON.stringify(asksFirst) === JSON.stringify(["Close room…", "Remove…"]), "the buttons that ask a confirmation first say so with “…”: " + JSON.stringify(asksFirst));
  // By keyboard, Enter pressed twice: the second lands on the question, not on the button that removes (UX review 379 H1).
  await med.focus('button.remove[aria-label="Remove Sam Lindqvist"]');
  await med.keyboard.press("Enter");
  await med.waitForSelector("#remove-q");
  await med.keyboard.press("Enter");
  check(await med.evaluate(() => document.activeElement?.id) === "remove-q" && await med.locator("#confirm-remove").count() === 1,
    "Enter pressed twice leaves the focus on the question, which stays open: " + await med.evaluate(() => document.activeElement?.id));
  const removeQ = await med.innerText("#remove-q");
  check(removeQ.startsWith("Remove Sam Lindqvist from this case?") && removeQ.includes("signed out at once") && removeQ.includes("This cannot be undone") &&
    await med.innerText("#confirm-remove") === "Yes, remove Sam Lindqvist", "removing asks a confirmation naming the person and what it does: " + removeQ);
  await med.click("text=Keep Sam Lindqvist");
  check(await med.locator("#remove-q").count() === 0 && await med.locator('button.remove[aria-label="Remove Sam Lindqvist"]').count() === 1, "keeping him removes nothing");
  await med.locator(`li[data-room-label="${ROOM1}"] button.close-room`).click();
  const q = await med.innerText("#close-room-q");
  check(await med.evaluate(() => document.activeElement?.id) === "close-room-q", "the focus is on the question, not on the button that closes the room");
  check(q.includes(ROOM1) && q.includes("Ada Okafor") && q.includes("cannot be undone") && q.includes("keeps reading"), "closing asks a deliberate confirmation: " + q);
  await med.screenshot({ path: `${shots}/rooms-close-confirm.png`, fullPage: true });
  // The page's poll of the rooms asked before the closing and answered after
  // it (a slow network, a loaded server) still lists the room open: that old
  // answer must not draw the list again over "Closed …", the only word that
  // the closing was done. The next poll waits until that is checked.
  // The first time, the browser cannot sign the closing (the server does not take its closing entry): the page
  // says the room is closed but its closing not signed yet, and offers to sign it (review L3: it said "was not
  // closed: it is closed on the server…").
  const entries = /\/defined-rooms\/[^/]+\/entries$/;
  await staleAnswers(med, "close", { polls: (u) => u.pathname.endsWith("/defined-rooms") }, async () => {
    await med.route(entries, (r) => r.request().method() === "POST"
      ? r.fulfill({ status: 503, contentType: "application/problem+json", body: JSON.stringify({ type: "urn:parley:problem:unavailable", status: 503, detail: "The request was not acknowledged; try it again shortly." }) })
      : r.continue());
    await med.click("#confirm-close-room");
    const unsigned = await med.locator("#room-close-unsigned").innerText({ timeout: 60000 });
    check(unsigned === `"${ROOM1}" is closed: nobody can write in it now. But your browser could not sign its closing (the service did not answer), and until it is signed the server could open the room again. Press “Sign the closing” to try again.`,
      "a closing the browser could not sign says the room is closed, what is missing and what to do: " + unsigned);
    check(await med.locator(`li[data-room-label="${ROOM1}"] button.close-room`).count() === 0, "and no longer offers to close it");
    await shoot(med, "rooms-close-unsigned");
    await med.unroute(entries);
    await med.click(`li[data-room-label="${ROOM1}"] #room-close-unsigned ~ button.sign-close-room`);
    await med.locator("#room-closed-status").waitFor({ timeout: 60000 });
  }, async () => {
    check(await med.locator("#room-closed-status").count() === 1 && (await med.innerText(`li[data-room-label="${ROOM1}"]`)).includes("— closed"),
      "a poll asked before the closing and answered after it leaves “Closed …” and the room shown closed: " + await med.innerText("#defined-rooms"));
  });
  await party.locator("#room-closed").waitFor({ timeout: 20000 });
  check(await party.locator("#draft").count() === 0, "the tenant can no longer write in the closed room");
  const closedNote = await party.innerText("#room-closed");
  check(/closed this room on \d{1,2} [A-Z][a-z]+ \d{4}\./.test(closedNote), "the day the room was closed is said with the month in words (not “06/12/2026”): " + closedNote);
  await sees(party, "Honestly, I would take 1,200.");
  check(true, "and still reads what was said there");
  stage("closed");
  // The server reopens the room and hides its closing: the page, reloaded, still holds the signed closing (kept
  // with this browser's pins), so it shows the room closed and offers no composer (review F2). A first reload
  // without tampering lets the page verify the signed closing (it saw the server's word until then).
  await party.reload();
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await party.route("**/defined-rooms", async (route) => {
    const res = await route.fetch();
    const list = (await res.json()).map((r) => ({ ...r, closed: undefined, closedBy: undefined, entries: (r.entries ?? []).slice(0, 1) }));
    await route.fulfill({ response: res, json: list });
  });
  await party.reload();
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await openRoom(party, ROOM1);
  check(await party.locator("#room-closed").count() === 1 && await party.locator("#draft").count() === 0, "after a reload, the signed closing stands though the server hides it");
  await party.unroute("**/defined-rooms");
  stage("signed closing kept");

  // 4. Room controls in a room the mediator defined (the floor test has them in standing caucuses only): a timer
  // its members see, a raised hand the mediator sees there, and, with the first room closed, a notice to every
  // room that reaches every open one and leaves the closed one out.
  await openRoom(med, ROOM2);
  await med.selectOption("#timer-minutes", "15");
  await med.click("#set-timer");
  await openRoom(counselA, ROOM2);
  await counselA.locator("#floor-timer", { hasText: /This room ends in 1[45] min/ }).waitFor({ timeout: 20000 });
  check(true, "a lawyer in the mediator's room sees its countdown: " + await counselA.innerText("#floor-timer"));
  await openRoom(counselB, ROOM2);
  await counselB.click("#raise-hand");
  await counselB.locator("#hand-state", { hasText: "You asked for the mediator" }).waitFor({ timeout: 20000 });
  const hand = med.locator("#hands li", { hasText: "Sam Lindqvist" });
  await hand.waitFor({ timeout: 20000 });
  const waits = (await hand.innerText()).replace(/\s+/g, " ");
  check(waits.includes(`waits in the ${ROOM2} for less than a minute`), "the mediator sees who asks from the mediator's room: " + waits);
  await shoot(counselA, "rooms-defined-timer");
  stage("timer and hand in a defined room");

  const NOTICE = "We resume in the joint room at two.";
  const targets = await med.innerText("#notice-targets");
  check(targets === `This goes to: Joint room, Tenant caucus, Landlord caucus, ${ROOM2}.`, "the notice goes to every open room, not the closed one: " + targets);
  await med.fill("#notice-text", NOTICE);
  // While the notice is being sent (held here at its first step), a hand
  // coming down draws the panel again: its Send button stays off, since a
  // second click would send the notice twice.
  let release;
  const held = new Promise((r) => { release = r; });
  await med.route(/\/devices\?since=/, async (route) => { await held; await route.continue(); });
  await med.click("#send-notice");
  await counselB.click("#lower-hand");
  await hand.waitFor({ state: "detached", timeout: 20000 });
  check(await med.locator("#send-notice").isDisabled(), "while a notice is being sent, the panel drawn again does not offer to send it again");
  release();
  await med.locator("#floor-result", { hasText: "Notice sent to 4 rooms" }).waitFor({ timeout: 60000 });
  await med.unroute(/\/devices\?since=/);
  check(await med.locator("#send-notice").isEnabled(), "once sent, the Send button is back");
  const result = await med.innerText("#floor-result");
  check(result.includes(ROOM2) && !result.includes(ROOM1), "the page says how many rooms got it, and which: " + result);
  await shoot(med, "rooms-notice");
  for (const [who, page, label] of [["the tenant", party, "Joint room"], ["the tenant", party, "Tenant caucus"], ["the landlord's lawyer", counselB, "Landlord caucus"],
    ["the tenant's lawyer", counselA, ROOM2], ["the landlord's lawyer", counselB, ROOM2]]) {
    await openRoom(page, label);
    await page.locator("#room ol.log li.notice", { hasText: NOTICE }).first().waitFor({ timeout: 60000 });
    check(true, `${who} reads the notice in ${label}`);
  }
  await openRoom(party, ROOM1);
  await sees(party, "Honestly, I would take 1,200.");
  check(await party.locator("#room ol.log li", { hasText: NOTICE }).count() === 0, "nothing was written in the closed room");
  stage("notice after a room was closed");

  // 5. One room refuses the notice (the server's refusal, forged on the mediator's socket): the joint room, the
  // first one tried. The rooms after it still get the notice, and the page names, in plain words, the room that
  // did not.
  let refuseJoint = true, refuseRoom = "";
  await med.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((m) => {
      const f = JSON.parse(String(m));
      if (f.t === "pub" && ((refuseJoint && f.room === "joint") || f.room === refuseRoom)) ws.send(JSON.stringify({ t: "error", id: f.id, code: "forbidden", detail: "not allowed" }));
      else server.send(m);
    });
  });
  await med.reload();
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await med.locator("#notice-targets", { hasText: ROOM2 }).waitFor({ timeout: 20000 });
  const AGAIN = "Please come back to the joint room now.";
  await med.fill("#notice-text", AGAIN);
  await med.click("#send-notice");
  await med.locator("#floor-result.error", { hasText: "Notice sent to 3 rooms" }).waitFor({ timeout: 90000 });
  const failed = await med.innerText("#floor-result");
  check(failed === "Notice sent to 3 rooms; it could not be sent to the Joint room. “Send to the Joint room again” sends it there only: the rooms that have it do not get it twice.",
    "the page says which room did not get the notice, and how to send it there alone: " + failed);
  check(await med.inputValue("#notice-text") === AGAIN, "the notice stays in the box to send again");
  check(await med.innerText("#send-notice") === "Send to the Joint room again", "the Send button now sends to the room that missed it: " + await med.innerText("#send-notice"));
  check(await med.innerText("#notice-targets") === "This goes to: Joint room only — the other rooms already have this notice.", "and the line under the notice says so: " + await med.innerText("#notice-targets"));
  await shoot(med, "rooms-notice-failed");
  for (const [page, label] of [[party, "Tenant caucus"], [counselB, "Landlord caucus"], [counselA, ROOM2]]) {
    await openRoom(page, label);
    await page.locator("#room ol.log li.notice", { hasText: AGAIN }).first().waitFor({ timeout: 60000 });
  }
  check(true, "the rooms after the refusing one still got the notice");
  await openRoom(party, "Joint room");
  check(await party.locator("#room ol.log li", { hasText: AGAIN }).count() === 0, "and the refusing room did not");
  stage("a room refused the notice");

  // 6. Changed words are a new notice, for every room; the same words again go only to the rooms without them: the
  // one that missed them and one opened since (review M2: a second press sent them to every room, the Tenant caucus
  // showed the notice twice; review LOW: a room opened since never got them, yet the page said every room had them).
  await med.fill("#room-label", ROOM3);
  await med.getByLabel("Ada Okafor (Tenant)").check();
  await med.click("#open-room-form button[type=submit]");
  await med.locator("#room-opened", { hasText: ROOM3 }).waitFor({ timeout: 60000 });
  await med.locator("#notice-targets", { hasText: ROOM3 }).waitFor({ timeout: 20000 });
  await med.fill("#notice-text", AGAIN + " Thank you.");
  check(await med.innerText("#send-notice") === "Send the notice to every room" && (await med.innerText("#notice-targets")).startsWith("This goes to: Joint room, Tenant caucus,"),
    "changed words are a new notice, for every room: " + await med.innerText("#notice-targets"));
  await med.fill("#notice-text", AGAIN);
  check(await med.innerText("#send-notice") === `Send to the Joint room and the “${ROOM3}” room`,
    "the same words again are the notice the Joint room missed and the new room has not had: " + await med.innerText("#send-notice"));
  check(await med.innerText("#notice-targets") === `This goes to: Joint room, ${ROOM3} only — the other rooms already have this notice.`,
    "and the line under the notice names them: " + await med.innerText("#notice-targets"));
  refuseJoint = false;
  await med.click("#send-notice");
  await med.locator("#floor-result.note", { hasText: "every room has it now" }).waitFor({ timeout: 90000 });
  const resent = await med.innerText("#floor-result");
  check(resent === `Notice sent to the Joint room and the “${ROOM3}” room too: every room has it now.`, "the page says the rooms without it have it now: " + resent);
  await openRoom(party, ROOM3);
  await party.locator("#room ol.log li.notice", { hasText: AGAIN }).first().waitFor({ timeout: 60000 });
  check(await party.locator("#room ol.log li.notice", { hasText: AGAIN }).count() === 1, "the room opened since got the notice, once");
  await openRoom(party, "Joint room");
  check(await med.inputValue("#notice-text") === "" && await med.innerText("#send-notice") === "Send the notice to every room", "the box is empty and the next notice goes to every room");
  await party.locator("#room ol.log li.notice", { hasText: AGAIN }).first().waitFor({ timeout: 60000 });
  check(await party.locator("#room ol.log li.notice", { hasText: AGAIN }).count() === 1, "the Joint room got the notice once");
  // A message the mediator writes in the Tenant caucus after the notice was sent again: once the tenant reads it,
  // a second copy of the notice would have arrived before it.
  await openRoom(med, "Tenant caucus");
  await say(med, "Written after the notice was sent again.");
  await openRoom(party, "Tenant caucus");
  await sees(party, "Written after the notice was sent again.");
  const copies = await party.locator("#room ol.log li.notice", { hasText: AGAIN }).count();
  check(copies === 1, `the Tenant caucus shows the notice once, not again (${copies})`);
  for (const [page, label] of [[counselB, "Landlord caucus"], [counselA, ROOM2]]) {
    await openRoom(page, label);
    await page.locator("#room ol.log li.notice", { hasText: AGAIN }).first().waitFor({ timeout: 60000 });
    const n = await page.locator("#room ol.log li.notice", { hasText: AGAIN }).count();
    check(n === 1, `the ${label} shows the notice once, not again (${n})`);
  }
  stage("the notice sent again to the room that missed it");

  // 7. A notice the room opened since refuses, and that room is then closed: there is nowhere left to send it, and
  // the button and the line under the notice say so, the button off (review LOW: they said “Send the notice to
  // every room” while a press sent nothing).
  refuseRoom = await roomButton(med, ROOM3).getAttribute("data-room");
  const LAST = "We resume at three.";
  await med.fill("#notice-text", LAST);
  await med.click("#send-notice");
  await med.locator("#floor-result.error", { hasText: "could not be sent to" }).waitFor({ timeout: 90000 });
  check(await med.innerText("#send-notice") === `Send to the “${ROOM3}” room again`, "the room that refused it is offered: " + await med.innerText("#send-notice"));
  await med.locator(`li[data-room-label="${ROOM3}"] button.close-room`).click();
  await med.click("#confirm-close-room");
  await med.locator(`li[data-room-label="${ROOM3}"]`, { hasText: "— closed" }).waitFor({ timeout: 60000 });
  await med.locator("#send-notice", { hasText: "Every room has this notice" }).waitFor({ timeout: 20000 });
  check(await med.locator("#send-notice").isDisabled(), "with nowhere left to send it, the button is off");
  const nowhere = await med.innerText("#notice-targets");
  check(nowhere === "Every room you can send to has this notice already (the rooms that missed it are closed now or left). Change the words to send a new notice.",
    "and the line under the notice says why: " + nowhere);
  await med.fill("#notice-text", LAST + " Thanks.");
  check(await med.innerText("#send-notice") === "Send the notice to every room" && await med.locator("#send-notice").isEnabled(), "changed words are a new notice again, the button on");
  await med.unrouteAll();
  stage("nowhere left to send the notice");
  await ask("audited", "opened,opened,closed,opened,closed");
}, async () => {
  log("FAIL context written by the pages above");
});
