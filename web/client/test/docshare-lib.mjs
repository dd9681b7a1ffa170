// What the document-share scripts share (docshare.mjs,
// docshare-device.mjs): a screenshot at desktop and phone width, a room
// opened, a document's card, and an upload through the page's form.
import { shots } from "./harness.mjs";

/** shoot saves page as name.png at its width and as name-phone.png at 390 × 844. */
export async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}
export const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };
export const docCard = (page, name) => page.locator("#doc-list li[data-doc]", { hasText: name });

/** upload adds a file as evidence to the place the form offers, and waits until the page says it was uploaded. */
export async function upload(page, name, body) {
  await page.setInputFiles("#doc-file", { name, mimeType: "application/pdf", buffer: Buffer.from(body) });
  await page.selectOption("#doc-class", "evidence");
  await page.click("#doc-upload");
  await page.locator("#doc-upload-status", { hasText: `Uploaded “${name}”` }).waitFor({ timeout: 60000 });
}
