// End-to-end encrypted documents in the browser, in bounded memory
// (docs/security.md, "Documents end to end"): uploading encrypts the file
// on this device, a slice at a time, and downloading decrypts and checks
// it a segment at a time. Neither holds the file in memory.
//
// Where the bytes wait: the origin private file system (OPFS), a private
// disk area of this site that only this page's code reads. An upload is
// encrypted into a temporary OPFS file and sent from there with one
// streaming request (XMLHttpRequest reads a disk-backed File as it sends;
// fetch streams a request body only over HTTP/2, which a plain deployment
// does not have). A download is decrypted into a temporary OPFS file and
// handed to the person only once every segment, the last-segment flag, the
// stored bytes' SHA-256 and size as recorded at upload (and, for an
// upgraded version, the plaintext's SHA-256) have checked out, so a failed
// check never leaves a partial file that looks complete: the temporary
// file is deleted and the page says what happened. (A service worker that
// streams into the browser's download would have to start the save before
// the check at the end, and a cut-off download can look whole.) Without
// OPFS the bytes wait in a Blob, which the browser pages to disk itself.
//
// Memory: in a normal browser profile the OPFS file is on disk, and the
// browser's own processes stay flat whatever the file's size (measured at
// 1 GiB: BENCHMARKS.md). In a private (incognito) window Chromium keeps the
// site's storage, OPFS and Blobs alike, in the browser process's memory,
// and gives the site less room: there a file costs its size in the
// browser's memory while it is encrypted and sent, and again while it is
// decrypted. So before writing, the page asks how much room the site has
// (navigator.storage.estimate) and, when the copy would not fit, says so in
// plain words and writes nothing; a write that still runs out of room is
// refused with the same words.
import { APIError, casePath } from "./api";
import type { Document } from "./api";
import {
  audienceMembers, bindName, ciphertextSize, DocSession, documentID, HeaderSize, IntegrityError, newDocIDNonce, newDocKey, pickDocKey, pinnable, RelabelledError, SegmentSize, StreamOpener,
  StreamSealer, TagSize, uploadLabel, wrapForAudience,
} from "./docs-e2ee";
import { unb64 } from "./wire";
import * as W from "./wire_gen";

/** How much of the file is read, encrypted or written at a time. */
const SLICE = 64 * SegmentSize; // 4 MiB

// --- temporary files ---

interface Sink { name: string; write(b: Uint8Array): Promise<void>; finish(): Promise<Blob>; discard(): Promise<void> }

/** The site's storage has no room for a temporary copy of need bytes, free bytes left (-1: unknown). */
export class NoRoomError extends Error {
  constructor(readonly need: number, readonly free: number) { super("no room for the temporary copy"); }
}

/** The room the site's storage has left, in bytes (Infinity when the browser does not say). */
async function freeRoom(): Promise<number> {
  try {
    const e = await navigator.storage?.estimate?.();
    if (e?.quota === undefined || e.usage === undefined) return Infinity;
    return Math.max(0, e.quota - e.usage);
  } catch { return Infinity; }
}

/** Refuses (NoRoomError) before anything is written when a temporary copy of n bytes would not fit. */
async function ensureRoom(n: number): Promise<void> {
  if (!(await tmpRoot())) return; // no OPFS: the bytes wait in a Blob
  const free = await freeRoom();
  if (free < n) throw new NoRoomError(n, free);
}

const roomSize = (n: number) => n < 1024 * 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MB` : `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;

/** A NoRoomError in words: what happened and what the person can do. */
export function noRoomWords(e: NoRoomError, what: string): string {
  const free = e.free >= 0 && Number.isFinite(e.free) ? `; this browser gives this site ${roomSize(e.free)}` : "";
  const need = e.need >= 0 ? ` (it needs ${roomSize(e.need)}${free})` : "";
  return `This browser has no room on this device for ${what}${need}, so nothing was saved. ` +
    "Free some disk space and try again. In a private (incognito) window the browser keeps such files in its memory and allows much less: use a normal window for large files.";
}

