// A co-mediator added before anyone opened the case's conversation does
// not open it. Run by web/opener_browser_test.go, which starts a node,
// makes Morgan Reyes's case and adds Sam Lee to it as a co-mediator
// before either page opens it.
//
// Sam signs in first: Sam's page signs no first statement (the key
// directory takes it only from the case's opener, Morgan, who created
// the case) and says so in plain words. Morgan then opens it.
import { base, check, env, newPage, run } from "./harness.mjs";

const LONG = 60000;
const connected = (page) => page.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: LONG });
async function signInTo(page, email) {
  await page.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await page.fill("#email", email);
  await page.fill("#password", env("PARLEY_PASSWORD"));
  await page.click("button[type=submit]");
  await connected(page);
}

await run(async () => {
  const sam = await newPage("Sam Lee");
  await signInTo(sam, env("PARLEY_COMEDIATOR_EMAIL"));
  const notice = sam.locator("#notice", { hasText: "opens this case's conversation" });
  await notice.waitFor({ timeout: LONG });
  const words = await notice.innerText();
  check(words.includes("Morgan Reyes opens this case's conversation") && words.includes("they check your safety number with you and admit you") &&
    !/HTTP|403|[a-z]{1,4}_[a-z2-7]{6,}|case\.[a-z]|statement/.test(words),
    "Sam's page says, in plain words, that Morgan opens the conversation: " + words);

  const med = await newPage("mediator");
  await signInTo(med, env("PARLEY_MEDIATOR_EMAIL"));
  check(true, "Morgan's page opens the conversation");
});
