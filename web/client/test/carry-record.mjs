// A proposal that does not match the server's record of its carry. Run by
// web/carry_record_browser_test.go, which starts a node, makes a mediator,
// a case and an invitation for party A, and answers "ask comediator" (the
// program adds Sam Lee as a co-mediator, with a Go device), "ask forge
// E:O E:O" (Sam registers a carry of the first message and posts in A's
// caucus a proposal with its id naming the second) and "ask state".
import { ASK, KEEP, LONG, logOf, startCarryCase } from "./carry-lib.mjs";
import { ask, check, run } from "./harness.mjs";

await run(async () => {
  const { med, a } = await startCarryCase();
  const askAt = await logOf(a).locator("li[data-pos]", { hasText: ASK }).first().getAttribute("data-pos");
  const keepAt = await logOf(a).locator("li[data-pos]", { hasText: KEEP }).first().getAttribute("data-pos");

  // Sam Lee joins as a co-mediator; the mediator admits them.
  check(await ask("comediator") === "ok", "the program added Sam Lee, who registered a device");
  const item = med.locator("#mediator-admissions .admit-mediator", { hasText: "Sam Lee" });
  await item.waitFor({ timeout: LONG });
  await item.locator("button.admit-mediator-ask").click();
  await med.locator("#admit-mediator-confirm").click();
  await med.locator("#mediator-admissions .admit-mediator").waitFor({ state: "detached", timeout: LONG });

  // Sam registers a carry of ASK and proposes, under its id, KEEP.
  check(await ask("forge", `${askAt} ${keepAt}`) === "ok", "Sam registered one message and proposed another");
  const proposal = logOf(a).locator("li.proposal[data-carry]", { hasText: KEEP }).first();
  const approve = proposal.locator("button[data-carry-approve]");
  await approve.waitFor({ timeout: LONG });
  const before = await ask("state");
  check(before.startsWith("consented=false "), `the carry is proposed, not consented: ${before}`);
  await approve.click();
  await proposal.locator("button", { hasText: "Yes, carry this text" }).click();
  const said = proposal.locator("[data-carry-mismatch]");
  await said.waitFor({ timeout: LONG });
  const words = await said.innerText();
  check(words.includes("does not match what the mediator registered") && words.includes("nothing was carried") && !/cr_[a-z0-9]|sha256|40[49]/.test(words),
    `party A is told, in plain words, that the proposal does not match and nothing was carried: ${words}`);
  const after = await ask("state");
  check(after === before, `the carry is not consented and nothing reached the joint room: ${after}, before ${before}`);
});
