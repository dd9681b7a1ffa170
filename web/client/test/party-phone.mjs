// The party's journey on a phone (UX review 367), in real Chromium. Run by
// web/party_phone_browser_test.go, which makes a mediator, a case (Tenant,
// Landlord) and an invitation for the tenant (Ada Okafor), and answers
// "ask agreement" (the mediator drafts the agreement) and "ask remove" (the
// mediator removes the tenant).
//
// The welcome offers the party's caucus first; the message box says, in
// its room's colour, who reads what is typed in it; a reload comes back to
// the room on the screen (never to one the person cannot open); and a
// comment on the agreement sent while the caucus is on the screen asks
// first, since it goes to the joint room. Removed from the case, she reads
// that her part has ended, in plain words.
import { passGate } from "./gate.mjs";
import { ask, check, env, log, newPage, run, shots, fitsWidth, signInMediator } from "./harness.mjs";

const CASE = env("PARLEY_CASE");
const phone = { width: 390, height: 844 };

async function shoot(page, name) {
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await fitsWidth(page, name);
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize(phone);
}
const connected = (p) => p.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
const roomLook = (p, sel) => p.evaluate((s) => { const st = getComputedStyle(document.querySelector(s)); return `${st.borderLeftColor} ${st.borderLeftStyle} ${st.backgroundColor} ${st.backgroundImage}`; }, sel);

