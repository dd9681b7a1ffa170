// End-to-end encrypted documents when the browser has no room for the
// temporary copy, in real Chromium. Run by web/e2ee_docs_room_browser_test.go:
// a mediator (signed in here) and a case. The site's storage quota is
// lowered through DevTools (Storage.overrideQuotaForOrigin: what a private
// window or a full disk gives), so the browser itself refuses the writes.
//   1. An end-to-end upload that would not fit is refused, in plain words,
//      before anything is written when the browser reports too little room,
//      and when its quota runs out while writing; nothing is sent, the
//      server holds no document and no temporary file is left.
//   2. With room again it uploads; a download that would not fit is
//      refused the same way: no file, nothing left in the site's storage.
//   3. With room again the same download saves the same bytes.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { ask, base, check, env, newPage, run, shots } from "./harness.mjs";
// Kind starts on "Choose…" (documents.ts): Upload, choosing the first kind offered if none is chosen yet.
const pressUpload = async (page) => {
  if (!(await page.inputValue("#doc-class"))) await page.selectOption("#doc-class", { index: 1 });
  await page.click("#doc-upload");
};

const sha = (b) => createHash("sha256").update(b).digest("hex");
// The files waiting in this site's temporary folders.
const tmpFiles = (page) => page.evaluate(async () => {
  const out = [];
  let top;
  try { top = await (await navigator.storage.getDirectory()).getDirectoryHandle("parley-tmp"); } catch { return out; }
  for await (const [, h] of top.entries()) if (h.kind === "directory") for await (const [f] of h.entries()) out.push(f);
  return out;
});

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 }, { acceptDownloads: true });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const cdp = await med.context().newCDPSession(med);
  // Room for 256 KiB more than the site holds now.
  const squeeze = async () => {
    const used = await med.evaluate(async () => (await navigator.storage.estimate()).usage);
    await cdp.send("Storage.overrideQuotaForOrigin", { origin: base, quotaSize: used + 256 * 1024 });
  };
  const release = () => cdp.send("Storage.overrideQuotaForOrigin", { origin: base });
  const body = randomBytes(1024 * 1024 + 5);
  const upload = { name: "Ledger-2026.xlsx", mimeType: "application/octet-stream", buffer: body };

  let sent = false;
  const onRequest = (r) => { if (r.method() === "POST" && r.url().includes("/documents")) sent = true; };
  med.on("request", onRequest);
  await med.setInputFiles("#doc-file", upload);
  await med.selectOption("#doc-audience", "mediators");
  await med.check("#doc-e2ee");
  const upErr = med.locator("#doc-upload-error");

  // 1a. The browser says the site has 256 KiB left (Chromium's estimate
  // does not follow DevTools' quota override, so the page's reading of it
  // stands in here): refused before anything is encrypted or written.
  await med.evaluate(() => {
    const real = StorageManager.prototype.estimate;
    window.__realEstimate = real;
    StorageManager.prototype.estimate = async function () { const e = await real.call(this); return { ...e, quota: e.usage + 256 * 1024 }; };
  });
  await pressUpload(med);
  await upErr.filter({ hasText: "no room" }).waitFor();
  const early = await upErr.innerText();
  check(early.includes("“Ledger-2026.xlsx” was not uploaded") && early.includes("it needs 1.0 MB; this browser gives this site 0.3 MB") && early.includes("nothing was saved") &&
    early.includes("private (incognito) window"), "an upload the browser has no room for is refused before it starts, in plain words: " + early);
  check((await tmpFiles(med)).length === 0, "nothing was written");
  await med.evaluate(() => { StorageManager.prototype.estimate = window.__realEstimate; });

  // 1b. The browser's own quota runs out while the encrypted copy is written.
  await squeeze();
  await pressUpload(med);
  await upErr.filter({ hasText: "no room" }).waitFor();
  const upWords = await upErr.innerText();
  check(upWords.includes("“Ledger-2026.xlsx” was not uploaded") && upWords.includes("nothing was saved") && upWords.includes("private (incognito) window"),
    "an upload that runs out of room is refused in plain words: " + upWords);
  check(!upWords.includes("this browser gives this site"), "refused by the write itself, not by the check before it (the page's reading of the room is the real one here): " + upWords);
  check(!/quota|exception|error:/i.test(upWords), "no raw error: " + upWords);
  check(!sent, "nothing was sent");
  med.off("request", onRequest);
  check(await ask("documents") === "0", "the server holds no document");
  check((await tmpFiles(med)).length === 0, "no temporary file is left");
  await med.locator("#doc-upload-form").screenshot({ path: `${shots}/e2ee-docs-no-room.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#doc-upload-form").screenshot({ path: `${shots}/e2ee-docs-no-room-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });

  // 2. With room it uploads; a download without room is refused.
  await release();
  await med.setInputFiles("#doc-file", upload);
  await pressUpload(med);
  await med.locator("#doc-upload-status", { hasText: "With the extra lock" }).waitFor();
  check(await ask("documents") === "1", "with room, the upload is stored");
  await med.click("#doc-scope-all");
  const card = med.locator("#doc-list li[data-doc]", { hasText: "Ledger-2026.xlsx" });
  await squeeze();
  let gotFile = false;
  const onDownload = () => { gotFile = true; };
  med.on("download", onDownload);
  await card.locator("button.doc-e2ee-download").click();
  const dlErr = card.locator(".doc-e2ee-error");
  await dlErr.filter({ hasText: "no room" }).waitFor();
  const dlWords = await dlErr.innerText();
  check(dlWords.includes("“Ledger-2026.xlsx” was not downloaded") && dlWords.includes("nothing was saved"), "a download without room is refused in plain words: " + dlWords);
  check(!/quota|exception|connection/i.test(dlWords), "no raw error, and not blamed on the connection: " + dlWords);
  check(!gotFile, "no file is saved");
  check((await tmpFiles(med)).length === 0, "nothing decrypted is left in the site's storage");
  med.off("download", onDownload);

  // 3. With room again, the same bytes.
  await release();
  const [dl] = await Promise.all([med.waitForEvent("download"), card.locator("button.doc-e2ee-download").click()]);
  check(sha(readFileSync(await dl.path())) === sha(body), "with room, the download is the uploaded file");
});