const isQuota = (e: unknown) => e instanceof DOMException && (e.name === "QuotaExceededError" || e.name === "NoModificationAllowedError" && /space|quota/i.test(e.message));
// Each page (tab) keeps its temporary files in its own folder under
// parley-tmp, named by a random id, and holds a Web Lock of that name for
// as long as it lives. A sweep deletes only other folders whose lock nobody
// holds (their page is gone); without Web Locks, only those untouched for
// STALE_MS. So one tab never deletes the files another tab is working on,
// and a closed tab's leftovers go at the next sweep in any tab.
const TMP_DIR = "parley-tmp";
const TAB = crypto.randomUUID();
const lockName = (tab: string) => `parley-tmp:${tab}`;
const STALE_MS = 30 * 60 * 1000;
/** How long a decrypted copy handed to the browser's download stays: the browser reads it from here while it saves. */
export const HANDED_OVER_MS = 60 * 1000;
const inUse = new Set<string>();
let tabLock: Promise<void> | null = null;

function holdTabLock(): Promise<void> {
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  if (!locks) return Promise.resolve();
  // Granted at once (nobody else knows the name); held until the page goes.
  tabLock ??= new Promise<void>((granted) => { void locks.request(lockName(TAB), () => { granted(); return new Promise<void>(() => {}); }); });
  return tabLock;
}

async function tmpRoot(): Promise<FileSystemDirectoryHandle | null> {
  try {
    const root = await navigator.storage?.getDirectory?.();
    return root ? await root.getDirectoryHandle(TMP_DIR, { create: true }) : null;
  } catch { return null; }
}

async function tmpDir(): Promise<FileSystemDirectoryHandle | null> {
  await holdTabLock();
  const top = await tmpRoot();
  try { return top ? await top.getDirectoryHandle(TAB, { create: true }) : null; } catch { return null; }
}

type Entries = AsyncIterable<[string, FileSystemHandle]>;
const entries = (d: FileSystemDirectoryHandle) => (d as unknown as { entries(): Entries }).entries();

/** The newest change to any file in d (0 when empty). */
async function newest(d: FileSystemDirectoryHandle): Promise<number> {
  let t = 0;
  for await (const [, h] of entries(d)) {
    if (h.kind === "file") t = Math.max(t, (await (h as FileSystemFileHandle).getFile()).lastModified);
  }
  return t;
}

/**
 * Deletes temporary files no live page uses: this page's own that no
 * operation or handed-over copy holds, and other pages' folders whose page
 * is gone (no live Web Lock of their name; without Web Locks, untouched for
 * STALE_MS). Run when the documents screen mounts.
 */
export async function sweepTemporary(): Promise<void> {
  const top = await tmpRoot();
  if (!top) return;
  await holdTabLock();
  const locks = (navigator as Navigator & { locks?: LockManager }).locks;
  const live = locks ? new Set(((await locks.query()).held ?? []).map((l) => l.name)) : null;
  const found: [string, FileSystemHandle][] = [];
  for await (const e of entries(top)) found.push(e);
  for (const [name, h] of found) {
    if (name === TAB && h.kind === "directory") {
      const mine: string[] = [];
      for await (const [n] of entries(h as FileSystemDirectoryHandle)) mine.push(n);
      for (const n of mine) if (!inUse.has(n) && !handedOver.has(n)) await (h as FileSystemDirectoryHandle).removeEntry(n).catch(() => {});
      continue;
    }
    const stale = live ? !live.has(lockName(name)) :
      Date.now() - (h.kind === "directory" ? await newest(h as FileSystemDirectoryHandle) : (await (h as FileSystemFileHandle).getFile()).lastModified) > STALE_MS;
    if (stale) await top.removeEntry(name, { recursive: true }).catch(() => {});
  }
}

/**
 * Deletes every temporary file of every page, in use or not: at sign-out,
 * and when the page learns the session ended. Sign-out ends the session of
 * every tab of this browser, so no other page's work is lost that could
 * still be saved; an operation under way stops with an error.
 */
export async function sweepAllTemporary(): Promise<void> {
  await forgetDecrypted();
  try {
    const root = await navigator.storage?.getDirectory?.();
    await root?.removeEntry(TMP_DIR, { recursive: true });
  } catch { /* no OPFS, or nothing there */ }
}