let A;
await run(async () => {
  // The mediator's browser is open throughout: it signs who is in each room, which a party's message waits for.
  const med = await newPage("mediator");
  await signInMediator(med);
  A = await newPage("party", phone, { hasTouch: true, isMobile: true });
  await A.goto(env("PARLEY_INVITE"));
  await passGate(A);
  await connected(A);

  // M2: the welcome's first, main action is the party's caucus.
  await A.locator("#welcome").waitFor();
  const first = A.locator("#welcome .row button").first();
  check(await first.getAttribute("id") === "welcome-caucus" && await first.innerText() === "Go to your caucus" && await first.getAttribute("class") === "primary",
    "the welcome's first button, the main one, is “Go to your caucus”: " + await first.innerText());
  check(await A.getAttribute("#welcome-dismiss", "class") !== "primary" && await A.innerText("#welcome-dismiss") === "Got it, stay here",
    "staying in the joint room is the second, plain button: " + await A.innerText("#welcome-dismiss"));
  await shoot(A, "welcome-party-caucus-first");

  // M1: the joint room's message box says everyone reads it, in the joint room's colour.
  check(await A.innerText("label[for=draft]") === "Message to everyone (joint room)", "the joint room's box: " + await A.innerText("label[for=draft]"));
  check(await roomLook(A, "#room form.composer") === await roomLook(A, "#room .banner"), "the joint room's message box wears the room's colour: " + await roomLook(A, "#room form.composer"));

  await A.click("#welcome-caucus");
  await A.locator("#room-title", { hasText: "Tenant caucus" }).waitFor();
  check(await A.innerText("label[for=draft]") === "Private message to your side (Tenant caucus)", "the caucus's box says it is private to her side: " + await A.innerText("label[for=draft]"));
  const caucusLook = await roomLook(A, "#room form.composer");
  check(caucusLook === await roomLook(A, "#room .banner") && caucusLook !== await roomLook(A, "#rooms button[data-room=joint]"),
    "the caucus's message box wears the caucus's colour, not the joint room's: " + caucusLook);
  await A.fill("#draft", "A draft for my side only");
  await A.locator("#draft").scrollIntoViewIfNeeded();
  await shoot(A, "party-caucus-composer");

  // H2: a reload comes back to the caucus; a room she cannot open is never restored.
  await A.reload();
  await connected(A);
  await A.locator("#room-title").waitFor();
  check(await A.innerText("#room-title") === "Tenant caucus" && await A.getAttribute("#rooms button[data-room='caucus:A']", "aria-current") === "true",
    "after a reload she is still in her caucus: " + await A.innerText("#room-title"));
  await A.evaluate((k) => sessionStorage.setItem("parley.room." + k, "caucus:B"), CASE);
  await A.reload();
  await connected(A);
  await A.locator("#room-title").waitFor();
  check(await A.innerText("#room-title") === "Joint room", "a room she cannot open (the other side's caucus) is not restored: the joint room opens: " + await A.innerText("#room-title"));
  await A.click("#rooms button[data-room='caucus:A']");
  await A.locator("#room-title", { hasText: "Tenant caucus" }).waitFor();

  // H1: a comment on the agreement, from the caucus, asks before it goes to the joint room.
  await ask("agreement");
  await A.reload(); // the agreement appears at the next poll; a reload shows it now (and keeps the caucus)
  await connected(A);
  const send = A.locator("#agreement-comment-send");
  await send.waitFor({ timeout: 60000 });
  check(await send.innerText() === "Send comment to everyone", "the comment button says where it goes: " + await send.innerText());
  await A.fill("#agreement-comment", "I need to think about the deposit.");
  await send.click();
  const q = A.locator("#agreement-comment-question");
  await q.waitFor();
  check(await q.innerText() === "Post this comment in the joint room? Everyone, including the other side, will read it. You are looking at your private caucus.",
    "from the caucus, she is asked first: " + await q.innerText());
  check(await A.evaluate(() => document.activeElement?.id) === "agreement-comment-question", "the focus is on the question, not on the button that posts");
  check(await A.innerText("#agreement-comment-confirm") === "Yes, post it to everyone" && await A.innerText("#agreement-comment-cancel") === "Cancel", "the answers name what they do");
  await q.scrollIntoViewIfNeeded();
  await shoot(A, "agreement-comment-ask");
  await A.click("#agreement-comment-cancel");
  await q.waitFor({ state: "detached" });
  check(await A.evaluate(() => document.activeElement?.id) === "agreement-comment-send" && await A.inputValue("#agreement-comment") === "I need to think about the deposit.",
    "Cancel sends nothing, keeps her words and goes back to the button");
  check(await A.innerText("#agreement-status") === "", "nothing was sent");
  await send.click();
  await A.click("#agreement-comment-confirm");
  await A.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).waitFor({ timeout: 60000 });
  check(await A.inputValue("#agreement-comment") === "", "posted, the box is empty");
  await A.click("#rooms button[data-room=joint]");
  await A.locator("#room ol.log li", { hasText: "I need to think about the deposit." }).waitFor({ timeout: 60000 });
  check(await A.locator("#room ol.log li", { hasText: "I need to think about the deposit." }).count() === 1, "the comment is in the joint room, once");

  // From the joint room, a comment goes at once: she is reading the room it goes to.
  await A.fill("#agreement-comment", "Otherwise fine.");
  await send.click();
  await A.locator("#agreement-status", { hasText: "Your comment is in the joint room" }).waitFor({ timeout: 60000 });
  await A.locator("#room ol.log li", { hasText: "Otherwise fine." }).waitFor({ timeout: 60000 });
  check(await A.locator("#agreement-comment-question").count() === 0, "from the joint room, nothing is asked");

  // M9: removed from the case, she reads that her part has ended, in plain words (not an error), and the way back.
  await ask("remove");
  await A.locator("h1", { hasText: "You are no longer part of this mediation" }).waitFor({ timeout: 60000 });
  const ended = await A.innerText("#status");
  check(ended === "Your part in this mediation has ended, so its rooms and documents are closed to you. If you did not expect this, contact your mediator or the mediation program.",
    "the page says her part has ended and whom to contact: " + ended);
  check(await A.getAttribute("#status", "class") !== "error" && await A.innerText("#access-ended-back") === "Back to the start page" && !/\bcases?\b/.test(await A.innerText("main")),
    "in plain style, with “Back to the start page”, never “case”: " + await A.innerText("main"));
  await shoot(A, "access-ended-party");
}, async () => { if (A) log("party page: " + (await A.innerText("body")).slice(0, 3000)); });
