// A carry in doubt: two different proposals with one carry id. Run by
// web/carry_doubt_browser_test.go, which starts a node, makes a mediator,
// a case and an invitation for party A, and answers "ask comediator" (the
// program adds Sam Lee as a co-mediator, with a Go device) and "ask
// forge-proposal ID E:O" (Sam posts in A's caucus a proposal with that
// carry id naming the message at E:O, by its real payload hash).
import { ASK, KEEP, LONG, logOf, openRoom, startCarryCase } from "./carry-lib.mjs";
import { ask, check, run } from "./harness.mjs";

await run(async () => {
  const { med, a } = await startCarryCase();

  // The mediator proposes carrying ASK.
  await openRoom(med, "caucus:A");
  const m1 = logOf(med).locator("li", { hasText: ASK }).first();
  await m1.waitFor({ timeout: LONG });
  await m1.locator("button", { hasText: "Propose carrying" }).click();
  const medProposal = logOf(med).locator("li.proposal[data-carry]", { hasText: ASK }).first();
  await medProposal.waitFor({ timeout: LONG });
  const id = await medProposal.getAttribute("data-carry");
  const keepAt = await logOf(med).locator("li[data-pos]", { hasText: KEEP }).first().getAttribute("data-pos");
  await openRoom(a, "caucus:A");
  const proposal = logOf(a).locator("li.proposal[data-carry]", { hasText: ASK }).first();
  await proposal.locator("button", { hasText: "Approve" }).waitFor({ timeout: LONG });

  // Sam Lee joins as a co-mediator; the mediator admits them.
  check(await ask("comediator") === "ok", "the program added Sam Lee, who registered a device");
  const item = med.locator("#mediator-admissions .admit-mediator", { hasText: "Sam Lee" });
  await item.waitFor({ timeout: LONG });
  await item.locator("button.admit-mediator-ask").click();
  await med.locator("#admit-mediator-confirm").click();
  await med.locator("#mediator-admissions .admit-mediator").waitFor({ state: "detached", timeout: LONG });

  // Sam posts a different proposal with the same carry id, for KEEP.
  check(await ask("forge-proposal", `${id} ${keepAt}`) === "ok", "Sam posted a second proposal with the same carry id");
  for (const [who, page] of [["party A", a], ["the mediator", med]]) {
    const second = logOf(page).locator(`li.proposal[data-carry="${id}"]`, { hasText: KEEP }).first();
    await second.waitFor({ timeout: LONG });
    for (const [which, li] of [["the first proposal", who === "party A" ? proposal : medProposal], ["the second proposal", second]]) {
      const state = li.locator(".carry-state");
      await li.locator("[data-carry-state=conflict]").waitFor({ timeout: LONG });
      const words = await state.innerText();
      check(words.includes("Two different proposals use the same reference") && words.includes(who === "party A" ? "ask the mediator to propose it again" : "; propose it again") && !/cr_[a-z0-9]/.test(words),
        `${who}: ${which} says, in plain words, that the carry is in doubt: ${words}`);
      check(await li.locator("button", { hasText: "Approve" }).count() === 0 && await li.locator("button", { hasText: "Decline" }).count() === 0,
        `${who}: ${which} offers no Approve or Decline`);
    }
  }
});