/** The decrypted copies handed to the browser's download, by file name: each deleted HANDED_OVER_MS later, or at sign-out or when the page goes. */
const handedOver = new Map<string, () => Promise<void>>();

/** Deletes every decrypted copy this page handed over (sign-out, page going away). */
export async function forgetDecrypted(): Promise<void> {
  const all = [...handedOver.values()];
  handedOver.clear();
  await Promise.all(all.map((f) => f().catch(() => {})));
}

async function sink(): Promise<Sink> {
  const dir = await tmpDir();
  const name = crypto.randomUUID();
  const fh = dir ? await dir.getFileHandle(name, { create: true }).catch(() => null) : null;
  const ws = fh && "createWritable" in fh ? await fh.createWritable().catch(() => null) : null;
  if (dir && fh && ws) {
    inUse.add(name);
    let closed = false;
    return {
      name,
      write: async (b) => {
        try { await ws.write(b as Uint8Array<ArrayBuffer>); } catch (e) { throw isQuota(e) ? new NoRoomError(-1, -1) : e; }
      },
      finish: async () => { await ws.close(); closed = true; return fh.getFile(); },
      discard: async () => {
        if (!closed) await ws.abort().catch(() => {});
        inUse.delete(name);
        await dir.removeEntry(name).catch(() => {});
      },
    };
  }
  let blob = new Blob([]);
  return {
    name,
    write: async (b) => { blob = new Blob([blob, b as Uint8Array<ArrayBuffer>]); },
    finish: async () => blob,
    discard: async () => { blob = new Blob([]); },
  };
}

// --- upload ---

export type Progress = (phase: "encrypt" | "upload", done: number, total: number) => void;

/**
 * What uploadE2EE encrypts: a File, or anything read the same way, a slice
 * at a time in order (docs-upgrade.ts reads a server-encrypted version's
 * download this way, so it is never held whole).
 */
