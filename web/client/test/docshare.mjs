// A side's consent before its caucus document is shown wider, in real
// Chromium. Run by web/docshare_browser_test.go: a mediator, a case
// (Tenant, Landlord), invitations for Ada Okafor (Tenant) and Lars
// Lindqvist (Landlord).
import { axeCheck } from "./axe.mjs";
import { docCard, openRoom, shoot, upload } from "./docshare-lib.mjs";
import { base, check, env, joinByInvite, newPage, run, signInMediator } from "./harness.mjs";
const T = 30000;

await run(async () => {
  const ada = await newPage("Ada (Tenant)", { width: 1280, height: 900 });
  await joinByInvite(ada, env("PARLEY_INVITE_A"));
  const lars = await newPage("Lars (Landlord)", { width: 1280, height: 900 });
  await joinByInvite(lars, env("PARLEY_INVITE_B"));
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await signInMediator(med);

  await openRoom(ada, "caucus:A");
  await upload(ada, "Deposit receipt.pdf", "receipt of the deposit, 1,200");
  await upload(ada, "Bank statement.pdf", "statement");
  // Ada's lawyer's corrected scan, added as a second version through the
  // API (the browser itself adds documents, not versions): a share shows
  // both, and the side is told so.
  const receiptID = await docCard(ada, "Deposit receipt.pdf").getAttribute("data-doc");
  const added = await ada.evaluate(async ([c, d]) => {
    const r = await fetch(`/api/v1/cases/${c}/documents/${d}/versions`, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/pdf", "Parley-Document-Name": encodeURIComponent("Deposit receipt.pdf") }, body: "receipt of the deposit, 1,200 (clear scan)" });
    return r.status;
  }, [env("PARLEY_CASE"), receiptID]);
  check(added === 201, "a second version of the receipt is added: " + added);

  // The mediator's share offers only to ask the Tenant side.
  await openRoom(med, "caucus:A");
  const card = docCard(med, "Deposit receipt.pdf");
  await card.waitFor({ timeout: T });
  await card.locator("select").selectOption("joint");
  await card.locator("button", { hasText: "Share…" }).click();
  const needs = card.locator(".share-needs-approval");
  await needs.waitFor();
  const words = await needs.innerText();
  check(words.includes("The Tenant side added “Deposit receipt.pdf” to their caucus") && words.includes("only after a party or lawyer of the Tenant side allows it"),
    "the mediator is told the Tenant side must allow it first: " + words.replace(/\n/g, " / "));
  const askBtn = needs.locator("button.share-ask");
  check((await askBtn.innerText()) === "Ask the Tenant side to allow showing “Deposit receipt.pdf” to everyone in the joint room",
    "the button says what it asks, of whom: " + await askBtn.innerText());
  check(await card.locator("button.share-confirm").count() === 0, "no one-click share is offered");
  // The server refuses the share itself, in words, whatever the page does.
  const docID = await card.getAttribute("data-doc");
  const refused = await med.evaluate(async ([c, d]) => {
    const r = await fetch(`/api/v1/cases/${c}/documents/${d}/share`, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ audience: "joint" }) });
    return { status: r.status, body: await r.json() };
  }, [env("PARLEY_CASE"), docID]);
  check(refused.status === 403 && refused.body.detail.includes("the Tenant side added this document to its caucus"),
    "the server refuses the share without the side's approval: " + JSON.stringify(refused));
  await axeCheck(med, "the mediator's ask");
  await shoot(med, "docshare-ask");
  await askBtn.click();
  await needs.locator("p", { hasText: "Asked." }).waitFor();
  await med.locator("#doc-share-requests .share-request-pending", { hasText: "Waiting for the Tenant side to allow showing “Deposit receipt.pdf” to everyone in the joint room" }).waitFor({ timeout: T });
  check(true, "the mediator's page says it waits for the Tenant side");

  // Lars sees no request about the Tenant's document.
  await lars.waitForTimeout(200);
  check(await lars.locator("#doc-share-requests li").count() === 0, "the Landlord party sees no request about the Tenant's document");

  // Ada reads the request in words and allows it, deliberately.
  const req = ada.locator("#doc-share-requests .share-request", { hasText: "Deposit receipt.pdf" });
  await req.waitFor({ timeout: T });
  const asks = await req.innerText();
  check(asks.includes("The mediator Morgan Reyes asks your side to allow showing “Deposit receipt.pdf” to everyone in the joint room") &&
    asks.includes("Lars Lindqvist") && asks.includes("will be able to open it"),
    "the party reads who asks, which document and exactly who would see it: " + asks.replace(/\n/g, " / "));
  check(asks.includes("This document has 2 versions, and allowing it shows every one of them, not only the latest") &&
    asks.includes("version 2 (the latest)") && asks.includes("“Deposit receipt.pdf” — version 1, added"),
    "and that the earlier version would be shown too, each named: " + asks.replace(/\n/g, " / "));
  check(!/caucus:|doc\.share|approve_share/.test(asks), "in plain words");
  // The deadline and each version's time with its zone ("13 Dec 2026, 12:14 GMT"): the side may be in another zone than the mediator.
  const lapses = /The request expires on ([^.]+)\./.exec(asks)?.[1] ?? "";
  const addedAt = [...asks.matchAll(/added (\d{1,2} \w+ \d{4}, [^\n]+)/g)].map((m) => m[1]);
  check(/^\d{1,2} \w+ \d{4}, \d{1,2}:\d{2} (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2})?$/.test(lapses) && addedAt.length === 2 && addedAt.every((a) => / (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2})?$/.test(a)),
    "when the request lapses and when each version was added are said with the year and the time zone: " + JSON.stringify({ lapses, addedAt }));
  await axeCheck(ada, "the party's request");
  await shoot(ada, "docshare-party");
  await req.locator("button.share-request-allow").click();
  const confirm = req.locator(".confirm");
  await confirm.waitFor();
  const cw = await confirm.innerText();
  check(await ada.evaluate(() => document.activeElement?.tagName === "P" && document.activeElement.id.startsWith("share-request-confirm-")),
    "the focus is on the question, not on the button that allows (Enter twice must not allow)");
  check(cw.includes("Allow the mediator to show “Deposit receipt.pdf” and its earlier version “Deposit receipt.pdf” (version 1, ") &&
    cw.includes("to everyone in the joint room") && cw.includes("will be able to open every one of them") && cw.includes("This cannot be undone"),
    "allowing asks for confirmation, saying it cannot be undone: " + cw.replace(/\n/g, " / "));
  await axeCheck(ada, "the party's confirmation");
  await shoot(ada, "docshare-party-confirm");
  await confirm.locator("button.share-request-yes").click();
  await ada.locator("#share-request-note", { hasText: "You allowed the mediator to show “Deposit receipt.pdf” to everyone in the joint room" }).waitFor({ timeout: T });
  check(true, "the party's page says what she allowed");

  // The mediator's page follows; the share now goes through.
  await med.locator("#doc-share-requests .share-request-approved", { hasText: "Ada Okafor" }).waitFor({ timeout: T });
  const medCard = docCard(med, "Deposit receipt.pdf");
  await medCard.locator("select").selectOption("joint");
  await medCard.locator("button", { hasText: "Share…" }).click();
  const share = medCard.locator(".confirm", { hasText: "Lars Lindqvist" });
  await share.waitFor();
  await axeCheck(med, "the mediator's page after the approval");
  await shoot(med, "docshare-mediator");
  await share.locator("button.share-confirm").click();
  await openRoom(lars, "joint");
  await docCard(lars, "Deposit receipt.pdf").waitFor({ timeout: T });
  check(true, "once the Tenant side allowed it and the mediator shared it, the Landlord party's joint room lists it");
  check(await docCard(lars, "Bank statement.pdf").count() === 0, "and nothing else of the Tenant caucus");

  // A declined request: the mediator's page says so; nothing is shared.
  await openRoom(med, "caucus:A");
  const bank = docCard(med, "Bank statement.pdf");
  await bank.locator("select").selectOption("caucus:B");
  await bank.locator("button", { hasText: "Share…" }).click();
  await bank.locator("button.share-ask").click();
  const req2 = ada.locator("#doc-share-requests .share-request", { hasText: "Bank statement.pdf" });
  await req2.waitFor({ timeout: T });
  check((await req2.innerText()).includes("to the Landlord side, in the Landlord caucus"), "the request names the other side's caucus");
  await req2.locator("button.share-request-decline").click();
  await req2.locator("button.share-request-yes").click();
  await med.locator("#doc-share-requests .share-request-declined", { hasText: "declined showing “Bank statement.pdf” to the Landlord side" }).waitFor({ timeout: T });
  check(true, "the mediator's page says the Tenant side declined");
  await openRoom(lars, "caucus:B");
  check(await docCard(lars, "Bank statement.pdf").count() === 0, "the declined document is not in the Landlord caucus");

  // Two steps are one: moving the Tenant's document to the mediators only
  // needs no approval, but the next share, to the joint room, still asks
  // the Tenant side (no plain confirmation), and Ada is asked.
  await openRoom(ada, "caucus:A");
  await upload(ada, "Bottom line.pdf", "lowest acceptable");
  await openRoom(med, "caucus:A");
  const bottom = docCard(med, "Bottom line.pdf");
  await bottom.waitFor({ timeout: T });
  await bottom.locator("select").selectOption("mediators");
  await bottom.locator("button", { hasText: "Share…" }).click();
  await bottom.locator("button.share-confirm").click();
  await openRoom(med, "mediators");
  const moved = docCard(med, "Bottom line.pdf");
  await moved.waitFor({ timeout: T });
  await moved.locator("select").selectOption("joint");
  await moved.locator("button", { hasText: "Share…" }).click();
  const needs2 = moved.locator(".share-needs-approval");
  await needs2.waitFor({ timeout: T });
  check(await moved.locator("button.share-confirm").count() === 0,
    "after a move to the mediators only, the share to the joint room still offers only to ask the Tenant side");
  await needs2.locator("button.share-ask").click();
  await needs2.locator("p", { hasText: "Asked." }).waitFor();
  const req3 = ada.locator("#doc-share-requests .share-request", { hasText: "to everyone in the joint room" });
  await req3.waitFor({ timeout: T });
  check(true, "the Tenant party is asked about her document, though it is no longer in her caucus");
  check(await lars.locator("#doc-share-requests li").count() === 0, "the Landlord party is not");
  void base;
});
