// This browser's device keys, in IndexedDB, per account.
//
// - The Ed25519 signing key is a non-extractable CryptoKey: script can use
//   it to sign but cannot read it out, and it is stored as such (IndexedDB
//   keeps CryptoKey objects by structured clone).
// - An X25519 KEM key would be the same. The default KEM is X-Wing, which
//   WebCrypto does not offer, so its 32-byte seed is stored encrypted under
//   a non-extractable AES-256-GCM CryptoKey kept next to it: the bytes at
//   rest (disk, a copied profile) are ciphertext, but the seed is in script
//   memory while the app runs (docs/protocol.md, "The browser client").
import * as E from "./e2ee";
import * as P from "./primitives";
import { buf } from "./primitives";
import { mergeWrapPins, type DocKeyContext, type WrapPin } from "./docs-e2ee";

const DB = "parley", STORE = "devices", PINS = "pins";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore(STORE);
      req.result.createObjectStore(PINS);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function op<T>(store: string, mode: IDBTransactionMode, f: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(store, mode);
      const req = f(tx.objectStore(store));
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

interface StoredDevice {
  account: string;
  id: string;
  created: number;
  sig: CryptoKey;
  sigPub: Uint8Array;
  kem: number;
  x25519?: CryptoKey;
  xwing?: { wrapKey: CryptoKey; iv: Uint8Array; sealed: Uint8Array };
  registered: boolean;
}

// What a person reads when this browser's saved keys cannot be used (the page opening says it as it is: it says what to do).
const damagedWords = "this browser's saved keys are damaged, so it cannot open your mediation. Use “Sign out and forget this browser”, then ask your mediator for a link back in";

async function toKeys(s: StoredDevice): Promise<E.DeviceKeys> {
  let k: P.KEMPrivate;
  if (s.kem === P.KEMXWing && s.xwing) {
    const seed = new Uint8Array(await P.subtle.decrypt({ name: "AES-GCM", iv: buf(s.xwing.iv) }, s.xwing.wrapKey, buf(s.xwing.sealed)));
    k = await P.xwingFromSeed(seed);
    seed.fill(0);
  } else if (s.kem === P.KEMX25519 && s.x25519) {
    k = await P.x25519FromKey(s.x25519);
  } else throw new Error(damagedWords);
  const keys = await E.deviceKeys(s.account, s.created, { priv: s.sig, pub: s.sigPub }, k);
  if (keys.id !== s.id) throw new Error(damagedWords); // the id does not match the keys
  return keys;
}

/** Loads this browser's device for account, or makes one (X-Wing by default). */
export async function loadOrCreateDevice(account: string, kem = P.KEMXWing): Promise<{ keys: E.DeviceKeys; registered: boolean }> {
  const found = await op<StoredDevice | undefined>(STORE, "readonly", (s) => s.get(account));
  if (found) return { keys: await toKeys(found), registered: found.registered };
  const sig = await P.ed25519Generate();
  const stored: StoredDevice = { account, id: "", created: Date.now(), sig: sig.priv, sigPub: sig.pub, kem, registered: false };
  if (kem === P.KEMXWing) {
    const seed = P.random(32);
    const wrapKey = await P.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
    const iv = P.random(12);
    stored.xwing = { wrapKey, iv, sealed: new Uint8Array(await P.subtle.encrypt({ name: "AES-GCM", iv: buf(iv) }, wrapKey, buf(seed))) };
    seed.fill(0);
  } else {
    const kp = (await P.subtle.generateKey("X25519", false, ["deriveBits"])) as CryptoKeyPair;
    stored.x25519 = kp.privateKey;
  }
  const keys = await toKeys({ ...stored, id: await E.deviceID(sig.pub) });
  stored.id = keys.id;
  await op(STORE, "readwrite", (s) => s.put(stored, account));
  return { keys, registered: false };
}

export async function markRegistered(account: string): Promise<void> {
  const found = await op<StoredDevice | undefined>(STORE, "readonly", (s) => s.get(account));
  if (!found) return;
  found.registered = true;
  await op(STORE, "readwrite", (s) => s.put(found, account));
}

/** What this browser verified before (trust on first use): the log key and
 * checkpoint size, per case the first and latest membership statement (and
 * the sealed rooms' entries its chain held, base64, so a signed closing
 * stands after a reload), each account's first device, and each account's
 * devices whose revocation it verified. */
export interface Pins {
  /** The form these pins are saved in (PinsFormat; none: 1). A page that knows an older form refuses them (parsePins). */
  format?: number;
  logKey?: string; logSize?: number; logCheckpoint?: string; cases?: Record<string, { first: string; seq: number; latest: string; entries?: string[] }>;
  /** Each account's first device (account → device id), pinned the first time this browser saw it. */
  firsts?: Record<string, string>;
  /**
   * Each account's revoked devices of its own chain (account → device id → log index of the revocation that counted,
   * at most E.MaxRevocationPinsPerAccount: past it a check is refused, never a pin dropped). Saved before pins had an
   * index: account → device ids, read by E.revocationPinsFrom as pins of E.UnknownRevocationIndex, which the next
   * check sets.
   */
  revoked?: Record<string, Record<string, number> | string[]>;
}

export async function loadPins(account: string): Promise<Pins> {
  return parsePins(await op<unknown>(PINS, "readonly", (s) => s.get(account)));
}

/** The form of the pins this page saves: a page that finds a later one (saved by a newer Parley in another tab) refuses them. */
export const PinsFormat = 1;

/**
 * What a page says when the pins saved in this browser are in a form it cannot read: another tab, loaded after an
 * update of Parley, saved them in a newer form. The case is refused as for a failed check (nothing is sent, no pin
 * is overwritten) until the page is reloaded, which loads the newer code.
 */
export const stalePageWords = "this page is out of date: reload it";

/**
 * The pins saved (as read from IndexedDB), checked to be in a form this page reads: any other (a later format, a
 * field this page does not know, a field of another shape) is refused with stalePageWords, never read in part:
 * a pin this page skipped would be a check it does not make.
 */
export function parsePins(v: unknown): Pins {
  if (v === undefined) return {};
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x);
  const str = (x: unknown) => typeof x === "string";
  const nat = (x: unknown) => Number.isSafeInteger(x) && (x as number) >= 0;
  const opt = (x: unknown, ok: (y: unknown) => boolean) => x === undefined || ok(x);
  const every = (x: unknown, ok: (y: unknown) => boolean) => isObj(x) && Object.values(x).every(ok);
  const known = new Set(["format", "logKey", "logSize", "logCheckpoint", "cases", "firsts", "revoked"]);
  const ok = isObj(v) && Object.keys(v).every((k) => known.has(k)) &&
    opt(v.format, (f) => Number.isSafeInteger(f) && (f as number) >= 1 && (f as number) <= PinsFormat) &&
    opt(v.logKey, str) && opt(v.logSize, nat) && opt(v.logCheckpoint, str) &&
    opt(v.cases, (cs) => every(cs, (c) => isObj(c) && str(c.first) && nat(c.seq) && str(c.latest) &&
      opt(c.entries, (e) => Array.isArray(e) && e.every(str)))) &&
    opt(v.firsts, (f) => every(f, str)) &&
    // Revoked: account → device → log index (UnknownRevocationIndex is -1), or, saved before pins had an index, a list of ids.
    opt(v.revoked, (r) => every(r, (m) => (Array.isArray(m) && m.every(str)) || every(m, (i) => Number.isSafeInteger(i) && (i as number) >= -1)));
  if (!ok) throw new Error(stalePageWords);
  return v as Pins;
}

