// End-to-end encrypted documents in the browser, in real Chromium. Run by
// web/e2ee_docs_browser_test.go: a node, a mediator (signed in here, whose
// browser signs the case's membership), and Ada Okafor (Tenant), who
// joined through the Go client with a device of her own. On "ask upload"
// her Go device uploads a document encrypted on it for the Tenant caucus.
// This browser does not open such documents yet: the mediator's card says
// so in plain words, offers no download of unreadable bytes and no share
// (a share needs a device that holds the keys).
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, newPage, run, shots } from "./harness.mjs";

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await ask("upload");
  await med.locator(`#rooms button[data-room="caucus:A"]`).click();
  const card = med.locator("#doc-list li[data-doc]", { hasText: "Offer-4000.pdf" });
  await card.waitFor({ timeout: 30000 });
  const text = await card.innerText();
  check(text.includes("Encrypted on the device of the person who added it") && text.includes("This browser cannot open it yet"),
    "the card says the document is end-to-end encrypted and where to open it: " + text);
  check(await card.locator("a[download]").count() === 0, "no download link for bytes this browser cannot read");
  check(await card.locator("select").count() === 0, "no share controls: only a device that holds the keys can share it");
  check(!text.toLowerCase().includes("e2ee") && !text.includes("d_"), "no internal words or ids: " + text);
  await axeCheck(med, "an end-to-end encrypted document's card");
  await card.screenshot({ path: `${shots}/e2ee-docs-card.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await card.scrollIntoViewIfNeeded();
  await card.screenshot({ path: `${shots}/e2ee-docs-card-phone.png` });
});
