// "Email me a link to sign in", in real Chromium. Run by
// web/signinlink_browser_test.go, which starts a node that mails through
// Mailpit, makes a mediator, a case and an invitation (with an email
// address) for a party, and answers: "ask joined" (note the party's
// account), "ask confirm" (the link from the confirmation mail), "ask
// mail" (the sign-in link from the mail that reached Mailpit),
// "ask same ID" (is ID the account that joined?).
import { passGate } from "./gate.mjs";
import { ask, base, check, env, fitsWidth, newPage, run, shots } from "./harness.mjs";

const phone = { width: 390, height: 844 };
// name.png at desktop width, name-phone.png at phone width; the page is
// left at phone width.
async function shoot(page, name) {
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize(phone);
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
}

await run(async () => {
  // The party joined by invitation on their computer.
  const desk = await newPage("party-computer", { width: 1280, height: 900 });
  await desk.goto(env("PARLEY_INVITE"));
  await passGate(desk);
  await desk.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await ask("joined");

  // Signed in there, the party confirms the address their mediator has
  // for them: only then can a sign-in link be mailed to it.
  const email = env("PARLEY_PARTY_EMAIL");
  await desk.locator("#email-signin-address").waitFor();
  const offer = await desk.innerText("#email-signin");
  check(offer.includes("The email address your mediator has for you: " + email) && !offer.includes("Sign in by email link at"),
    "the case page says which address the mediator has for the party: " + offer);
  await desk.click("#email-confirm-send");
  await desk.locator("#email-confirm-out", { hasText: "We have sent a link to " + email }).waitFor();
  check(!/[a-z]+_[a-z]+|u_[0-9a-z]|HTTP|\b20[0-9]\b/.test(await desk.innerText("#email-signin")), "no ids, field names or status codes in the offer");
  await desk.locator("#email-signin").scrollIntoViewIfNeeded();
  await shoot(desk, "signinlink-confirm");
  await fitsWidth(desk, "the offer on a phone");
  const confirm = await ask("confirm");
  check(confirm.startsWith(base + "/app#confirm-email="), "the confirmation mail carries an /app#confirm-email= link: " + confirm);
  // Opened from the mail, as a new page load in the same browser.
  await desk.goto("about:blank");
  await desk.goto(confirm);
  await desk.locator("#email-confirmed-title", { hasText: "Your address is confirmed" }).waitFor();
  const done = await desk.innerText("#email-confirmed");
  check(done.includes(email), "the page names the confirmed address: " + done);
  check(!(await desk.evaluate(() => location.hash)).includes("confirm-email"), "the token left the address bar");
  await fitsWidth(desk, "the confirmation on a phone");
  await shoot(desk, "signinlink-confirmed");
  await desk.click("#email-confirmed-continue");
  await passGate(desk);
  await desk.locator("#email-signin-on").waitFor();
  check((await desk.innerText("#email-signin-on")).includes(email), "the case page says the party can sign in by email link");

  // Later, on their phone (a new browser, no session): a link by email.
  const p = await newPage("party-phone", phone);
  await p.goto(base + "/app");
  await p.locator("#signin-title").waitFor();
  await p.click("#email-link-open");
  await p.locator("#email-link-title").waitFor();
  check(await p.evaluate(() => document.activeElement?.id) === "link-email", "the email field has the focus");
  const askWords = await p.innerText("main");
  check(askWords.includes("Type the email address you confirmed in Parley. We will send it a link that signs you in.") && !askWords.includes("your mediator has for you"),
    "the form asks for the address confirmed in Parley: " + askWords.slice(0, 300));
  await p.fill("#link-email", env("PARLEY_PARTY_EMAIL"));
  await shoot(p, "signinlink-ask");
  await p.click("#email-link-send");
  await p.locator("#email-link-sent-title").waitFor();
  const sent = await p.innerText("#email-link-sent");
  check(sent.includes("If this address belongs to someone taking part in a mediation, we have sent a link to it") && sent.includes("15 minutes"),
    "the page gives the same plain answer as for any address: " + sent);
  check(!/[a-z]+_[a-z]+|u_[0-9a-z]|HTTP|\b20[0-9]\b/.test(sent), "no ids, field names or status codes on the page");
  await fitsWidth(p, "the answer on a phone");
  await shoot(p, "signinlink-sent");

  // The link from the mail, opened on the phone: the party is in their mediation.
  const link = await ask("mail");
  check(link.startsWith(base + "/join#"), "the mail carries a /join link");
  await p.goto(link);
  await passGate(p);
  await p.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  check((await p.innerText("#who")).includes("Ada Okafor"), "the party is signed in as Ada Okafor");
  await p.locator('#rooms button[data-room="caucus:A"]').waitFor();
  const me = await p.evaluate(async () => (await (await fetch("/api/v1/me")).json()).id);
  await ask("same", me);
  await fitsWidth(p, "the case on a phone");
  await p.screenshot({ path: `${shots}/signinlink-in-phone.png`, fullPage: true });

  // The same link on another browser: used, in words.
  const other = await newPage("stranger", phone);
  await other.goto(link);
  await other.locator("text=expired or was already used").waitFor();
  check(await other.locator("#get-email-link").count() === 1, "a used link offers to get a new one by email");
  const usedWords = await other.innerText("main");
  check(usedWords.includes("If you did not use it, tell your mediator.") && usedWords.includes("If you confirmed your email address in Parley, you can also get a link yourself:"),
    "and says to tell the mediator if they did not use it, and that a link by email needs a confirmed address: " + usedWords);
});
