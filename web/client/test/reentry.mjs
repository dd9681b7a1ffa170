// Coming back, in real Chromium. Run by web/reentry_browser_test.go, which
// starts a node whose session clock it can move, makes a mediator, a case
// and an invitation for a party, and answers: "ask joined" (note the
// party's account), "ask expire" (move the clock past the idle window),
// "ask same ID" (is ID the account that first joined, and still the only
// participant?).
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run, shots, signInMediator } from "./harness.mjs";

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}
const WELCOME = "Welcome, Ada: this is the joint room.";
const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };

await run(async () => {
  // The party joins by invitation.
  const party = await newPage("party", { width: 1280, height: 900 });
  await party.goto(env("PARLEY_INVITE"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await ask("joined");

  // The mediator signs in and welcomes everyone in the joint room.
  const med = await newPage("med", { width: 1280, height: 900 }, { permissions: ["clipboard-read", "clipboard-write"] });
  await signInMediator(med);
  await openRoom(med, "joint");
  await med.fill("#draft", WELCOME);
  await med.click("#room form button[type=submit]");
  await med.locator("#room ol.log li", { hasText: WELCOME }).first().waitFor({ timeout: 60000 });
  await openRoom(party, "joint");
  await party.locator("#room ol.log li", { hasText: WELCOME }).first().waitFor({ timeout: 60000 });
  check(true, "the party reads the mediator's welcome");

  // Eight days later, the party's session has ended.
  await ask("expire");
  await party.reload();
  await party.locator("#come-back-title").waitFor();
  const ended = await party.innerText("#come-back");
  check(ended.includes("You have been signed out") && ended.includes("ask your mediator for a “link back in”"), "the party is told in plain words how to come back");
  check(await party.locator("#password").count() === 0, "and is not shown an email and password form");
  // A link by email goes only to an address the party confirmed in Parley.
  check(ended.includes("If you confirmed your email address in Parley, you can also get a link yourself:") && !ended.includes("If your mediator has your email address"),
    "the email-link offer says it needs an address confirmed in Parley");
  await shoot(party, "reentry-ended");

  // The mediator (whose session ended too) signs in again and makes a link back in.
  await signInMediator(med);
  const row = med.locator('#people li[data-person="Ada Okafor"]');
  await row.waitFor({ timeout: 60000 });
  const peopleNote = await med.locator("#people > p.note").first().innerText();
  check(peopleNote.includes("If we have their email address, “Link back in” also emails the link to them at once, unless someone else in this case uses that address.") && peopleNote.includes("they see earlier messages only after linking it from a device they used before"),
    "before pressing it, the mediator reads that “Link back in” also emails the link, and what a new device shows: " + peopleNote);
  await row.locator("button.reentry").click();
  const linkInput = row.locator("input[readonly]");
  await linkInput.waitFor();
  const linkNote = await row.locator(".reentry-link p.note").first().innerText();
  check(linkNote.includes("signs them in as themselves. On a new phone or computer they see earlier messages only after linking it from a device they used before.") && !linkNote.includes("everything they could see before"),
    "the link's note does not promise a new device everything they could see before: " + linkNote);
  const link = await linkInput.inputValue();
  check(link.startsWith(base + "/join#"), "the mediator is shown the link once, with a copy button");
  check(await row.locator("button", { hasText: "Copy link" }).count() === 1, "a copy button is there");
  await shoot(med, "reentry-mediator");
  // Someone else joins while the link is on screen: the list is drawn
  // again, and the link (shown only this once) stays.
  await ask("another");
  await med.locator('#people li[data-person="Lars Lindqvist"]').waitFor({ timeout: 60000 });
  check(await row.locator("input[readonly]").count() === 1 && await row.locator("input[readonly]").inputValue() === link,
    "the link shown once stays on screen when someone else joins");

  // The link signs someone in as Ada, so it does not stay on screen:
  // copying it says "Copied." and then hides it.
  // The clipboard takes a write only from the focused page: the party's
  // page was used last, so the mediator's is brought to the front first
  // (under load the copy otherwise fell back to "Select the link and
  // copy it.").
  await med.bringToFront();
  await row.locator("button", { hasText: "Copy link" }).click();
  await row.locator("[role=status]", { hasText: /Copied\.|Select the link/ }).first().waitFor();
  check(await row.locator("[role=status]", { hasText: "Copied." }).count() > 0, "Copy link says Copied.");
  check(await med.evaluate(() => navigator.clipboard.readText()) === link, "Copy link puts the link on the clipboard and says Copied.");
  await row.locator("input[readonly]").waitFor({ state: "detached" });
  const hidden = await row.locator(".reentry-hidden").innerText();
  check(hidden.includes("The link for Ada Okafor is no longer shown") && hidden.includes("still works once") && !hidden.includes("/join#"),
    "once copied, the link is hidden, and the mediator is told it still works: " + hidden);
  // "Done — hide the link" hides one at once (here, one for Lars).
  const lars = med.locator('#people li[data-person="Lars Lindqvist"]');
  await lars.locator("button.reentry").click();
  await lars.locator("input[readonly]").waitFor();
  await lars.locator("button", { hasText: "Done — hide the link" }).click();
  check(await lars.locator("input[readonly]").count() === 0 && await lars.locator(".reentry-hidden").count() === 1, "Done hides the link at once");
  check(!(await med.innerText("#people")).includes("/join#"), "no link back in is left on the mediator's screen");
  // Left alone, a link hides itself after five minutes on screen (the
  // page's clock is moved, not waited for).
  await med.clock.install();
  await lars.locator("button.reentry").click();
  await lars.locator("input[readonly]").waitFor();
  await med.clock.fastForward("04:50");
  check(await lars.locator("input[readonly]").count() === 1, "a link left alone is still shown after 4 minutes 50 seconds");
  await med.clock.fastForward("00:15");
  await lars.locator("input[readonly]").waitFor({ state: "detached" });
  const timedOut = await lars.locator(".reentry-hidden").innerText();
  check(timedOut.includes("Hidden after 5 minutes on screen.") && timedOut.includes("still works once") && !timedOut.includes("/join#"),
    "a link left on screen hides itself after 5 minutes, and says so: " + timedOut);

  // The party opens it in the same browser: the same account, with its history.
  await party.goto(link);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const me = await party.evaluate(async () => (await (await fetch("/api/v1/me")).json()).id);
  await ask("same", me);
  check((await party.innerText("#who")).includes("Ada Okafor"), "the party is back as Ada Okafor");
  await openRoom(party, "joint");
  await party.locator("#room ol.log li", { hasText: WELCOME }).first().waitFor({ timeout: 60000 });
  check(true, "the welcome from before is still readable");
  await party.screenshot({ path: `${shots}/reentry-back.png`, fullPage: true });

  // The same link again, still signed in: it goes to the case.
  await party.goto(link);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  check(await party.locator("text=expired or was already used").count() === 0, "the used link, opened by its owner while signed in, goes to the case");

  // A second use from another browser is refused.
  const stranger = await newPage("stranger", { width: 390, height: 844 });
  await stranger.goto(link);
  await stranger.locator("text=expired or was already used").waitFor();
  check(true, "a second use from another browser is refused");

  // Signing out asks first, naming what it means; "Stay signed in" keeps
  // everything as it was, the half-written message too.
  await party.setViewportSize({ width: 390, height: 844 });
  const HALF = "I would accept if the deposit";
  await party.fill("#draft", HALF);
  await party.click("#signout");
  const question = party.locator("#signout-confirm[open]");
  await question.waitFor();
  const asked = (await question.innerText()).replace(/\s+/g, " ");
  check(asked.includes("Sign out?") && asked.includes("ask your mediator for a “link back in”") && asked.includes("emailed sign-in link") && asked.includes("just close this page"),
    "Sign out asks first, saying how to come back and how to take a break instead: " + asked);
  check(await question.locator("button", { hasText: "Stay signed in" }).count() === 1 && await question.locator("button", { hasText: /^Sign out$/ }).count() === 1,
    "with the buttons Stay signed in and Sign out");
  check(await party.evaluate(() => document.activeElement?.textContent) === "Stay signed in", "the safe answer has the focus");
  await party.screenshot({ path: `${shots}/signout-confirm-phone.png`, fullPage: false });
  await party.setViewportSize({ width: 1280, height: 900 });
  await party.screenshot({ path: `${shots}/signout-confirm.png`, fullPage: false });
  await party.setViewportSize({ width: 390, height: 844 });
  await question.locator("button", { hasText: "Stay signed in" }).click();
  await party.locator("#signout-confirm").waitFor({ state: "detached" });
  check(await party.evaluate(async () => (await fetch("/api/v1/me")).status) === 200, "Stay signed in leaves the party signed in");
  check(await party.inputValue("#draft") === HALF && (await party.innerText("#conn")).includes("Connected"), "with the half-written message still in the box, still connected");

  // Signing out: how to come back, never an email and password form.
  await party.click("#signout");
  await party.locator("#signout-confirm[open] button", { hasText: /^Sign out$/ }).click();
  await party.locator("#come-back-title", { hasText: "You are signed out" }).waitFor();
  check(await party.locator("#password").count() === 0, "signed out, the party sees how to come back, not a password form");
  check((await party.innerText("#come-back")).includes("ask your mediator for a “link back in”"), "in plain words, as the mediator's button says it");
  check(await party.locator("#come-back #email-link-open").count() === 1, "with the button to get a link by email");
  await party.screenshot({ path: `${shots}/reentry-signed-out-phone.png`, fullPage: true });
  await party.setViewportSize({ width: 1280, height: 900 });
  await party.screenshot({ path: `${shots}/reentry-signed-out.png`, fullPage: true });
});
