// End-to-end encrypted documents in the browser: the same bytes as Go's
// e2ee/stream.go (the vault's streaming format) and e2ee/dockey.go (a
// version's content key wrapped with HPKE for the audience's devices,
// signed by the wrapping device), checked against e2ee/testdata/
// doc-vectors.json by test/vectors-docs.mjs (and Go opens what this file
// makes: e2ee/testdata/doc-vectors-browser.json).
//
// Stream: header = "parley-vault-v1\n" || salt (32); then segments of
// 64 KiB plaintext sealed with AES-256-GCM under HKDF-SHA-256(key, salt,
// info(case, doc, version)), nonce = prefix (7) || index (u32be) || last
// flag (1). The code here works one segment at a time: callers hold one
// segment, never the file.
import { sha256 } from "@noble/hashes/sha2.js";
import * as P from "./primitives";
import { roomOf, type Chain, type DeviceKeys, type DeviceRecord, type Devices, type Statement } from "./e2ee";
import { concat, E2EEError, label, malformed, maxList, Reader, typeNames, utf8, Writer } from "./wire";

export const SegmentSize = 64 << 10;
export const TagSize = 16;
export const SegmentCTSize = SegmentSize + TagSize;
const magic = utf8("parley-vault-v1\n");
export const HeaderSize = magic.length + 32;
const prefixSize = 7;

/** The document version a stream belongs to (bound into its key). */
export interface Binding { case: string; doc: string; version: number }

function streamInfo(b: Binding): Uint8Array {
  const parts: Uint8Array[] = [utf8("parley/vault/stream/v1\x00")];
  for (const s of [b.case, b.doc]) {
    const v = utf8(s);
    const n = new Uint8Array(2);
    new DataView(n.buffer).setUint16(0, v.length);
    parts.push(n, v);
  }
  const tail = new Uint8Array(12);
  const dv = new DataView(tail.buffer);
  dv.setBigUint64(0, BigInt(b.version));
  dv.setUint32(8, SegmentSize);
  parts.push(tail);
  return concat(...parts);
}

/** Number of segments of a plaintext of size bytes (an empty one has one, empty). */
export function segmentCount(size: number): number {
  return size <= 0 ? 1 : Math.ceil(size / SegmentSize);
}

/** Stored size of a plaintext of size bytes. */
export function ciphertextSize(size: number): number {
  return HeaderSize + size + segmentCount(size) * TagSize;
}

/** Plaintext size of a stream of ctSize bytes, or -1 when no stream has that length. */
export function plainSize(ctSize: number): number {
  const n = ctSize - HeaderSize;
  if (n < TagSize) return -1;
  const segs = Math.ceil(n / SegmentCTSize);
  const size = n - segs * TagSize;
  return size >= 0 && ciphertextSize(size) === ctSize ? size : -1;
}

async function streamKeys(dataKey: Uint8Array, salt: Uint8Array, b: Binding): Promise<{ key: CryptoKey; prefix: Uint8Array }> {
  if (dataKey.length !== 32) throw new E2EEError("stream", "a document key is 32 bytes");
  const ikm = await P.subtle.importKey("raw", P.buf(dataKey), "HKDF", false, ["deriveBits"]);
  const okm = new Uint8Array(await P.subtle.deriveBits({ name: "HKDF", hash: "SHA-256", salt: P.buf(salt), info: P.buf(streamInfo(b)) }, ikm, (32 + prefixSize) * 8));
  const key = await P.subtle.importKey("raw", P.buf(okm.subarray(0, 32)), "AES-GCM", false, ["encrypt", "decrypt"]);
  const prefix = okm.slice(32);
  okm.fill(0);
  return { key, prefix };
}

function nonce(prefix: Uint8Array, i: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  n.set(prefix);
  new DataView(n.buffer).setUint32(prefixSize, i);
  if (last) n[11] = 1;
  return n;
}

/** Encrypts a stream one segment at a time: every segment but the last is exactly SegmentSize bytes. */
export class StreamSealer {
  private seg = 0;
  private done = false;
  private constructor(readonly header: Uint8Array, private key: CryptoKey, private prefix: Uint8Array) {}