/**
 * Saves what this browser verified, merged with the pins saved now (read again in the same transaction, so a
 * refresh of another tab, or one that finished meanwhile, is not undone): mergePins.
 */
export async function updatePins(account: string, mine: Pins): Promise<void> {
  const db = await open();
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(PINS, "readwrite");
      const s = tx.objectStore(PINS);
      const req = s.get(account);
      let failed: unknown = null; // mergePins refused: nothing is saved
      req.onsuccess = () => {
        try { s.put(mergePins(parsePins(req.result), mine), account); } catch (e) { failed = e; tx.abort(); }
      };
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(failed ?? tx.error);
      tx.onabort = () => reject(failed ?? tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * The pins saved (saved) merged with what one check verified (mine), never moving back: the log checkpoint of the
 * larger size (a pinned log key is never replaced); per case the statement pin of the higher sequence (one with
 * another first statement never replaces the saved one), with the sealed rooms' entries of both; every account's
 * first device (the saved one wins); every pinned revocation (a device pinned in both at the earlier index, a known one over an unknown one). More than
 * E.MaxRevocationPinsPerAccount revocations of one account is refused (E.tooManyRevocationsWords), never one dropped:
 * only revocations of an account's own chain are pinned, and an honest server never shows that many.
 */
export function mergePins(saved: Pins, mine: Pins): Pins {
  const out: Pins = { ...saved, format: PinsFormat };
  if (mine.logKey !== undefined && (saved.logKey === undefined || (saved.logKey === mine.logKey && (mine.logSize ?? 0) > (saved.logSize ?? 0)))) {
    out.logKey = mine.logKey; out.logSize = mine.logSize; out.logCheckpoint = mine.logCheckpoint;
  }
  const cases = { ...(saved.cases ?? {}) };
  for (const [id, m] of Object.entries(mine.cases ?? {})) {
    const s = cases[id];
    if (!s) { cases[id] = m; continue; }
    if (s.first !== m.first) continue;
    const entries = [...new Set([...(m.entries ?? []), ...(s.entries ?? [])])];
    cases[id] = { ...(m.seq >= s.seq ? m : s), entries };
  }
  out.cases = cases;
  out.firsts = { ...(mine.firsts ?? {}), ...(saved.firsts ?? {}) };
  const revoked = E.revocationPinsFrom(saved.revoked);
  try {
    E.mergeRevocationPins(revoked, E.revocationPinsFrom(mine.revoked));
  } catch {
    throw new Error(E.tooManyRevocationsWords);
  }
  out.revoked = revoked;
  return out;
}

/**
 * Chain keys another device of this account handed this browser (adding a
 * device): kept in IndexedDB encrypted under a non-extractable AES-256-GCM
 * key stored beside them, as the X-Wing seed is.
 */
interface StoredShared { wrapKey: CryptoKey; iv: Uint8Array; sealed: Uint8Array }
interface SharedJSON { case: string; room: string; epoch: number; seq: number; account: string; device: string; chain: string; iteration: number; ck: string }

const sharedKey = (account: string) => "shared:" + account;
const wrapPinsKey = (account: string) => "docwraps:" + account;

/** The document key wrap pins of account's device (docs-e2ee.ts WrapPin; review 394 M2), by version. */
export async function loadWrapPins(account: string): Promise<Record<string, WrapPin>> {
  const v = await op<unknown>(PINS, "readonly", (st) => st.get(wrapPinsKey(account)));
  const ok = (p: unknown): p is WrapPin => typeof p === "object" && p !== null && Number.isSafeInteger((p as WrapPin).statement) &&
    Number.isSafeInteger((p as WrapPin).created) && typeof (p as WrapPin).audience === "string";
  if (v === undefined) return {};
  if (typeof v !== "object" || v === null || !Object.values(v).every(ok)) throw new Error(stalePageWords);
  return v as Record<string, WrapPin>;
}

/** Pins each wrap as its version's newest unless a newer one is pinned, merged with the saved pins in one transaction (another tab's stay). */
export async function saveWrapPins(account: string, wraps: DocKeyContext[]): Promise<void> {
  if (wraps.length === 0) return;
  const db = await open();
  try {
    await new Promise<void>((resolve, reject) => {
      const tx = db.transaction(PINS, "readwrite");
      const s = tx.objectStore(PINS);
      const req = s.get(wrapPinsKey(account));
      req.onsuccess = () => { s.put(mergeWrapPins((req.result ?? {}) as Record<string, WrapPin>, wraps), wrapPinsKey(account)); };
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const fromHex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map((x) => parseInt(x, 16)));

export async function loadShared(account: string): Promise<E.SharedChain[]> {
  const s = await op<StoredShared | undefined>(PINS, "readonly", (st) => st.get(sharedKey(account)));
  if (!s) return [];
  const pt = new Uint8Array(await P.subtle.decrypt({ name: "AES-GCM", iv: buf(s.iv) }, s.wrapKey, buf(s.sealed)));
  const js = JSON.parse(new TextDecoder().decode(pt)) as SharedJSON[];
  pt.fill(0);
  return js.map((j) => ({
    ctx: { case: j.case, room: j.room, epoch: j.epoch, statementSeq: j.seq, account: j.account, device: j.device, chain: fromHex(j.chain) },
    iteration: j.iteration, ck: fromHex(j.ck),
  }));
}

export async function saveShared(account: string, add: E.SharedChain[]): Promise<void> {
  const all = [...(await loadShared(account)), ...add];
  const js: SharedJSON[] = all.map((c) => ({ case: c.ctx.case, room: c.ctx.room, epoch: c.ctx.epoch, seq: c.ctx.statementSeq,
    account: c.ctx.account, device: c.ctx.device, chain: toHex(c.ctx.chain), iteration: c.iteration, ck: toHex(c.ck) }));
  const wrapKey = await P.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
  const iv = P.random(12);
  const sealed = new Uint8Array(await P.subtle.encrypt({ name: "AES-GCM", iv: buf(iv) }, wrapKey, buf(new TextEncoder().encode(JSON.stringify(js)))));
  await op(PINS, "readwrite", (st) => st.put({ wrapKey, iv, sealed } satisfies StoredShared, sharedKey(account)));
}

/**
 * Deletes account's device keys, pins and handed-over chain keys from this
 * browser; when no other account's are left, the whole database. Resolves
 * to whether another account's keys stay.
 */
export async function forgetAccount(account: string): Promise<boolean> {
  const db = await open();
  let others: number;
  try {
    others = await new Promise<number>((resolve, reject) => {
      const tx = db.transaction([STORE, PINS], "readwrite");
      tx.objectStore(STORE).delete(account);
      tx.objectStore(PINS).delete(account);
      tx.objectStore(PINS).delete(sharedKey(account));
      tx.objectStore(PINS).delete(wrapPinsKey(account));
      const n1 = tx.objectStore(STORE).count(), n2 = tx.objectStore(PINS).count();
      tx.oncomplete = () => resolve(n1.result + n2.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
  if (others > 0) return true;
  await new Promise<void>((resolve) => {
    const req = indexedDB.deleteDatabase(DB);
    req.onsuccess = req.onerror = req.onblocked = () => resolve();
  });
  return false;
}
