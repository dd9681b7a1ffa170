// A session whose invitation the server did not email to someone (their
// address is also on file for a person not expected): the mediator reads
// why in the page, not in an alert box. Run by
// web/sessions_mailwarn_browser_test.go.
import { base, check, env, newPage, run } from "./harness.mjs";

await run(async () => {
  const med = await newPage("med");
  let dialogs = 0;
  med.on("dialog", (d) => { dialogs++; void d.dismiss(); });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.waitForSelector("#session-form");
  await med.fill("#session-start", env("PARLEY_START"));
  await med.fill("#session-zone", "UTC");
  await med.uncheck("#session-room-joint");
  await med.getByLabel("Tenant caucus").check();
  await med.click("#session-form button[type=submit]");
  await med.waitForSelector("#session-list li");
  const warn = med.locator("#sessions-mail-warning");
  await warn.waitFor();
  const words = await warn.innerText();
  check(words.includes("Not emailed: Ada Okafor") && words.includes("Tell them the time another way") && dialogs === 0,
    "the server's word that a session invitation was not emailed is shown in the page, never in an alert box: " + words);
  await med.click("#mail-refresh");
  check((await warn.innerText()) === words, "it stays in the page while the mediator works on");
});