  /** A sealer with a fresh salt (salt: the vectors' fixed one). */
  static async create(dataKey: Uint8Array, b: Binding, salt = P.random(32)): Promise<StreamSealer> {
    const { key, prefix } = await streamKeys(dataKey, salt, b);
    return new StreamSealer(concat(magic, salt), key, prefix);
  }

  async seal(pt: Uint8Array, last: boolean): Promise<Uint8Array> {
    return (await this.sealMany([pt], last))[0];
  }

  /** Seals consecutive segments at once (WebCrypto works on them in parallel); last: the final one ends the stream. */
  async sealMany(pts: Uint8Array[], last: boolean): Promise<Uint8Array[]> {
    if (this.done) throw new E2EEError("stream", "sealed after the last segment");
    pts.forEach((pt, i) => {
      if ((!last || i < pts.length - 1) && pt.length !== SegmentSize) throw new E2EEError("stream", `a segment before the last is ${SegmentSize} bytes`);
      if (pt.length > SegmentSize) throw new E2EEError("stream", "segment too long");
    });
    if (this.seg + pts.length > 0xffffffff) throw new E2EEError("stream", "stream too long");
    const first = this.seg;
    this.seg += pts.length;
    this.done = last;
    return Promise.all(pts.map(async (pt, i) => new Uint8Array(await P.subtle.encrypt(
      { name: "AES-GCM", iv: P.buf(nonce(this.prefix, first + i, last && i === pts.length - 1)) }, this.key, P.buf(pt)))));
  }
}

/** Why a download was refused: the stored bytes are not what was uploaded. */
export class IntegrityError extends E2EEError {
  constructor(detail: string) { super("integrity check failed", detail); }
}

/**
 * Decrypts a stream of known stored size: the header first, then each
 * segment (the layout follows from the size, so the last segment and its
 * flag are known). Each segment is authenticated before its bytes are
 * returned; the last one, only once the stream's size, SHA-256 (of the
 * ciphertext, as the server recorded it) and, when given, the plaintext's
 * SHA-256 check out. Any failure is an IntegrityError.
 */
export class StreamOpener {
  readonly plain: number;
  readonly segments: number;
  private seg = 0;
  private key: CryptoKey | null = null;
  private prefix: Uint8Array = new Uint8Array(0);
  private ctHash = new Sha256();
  private ptHash: Sha256 | null;

  private dataKey: Uint8Array;

  /** dataKey is copied (the caller may clear its own) and cleared once the header is read. */
  constructor(dataKey: Uint8Array, private b: Binding, readonly ctSize: number,
    private want: { ctSHA256?: Uint8Array; plainSHA256?: Uint8Array } = {}) {
    this.dataKey = dataKey.slice();
    this.plain = plainSize(ctSize);
    if (this.plain < 0) throw new IntegrityError(`${ctSize} bytes is not the size of an end-to-end encrypted document`);
    this.segments = segmentCount(this.plain);
    this.ptHash = want.plainSHA256 ? new Sha256() : null;
  }

  /** The stored length of the next segment (0 once done). */
  next(): number {
    if (this.seg >= this.segments) return 0;
    return this.seg === this.segments - 1 ? this.plain - this.seg * SegmentSize + TagSize : SegmentCTSize;
  }

  async header(h: Uint8Array): Promise<void> {
    if (h.length !== HeaderSize || !magic.every((x, i) => h[i] === x)) throw new IntegrityError("not a Parley document stream (bad header)");
    this.ctHash.update(h);
    ({ key: this.key, prefix: this.prefix } = await streamKeys(this.dataKey, h.subarray(magic.length), this.b));
    this.dataKey.fill(0);
  }

  /** Opens the next segment (exactly next() bytes). */
  async open(ct: Uint8Array): Promise<Uint8Array> {
    return (await this.openMany([ct]))[0];
  }