export interface PlainSource {
  readonly name: string;
  readonly type: string;
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/**
 * The words when this device cannot wrap a document's key for everyone in
 * its audience (someone in it has no device in the case's signed membership
 * yet): plain words, no "audience" or "signed membership" (docs-upgrade.ts
 * tells it apart by its class).
 */
export class CannotLockYet extends Error {
  constructor() {
    super("This phone or computer can't lock the file for everyone who may see it yet: someone there hasn't finished joining. Nothing was saved. Try again in a minute, upload it without the extra lock, or ask your mediator.");
    this.name = "CannotLockYet";
  }
}

/**
 * Encrypts file on this device for audience (a fresh key for version 1 of
 * a new document, wrapped for the audience's devices after checking the
 * signed membership) and uploads it. Rejects with words to show. With
 * into, the ciphertext is bound to that document and version instead
 * (an upgrade of a stored server-encrypted version, docs-upgrade.ts).
 */
export async function uploadE2EE(caseID: string, sess: DocSession, file: PlainSource, audience: string, cls: string,
  send: (body: Blob, query: Record<string, string>, headers: Record<string, string>, label: { name: string; mediaType: string }) => Promise<Document>, progress: Progress,
  into?: { doc: string; version: number }): Promise<Document> {
  // A new document's id is derived from this account and a fresh nonce,
  // sent with it (the server derives it again and refuses any other).
  const nonce = into ? null : newDocIDNonce();
  const docID = into?.doc ?? documentID(caseID, sess.me.account, nonce!);
  const version = into?.version ?? 1;
  const key = newDocKey();
  const b = { case: caseID, doc: docID, version };
  // The name and type this device binds into the keys, sent as they are
  // bound: every device that opens the document checks what the server
  // shows against them. An upgrade binds the stored version's name and
  // type exactly as the server keeps them (file.name and file.type are
  // those: docs-upgrade.ts), as the CLI's UpgradeDocument does; the
  // server refuses a wrap that binds others.
  const label = into ? { name: file.name, mediaType: file.type } : uploadLabel(file.name, file.type);
  let wrap: Uint8Array;
  try {
    wrap = await wrapForAudience(sess, docID, version, audience, bindName(label.name, label.mediaType), key);
  } catch {
    key.fill(0);
    throw new CannotLockYet();
  }
  const need = ciphertextSize(file.size);
  try {
    await ensureRoom(need);
  } catch (e) {
    key.fill(0);
    throw e instanceof NoRoomError ? new Error(noRoomWords(e, "the encrypted copy it sends")) : e;
  }
  const out = await sink();
  try {
    const sealer = await StreamSealer.create(key, b);
    key.fill(0);
    await out.write(sealer.header);
    const total = file.size;
    let off = 0;
    do {
      const slice = new Uint8Array(await file.slice(off, off + SLICE).arrayBuffer());
      if (slice.length === 0 && total > 0) throw new Error("The file could not be read to the end (was it changed or moved while it was encrypted?). Nothing was saved.");
      const segs: Uint8Array[] = [];
      for (let i = 0; i < slice.length; i += SegmentSize) segs.push(slice.subarray(i, i + SegmentSize));
      if (segs.length === 0) segs.push(slice); // an empty file: one empty last segment
      await out.write(concatAll(await sealer.sealMany(segs, off + slice.length >= total)));
      off += slice.length;
      progress("encrypt", off, total);
    } while (off < total);
    const body = await out.finish();
    if (body.size !== ciphertextSize(total)) throw new Error("The encrypted copy came out the wrong size, so nothing was sent. Try again.");
    const query: Record<string, string> = { e2ee: "1", doc: docID };
    if (nonce) query[W.DocumentNonceParam] = b64url(nonce);
    const stored = await send(body, query, { [W.DocumentKeyHeader]: b64url(wrap) }, label);
    await sess.wrapPins.save(pinnable(sess.me.id, [wrap])); // the version's newest wrap this device has seen
    return stored;
  } catch (e) {
    throw e instanceof NoRoomError ? new Error(noRoomWords(new NoRoomError(need, e.free), "the encrypted copy it sends")) : e;
  } finally {
    key.fill(0);
    await out.discard();
  }
}

function concatAll(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

function b64url(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

// --- keys ---

/** The name and media type the server shows for version of d ("" when it shows none). */
export function shownLabel(d: Document, version: number): { name: string; mediaType: string } {
  const v = d.versions?.find((x) => x.version === version);
  if (v) return { name: v.name ?? "", mediaType: v.mediaType ?? "" };
  return version === d.version ? { name: d.name ?? "", mediaType: d.mediaType ?? "" } : { name: "", mediaType: "" };
}

/** What a version's key holds for this device: the key, the signed wrap's audience, and its name binding (null: encrypted before names were bound, so the name is not verified). */
export interface VersionKey { version: number; key: Uint8Array; audience: string; name: Uint8Array | null }

/**
 * The version's content key for this device, from the wraps the server
 * holds (checked against the signed membership and against the name and
 * type the server shows for it: a RelabelledError when they are not the
 * ones bound), or null.
 */
export async function versionKey(caseID: string, sess: DocSession, d: Document, version: number): Promise<VersionKey | null> {
  const res = await fetch(`${casePath(caseID)}/documents/${encodeURIComponent(d.id)}/keys${version ? "?version=" + version : ""}`, { credentials: "same-origin" });
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => ({})));
  const keys = await res.json() as W.DocumentKeys;
  if (version && keys.version !== version) return null;
  const shown = shownLabel(d, keys.version);
  const got = await pickDocKey(sess, d.id, keys.version, shown.name, shown.mediaType, (keys.wraps ?? []).map((w) => unb64(w)));
  if (!got) return null;
  // The newest wrap of the version this device has opened, pinned (review 394 M2: a newcomer pass refuses an older one).
  try { await sess.wrapPins.save([got.wrap.ctx]); } catch (e) { got.key.fill(0); throw e; }
  return { version: keys.version, key: got.key, audience: got.wrap.ctx.audience, name: got.wrap.ctx.name };
}

/** A document the server shows under another name or type than its uploader's device signed, in words. */
export const relabelledWords = (name: string) =>
  `The server shows this document as “${name}”, but that is not the name (or file type) the device that uploaded it signed. ` +
  "This device refuses it: it may be another document under a borrowed name. Nothing was shared or saved. Tell your mediator and your program's administrator.";

/** A document encrypted before names were signed: its name comes from the server alone. */
export const unverifiedNameWords = (name: string) =>
  `“${name}” was encrypted before Parley signed documents' names, so this device cannot check that the name is the one its uploader gave it: open it and look before you rely on the name.`;

export const noKeyWords = (name: string) =>
  `This device has no key for “${name}”: it was encrypted before this device joined, or for people this device does not belong to. ` +
  "This browser cannot give itself a key. Ask your mediator: when they open the documents on a device that holds the document's keys (or run the Parley app's “doc keys” command), that device gives yours one, and then this device can open it.";

/** Who this device would encrypt for: the audience's members in the case's latest verified signed membership (null when it lists none). */
export function signedAudience(sess: DocSession, audience: string): string[] | null {
  const st = sess.chain.latest();
  if (!st) return null;
  try { return audienceMembers(st, audience); } catch { return null; }
}

/**
 * What this device can check about d's latest version before sharing it:
 * the audience, version, signer and signing time of the signed wrap that
 * gives it the key, and the name and type the server shows, checked
 * against the ones the uploader's device bound (a RelabelledError when
 * they differ; nameVerified false for a document encrypted before names
 * were bound). Size and dates come from the server (docs/security.md,
 * "Documents end to end").
 */
export async function verifiedVersion(caseID: string, sess: DocSession, d: Document): Promise<{ version: number; audience: string; by: string; signed: number; name: string; nameVerified: boolean } | null> {
  const res = await fetch(`${casePath(caseID)}/documents/${encodeURIComponent(d.id)}/keys`, { credentials: "same-origin" });
  if (!res.ok) throw new APIError(res.status, await res.json().catch(() => ({})));
  const keys = await res.json() as W.DocumentKeys;
  const shown = shownLabel(d, keys.version);
  const got = await pickDocKey(sess, d.id, keys.version, shown.name, shown.mediaType, (keys.wraps ?? []).map((w) => unb64(w)));
  if (!got) return null;
  got.key.fill(0);
  const c = got.wrap.ctx;
  return { version: keys.version, audience: c.audience, by: c.account, signed: c.created, name: shown.name, nameVerified: c.name !== null };
}

/**
 * Wraps every stored end-to-end encrypted version's key for a new
 * audience (a share by re-wrap: only a device that holds the keys can).
 * Refuses when the server reports another audience than the signed wraps.
 */
export async function wrapsForShare(caseID: string, sess: DocSession, d: Document, audience: string): Promise<W.VersionWrap[]> {
  const out: W.VersionWrap[] = [];
  for (const v of d.versions ?? [{ version: d.version, e2ee: d.e2ee } as W.VersionInfo]) {
    if (!v.e2ee || v.erased) continue;
    let k: VersionKey | null;
    try {
      k = await versionKey(caseID, sess, d, v.version);
    } catch (e) {
      if (e instanceof RelabelledError) throw new Error(relabelledWords(e.shownName));
      throw e;
    }
    if (!k) throw new Error(noKeyWords(d.name ?? "this document") + " Only a device that holds a document's keys can share it.");
    if (k.audience !== d.audience) { k.key.fill(0); throw new Error("The server says different people may see this document than its locked keys say, so it was not shared. Tell your program's administrator."); }
    let wrap: Uint8Array;
    try {
      // The new keys carry the binding the opened ones carry (the
      // uploader's), never one made from the name the server shows now.
      wrap = await wrapForAudience(sess, d.id, v.version, audience, k.name, k.key);
    } catch {
      throw new Error("This phone or computer can't give the keys to everyone who should see it yet: someone there hasn't finished joining (their phone or computer is not set up in this case yet). Nothing was shared. Try again once they have joined.");
    } finally {
      k.key.fill(0);
    }
    out.push({ version: v.version, wrap: b64std(wrap) });
  }
  return out;
}

function b64std(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

// --- download ---

/**
 * Downloads and decrypts d's latest version on this device into a
 * temporary file, checking every segment and, at the end, the stored
 * bytes' size and SHA-256; returns the decrypted file only when all of it
 * checked out. Rejects with words to show; nothing partial is kept.
 */
export async function downloadE2EE(caseID: string, sess: DocSession, d: Document, progress: (done: number, total: number) => void): Promise<{ file: Blob; version: number; release: () => Promise<void>; nameVerified: boolean }> {
  const name = d.name ?? "this document";
  let k: VersionKey | null;
  try {
    k = await versionKey(caseID, sess, d, 0);
  } catch (e) {
    if (e instanceof RelabelledError) throw new Error(relabelledWords(e.shownName));
    console.warn("download refused:", e); // the technical reason, for the browser's console
    throw new Error(downloadWords(name, e)); // a lost connection, an erased or moved document: never the technical text
  }
  if (!k) throw new Error(noKeyWords(name));
  let res: Response;
  try {
    res = await fetch(`${casePath(caseID)}/documents/${encodeURIComponent(d.id)}/content?version=${k.version}`, { credentials: "same-origin" });
  } catch {
    k.key.fill(0);
    throw new Error(`The connection was lost, so “${name}” was not downloaded. Try again.`);
  }
  const out = await sink();
  let need = -1;
  try {
    if (!res.ok || !res.body) throw new APIError(res.status, await res.json().catch(() => ({})));
    const h = res.headers;
    const size = Number(h.get("Content-Length") ?? "-1");
    const digest = /^sha-256=:([A-Za-z0-9+/=]+):$/.exec(h.get("Repr-Digest") ?? "");
    const plainHex = h.get(W.DocumentPlainSHA256Header);
    if (h.get(W.DocumentE2EEHeader) !== "1" || Number(h.get(W.DocumentVersionHeader)) !== k.version || !digest || size < 0) {
      throw new IntegrityError("the server's answer is not the end-to-end encrypted version its keys are for");
    }
    const opener = new StreamOpener(k.key, { case: caseID, doc: d.id, version: k.version }, size,
      { ctSHA256: unb64(digest[1]), plainSHA256: plainHex ? Uint8Array.from(plainHex.match(/../g) ?? [], (x) => parseInt(x, 16)) : undefined });
    k.key.fill(0);
    need = opener.plain;
    await ensureRoom(need);
    const src = new Exact(res.body.getReader());
    await opener.header(await src.take(HeaderSize));
    // A slice of segments at a time: read, then decrypt together, then write.
    let done = 0;
    for (let seg = 0; seg < opener.segments;) {
      const cts: Uint8Array[] = [];
      for (let i = 0; i < SLICE / SegmentSize && seg + i < opener.segments; i++) {
        const last = seg + i === opener.segments - 1;
        cts.push(await src.take(last ? opener.plain - (seg + i) * SegmentSize + TagSize : SegmentSize + TagSize));
      }
      if (seg + cts.length === opener.segments) await src.end(); // nothing past the end, before the last segment is released
      const pts = await opener.openMany(cts);
      seg += cts.length;
      const chunk = concatAll(pts);
      await out.write(chunk);
      done += chunk.length;
      progress(done, opener.plain);
    }
    const file = await out.finish();
    // Handed over: the browser's download reads it from here, so it stays a
    // minute (or until sign-out, or the page going), then it is deleted.
    const release = async () => { if (handedOver.delete(out.name)) await out.discard(); };
    handedOver.set(out.name, () => out.discard());
    setTimeout(() => void release(), HANDED_OVER_MS);
    return { file, version: k.version, release, nameVerified: k.name !== null };
  } catch (e) {
    await out.discard();
    void res.body?.cancel().catch(() => {}); // stops the transfer when nothing has read it yet (refused before reading)
    console.warn("download refused:", e instanceof Error ? e.message : e); // the technical reason, for the browser's console
    throw new Error(downloadWords(name, e instanceof NoRoomError && e.need < 0 ? new NoRoomError(need, e.free) : e));
  } finally {
    k.key.fill(0);
  }
}

/**
 * Downloads d's latest version as the server stores it (a document not
 * encrypted end to end), so that a refusal (signed out, no longer shared
 * with this person, erased under retention) is told in words instead of
 * the browser saving the server's answer as the file. Collected a slice at
 * a time into a Blob (the browser keeps a large one on disk); a body that
 * ends early is a lost connection. Rejects with words to show.
 */
export async function downloadPlain(caseID: string, d: Document, progress: (done: number, total: number) => void): Promise<Blob> {
  const name = d.name ?? "this document";
  let res: Response;
  try {
    res = await fetch(`${casePath(caseID)}/documents/${encodeURIComponent(d.id)}/content`, { credentials: "same-origin" });
  } catch {
    throw new Error(`The connection was lost, so “${name}” was not downloaded. Try again.`);
  }
  try {
    if (!res.ok || !res.body) throw new APIError(res.status, await res.json().catch(() => ({})));
    const total = Number(res.headers.get("Content-Length") ?? "-1");
    const reader = res.body.getReader();
    const parts: Blob[] = [];
    let chunk: Uint8Array[] = [], inChunk = 0, done = 0;
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      chunk.push(value);
      inChunk += value.length;
      done += value.length;
      if (inChunk >= SLICE) { parts.push(new Blob(chunk as BlobPart[])); chunk = []; inChunk = 0; }
      progress(done, total);
    }
    parts.push(new Blob(chunk as BlobPart[]));
    if (total >= 0 && done !== total) throw new Error("short"); // cut short: never a complete-looking partial file
    return new Blob(parts, { type: "application/octet-stream" });
  } catch (e) {
    void res.body?.cancel().catch(() => {});
    console.warn("download refused:", e instanceof Error ? e.message : e); // the technical reason, for the browser's console
    throw new Error(downloadWords(name, e));
  }
}

/** A failed download in words: what happened and what the person can do. */
export function downloadWords(name: string, e: unknown): string {
  if (e instanceof NoRoomError) return `“${name}” was not downloaded. ` + noRoomWords(e, "the decrypted copy it checks before saving");
  if (e instanceof IntegrityError) {
    return `“${name}” did not pass its integrity check: the stored file is not exactly the one that was uploaded (it was changed, cut short or damaged). ` +
      "Nothing was saved, and the part already received was deleted. Tell your mediator.";
  }
  if (e instanceof APIError) {
    if (e.status === 401) return `Your session has ended, so “${name}” was not downloaded. Sign in again.`;
    if (e.status === 403 || e.status === 404) return `You can no longer open “${name}”: it may have been shared elsewhere or removed.`;
    if (e.status === 410) return `“${name}” was erased under the program's retention rules.`;
    if (e.problem.type === W.ProblemTypeBase + ("integrity-failure" satisfies W.ProblemType)) {
      // The server's copy failed its check as it was read: nothing arrived.
      return `“${name}” could not be checked as intact, so it was not saved. Try again; if it happens again, tell the mediator.`;
    }
    return `“${name}” could not be downloaded just now. Try again in a minute.`;
  }
  if (e instanceof Error && e.message.startsWith("This device has no key")) return e.message;
  return `The connection was lost during the download, so “${name}” was not saved. Try again.`;
}

/** Reads exactly n bytes at a time from a stream; a stream that ends early, or goes on past the end, is an IntegrityError. */
class Exact {
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  constructor(private r: ReadableStreamDefaultReader<Uint8Array>) {}
  async take(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      if (this.off === this.buf.length) {
        const { value, done } = await this.r.read();
        if (done) throw new IntegrityError(`the stored document ended ${n - o} bytes early`);
        this.buf = value;
        this.off = 0;
      }
      const k = Math.min(n - o, this.buf.length - this.off);
      out.set(this.buf.subarray(this.off, this.off + k), o);
      o += k;
      this.off += k;
    }
    return out;
  }
  async end(): Promise<void> {
    while (this.off === this.buf.length) {
      const { value, done } = await this.r.read();
      if (done) return;
      this.buf = value;
      this.off = 0;
    }
    await this.r.cancel();
    throw new IntegrityError("the stored document goes on past its recorded end");
  }
}
