// Two invitations for one name told apart on the mediator's desk. Run by
// web/desk_addresses_browser_test.go. The mediator invites "Sam Ortiz"
// twice, to two addresses; once the page is opened again (the form no
// longer holds what they typed) the invited list shows each address
// masked, and neither the page nor the server's answer that the list is
// drawn from holds a whole address. Each is read aloud in words ("an
// address starting with s at example.org"), and the Withdraw button and its
// question name when the link was made, since two masked addresses can look
// alike.
import { ask, base, check, env, newPage, run, shots } from "./harness.mjs";

const flat = (s) => s.replace(/\s+/g, " ");
const first = env("PARLEY_EMAIL_1"), second = env("PARLEY_EMAIL_2");

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 }, { timezoneId: "Europe/London" });
  await med.goto(base + "/app#desk=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.waitForSelector("#desk-invite");
  for (const addr of [first, second]) {
    await med.fill("#desk-invite-name", "Sam Ortiz");
    await med.fill("#desk-invite-email", addr);
    await med.selectOption("#desk-invite-role", "party");
    await med.selectOption("#desk-invite-side", "A");
    await med.click("#desk-invite button[type=submit]");
    await med.waitForSelector(`#desk-invite-mailed:has-text("${addr}")`);
  }
  check(await ask("two") === "2", "the server holds both invitations");

  // Opened again, the desk's list comes from the server alone.
  await med.goto("about:blank");
  const listed = med.waitForResponse((r) => r.request().method() === "GET" && r.url().endsWith(`/cases/${env("PARLEY_CASE")}/invites`));
  await med.goto(base + "/app#desk=" + env("PARLEY_CASE"));
  const answer = await listed;
  check(answer.status() === 200, "the desk's list of invitations was answered");
  const body = await answer.text();
  await med.waitForSelector("#desk-pending li");
  const pend = flat(await med.innerText("#desk-pending"));
  check(pend.includes("Sam Ortiz (Tenant), email address j***@example.test") && pend.includes("Sam Ortiz (Tenant), email address s***@example.org"),
    "both invitations for Sam Ortiz show their masked address: " + pend);
  check((pend.match(/Sam Ortiz \(Tenant\)/g) || []).length === 2, "both are listed under the one name: " + pend);
  const html = await med.content();
  for (const addr of [first, second]) {
    check(!html.includes(addr) && !html.includes(addr.split("@")[0]), "the page does not hold the whole address " + addr);
    check(!body.includes(addr) && !body.includes(addr.split("@")[0]), "the server's list does not send the whole address " + addr);
  }
  check(body.includes("j***@example.test") && body.includes("s***@example.org"), "the server's list sends the masked addresses");
  // A screen reader hears the masked address in words, not "s star star star".
  const row = med.locator(`#desk-pending li:has-text("s***@example.org")`);
  const heard = flat(await row.locator(".invite-address").evaluate((el) => [...el.querySelectorAll(".visually-hidden")].map((x) => x.textContent).join("")));
  check(heard.trim() === "an address starting with s at example.org" && await row.locator(".invite-address [aria-hidden=true]").count() === 1,
    "the masked address is read aloud as words: " + heard);
  check(await row.locator(".invite-address").evaluate((el) => getComputedStyle(el).overflowWrap) === "anywhere", "the address may wrap on a narrow screen");
  // Two masked addresses can look alike (sam.ortz@ and sam.ortiz@): the
  // Withdraw button and the question name when the link was made too.
  const made = flat(await row.innerText()).match(/link made ([^,]+, [^,]+, [0-9:]+)/)?.[1];
  check(!!made, "the row says when the link was made");
  const label = await row.locator("button.withdraw-invite").getAttribute("aria-label");
  check(label === `Withdraw the invitation for Sam Ortiz, an address starting with s at example.org, link made ${made}`, "the Withdraw button names the address in words and when the link was made: " + label);
  await row.locator("button.withdraw-invite").click();
  const q = flat(await row.locator("[role=alertdialog] p strong").first().innerText());
  check(q.includes("Withdraw the invitation for Sam Ortiz (Tenant), email address s***@example.org") && q.endsWith(`, link made ${made}?`),
    "the withdrawal question names which of the two, with when its link was made: " + q);
  const dialog = med.getByRole("alertdialog", { name: new RegExp(`^Withdraw the invitation for Sam Ortiz \\(Tenant\\),\\s+an address starting with s at example\\.org\\s*, link made `) });
  check(await dialog.count() === 1, "the question is read aloud with the address in words: " + await row.locator("[role=alertdialog]").ariaSnapshot());
  await med.locator("#desk-pending").screenshot({ path: shots + "/desk-invite-addresses.png" });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#desk-pending").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/desk-invite-addresses-phone.png", fullPage: false });
});