  /**
   * Opens the next cts.length segments at once (WebCrypto decrypts them in
   * parallel; the hashes are fed in order). Nothing is returned unless all
   * of them authenticate, and with the last segment, the whole-stream checks.
   */
  async openMany(cts: Uint8Array[]): Promise<Uint8Array[]> {
    if (!this.key) throw new E2EEError("stream", "header first");
    const first = this.seg;
    const lastOf = (i: number) => first + i === this.segments - 1;
    cts.forEach((ct, i) => {
      const want = first + i >= this.segments ? 0 : lastOf(i) ? this.plain - (first + i) * SegmentSize + TagSize : SegmentCTSize;
      if (want === 0 || ct.length !== want) throw new IntegrityError(`segment ${first + i} is ${ct.length} bytes, not ${want}`);
    });
    for (const ct of cts) this.ctHash.update(ct);
    const key = this.key;
    const pts = await Promise.all(cts.map(async (ct, i) => {
      try {
        return new Uint8Array(await P.subtle.decrypt({ name: "AES-GCM", iv: P.buf(nonce(this.prefix, first + i, lastOf(i))) }, key, P.buf(ct)));
      } catch {
        throw new IntegrityError(`segment ${first + i} does not authenticate` + (lastOf(i) ? " as the last one (truncated, extended or altered)" : ""));
      }
    }));
    this.seg += cts.length;
    const last = lastOf(cts.length - 1);
    if (last && pts[pts.length - 1].length === 0 && this.seg > 1) throw new IntegrityError(`empty last segment ${this.seg - 1}`);
    if (this.ptHash) for (const pt of pts) this.ptHash.update(pt);
    if (last) {
      if (this.want.ctSHA256 && !eq(this.ctHash.digest(), this.want.ctSHA256)) throw new IntegrityError("the stored bytes' SHA-256 differs from the one recorded at upload");
      if (this.ptHash && !eq(this.ptHash.digest(), this.want.plainSHA256!)) throw new IntegrityError("the plaintext's SHA-256 differs from the one recorded at upload");
    }
    return pts;
  }
}

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

// --- incremental SHA-256 (WebCrypto digests only whole buffers) ---

/** SHA-256 fed in pieces: @noble/hashes' (audited), not one written here. */
export class Sha256 {
  private h = sha256.create();
  update(data: Uint8Array): this { this.h.update(data); return this; }
  digest(): Uint8Array { return this.h.digest(); }
}

// --- document key wraps (TypeDocKeyNamed; TypeDocKey before names were bound) ---

export const TypeDocKey = 0x0a;
export const TypeDocKeyNamed = 0x0c;
typeNames[TypeDocKey] = "dockey";
typeNames[TypeDocKeyNamed] = "dockey-named";
export const MaxDocKey = 256 << 10;
export const DocKeySize = 32;
const maxAudience = 1024;

/**
 * A version's name binding (Go: e2ee.BindName): SHA-256 over
 * "parley/e2ee/v1/docname\0" || name || mediaType (each u32be length and
 * UTF-8), name and media type exactly as the server stores and shows them.
 */
export function bindName(name: string, mediaType: string): Uint8Array {
  return sha256(concat(utf8("parley/e2ee/v1/docname\x00"), new Writer().str(name).str(mediaType).done()));
}

/** The size of the nonce a new document's id is derived from (Go: e2ee.DocIDNonceSize). */
export const DocIDNonceSize = 16;

/** A fresh nonce for documentID. */
export function newDocIDNonce(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(DocIDNonceSize));
}

/**
 * The id of the new end-to-end encrypted document account uploads to
 * caseID with nonce (Go: e2ee.DocumentID, the same vectors): "d_" and the
 * lowercase base32 of the first 16 bytes of SHA-256 over
 * "parley/e2ee/v1/docid\0" || caseID || account || nonce (each a field).
 * The server derives it again from the signed-in account and refuses any
 * other id, so no upload can name (and so ask about) another account's
 * document.
 */
