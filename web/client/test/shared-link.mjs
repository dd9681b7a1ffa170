// A mailed link whose address someone else in the mediation now also
// uses, in real Chromium: run by web/shared_link_browser_test.go, which
// makes a link back in for Ada Okafor (PARLEY_REENTRY) and an invitation
// for her lawyer (PARLEY_INVITE), each while its address was nobody
// else's, and answers "ask share" (the Landlord side is invited at both
// addresses, so both links stop working: cases.ErrLinkShared).
import { ask, check, env, log, newPage, run, shots } from "./harness.mjs";

const phone = { width: 390, height: 844 };
// Never shown to a person: ids, wire names, the server's own sentence, browser network text.
const internal = new RegExp([String.raw`\b[a-z]{1,4}_[a-z2-7]{6,}`, "urn:parley", "problem", "410", "Gone", "Failed to fetch", String.raw`HTTP \d`,
  "ErrLinkShared", "seat", env("PARLEY_CASE"), env("PARLEY_ACCOUNT")].join("|"));

async function refused(link, viewport, who, shot) {
  const page = await newPage(who, viewport);
  await page.goto(link);
  const status = page.locator("#status.error");
  await status.waitFor();
  const body = await page.locator("main").innerText();
  log(`${who}: ${body}`);
  check(body.includes("This link no longer works") && body.includes("now also used by someone else in this mediation"), `${who}: the page says what happened`);
  check(body.includes("ask your mediator for a new link") && body.includes("in person or by phone"), `${who}: and what to do: ask the mediator`);
  check(!internal.test(body), `${who}: no ids or raw errors (${body.match(internal)?.[0] ?? ""})`);
  check(await page.locator("#invite-again, #get-email-link, #email").count() === 0, `${who}: no "Try again", no link by email, no sign-in form`);
  check(new URL(page.url()).pathname === "/join", `${who}: the page stays on the link`);
  await page.screenshot({ path: `${shots}/${shot}`, fullPage: true });
  return page;
}

await run(async () => {
  await ask("share");
  // Ada opens her link back in on her computer.
  await refused(env("PARLEY_REENTRY"), { width: 1280, height: 900 }, "Ada, link back in", "link-shared-refused.png");
  // Jordan opens the invitation on his phone.
  const p = await refused(env("PARLEY_INVITE"), phone, "Jordan, invitation", "link-shared-refused-phone.png");
  // Opened again, the link says the same: it was refused, not used up.
  await p.reload();
  await p.locator("#status.error").waitFor();
  check((await p.locator("#status.error").innerText()).includes("This link no longer works"), "opened again, the invitation says the same");
});
