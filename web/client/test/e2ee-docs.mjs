// End-to-end encrypted documents in the browser, in real Chromium. Run by
// web/e2ee_docs_browser_test.go: a node, a mediator (signed in here, whose
// browser signs the case's membership), and two parties with Go devices
// (Ada, Tenant; Ben, Landlord).
//   1. Ada's device uploads an offer encrypted for the Tenant caucus; the
//      mediator downloads it here: decrypted on this device, same bytes.
//      A copy altered on the way is refused in plain words, with no file.
//   2. The mediator encrypts a file here for the Tenant caucus; Ada's
//      device decrypts it to the same bytes, Ben's cannot.
//   3. Shared to the joint room from here (this device re-wraps the key),
//      Ben's device reads it; narrowed back, Ben is refused.
//   1b. A lying server shows Ada's offer as "Hearing schedule.pdf"
//      (review finding 1): this device checks the name against the one
//      Ada's device signed and refuses to share or save it, in plain words.
//   4. Records staff hold it; the card says so.
//   5. Temporary files: per tab, swept when their tab is gone, the
//      decrypted copies deleted at sign-out (review findings 2 and 3).
//   6. A newcomer (Ada's lawyer, with a new device) gets the keys from the
//      mediator's browser when it opens the documents (review finding 6).
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { axeCheck } from "./axe.mjs";
import { ask, base, check, env, newPage, run, shots } from "./harness.mjs";

const sha = (b) => createHash("sha256").update(b).digest("hex");
// The temporary files in the origin private file system: folder -> file names.
const opfs = (page) => page.evaluate(async () => {
  const out = {};
  let top;
  try { top = await (await navigator.storage.getDirectory()).getDirectoryHandle("parley-tmp"); } catch { return out; }
  for await (const [n, h] of top.entries()) {
    out[n] = [];
    if (h.kind === "directory") for await (const [f] of h.entries()) out[n].push(f);
  }
  return out;
});