export function documentID(caseID: string, account: string, nonce: Uint8Array): string {
  const h = sha256(concat(utf8("parley/e2ee/v1/docid\x00"), new Writer().str(caseID).str(account).bytes(nonce).done())).subarray(0, 16);
  const b32 = "abcdefghijklmnopqrstuvwxyz234567";
  let out = "", bits = 0, value = 0;
  for (const x of h) {
    value = ((value << 8) | x) & 0xffff;
    bits += 8;
    while (bits >= 5) { out += b32[(value >>> (bits - 5)) & 31]; bits -= 5; }
  }
  if (bits > 0) out += b32[(value << (5 - bits)) & 31];
  return "d_" + out;
}

/** The document's name or media type as the server shows it is not the one its uploader's device bound into the keys. */
export class RelabelledError extends E2EEError {
  constructor(readonly shownName: string, readonly shownType: string) { super("relabelled", `shown as ${JSON.stringify(shownName)} (${shownType})`); }
}

/**
 * The name and media type a new end-to-end encrypted version is uploaded
 * and bound under, as the server will store them: the file's name trimmed;
 * its type lowercased when it is a plain type/subtype, else
 * application/octet-stream (the server's mime.FormatMediaType form of both).
 */
export function uploadLabel(name: string, type: string): { name: string; mediaType: string } {
  const t = type.trim().toLowerCase();
  return { name: name.trim(), mediaType: /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(t) ? t : "application/octet-stream" };
}

/** What a wrap is bound to. name: the version's name binding (null: a wrap from before names were bound, type 0x0A). */
export interface DocKeyContext {
  case: string; doc: string; version: number; audience: string; statementSeq: number;
  account: string; device: string; created: number; name: Uint8Array | null;
}

export interface DocKeyWrap {
  ctx: DocKeyContext;
  recipients: { device: string; kem: number; ct: Uint8Array }[];
  raw: Uint8Array;
  bodyLen: number;
  sig: Uint8Array;
}

const ctxType = (c: DocKeyContext) => (c.name ? TypeDocKeyNamed : TypeDocKey);

function ctxFields(w: Writer, c: DocKeyContext): Writer {
  w.str(c.case).str(c.doc).u64(c.version).str(c.audience).u64(c.statementSeq).str(c.account).str(c.device).u64(c.created);
  return c.name ? w.bytes(c.name) : w;
}

function docKeyInfo(c: DocKeyContext, recipient: string): Uint8Array {
  return concat(label(ctxType(c)), ctxFields(new Writer(), c).str(recipient).done());
}

export function newDocKey(): Uint8Array { return P.random(DocKeySize); }

/** Seals key to each recipient device and signs the wrap with me (checks no membership: wrapForAudience does). */
export async function wrapDocKey(me: DeviceKeys, ctx: DocKeyContext, key: Uint8Array, recipients: DeviceRecord[]): Promise<Uint8Array> {
  if (key.length !== DocKeySize) throw new E2EEError("dockey", "a document key is 32 bytes");
  if (ctx.account !== me.account || ctx.device !== me.id) throw new E2EEError("dockey", "a document key wrap names the wrapping device");
  if (recipients.length === 0 || recipients.length > maxList) throw new E2EEError("dockey", `a document key goes to 1 to ${maxList} devices`);
  if (ctx.name && (ctx.name.length !== 32 || ctx.name.every((x) => x === 0))) throw new E2EEError("dockey", "a name binding is 32 bytes, not all zero");
  const entries: { device: string; kem: number; ct: Uint8Array }[] = [];
  for (const rec of recipients) entries.push({ device: rec.id, kem: rec.kem, ct: await P.hpkeSeal(rec.kem, rec.kemPub, docKeyInfo(ctx, rec.id), key) });
  const body = ctxFields(new Writer(ctxType(ctx)), ctx).list(entries, (e, x) => e.str(x.device).u16(x.kem).bytes(x.ct)).done();
  if (body.length + 4 + 64 > MaxDocKey) throw new E2EEError("dockey", `document key wrap over ${MaxDocKey} bytes`);
  const sig = await P.ed25519Sign(me.sig, concat(label(ctxType(ctx)), body));
  return concat(body, new Writer().bytes(sig).done());
}

