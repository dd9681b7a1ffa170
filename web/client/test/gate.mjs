// passGate takes a participant's page past the case's terms and the
// mediator's disclosures (web/client/src/consent.ts), as a person would:
// read, tick, accept, acknowledge each disclosure, go on. A page that is
// not asked (already accepted) goes straight on.
export async function passGate(page) {
  await page.waitForSelector("#consent-title, #rooms-title");
  if (await page.locator("#consent-title").count() === 0) return;
  if (await page.locator("#terms-read").count() > 0) {
    await page.check("#terms-read");
    await page.click("#accept-terms");
    // As a person would, wait until it is recorded: the page then redraws
    // (the terms shrink to one line), and a click meanwhile could land
    // where the redraw moved things.
    await page.waitForSelector("#terms-accepted");
  }
  for (let n = await page.locator("button.ack-disclosure").count(); n > 0; n--) {
    await page.locator("button.ack-disclosure").first().click();
    await page.waitForFunction((k) => document.querySelectorAll("button.ack-disclosure").length < k, n);
  }
  await page.click("#consent-continue");
}
