// Signing out on a shared computer, in real Chromium. Run by
// web/forget_browser_test.go, which makes a mediator, a case and an
// invitation for a party, and answers: "ask link" (a link back in for the
// party), "ask active" (the party's one device is registered, not
// revoked).
import { axeCheck } from "./axe.mjs";
import { passGate } from "./gate.mjs";
import { ask, check, env, newPage, run, shots, signInMediator } from "./harness.mjs";

const WELCOME = "Welcome, Ada: this is the joint room.";

async function shoot(page, name) {
  const size = page.viewportSize();
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${shots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize(size);
}
const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };

/** What this origin keeps: IndexedDB databases, every OPFS path, localStorage and sessionStorage sizes. */
const kept = (page) => page.evaluate(async () => {
  const files = [];
  const walk = async (d, at) => {
    for await (const [n, h] of d.entries()) {
      files.push(at + n);
      if (h.kind === "directory") await walk(h, at + n + "/");
    }
  };
  await walk(await navigator.storage.getDirectory(), "");
  return { dbs: (await indexedDB.databases()).map((d) => d.name), files, local: localStorage.length, session: sessionStorage.length };
});

/** Leaves a decrypted file in OPFS as a tab that crashed mid-download would. */
const leaveDecrypted = (page) => page.evaluate(async () => {
  const tmp = await (await navigator.storage.getDirectory()).getDirectoryHandle("parley-tmp", { create: true });
  const f = await (await tmp.getDirectoryHandle("a-crashed-tab", { create: true })).getFileHandle("decrypted", { create: true });
  const w = await f.createWritable();
  await w.write("the settlement figures");
  await w.close();
});