let med;
await run(async () => {
  med = await newPage("med", { width: 1280, height: 900 }, { acceptDownloads: true });
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  med.on("console", (m) => { if (m.type() === "warning") console.log("console: " + m.text()); });
  await med.click("button[type=submit]");
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const offerSum = await ask("upload");
  await med.locator(`#rooms button[data-room="caucus:A"]`).click();

  // 1. Go → browser.
  const card = med.locator("#doc-list li[data-doc]", { hasText: "Offer-4000.pdf" });
  await card.waitFor({ timeout: 30000 });
  const text = await card.innerText();
  check(text.includes("only the devices of the people named above can open it; the server cannot"), "the card says who can open it: " + text);
  check(!text.toLowerCase().includes("e2ee") && !text.includes("d_"), "no internal words or ids: " + text);
  check(await card.locator("a[download]").count() === 0, "no plain link to bytes the server cannot read");
  // An altered copy: one byte flipped on the way. Refused, and no file.
  const offerID = await card.getAttribute("data-doc");
  const content = `**/documents/${offerID}/content*`;
  await med.route(content, async (route) => {
    const res = await route.fetch();
    const body = await res.body();
    body[body.length >> 1] ^= 1;
    await route.fulfill({ response: res, body });
  });
  let gotFile = false;
  const onDownload = () => { gotFile = true; };
  med.on("download", onDownload);
  await card.locator("button.doc-e2ee-download").click();
  const refusal = card.locator(".doc-e2ee-error");
  await refusal.filter({ hasText: "integrity check" }).waitFor();
  const words = await refusal.innerText();
  check(words.includes("did not pass its integrity check") && words.includes("Nothing was saved"), "an altered copy is refused in plain words: " + words);
  check(!gotFile, "an altered copy produces no file");
  await card.screenshot({ path: `${shots}/e2ee-docs-refused.png` });
  med.off("download", onDownload);
  await med.unroute(content);
  const [dl] = await Promise.all([med.waitForEvent("download"), card.locator("button.doc-e2ee-download").click()]);
  check(dl.suggestedFilename() === "Offer-4000.pdf", "the file keeps its name");
  check(sha(readFileSync(await dl.path())) === offerSum, "the browser decrypts the Go device's document to the same bytes");
  await card.locator(".doc-e2ee-status", { hasText: "Version 1 of “Offer-4000.pdf” was decrypted on this device and checked: it is exactly version 1 as it was uploaded, under the name its uploader's device signed" }).waitFor();
  // The decrypted copy handed over waits in this tab's own folder (deleted a minute later, at sign-out, or when the tab goes).
  const held = Object.entries(await opfs(med)).filter(([, files]) => files.length > 0);
  check(held.length === 1 && held[0][1].length === 1, "the handed-over copy waits in this tab's own folder: " + JSON.stringify(held));
  const mine = held[0][0];
  await axeCheck(med, "an end-to-end encrypted document's card");
  await card.screenshot({ path: `${shots}/e2ee-docs-card.png` });

  // 1b. The server relabels Ada's offer (side A's caucus) as a hearing
  //     schedule, hoping the mediator shares "the schedule" with the joint
  //     room. Its name is rewritten in every document listing the browser
  //     gets; the keys and bytes are untouched.
  const relabel = async (route) => {
    const res = await route.fetch();
    const body = (await res.text()).replaceAll('"name":"Offer-4000.pdf"', '"name":"Hearing schedule.pdf"');
    await route.fulfill({ response: res, body });
  };
  const listing = /\/api\/v1\/cases\/[^/]+\/documents(\/d_[a-z2-7]+)?(\?[^/]*)?$/;
  await med.route(listing, relabel);
  const lie = med.locator("#doc-list li[data-doc]", { hasText: "Hearing schedule.pdf" });
  await lie.waitFor({ timeout: 30000 });
  await lie.locator("select").selectOption("joint");
  await lie.getByRole("button", { name: "Share…" }).click();
  const refusedShare = lie.locator(".share-refused");
  await refusedShare.waitFor();
  const shareWords = await refusedShare.innerText();
  check(shareWords.includes("The server shows this document as “Hearing schedule.pdf”, but that is not the name") && shareWords.includes("Nothing was shared"),
    "a relabelled document's share is refused in plain words: " + shareWords);
  check(await lie.getByRole("button", { name: "Confirm sharing" }).count() === 0, "a relabelled document offers no confirmation");
  let relabelledFile = false;
  const onRelabelled = () => { relabelledFile = true; };
  med.on("download", onRelabelled);
  await lie.locator("button.doc-e2ee-download").click();
  const dlWords = await lie.locator(".doc-e2ee-error").filter({ hasText: "not the name" }).innerText();
  check(dlWords.includes("This device refuses it") && !relabelledFile, "a relabelled document is not saved under the borrowed name: " + dlWords);
  med.off("download", onRelabelled);
  await lie.screenshot({ path: `${shots}/e2ee-docs-relabelled.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await lie.scrollIntoViewIfNeeded();
  await lie.screenshot({ path: `${shots}/e2ee-docs-relabelled-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });
  await ask("offer-unshared");
  await med.unroute(listing, relabel);
  await card.waitFor({ timeout: 30000 });

  // 2. browser → Go.
  const summary = randomBytes(300000); // five segments, the last short
  await med.setInputFiles("#doc-file", { name: "Medical-summary.pdf", mimeType: "application/pdf", buffer: summary });
  await med.selectOption("#doc-audience", "caucus:A");
  await med.selectOption("#doc-class", "evidence");
  await med.check("#doc-e2ee");
  // Who it is encrypted for, from the signed membership, before the upload.
  const who = med.locator("#doc-e2ee-who", { hasText: "signed membership lists them" });
  await who.waitFor();
  const whoText = await who.innerText();
  check(whoText.includes("Ada Okafor") && !whoText.includes("Ben Lindqvist"), "the note before the upload names the signed caucus's members: " + whoText);
  await med.locator("#doc-upload-form").screenshot({ path: `${shots}/e2ee-docs-upload.png` });
  await med.click("#doc-upload");
  const status = med.locator("#doc-upload-status");
  await status.filter({ hasText: "encrypted on this device" }).waitFor();
  const upText = await status.innerText();
  check(upText.includes("signed membership lists them") && upText.includes("Ada Okafor") && !upText.includes("Ben Lindqvist"), "the upload says whose devices it was encrypted for: " + upText);
  await ask("summary", sha(summary));

  // 3. Share to the joint room, then narrow back: this device re-wraps.
  await med.click("#doc-scope-all");
  const sc = med.locator("#doc-list li[data-doc]", { hasText: "Medical-summary.pdf" });
  const share = async (to) => {
    await sc.locator("select").selectOption(to);
    await sc.getByRole("button", { name: "Share…" }).click();
    const confirm = sc.getByRole("button", { name: "Confirm sharing" });
    await confirm.waitFor();
    const checked = await sc.locator(".share-verified").innerText();
    check(checked.includes("Checked on this device: this is “Medical-summary.pdf”, the name its uploader's device signed") && checked.includes("version 1") &&
      checked.includes("size and date come from the server") && checked.includes("signed membership lists them"),
      "the share confirmation names the document as its uploader's device signed it, and says what the device checked and what it cannot: " + checked);
    if (to === "joint") {
      await sc.screenshot({ path: `${shots}/e2ee-docs-share.png` });
      await med.setViewportSize({ width: 390, height: 844 });
      await sc.scrollIntoViewIfNeeded();
      await sc.screenshot({ path: `${shots}/e2ee-docs-share-phone.png` });
      await med.setViewportSize({ width: 1280, height: 900 });
    }
    await confirm.click();
    await confirm.waitFor({ state: "detached" });
    check(await sc.locator(".error").filter({ hasText: /\S/ }).count() === 0, `shared to ${to} from this device: ` + await sc.innerText());
  };
  await share("joint");
  await ask("ben-reads", sha(summary));
  await share("caucus:A");
  await ask("ben-cannot");

  // 4. A legal hold, placed by records staff, shows on the card.
  await ask("hold");
  await med.locator("#doc-list li[data-doc]", { hasText: "on legal hold" }).filter({ hasText: "Medical-summary.pdf" }).waitFor({ timeout: 15000 });
  await med.setViewportSize({ width: 390, height: 844 });
  await card.scrollIntoViewIfNeeded();
  await card.screenshot({ path: `${shots}/e2ee-docs-card-phone.png` });

  // 5. Temporary files: another live tab's folder is left alone; a gone
  //    tab's (and this page's own, once reloaded) are swept when the
  //    documents screen mounts; signing out deletes the copies handed over.
  await med.setViewportSize({ width: 1280, height: 900 });
  const other = await med.context().newPage();
  await other.goto(base + "/healthz");
  await other.evaluate(async () => {
    const top = await (await navigator.storage.getDirectory()).getDirectoryHandle("parley-tmp", { create: true });
    for (const n of ["tab-live", "tab-gone"]) {
      const w = await (await (await top.getDirectoryHandle(n, { create: true })).getFileHandle("x.bin", { create: true })).createWritable();
      await w.write("left over");
      await w.close();
    }
    await new Promise((ok) => navigator.locks.request("parley-tmp:tab-live", () => { ok(); return new Promise(() => {}); }));
  });
  // 6. Keys for a newcomer (review finding 6): while the mediator is away
  //    from the case, Ada's lawyer joins the Tenant side with a new device.
  //    Back in the case, the mediator's browser signs her into the
  //    membership and gives her device the keys to both Tenant caucus
  //    documents, and says so; her device then reads them.
  await med.goto(base + "/healthz");
  await ask("newcomer");
  await med.goto(base + "/app#case=" + env("PARLEY_CASE"));
  await med.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await med.locator(`#rooms button[data-room="caucus:A"]`).click();
  await card.waitFor({ timeout: 30000 });
  const gave = med.locator("#doc-newcomers", { hasText: /This device gave the keys to 2 documents \((?=.*“Offer-4000\.pdf”)(?=.*“Medical-summary\.pdf”).*\) to 1 new device of Cora Achebe \(Tenant lawyer\)\. The case's signed membership lists that person among the people these documents are for, so that device can now open them\./ });
  await gave.waitFor({ timeout: 30000 });
  await med.locator("#documents").screenshot({ path: `${shots}/e2ee-docs-newcomers.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await gave.screenshot({ path: `${shots}/e2ee-docs-newcomers-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });
  await ask("cora-reads", sha(summary));
  await med.waitForFunction(async (gone) => {
    const top = await (await navigator.storage.getDirectory()).getDirectoryHandle("parley-tmp");
    for await (const n of top.keys()) if (gone.includes(n)) return false;
    return true;
  }, ["tab-gone", mine], { polling: 100, timeout: 15000 });
  check(JSON.stringify((await opfs(med))["tab-live"]) === JSON.stringify(["x.bin"]), "a live tab's working file is left alone");
  const [again] = await Promise.all([med.waitForEvent("download"), card.locator("button.doc-e2ee-download").click()]);
  check(sha(readFileSync(await again.path())) === offerSum, "downloaded again after the reload");
  check(Object.values(await opfs(med)).flat().length === 2, "the new copy waits next to the live tab's file: " + JSON.stringify(await opfs(med)));
  await med.click("#signout");
  await med.waitForURL((u) => !u.hash.includes("case="));
  const left = Object.entries(await opfs(med)).filter(([n, files]) => n !== "tab-live" && files.length > 0);
  check(left.length === 0, "signing out deletes the decrypted copies: " + JSON.stringify(left));
  await other.close();
}, async () => {
  for (const el of await med.locator("#doc-list li[data-doc]").all()) console.log("card: " + (await el.innerText()).replace(/\n+/g, " | "));
});
