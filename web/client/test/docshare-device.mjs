// A side's answer from a browser that is not one of the person's own, in
// real Chromium. Run by web/docshare_browser_test.go
// (TestBrowserDocShareForeignDevice): a mediator, a case (Tenant,
// Landlord), an invitation for Ada Okafor (Tenant). Ada joins and adds a
// document to her caucus; the mediator asks the Tenant side to allow
// showing it in the joint room; Ada then opens a link back in the
// mediator made for her in a new browser (one she never used, not linked
// from her own) and reads the request there. The page says up front, in
// plain words, that this browser cannot give her consent and where to
// answer from, and offers no Allow… or Decline… (UX review 367 M7: an
// answer from here was refused only after she had confirmed it); the
// request stays open on both browsers and the document stays within her
// side.
import { axeCheck } from "./axe.mjs";
import { docCard, openRoom, shoot, upload } from "./docshare-lib.mjs";
import { passGate } from "./gate.mjs";
import { ask, check, env, joinByInvite, newPage, run } from "./harness.mjs";

const LONG = 60000;
const request = (page) => page.locator("#doc-share-requests .share-request", { hasText: "Deposit receipt.pdf" });

await run(async () => {
  const own = await newPage("Ada (Tenant), her own browser");
  await joinByInvite(own, env("PARLEY_INVITE_A"));
  await openRoom(own, "caucus:A");
  await upload(own, "Deposit receipt.pdf", "receipt of the deposit, 1,200");
  const docID = await docCard(own, "Deposit receipt.pdf").getAttribute("data-doc");
  await ask("ask", docID);
  await request(own).waitFor({ timeout: LONG });
  check(true, "Ada's own browser is asked");

  // A link back in, opened in a browser Ada never used.
  const other = await newPage("Ada (Tenant), a new browser");
  await other.goto(await ask("reentry"));
  await passGate(other);
  await other.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
  await openRoom(other, "caucus:A");
  const req = request(other);
  await req.waitFor({ timeout: LONG });
  const elsewhere = req.locator(".share-request-elsewhere");
  await elsewhere.waitFor({ timeout: LONG });
  const words = (await elsewhere.innerText()).trim();
  check(words === "You cannot answer this on this phone or computer. Your consent can only be given from a phone or computer you have used before for this mediation, " +
    "or one you linked from it under “Your devices” (one your mediator let in for you cannot give it). Answer there, or ask someone else on your side to answer.",
  "the new browser says up front that it cannot answer, and where to answer from: " + words);
  check(await req.locator("button.share-request-allow, button.share-request-decline").count() === 0, "and offers no Allow… or Decline… that would be refused");
  const box = await other.locator("#doc-share-requests").innerText();
  check(!/\b(dv|d|sa|u|c)_[a-z2-7]{26}\b|approve_share|doc\.share|consent\.refused|Failed to fetch|forbidden|\b403\b|signature|device (id|key|record)/i.test(box),
    "no id, action name, status or network text: " + box.replace(/\n/g, " / "));
  check(await other.locator("#share-request-note").count() === 0, "nothing says it was allowed");
  // The request is still there to answer on her own browser.
  check(await request(own).locator("button.share-request-allow").count() === 1, "her own browser still offers to answer");
  await ask("unshared", docID);
  await axeCheck(other, "the refused answer");
  await shoot(other, "docshare-foreign-device");
});
