// The browser's pins against a server that leaves records out, and
// against its own overlapping checks. Run by web/revpins_browser_test.go,
// which starts a node, makes a case with party B's device (a Go client)
// and an invitation for party A, and answers "ask revoke" (B's device
// revokes itself; answers "account device") and "ask grow" (a new
// participant joins with a device of their own; answers its account).
//
// Party A joins in Chromium (its device keys and session stay in the
// browser's profile); the page is then closed and a page of the same
// profile loads the app's own key-directory check (SecureCase.refresh,
// built into build/browser by make web) so that the script can call it
// and hold the server's answers.
//
// 1. A revocation this browser verified stays: an answer that leaves it
//    out (B's revoked device active again, so the page would seal the
//    rooms' keys to it) is refused in plain words, by this page and by a
//    fresh one of the same profile, and nothing of it is taken.
// 2. Overlapping checks do not take the pins back: one check's answer is
//    held while the log grows (a new participant's device) and a second
//    check is asked for; whatever the order they end in, the saved pins
//    keep the larger log and the new participant's first device.
// 3. A check whose devices request is never answered is given up after
//    the page's bound, in plain words, and does not hold the later ones.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { passGate } from "./gate.mjs";
import { ask, base, check, env, log, newPage, run } from "./harness.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const files = { "secure.mjs": here + "../build/browser/secure.mjs", "store.mjs": here + "../build/browser/store.mjs" };
const caseID = env("PARLEY_CASE");
// The size a key-directory answer's checkpoint (a signed note) names.
const sizeOf = (p) => Number(String(p.checkpoint ?? "").split("\n")[1] ?? 0);