/** Decodes a wrap of either form (signature unchecked: verifyDocKey). */
export function decodeDocKey(data: Uint8Array): DocKeyWrap {
  const t = data.length >= 4 && data[3] === TypeDocKeyNamed ? TypeDocKeyNamed : TypeDocKey;
  const r = Reader.object(data, t, MaxDocKey);
  const caseID = r.id("case"), doc = r.id("document");
  const v = r.u64("version");
  const audience = r.str("audience", maxAudience);
  const statementSeq = r.i64("statement");
  const account = r.id("wrapping account"), device = r.id("wrapping device");
  const created = r.i64("created");
  let name: Uint8Array | null = null;
  if (t === TypeDocKeyNamed) {
    name = r.fixed("name binding", 32).slice();
    if (name.every((x) => x === 0)) throw malformed("dockey: an all-zero name binding");
  }
  const recipients: DocKeyWrap["recipients"] = [];
  r.list("recipients", (e) => {
    const s = { device: e.id("device"), kem: e.u16("kem"), ct: e.bytes("ciphertext").slice() };
    if (s.ct.length !== P.encLen(s.kem) + DocKeySize + 16) throw malformed(`recipient ${s.device}: ciphertext of ${s.ct.length} bytes for ${P.kemName(s.kem)}`);
    recipients.push(s);
  });
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64).slice();
  r.end("dockey");
  if (v < 1n || v > 1n << 31n) throw malformed(`dockey: version ${v}`);
  if (audience === "" || recipients.length === 0) throw malformed("dockey: no audience or no recipient");
  return { ctx: { case: caseID, doc, version: Number(v), audience, statementSeq, account, device, created, name }, recipients, raw: data, bodyLen, sig };
}

/** Checks the wrapping device's signature. */
export async function verifyDocKey(k: DocKeyWrap, by: DeviceRecord): Promise<void> {
  if (by.id !== k.ctx.device || by.account !== k.ctx.account) throw new E2EEError("bad signature", "document key wrap names another device");
  if (!(await P.ed25519Verify(by.sigPub, concat(label(ctxType(k.ctx)), k.raw.subarray(0, k.bodyLen)), k.sig))) throw new E2EEError("bad signature", "dockey");
}

export class NotForThisDevice extends E2EEError {
  constructor() { super("not addressed to this device", "document key wrap"); }
}

/** The content key sealed to me (NotForThisDevice when the wrap holds no copy for it). */
export async function openDocKeyCopy(k: DocKeyWrap, me: DeviceKeys): Promise<Uint8Array> {
  const s = k.recipients.find((x) => x.device === me.id);
  if (!s) throw new NotForThisDevice();
  if (s.kem !== me.kemKey.kem) throw new E2EEError("decryption failed", `sealed for ${P.kemName(s.kem)}, device uses ${P.kemName(me.kemKey.kem)}`);
  const key = await P.hpkeOpen(me.kemKey, docKeyInfo(k.ctx, me.id), s.ct);
  if (!key || key.length !== DocKeySize) throw new E2EEError("decryption failed", "document key");
  return key;
}

/**
 * Who may hold a document's key under statement st (Go: e2ee.AudienceMembers):
 * a room's members, or for named accounts (user:a,b) the case's mediators and
 * those accounts, each a participant in st.
 */
export function audienceMembers(st: Statement, audience: string): string[] {
  if (audience.startsWith("user:")) {
    const out = st.people.filter((p) => p.role === "mediator").map((p) => p.account);
    for (const a of audience.slice(5).split(",")) {
      const p = st.people.find((x) => x.account === a);
      if (!p || p.role === "mediator") throw new E2EEError("not a member", `${a} is not a participant in membership statement ${st.seq}`);
      if (!out.includes(a)) out.push(a);
    }
    return out.sort();
  }
  const r = roomOf(st, audience); // a defined room as the chain places it (Go: Statement.Room)
  if (!r) throw new E2EEError("membership", `membership statement ${st.seq} has no room ${audience}`);
  return [...r.members];
}