await run(async () => {
  // The party joins and reads the mediator's welcome: this browser now
  // has device keys, pins and chain keys.
  const party = await newPage("party", { width: 1280, height: 900 });
  await party.goto(env("PARLEY_INVITE"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const med = await newPage("med", { width: 1280, height: 900 });
  await signInMediator(med);
  await openRoom(med, "joint");
  await med.fill("#draft", WELCOME);
  await med.click("#room form button[type=submit]");
  await med.locator("#room ol.log li", { hasText: WELCOME }).first().waitFor({ timeout: 60000 });
  await openRoom(party, "joint");
  await party.locator("#room ol.log li", { hasText: WELCOME }).first().waitFor({ timeout: 60000 });
  await med.close();
  await ask("active");
  let k = await kept(party);
  check(k.dbs.includes("parley"), "the party's browser keeps its keys in IndexedDB: " + k.dbs.join(", "));

  // A plain sign-out deletes decrypted temporary files at once (here a
  // crashed tab's), and keeps the keys.
  await leaveDecrypted(party);
  check((await kept(party)).files.includes("parley-tmp/a-crashed-tab/decrypted"), "a decrypted temporary file is in OPFS before signing out");
  await party.click("#signout");
  await party.locator("#signout-confirm[open] button", { hasText: /^Sign out$/ }).click();
  await party.locator("#come-back-title", { hasText: "You are signed out" }).waitFor();
  k = await kept(party);
  check(!k.files.some((f) => f.startsWith("parley-tmp")), "signing out deleted the decrypted temporary files: " + k.files.join(", "));
  check(k.dbs.includes("parley"), "a plain sign-out keeps this browser's keys");

  // Back in with a link back in: the same device, still registered.
  await party.goto(await ask("link"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const me = await party.evaluate(async () => (await (await fetch("/api/v1/me")).json()).id);
  await ask("active");

  // "Sign out and forget this browser" asks first; keeping it changes nothing.
  await party.click("#forget-open");
  await party.locator("#forget[open]").waitFor();
  await party.click("#forget-cancel");
  await party.locator("#forget").waitFor({ state: "detached" });
  check((await kept(party)).dbs.includes("parley") && (await party.locator("#conn", { hasText: "Connected" }).count()) === 1,
    "“Keep this browser” closes the question and keeps everything");

  // On a phone, the offer sits next to "Sign out" at the top.
  await party.setViewportSize({ width: 390, height: 844 });
  await party.screenshot({ path: `${shots}/forget-offer-phone.png` });
  await party.setViewportSize({ width: 1280, height: 900 });
  await party.click("#forget-open");
  const dlg = party.locator("#forget[open]");
  await dlg.waitFor();
  const words = await dlg.innerText();
  // First, in bold, what cannot be undone; this browser is her only linked device, so she reads it for everywhere (UX review 367 M6).
  const lost = await party.innerText("#forget h2 + p");
  check(lost === "After this, your earlier messages cannot be brought back on this browser. This is the only phone or computer linked to your mediation, so you will not be able to read them anywhere." &&
    await party.locator("#forget h2 + p > strong").count() === 1, "the question starts, in bold, with what cannot be brought back, for her only device: " + lost);
  for (const w of ["Sign out and forget this browser?", "other people use this computer or phone",
"delete from this browser the keys that let it read your mediation",
    "this browser cannot read your mediation — not even the messages you read here before",
    "your mediator and the others in it still see everything as before", "ask your mediator for a “link back in”",
    "“Add a device”", "you cannot read your earlier messages again, anywhere", "what is said from then on",
    "cannot say yes when your mediator asks to show your words or your documents to the other side"]) {
    check(words.includes(w), `the question says: ${w}`);
  }
  check(!words.includes(me) && !/\b(device|account) ?id\b|IndexedDB|OPFS|revok/i.test(words), "and shows no ids or internal names");
  await axeCheck(party, "the forget question");
  await shoot(party, "forget-confirm");

  // On a phone the question scrolls within itself to its buttons.
  await party.setViewportSize({ width: 390, height: 844 });
  await party.locator("#forget-confirm").scrollIntoViewIfNeeded();
  await party.screenshot({ path: `${shots}/forget-confirm-phone-end.png` });
  await party.click("#forget-confirm");
  await party.locator("#come-back-title", { hasText: "this browser has forgotten you" }).waitFor({ timeout: 60000 });
  const done = await party.innerText("#come-back");
  check(done.includes("so it cannot read anything from your mediation") && done.includes("ask your mediator for a “link back in”") &&
    done.includes("this browser will not show your earlier messages") && !done.includes("nothing is lost"), "the party is told what was done and how to come back: " + done);
  k = await kept(party);
  check(k.dbs.length === 0, "no IndexedDB database is left: " + k.dbs.join(", "));
  check(k.files.length === 0, "no OPFS file or folder is left: " + k.files.join(", "));
  check(k.local === 0 && k.session === 0, `nothing is left in localStorage (${k.local}) or sessionStorage (${k.session})`);
  check((await party.evaluate(async () => (await fetch("/api/v1/me")).status)) === 401, "the party is signed out");
  // Not revoked: the others still open the documents this browser wrapped keys for.
  await ask("active");
  await axeCheck(party, "the forgotten page");
  await party.setViewportSize({ width: 1280, height: 900 });
  await shoot(party, "forget-done");

  // A page that opens with no session deletes what a crashed tab left.
  await leaveDecrypted(party);
  await party.reload();
  await party.locator("#come-back-title").waitFor();
  k = await kept(party);
  check(!k.files.some((f) => f.startsWith("parley-tmp")), "a page opened with no session deleted the decrypted temporary files: " + k.files.join(", "));

  // A family computer: the other side uses Parley in this browser too.
  // Back in with a new link (a new device here), the party forgets this
  // browser again: their own keys go, the other person's stay.
  await party.goto(await ask("link"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await party.evaluate(() => new Promise((ok, fail) => {
    localStorage.setItem("parley:welcomed:u_other", "1");
    const req = indexedDB.open("parley", 1);
    req.onsuccess = () => {
      const tx = req.result.transaction(["devices", "pins"], "readwrite");
      tx.objectStore("devices").put({ account: "u_other" }, "u_other");
      tx.objectStore("pins").put({}, "u_other");
      tx.oncomplete = () => { req.result.close(); ok(); };
      tx.onerror = () => fail(tx.error);
    };
    req.onerror = () => fail(req.error);
  }));
  await party.click("#forget-open");
  await party.click("#forget-confirm");
  await party.locator("#come-back-title", { hasText: "this browser has forgotten you" }).waitFor({ timeout: 60000 });
  const stores = await party.evaluate(() => new Promise((ok, fail) => {
    const req = indexedDB.open("parley", 1);
    req.onsuccess = () => {
      const tx = req.result.transaction(["devices", "pins"], "readonly");
      const d = tx.objectStore("devices").getAllKeys(), p = tx.objectStore("pins").getAllKeys();
      tx.oncomplete = () => { req.result.close(); ok({ devices: d.result, pins: p.result, local: Object.keys(localStorage) }); };
    };
    req.onerror = () => fail(req.error);
  }));
  check(JSON.stringify(stores.devices) === JSON.stringify(["u_other"]) && JSON.stringify(stores.pins) === JSON.stringify(["u_other"]),
    "the other person's keys and pins stay, the party's are gone: " + JSON.stringify(stores));
  check(JSON.stringify(stores.local) === JSON.stringify(["parley:welcomed:u_other"]), "of localStorage only the other person's entry stays: " + stores.local.join(", "));
  check((await kept(party)).files.length === 0, "no OPFS file or folder is left");
});