await run(async () => {
  const a = await newPage("party A");
  await a.goto(env("PARLEY_INVITE_A"));
  await passGate(a);
  await a.locator("#welcome-dismiss").click();
  await a.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  const lab = await a.context().newPage();
  await a.close(); // its own checks would save pins beside the script's

  await lab.route(base + "/__lab/**", (route) => {
    const name = new URL(route.request().url()).pathname.split("/").pop();
    if (name === "index.html") return route.fulfill({ contentType: "text/html", body: "<!doctype html><title>pins</title>" });
    if (!files[name]) return route.fulfill({ status: 404, body: "" });
    return route.fulfill({ contentType: "text/javascript", body: readFileSync(files[name], "utf8") });
  });
  // Every key-directory answer of the case passes through here: omit
  // drops the revocations from device lists, hold keeps the next
  // statements answer until released, and the largest log seen is noted.
  let omit = false, maxSize = 0, hangDevices = false;
  let hold = null; // { held: resolve when held, release: promise }
  await lab.route(/\/api\/v1\/cases\/[^/]+\/(devices|e2ee\/statements)(\?|$)/, async (route) => {
    if (route.request().method() !== "GET") return route.continue();
    if (hangDevices && /\/devices/.test(route.request().url())) {
      hangDevices = false;
      return; // never answered
    }
    const res = await route.fetch();
    const body = await res.json();
    maxSize = Math.max(maxSize, sizeOf(body));
    if (omit && /\/devices/.test(route.request().url())) delete body.revocations;
    const h = hold;
    if (h && /statements/.test(route.request().url())) {
      hold = null;
      h.held();
      await h.release;
    }
    return route.fulfill({ response: res, json: body });
  });
  await lab.goto(base + "/__lab/index.html");
  const account = await lab.evaluate(async (caseID) => {
    const S = await import("/__lab/secure.mjs");
    const St = await import("/__lab/store.mjs");
    const db = await new Promise((ok, no) => { const r = indexedDB.open("parley"); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    const accounts = await new Promise((ok, no) => { const r = db.transaction("devices").objectStore("devices").getAllKeys(); r.onsuccess = () => ok(r.result); r.onerror = () => no(r.error); });
    db.close();
    if (accounts.length !== 1) throw new Error(`expected one account's device in this profile, found ${accounts.length}`);
    const { keys } = await St.loadOrCreateDevice(accounts[0]);
    window.lab = { S, St, keys, sc: new S.SecureCase(caseID, keys) };
    await window.lab.sc.refresh();
    return accounts[0];
  }, caseID);
  const pins = () => lab.evaluate((acct) => window.lab.St.loadPins(acct), account);
  // Runs a check in the page; "ok" or the words it failed with.
  const refresh = (fresh = false) => lab.evaluate(async (fresh) => {
    const L = window.lab;
    const sc = fresh ? new L.S.SecureCase(L.sc.caseID, L.keys) : L.sc;
    return sc.refresh().then(() => "ok", (e) => e.message);
  }, fresh);

  // 1. A revocation left out.
  const [bAccount, bDevice] = (await ask("revoke")).split(" ");
  check(await refresh() === "ok", "the page checks the devices after B's device was revoked");
  const revokedNow = await lab.evaluate(([b, d]) => window.lab.sc.sess.dir.revoked(b, d), [bAccount, bDevice]);
  check(revokedNow, "B's device is revoked in the page's directory");
  omit = true;
  const said = await refresh();
  const active = await lab.evaluate(([b, d]) => window.lab.sc.sess.dir.active(b).some((r) => r.id === d), [bAccount, bDevice]);
  check(said !== "ok" && !active, `an answer leaving out the revocation is refused and B's revoked device is no recipient (${said}; active: ${active})`);
  check(/took out of use/.test(said) && /tell your mediator/.test(said) && !said.includes(bAccount) && !said.includes(bDevice),
    `the page says so in plain words, naming no id: ${JSON.stringify(said)}`);
  const again = await refresh(true);
  check(again === said, `a fresh page of this profile refuses it too (the pin is saved): ${JSON.stringify(again)}`);
  const p1 = await pins();
  check(Number.isInteger(p1.revoked?.[bAccount]?.[bDevice]) && p1.revoked[bAccount][bDevice] >= 0,
    `the revocation is pinned in IndexedDB with its log index (${JSON.stringify(p1.revoked)})`);
  omit = false;
  check(await refresh() === "ok", "the honest answer passes again");

  // 2. Overlapping checks.
  const before = await pins();
  let held;
  const isHeld = new Promise((ok) => { held = ok; });
  let release;
  hold = { held, release: new Promise((ok) => { release = ok; }) };
  await lab.evaluate(() => { window.lab.first = window.lab.sc.refresh().then(() => "ok", (e) => e.message); });
  await isHeld; // the first check has its devices and waits for its statements
  const newcomer = await ask("grow");
  await lab.evaluate(() => {
    window.lab.secondDone = false;
    window.lab.second = window.lab.sc.refresh().then(() => "ok", (e) => e.message).finally(() => { window.lab.secondDone = true; });
  });
  // Before refresh was one at a time, the second check ran to the end
  // here; now it waits for the first. Either way, give it the chance.
  const overtook = await lab.waitForFunction(() => window.lab.secondDone, null, { timeout: 5000 }).then(() => true, () => false);
  log(`the second check ${overtook ? "ended" : "did not end"} while the first was held`);
  release();
  const ends = await lab.evaluate(async () => [await window.lab.first, await window.lab.second]);
  check(ends[0] === "ok" && ends[1] === "ok", `both checks pass (${ends})`);
  const after = await pins();
  check((after.logSize ?? 0) >= maxSize && after.logSize >= (before.logSize ?? 0),
    `the saved log size did not move back (${after.logSize}; the largest answer was ${maxSize}, before ${before.logSize})`);
  check(after.firsts?.[newcomer] !== undefined, "the newcomer's first device, which the second check saw, stays pinned");
  check(after.cases?.[caseID]?.seq >= (before.cases?.[caseID]?.seq ?? 0) || !before.cases?.[caseID], "the latest statement pin did not move back");
  check(after.revoked?.[bAccount]?.[bDevice] === p1.revoked[bAccount][bDevice], "the pinned revocation stays, at its index");

  // 3. A check the server never answers does not hold the later ones: it is given up after the page's bound (set
  // short here), in plain words, and the check asked meanwhile, and the next, pass.
  hangDevices = true;
  const hung = await lab.evaluate(async () => {
    const sc = window.lab.sc;
    sc.refreshTimeoutMs = 3000;
    const within = (p) => Promise.race([p.then(() => "ok", (e) => e.message), new Promise((ok) => setTimeout(() => ok("still waiting after 20 s"), 20000))]);
    const first = within(sc.refresh()), second = within(sc.refresh());
    return [await first, await second, await within(sc.refresh())];
  });
  check(/did not answer in time/.test(hung[0]) && !/\b[a-z]{1,4}_[a-z2-7]{6,}/.test(hung[0]),
    `the check never answered is given up in plain words: ${JSON.stringify(hung[0])}`);
  check(hung[1] === "ok" && hung[2] === "ok", `the checks asked meanwhile and after pass (${hung.slice(1)})`);

  // mergePins itself: nothing moves back, whatever is saved first.
  const merged = await lab.evaluate(() => {
    const m = window.lab.St.mergePins(
      { logKey: "k", logSize: 9, logCheckpoint: "nine", firsts: { a: "a1" }, revoked: { b: ["b1"], d: { d1: 10 } }, cases: { c: { first: "f", seq: 3, latest: "l3" } } },
      { logKey: "k", logSize: 7, logCheckpoint: "seven", firsts: { a: "other", n: "n1" }, revoked: { b: { b1: 30, b2: 40 }, d: { d1: 20 } }, cases: { c: { first: "f", seq: 2, latest: "l2" } } });
    return m;
  });
  check(merged.logSize === 9 && merged.logCheckpoint === "nine" && merged.firsts.a === "a1" && merged.firsts.n === "n1" &&
    merged.revoked.b.b1 === 30 && merged.revoked.b.b2 === 40 && merged.revoked.d.d1 === 10 && merged.cases.c.seq === 3,
    `mergePins keeps the newer of each pin and drops none; a revocation pin saved without an index (b1) takes the check's, and of two indexes the earlier stays: ${JSON.stringify(merged)}`);
  // Past the bound a merge is refused in plain words, never a pin dropped (a server's flood must not push one out).
  const full = await lab.evaluate(() => {
    const ids = Array.from({ length: 32 }, (_, i) => "old" + i);
    try {
      const m = window.lab.St.mergePins({ revoked: { b: ids } }, { revoked: { b: { new: 99 } } });
      return "merged: " + Object.keys(m.revoked.b).length;
    } catch (e) { return e.message; }
  });
  check(/more devices taken out of use/.test(full) && /tell your mediator/.test(full), `mergePins past the bound is refused in plain words: ${JSON.stringify(full)}`);
  // Pins this page cannot read (a newer form, a field of another shape) are refused in words, never read in part.
  const parsed = await lab.evaluate(() => {
    const St = window.lab.St;
    const tryParse = (v) => { try { St.parsePins(v); return "read"; } catch (e) { return e.message; } };
    return [tryParse({ format: 2 }), tryParse({ revoked: { b: "b1" } }), tryParse({ logSize: 3, later: true }),
      tryParse({ logSize: 3, revoked: { b: ["b1"], d: { d1: 4, d2: -1 } }, cases: { c: { first: "a", seq: 2, latest: "b", entries: ["x"] } }, firsts: { a: "a1" } }),
      tryParse(undefined)];
  });
  check(JSON.stringify(parsed) === JSON.stringify(["this page is out of date: reload it", "this page is out of date: reload it", "this page is out of date: reload it", "read", "read"]),
    `pins in a form this page cannot read are refused as out of date; today's and the older revocation lists are read: ${JSON.stringify(parsed)}`);
  log("revpins: all passed");
});