/**
 * What wrapping and opening need: this device and the verified chain and directory (secure.ts's session), and
 * inForce(room): whether the latest verified statement is the one a message sent in room now would be encrypted
 * under (secure.ts's readersInForce(room) !== undefined): false while the server has sealed the room into an epoch no
 * mediator's device has signed yet (someone joined or left it).
 */
export interface DocSession { me: DeviceKeys; caseID: string; chain: Chain; dir: Devices; inForce: (room: string) => boolean; wrapPins: WrapPinStore }

/**
 * The newest key wrap of a document version this device opened or made (review 394 M2): the statement it names,
 * its time and its audience. A newcomer pass refuses a version whose newest wrap the server returns is older (the
 * server may serve a wrap from before a narrowing, with the wider audience it had then).
 */
export interface WrapPin { statement: number; created: number; audience: string }

/** Where a device keeps its wrap pins (store.ts: IndexedDB, beside the other pins). */
export interface WrapPinStore {
  load(): Promise<Record<string, WrapPin>>;
  /** Pins each wrap as its version's newest unless a newer one is pinned. */
  save(wraps: DocKeyContext[]): Promise<void>;
}

/** The key a version's wrap pin is kept under. */
export const wrapPinKey = (c: { case: string; doc: string; version: number }) => `${c.case}/${c.doc}/${c.version}`;

/** Whether the pinned wrap p is older than the wrap c: by the statement it names, then by its time (Go: wrapPin.before). */
export function pinBefore(p: WrapPin, c: DocKeyContext): boolean {
  return p.statement < c.statementSeq || (p.statement === c.statementSeq && p.created < c.created);
}

/** pins with each of wraps pinned as its version's newest unless a newer one is pinned (a new object; pins unchanged). */
export function mergeWrapPins(pins: Record<string, WrapPin>, wraps: DocKeyContext[]): Record<string, WrapPin> {
  const out = { ...pins };
  for (const c of wraps) {
    const k = wrapPinKey(c), p = out[k];
    if (!p || pinBefore(p, c)) out[k] = { statement: c.statementSeq, created: c.created, audience: c.audience };
  }
  return out;
}

/**
 * The contexts of the wraps among raws that hold a copy for device (the ones to pin; Go: pinWraps). A newcomer pass
 * wraps only for devices lacking a copy, so its wrap leaves this device out (it keeps the audience of the wrap it came
 * from, pinned already); pinned, it sorts newer than the only wrap this device can open, and every later pass refused
 * the version as described differently (review 404 M1).
 */
export function pinnable(device: string, raws: Uint8Array[]): DocKeyContext[] {
  const out: DocKeyContext[] = [];
  for (const raw of raws) {
    try {
      const k = decodeDocKey(raw);
      if (k.recipients.some((r) => r.device === device)) out.push(k.ctx);
    } catch { /* not a wrap: nothing to pin */ }
  }
  return out;
}

/** Whether c, the newest wrap the server returns for its version, is older than the one pinned (or as new, for another audience). */
export function rolledBack(pins: Record<string, WrapPin>, c: DocKeyContext): boolean {
  const p = pins[wrapPinKey(c)];
  if (!p || pinBefore(p, c)) return false;
  return !(p.statement === c.statementSeq && p.created === c.created && p.audience === c.audience);
}

/** The rooms whose membership makes an audience: a room audience's own; for named accounts, the joint room and the mediators' room. */
export function audienceRooms(audience: string): string[] {
  return audience.startsWith("user:") ? ["joint", "mediators"] : [audience];
}

/**
 * Wraps a version's content key for audience after checking the latest
 * verified membership statement (Go: Session.WrapDocKey): it is the one in
 * force for the audience's rooms (s.inForce); this device's
 * account is in the audience, and the key goes to the active devices of its
 * members (only those listed in `only`, when given). name is the version's
 * name binding: bindName(name, mediaType) for a new version; for a re-wrap,
 * the ctx.name of the wrap the key came from (null only when that wrap
 * binds none), never one made from the server's name of the moment.
 */
export async function wrapForAudience(s: DocSession, doc: string, version: number, audience: string, name: Uint8Array | null, key: Uint8Array, only: string[] | null = null, now = Date.now()): Promise<Uint8Array> {
  const st = s.chain.latest();
  if (!st) throw new E2EEError("no signed membership", "the case has no membership statement yet");
  // As a message waits for a statement covering its room's current epoch (Go: Session.InForce): someone who left
  // the audience since the latest statement (a recused co-mediator) must get no copy.
  const stale = audienceRooms(audience).filter((r) => !s.inForce(r));
  if (stale.length) throw new E2EEError("no signed membership", `no signed membership for ${stale.join(", ")}'s current epoch yet`);
  const members = audienceMembers(st, audience);
  if (!members.includes(s.me.account)) throw new E2EEError("not a member", `you are not in ${audience} in the signed membership`);
  if (!s.dir.device(s.me.account, s.me.id, -1)) throw new E2EEError("unknown device", "this device is not in the key directory (or revoked)");
  const recipients: DeviceRecord[] = [];
  for (const m of members) for (const d of s.dir.active(m)) if (!only || only.includes(d.id)) recipients.push(d);
  if (recipients.length === 0) throw new E2EEError("unknown device", `no device of ${audience} to wrap for`);
  const ctx: DocKeyContext = { case: s.caseID, doc, version, audience, statementSeq: st.seq, account: s.me.account, device: s.me.id, created: now, name };
  return wrapDocKey(s.me, ctx, key, recipients);
}

/**
 * Checks a wrap the server returned for (doc, version), which the server
 * shows under name and mediaType, and opens this device's copy (Go:
 * Session.OpenDocKey): it names this case, document and version; the
 * statement it names is verified and places the wrapping account in the
 * wrap's audience; the wrapping device is in the directory, active, and
 * signed it; its name binding is that name's and type's (RelabelledError;
 * a wrap from before names were bound has none: wrap.ctx.name is null).
 */
export async function openDocKey(s: DocSession, doc: string, version: number, name: string, mediaType: string, payload: Uint8Array): Promise<{ key: Uint8Array; wrap: DocKeyWrap }> {
  const k = decodeDocKey(payload);
  const c = k.ctx;
  if (c.case !== s.caseID || c.doc !== doc || c.version !== version) throw new E2EEError("does not belong here", `wrap for ${c.case}/${c.doc} version ${c.version}`);
  const st = s.chain.get(c.statementSeq);
  if (!st) throw new E2EEError("unknown membership statement", String(c.statementSeq));
  if (!audienceMembers(st, c.audience).includes(c.account)) throw new E2EEError("not a member", `${c.account} in ${c.audience} (statement ${st.seq})`);
  const dev = s.dir.device(c.account, c.device, -1);
  if (!dev) throw new E2EEError("unknown device", `${c.account}/${c.device}`);
  await verifyDocKey(k, dev);
  if (c.name && !eq(c.name, bindName(name, mediaType))) throw new RelabelledError(name, mediaType);
  return { key: await openDocKeyCopy(k, s.me), wrap: k };
}

/**
 * Of a version's wraps, the newest that checks out and holds a copy for
 * this device; null when none does. A wrap that binds another name than
 * the one shown makes the whole version refused (RelabelledError): the
 * server shows the document under a name its uploader did not give it.
 */
export async function pickDocKey(s: DocSession, doc: string, version: number, name: string, mediaType: string, wraps: Uint8Array[]): Promise<{ key: Uint8Array; wrap: DocKeyWrap } | null> {
  let best: { key: Uint8Array; wrap: DocKeyWrap } | null = null;
  let relabelled: RelabelledError | null = null;
  for (const w of wraps) {
    try {
      const got = await openDocKey(s, doc, version, name, mediaType, w);
      if (!best || got.wrap.ctx.created > best.wrap.ctx.created) { best?.key.fill(0); best = got; } else got.key.fill(0);
    } catch (e) {
      if (e instanceof RelabelledError) relabelled = e; // else not for this device, or refused: another may be
    }
  }
  if (relabelled) { best?.key.fill(0); throw relabelled; }
  return best;
}
