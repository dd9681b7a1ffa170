// parley-e2ee-v1 in the browser: the same protocol as Go's package e2ee
// (docs/protocol.md), checked against e2ee/testdata/vectors.json.
import * as P from "./primitives";
import {
  concat, E2EEError, equalBytes, hex, label, malformed, MaxDeviceRecord, MaxPayload, MaxStatement, maxList, maxString, Reader,
  TypeDevice, TypeEndorse, TypeKeyDist, TypeKeyShare, TypeShared, TypeMessage, TypePlaintext, TypeRevocation, TypeStatement, utf8, Writer,
  TypeRoomEntry,
} from "./wire";
import type { Mediator } from "./wire_gen";

export { KEMX25519, KEMXWing, kemName } from "./primitives";

// --- the statement opener ---

/**
 * An RFC 3339 time as Go writes it (up to nine fractional digits) to the nanosecond, as a bigint: Date.parse keeps
 * milliseconds only, and Go's api.Opener orders mediators added within one millisecond by their nanoseconds.
 * An unreadable time is NaN-like: undefined, never earlier than another.
 */
function nanos(t: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(t);
  const ms = m ? Date.parse(m[1] + m[3]) : NaN;
  if (!m || Number.isNaN(ms)) return undefined;
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/**
 * The one mediator who may sign a case's first membership statement, or "" when any may (at most one mediator
 * not recused): the creator if a mediator not recused, else the one not recused added earliest, to the
 * nanosecond (record order breaks a tie). The Go rule is api.Opener; both pass the opener cases of
 * e2ee/testdata/vectors.json. The key directory refuses a first statement from anyone else.
 */
export function opener(createdBy: string | undefined, mediators: readonly Mediator[]): string {
  const active = mediators.filter((m) => !m.recused);
  if (active.length <= 1) return "";
  let first = active[0];
  for (const m of active) {
    if (m.accountId === createdBy) return createdBy;
    const a = nanos(m.added), b = nanos(first.added);
    if (a !== undefined && (b === undefined || a < b)) first = m;
  }
  return first.accountId;
}

// --- devices ---

const b32alphabet = "abcdefghijklmnopqrstuvwxyz234567";
function base32lower(b: Uint8Array): string {
  let out = "", bits = 0, value = 0;
  for (const x of b) {
    value = (value << 8) | x;
    bits += 8;
    while (bits >= 5) {
      out += b32alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += b32alphabet[(value << (5 - bits)) & 31];
  return out;
}

export async function deviceID(sigPub: Uint8Array): Promise<string> {
  const h = await P.sha256(concat(utf8("parley/e2ee/v1/device-id\x00"), sigPub));
  return "dv_" + base32lower(h.slice(0, 16));
}

export interface DeviceRecord {
  account: string;
  id: string;
  created: number;
  sigPub: Uint8Array;
  kem: number;
  kemPub: Uint8Array;
  raw: Uint8Array;
}

/** A device's private keys: CryptoKeys (X-Wing: see KEMPrivate). */
export interface DeviceKeys {
  account: string;
  id: string;
  created: number;
  sig: CryptoKey;
  kemKey: P.KEMPrivate;
  record: DeviceRecord;
}

function deviceBody(r: Omit<DeviceRecord, "raw">): Uint8Array {
  return new Writer(TypeDevice).str(r.account).str(r.id).u64(r.created).bytes(r.sigPub).u16(r.kem).bytes(r.kemPub).done();
}

async function signField(k: CryptoKey, t: number, body: Uint8Array): Promise<Uint8Array> {
  const sig = await P.ed25519Sign(k, concat(label(t), body));
  return new Writer().bytes(sig).done();
}

export async function deviceKeys(account: string, created: number, sig: { priv: CryptoKey; pub: Uint8Array }, kemKey: P.KEMPrivate): Promise<DeviceKeys> {
  if (!account || account.length > maxString) throw new E2EEError("device", "needs an account id");
  const id = await deviceID(sig.pub);
  const rec = { account, id, created, sigPub: sig.pub, kem: kemKey.kem, kemPub: kemKey.pub };
  const body = deviceBody(rec);
  const raw = concat(body, await signField(sig.priv, TypeDevice, body));
  return { account, id, created, sig: sig.priv, kemKey, record: { ...rec, raw } };
}

/** Rebuilds device keys from seeds: the test vectors' fixed keys. */
export async function deviceKeysFromSeeds(account: string, kem: number, sigSeed: Uint8Array, kemSeed: Uint8Array, created: number): Promise<DeviceKeys> {
  if (sigSeed.length !== 32 || kemSeed.length !== 32) throw new E2EEError("device", "seeds must be 32 bytes each");
  const sig = await P.ed25519FromSeed(sigSeed);
  const k = kem === P.KEMXWing ? await P.xwingFromSeed(kemSeed) : kem === P.KEMX25519 ? await P.x25519FromScalar(kemSeed) : null;
  if (!k) throw new E2EEError("unsupported KEM", P.kemName(kem));
  return deviceKeys(account, created, sig, k);
}

export async function decodeDeviceRecord(data: Uint8Array): Promise<DeviceRecord> {
  const r = Reader.object(data, TypeDevice, MaxDeviceRecord);
  const account = r.id("account");
  const id = r.id("device");
  const created = r.i64("created");
  const sigPub = r.fixed("signing key", 32).slice();
  const kem = r.u16("kem");
  const kemPub = r.bytes("kem key").slice();
  const bodyEnd = r.off;
  const sig = r.fixed("signature", 64);
  r.end("device");
  if (kemPub.length !== P.publicKeySize(kem)) throw malformed(`kem key: wrong size for ${P.kemName(kem)}`);
  if ((await deviceID(sigPub)) !== id) throw new E2EEError("bad signature", "device id does not match its signing key");
  if (!(await P.ed25519Verify(sigPub, concat(label(TypeDevice), data.subarray(0, bodyEnd)), sig))) {
    throw new E2EEError("bad signature", "device record");
  }
  if (!(await P.checkPublicKey(kem, kemPub))) throw malformed("kem key does not parse");
  return { account, id, created, sigPub, kem, kemPub, raw: data.slice() };
}

async function verifyBy(rec: DeviceRecord, t: number, body: Uint8Array, sig: Uint8Array, what: string): Promise<void> {
  if (!(await P.ed25519Verify(rec.sigPub, concat(label(t), body), sig))) {
    throw new E2EEError("bad signature", `${what} from device ${rec.id}`);
  }
}

export interface Revocation { account: string; device: string; by: string; created: number; raw: Uint8Array; bodyLen: number; sig: Uint8Array }

export function decodeRevocation(data: Uint8Array): Revocation {
  const r = Reader.object(data, TypeRevocation, MaxDeviceRecord);
  const account = r.id("account"), device = r.id("device"), by = r.id("by"), created = r.i64("created");
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64);
  r.end("revocation");
  return { account, device, by, created, raw: data.slice(), bodyLen, sig };
}

export async function verifyRevocation(v: Revocation, by: DeviceRecord): Promise<void> {
  if (by.id !== v.by || by.account !== v.account) throw new E2EEError("bad signature", "revocation signed by a device of another account");
  await verifyBy(by, TypeRevocation, v.raw.subarray(0, v.bodyLen), v.sig, "revocation");
}

/**
 * An endorsement authorises a device after an account's first: signed by
 * another accepted device of the same account (case "": a link) or, for
 * one case, by an accepted device of one of its mediators (an admission).
 */
export interface Endorsement {
  account: string; device: string; record: Uint8Array; case: string; by: string; byDev: string; created: number;
  raw: Uint8Array; bodyLen: number; sig: Uint8Array;
}

export function decodeEndorsement(data: Uint8Array): Endorsement {
  const r = Reader.object(data, TypeEndorse, MaxDeviceRecord);
  const account = r.id("account"), device = r.id("device"), record = r.fixed("record hash", 32), kase = r.str("case", maxString);
  const by = r.id("signer account"), byDev = r.id("signer device"), created = r.i64("created");
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64);
  r.end("endorsement");
  if (kase === "" && by !== account) throw malformed("endorsement: a link must be signed by the same account");
  return { account, device, record, case: kase, by, byDev, created, raw: data.slice(), bodyLen, sig };
}

export async function verifyEndorsement(e: Endorsement, rec: DeviceRecord, by: DeviceRecord): Promise<void> {
  if (rec.account !== e.account || rec.id !== e.device || !equalBytes(await P.sha256(rec.raw), e.record)) {
    throw new E2EEError("bad signature", "endorsement of another device record");
  }
  if (by.account !== e.by || by.id !== e.byDev) throw new E2EEError("bad signature", "endorsement names another signer");
  await verifyBy(by, TypeEndorse, e.raw.subarray(0, e.bodyLen), e.sig, "endorsement");
}

type Logged = { rec: DeviceRecord; index: number; revoked: number };

/**
 * How many revocations a client keeps pinned per account (as Go's e2ee.MaxRevocationPinsPerAccount): the key
 * directory's own limit on an account's devices (revoked ones included). Only devices of the account's own chain are
 * pinned, and the server cannot make more of those, so an honest server never reaches it; an answer that would take
 * an account past it is refused, never a pin dropped.
 */
export const MaxRevocationPinsPerAccount = 32;

/**
 * Revocations a client pinned (as Go's e2ee.RevocationPins): account → id of a device of its own chain whose
 * revocation counted → the log index of that revocation. UnknownRevocationIndex: saved before pins had an index.
 */
export type RevocationPins = Record<string, Record<string, number>>;

/** The index of a pin saved before pins recorded one (as Go's e2ee.UnknownRevocationIndex): the next answer sets it. */
export const UnknownRevocationIndex = -1;

/**
 * Pins as saved: account → device id → index, or, saved before pins had an index, account → device ids (those get
 * UnknownRevocationIndex). A copy: the caller's changes leave what was read as it was.
 */
export function revocationPinsFrom(saved: Record<string, Record<string, number> | string[]> | undefined): RevocationPins {
  const out: RevocationPins = {};
  for (const [a, v] of Object.entries(saved ?? {})) {
    out[a] = Array.isArray(v) ? Object.fromEntries(v.map((id) => [id, UnknownRevocationIndex])) : { ...v };
  }
  return out;
}

/**
 * Adds other's pins to pins (as Go's RevocationPins.Merge): a device pinned in both keeps the earlier index (a known
 * one over UnknownRevocationIndex). Taking an account past MaxRevocationPinsPerAccount is refused
 * (e2ee.ErrRevocationPinsFull), and pins is then left as it was.
 */
export function mergeRevocationPins(pins: RevocationPins, other: RevocationPins): void {
  for (const [a, m] of Object.entries(other)) {
    const n = new Set([...Object.keys(pins[a] ?? {}), ...Object.keys(m)]).size;
    if (n > MaxRevocationPinsPerAccount) {
      throw new E2EEError("too many revocations", `${a} would have ${n} revoked devices of its own, more than an account can have (${MaxRevocationPinsPerAccount})`);
    }
  }
  for (const [a, m] of Object.entries(other)) {
    const have = (pins[a] ??= {});
    for (const [id, at] of Object.entries(m)) {
      const h = have[id];
      if (h === undefined || h === UnknownRevocationIndex || (at !== UnknownRevocationIndex && at < h)) have[id] = at;
    }
  }
}

/** What the page says when the server shows more devices taken out of use than an account can have (the cap). */
export const tooManyRevocationsWords = "the server shows more devices taken out of use for someone in this case than one person can have, " +
  "so this browser cannot keep track of them all. This browser will not use this case until that is resolved: tell your mediator (by phone) and do not write in this case here meanwhile";

/**
 * The verified device directory: records with their log indexes. Of each
 * account it counts the first registered device (trust on first use) and
 * the devices endorsed by a counted device (computeTrust); a device the
 * server registered on its own is given no key and nothing it signs is
 * accepted — as in Go (e2ee.Devices.RequireEndorsement).
 */
export class Devices {
  private by = new Map<string, Map<string, Logged>>();
  private endorsements: { e: Endorsement; index: number }[] = [];
  private revocations: { v: Revocation; index: number }[] = [];
  private mediators = new Map<string, Set<string>>();
  private trusted = new Set<Logged>();
  private own = new Set<Logged>();
  private admittedBy = new Map<Logged, string>();
  add(rec: DeviceRecord, index: number): void {
    let m = this.by.get(rec.account);
    if (!m) this.by.set(rec.account, (m = new Map()));
    const old = m.get(rec.id);
    if (old && old.index <= index) return;
    m.set(rec.id, { rec, index, revoked: -1 });
  }
  /**
   * Records a logged revocation. Whether it counts is decided by computeTrust (as Go's Devices.Revoke): only if
   * signed by the revoked device itself or by a device of the account's own chain (its first, or one linked by an
   * own-chain device) that counted, unrevoked, at the revocation's place in the log. A device counted only through a
   * mediator's admission cannot retire another (it depends on a statement); any other is ignored, so a device
   * nobody counts cannot retire the real ones.
   */
  revoke(v: Revocation, index: number): void { this.revocations.push({ v, index }); }
  endorse(e: Endorsement, index: number): void { this.endorsements.push({ e, index }); }
  /** Lets the mediators of chain's latest statement admit devices for its case. */
  admitFrom(chain: Chain): void {
    const st = chain.latest();
    if (st) this.mediators.set(chain.caseID, new Set(st.people.filter((p) => p.role === RoleMediator).map((p) => p.account)));
  }
  /** The account's device with the lowest log index in this answer (as Go's Devices.First). */
  private firstOf(account: string): Logged | null {
    let first: Logged | null = null;
    for (const ld of this.by.get(account)?.values() ?? []) {
      if (!first || ld.index < first.index || (ld.index === first.index && ld.rec.id < first.rec.id)) first = ld;
    }
    return first;
  }
  first(account: string): DeviceRecord | null { return this.firstOf(account)?.rec ?? null; }
  /**
   * Checks each account's first device against the ones this browser
   * pinned (account → device id) and pins the accounts seen for the first
   * time; returns whether pins changed. The log proves each listed device
   * is in it, not that the list is complete: a server that leaves the real
   * first device out would make its own device "first". A different first
   * device is refused (as Go's Devices.CheckFirsts, e2ee.ErrDeviceFork).
   */
  checkFirsts(pins: Record<string, string>): boolean {
    let changed = false;
    for (const a of [...this.by.keys()].sort()) {
      const f = this.firstOf(a);
      if (!f) continue;
      const p = pins[a];
      if (p !== undefined) {
        if (p !== f.rec.id) throw new E2EEError("first device changed", `${a}'s first device is ${f.rec.id}, but this browser pinned ${p}`);
        continue;
      }
      pins[a] = f.rec.id;
      changed = true;
    }
    return changed;
  }
  /**
   * Checks this answer against the revocations this browser pinned (account → device id → log index of the revocation
   * that counted) and pins the new ones; returns whether pins changed. As Go's Devices.CheckRevocations: a pinned
   * device this answer lists must be revoked in it by a revocation that counts and was logged no later than the pinned
   * one, or the answer is refused (e2ee.ErrRevocationOmitted): the log proves each listed record is in it, not that
   * the list is complete, so a server could leave the revocation out and make a lost device active again, or show a
   * later one (the lost device's own) in its place, and what the device signed between the two (a link to a device of
   * its own) would count. An answer that leaves the device out too passes (it is no recipient). A pin of
   * UnknownRevocationIndex (saved before pins had an index) takes this answer's index; an earlier one than pinned
   * moves the pin to it. Then every revocation that counts, of a device of its account's own chain, and is not pinned
   * is pinned with its index: a device nobody linked that revokes itself is not (the server can log any number of
   * those, and nothing is sealed to them). An answer that would take an account past MaxRevocationPinsPerAccount is
   * refused (e2ee.ErrRevocationPinsFull); on any refusal pins is left as it was. After computeTrust.
   */
  checkRevocations(pins: RevocationPins): boolean {
    const accounts = [...this.by.keys()].filter((a) => (this.by.get(a)?.size ?? 0) > 0).sort();
    const next: RevocationPins = {};
    for (const a of accounts) {
      for (const id of Object.keys(pins[a] ?? {}).sort()) {
        const pinned = pins[a][id];
        const ld = this.by.get(a)?.get(id);
        if (!ld) continue;
        if (ld.revoked < 0) throw new E2EEError("revocation left out", `${a}'s device ${id} was revoked, but the server now shows it as not revoked`);
        if (pinned !== UnknownRevocationIndex && ld.revoked > pinned) {
          throw new E2EEError("revocation left out", `${a}'s device ${id} was revoked at ${pinned}, but the server now shows it revoked only at ${ld.revoked}`);
        }
        if (ld.revoked !== pinned) (next[a] ??= {})[id] = ld.revoked;
      }
    }
    for (const a of accounts) {
      for (const ld of this.by.get(a)?.values() ?? []) {
        if (pins[a]?.[ld.rec.id] !== undefined) continue;
        if (ld.revoked >= 0 && this.own.has(ld)) (next[a] ??= {})[ld.rec.id] = ld.revoked;
      }
    }
    if (!Object.keys(next).length) return false;
    mergeRevocationPins(pins, next);
    return true;
  }
  /**
   * Works out, in log order, which revocations count (each against the own-chain devices that counted just before it),
   * then which devices count: first devices, then endorsements by counted devices until nothing changes.
   */
  async computeTrust(): Promise<void> {
    for (const m of this.by.values()) for (const ld of m.values()) ld.revoked = -1;
    const revs = [...this.revocations].sort((a, b) => a.index - b.index);
    for (const { v, index } of revs) {
      const ld = this.by.get(v.account)?.get(v.device);
      const by = this.by.get(v.account)?.get(v.by);
      if (!ld || ld.revoked >= 0 || !by || by.index >= index) continue; // the earliest revocation that counts stands
      try { await verifyRevocation(v, by.rec); } catch { continue; }
      if (by !== ld && ((by.revoked >= 0 && by.revoked < index) || !(await this.ownBefore(index)).has(by))) continue;
      ld.revoked = index;
    }
    const t = await this.trustedBefore(-1);
    this.trusted = t;
    this.own = await this.ownBefore(-1);
    // For each device that counts only through an admission, the mediator of the earliest logged admission that
    // counts now (its signer counted and unrevoked, a mediator of its case), as Go's Devices.Admitted: not an earlier
    // admission whose signer was revoked since and another mediator's re-admission replaced.
    const admittedBy = new Map<Logged, string>();
    const byIndex = [...this.endorsements].sort((a, b) => a.index - b.index);
    for (const m of this.by.values()) {
      for (const ld of m.values()) {
        if (ld.revoked >= 0 || !t.has(ld) || this.own.has(ld)) continue;
        for (const { e } of byIndex) {
          if (e.case === "" || e.account !== ld.rec.account || e.device !== ld.rec.id) continue;
          const by = this.by.get(e.by)?.get(e.byDev);
          const meds = this.mediators.get(e.case);
          if (!by || !t.has(by) || by.revoked >= 0 || !meds?.has(e.by) || meds.has(e.account)) continue;
          try { await verifyEndorsement(e, ld.rec, by.rec); } catch { continue; }
          admittedBy.set(ld, e.by);
          break;
        }
      }
    }
    this.admittedBy = admittedBy;
  }
  /**
   * The devices that count by their account's own chain by the entries logged before index limit (every entry if
   * limit < 0), given the revocations decided so far: first devices, then those linked (case "") by such a device,
   * unrevoked at the link — never through a mediator's admission (as Go's Devices.ownBefore).
   */
  private async ownBefore(limit: number): Promise<Set<Logged>> {
    const before = (i: number) => limit < 0 || i < limit;
    const own = new Set<Logged>();
    for (const a of this.by.keys()) {
      const first = this.firstOf(a);
      if (first && before(first.index)) own.add(first);
    }
    for (let changed = true; changed;) {
      changed = false;
      for (const { e, index } of this.endorsements) {
        if (e.case !== "" || !before(index)) continue;
        const ld = this.by.get(e.account)?.get(e.device);
        const by = this.by.get(e.by)?.get(e.byDev);
        if (!ld || own.has(ld) || !before(ld.index) || !by || !own.has(by) || (by.revoked >= 0 && by.revoked < index)) continue;
        try { await verifyEndorsement(e, ld.rec, by.rec); } catch { continue; }
        own.add(ld);
        changed = true;
      }
    }
    return own;
  }
  /**
   * The devices that count by the entries logged before index limit (every entry if limit < 0), given the
   * revocations decided so far: first devices, then endorsements by counted devices until nothing changes.
   */
  private async trustedBefore(limit: number): Promise<Set<Logged>> {
    const before = (i: number) => limit < 0 || i < limit;
    const t = new Set<Logged>();
    for (const a of this.by.keys()) {
      const first = this.firstOf(a);
      if (first && before(first.index)) t.add(first);
    }
    for (let changed = true; changed;) {
      changed = false;
      for (const { e, index } of this.endorsements) {
        if (!before(index)) continue;
        const ld = this.by.get(e.account)?.get(e.device);
        const by = this.by.get(e.by)?.get(e.byDev);
        if (!ld || t.has(ld) || !before(ld.index) || !by || !t.has(by) || (by.revoked >= 0 && by.revoked < index)) continue;
        // An admission counts when a mediator of its case signed it, for a device of an account that is not one
        // of them: admissions are for participants' devices only. It counts only while the device that signed it is
        // unrevoked: a revocation of the signer, logged before or after it, ends it (as Go's Devices).
        const meds = this.mediators.get(e.case);
        if (e.case !== "" && (!meds?.has(e.by) || meds.has(e.account) || by.revoked >= 0)) continue;
        try { await verifyEndorsement(e, ld.rec, by.rec); } catch { continue; }
        t.add(ld);
        changed = true;
      }
    }
    return t;
  }
  /** Devices of account that count only through a mediator's admission, with the admitting mediator's account. */
  admitted(account: string): { rec: DeviceRecord; by: string }[] {
    const out: { rec: DeviceRecord; by: string }[] = [];
    for (const ld of this.by.get(account)?.values() ?? []) {
      const by = this.admittedBy.get(ld);
      if (by !== undefined) out.push({ rec: ld.rec, by });
    }
    return out.sort((a, b) => (a.rec.id < b.rec.id ? -1 : a.rec.id > b.rec.id ? 1 : 0));
  }
  /**
   * Whether a device counts by its account's own chain (first, or linked by
   * one that does). A device that counts only through a mediator's
   * admission reads what is sealed to it but is not taken as the author of
   * a consent (a carried message).
   */
  ownChain(account: string, id: string): boolean {
    const ld = this.by.get(account)?.get(id);
    return !!ld && this.own.has(ld);
  }
  device(account: string, id: string, at: number): DeviceRecord | null {
    const ld = this.by.get(account)?.get(id);
    if (!ld || !this.trusted.has(ld)) return null;
    if (at < 0) return ld.revoked < 0 ? ld.rec : null;
    return ld.index < at && (ld.revoked < 0 || ld.revoked > at) ? ld.rec : null;
  }
  /** Whether a device is known and revoked by a revocation that counts (as Go's Devices.Revoked; after computeTrust). */
  revoked(account: string, id: string): boolean {
    const ld = this.by.get(account)?.get(id);
    return !!ld && ld.revoked >= 0;
  }
  record(account: string, id: string): DeviceRecord | null {
    return this.by.get(account)?.get(id)?.rec ?? null;
  }
  active(account: string): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const ld of this.by.get(account)?.values() ?? []) if (ld.revoked < 0 && this.trusted.has(ld)) out.push(ld.rec);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
  /** Registered, unrevoked devices of account that do not count yet (waiting to be linked or admitted). */
  pending(account: string): DeviceRecord[] {
    const out: DeviceRecord[] = [];
    for (const ld of this.by.get(account)?.values() ?? []) if (ld.revoked < 0 && !this.trusted.has(ld)) out.push(ld.rec);
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }
}

// --- membership statements ---

export const RoleMediator = "mediator", RoleParty = "party", RoleCounsel = "counsel", RoleObserver = "observer";
export interface Person { account: string; role: string; side: string }
export interface RoomMembers { name: string; epoch: number; members: string[] }
/** A sealed room as a statement places it for a chain that holds its entry (Go: sealedView). */
export interface SealedView extends RoomMembers { slot: string }

export interface Statement {
  case: string;
  seq: number;
  prev: Uint8Array;
  created: number;
  signerAccount: string;
  signerDevice: string;
  people: Person[];
  rooms: RoomMembers[];
  raw: Uint8Array;
  logIndex: number;
  bodyLen: number;
  sig: Uint8Array;
  hash: Uint8Array;
  /** The sealed rooms whose entries the chain holds, as this statement places them (rooms holds only their slots). */
  sealed?: SealedView[];
}

/** A room as st places it: a signed room, or a sealed room whose entry the chain holds (Go: Statement.Room). */
export function roomOf(st: Pick<Statement, "rooms" | "sealed">, name: string): RoomMembers | undefined {
  return st.rooms.find((r) => r.name === name) ?? st.sealed?.find((r) => r.name === name);
}

/** Every room st places: signed rooms (sealed slots without members) and the sealed rooms the chain holds. */
export function allRooms(st: Pick<Statement, "rooms" | "sealed">): RoomMembers[] {
  return [...st.rooms, ...(st.sealed ?? [])];
}

// --- sealed rooms (Go: e2ee/sealed.go) ---

export const EntryOpen = 1, EntryClose = 2;
export const MaxRoomEntry = 16 << 10;

/** Whether a statement's room name is a sealed slot: "sealed:" and 64 lowercase hex digits. */
export function isSealedSlot(name: string): boolean {
  return /^sealed:[0-9a-f]{64}$/.test(name);
}

export interface RoomEntry { case: string; room: string; kind: number; members: string[]; salt: Uint8Array; raw: Uint8Array; slot: string }

/** The encoding of a room entry (for the vectors; newRoomEntry picks the salt). */
export function encodeRoomEntry(e: Pick<RoomEntry, "case" | "room" | "kind" | "members" | "salt">): Uint8Array {
  return new Writer(TypeRoomEntry).str(e.case).str(e.room).u8(e.kind).strs(e.members).bytes(e.salt).done();
}

export async function decodeRoomEntry(data: Uint8Array): Promise<RoomEntry> {
  const r = Reader.object(data, TypeRoomEntry, MaxRoomEntry);
  const caseID = r.id("case"), room = r.id("room"), kind = r.u8("kind");
  const members = r.strs("members", (m) => m.id("member"));
  const salt = r.fixed("salt", 32).slice();
  r.end("room entry");
  const dr = definedRoom(room);
  if (!dr) throw malformed(`room entry for ${room}, not a room a mediator opens`);
  if (kind === EntryOpen && dr.id !== (await roomIdFor(salt))) throw malformed(`room entry opens ${room}, a name its salt does not give (the opening device chooses a room's name)`);
  if (kind === EntryOpen && members.length === 0) throw malformed(`room entry opens ${room} without members`);
  if (kind === EntryClose && members.length !== 0) throw malformed(`room entry closing ${room} lists members`);
  if (kind !== EntryOpen && kind !== EntryClose) throw malformed(`room entry kind ${kind}`);
  for (let i = 1; i < members.length; i++) if (!(members[i - 1] < members[i])) throw malformed("room entry members not sorted or listed twice");
  return { case: caseID, room, kind, members, salt, raw: data.slice(), slot: "sealed:" + hex(await P.sha256(data)) };
}

/**
 * The id of the room an opening entry with salt opens (Go: e2ee.RoomIDFor): the first 128 bits of
 * SHA-256("parley room id\0" || salt) in hex. The opening device chooses it, so nobody without a room's opening
 * entry can make another opening under its name, and a server cannot answer a new room with an old id.
 */
export async function roomIdFor(salt: Uint8Array): Promise<string> {
  return hex(await P.sha256(concat(utf8("parley room id\x00"), salt))).slice(0, 32);
}

/** The entry opening a new room with members, named from fresh random salt (Go: e2ee.NewRoomOpening). */
export async function newRoomOpening(caseID: string, crossSide: boolean, members: string[]): Promise<RoomEntry> {
  const sorted = [...new Set(members)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const room = (crossSide ? "cross:" : "room:") + (await roomIdFor(salt));
  return decodeRoomEntry(encodeRoomEntry({ case: caseID, room, kind: EntryOpen, members: sorted, salt }));
}

/** Whether e is the refusal of two openings of one room (Go: e2ee.ErrRoomConflict). */
export function isRoomConflict(e: unknown): boolean {
  return e instanceof E2EEError && e.message.includes("is opened twice in the chain");
}

/** A new entry closing room, with fresh random salt (Go: e2ee.NewRoomEntry); an opening is newRoomOpening's. */
export async function newRoomEntry(caseID: string, room: string, kind: number, members: string[]): Promise<RoomEntry> {
  if (kind === EntryOpen) throw malformed("an opening entry names its room from its salt (newRoomOpening)");
  const sorted = [...new Set(members)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const salt = crypto.getRandomValues(new Uint8Array(32));
  return decodeRoomEntry(encodeRoomEntry({ case: caseID, room, kind, members: sorted, salt }));
}

interface SealedRoom { name: string; openSlot: string; opened: number; closeSlot: string; closed: number; entries: Uint8Array[] }

function statementBody(s: Pick<Statement, "case" | "seq" | "prev" | "created" | "signerAccount" | "signerDevice" | "people" | "rooms">): Uint8Array {
  return new Writer(TypeStatement).str(s.case).u64(s.seq).bytes(s.prev).u64(s.created).str(s.signerAccount).str(s.signerDevice)
    .list(s.people, (e, p) => e.str(p.account).str(p.role).str(p.side))
    .list(s.rooms, (e, r) => e.str(r.name).u64(r.epoch).strs(r.members)).done();
}

export function caucusSide(room: string): string | null {
  return room.startsWith("caucus:") && room.length > 7 ? room.slice(7) : null;
}

/** A mediator-defined room ("room:<id>", or "cross:<id>" when declared cross-side): its id and declaration, or null. */
export function definedRoom(room: string): { id: string; crossSide: boolean } | null {
  if (room.startsWith("room:") && room.length > 5) return { id: room.slice(5), crossSide: false };
  if (room.startsWith("cross:") && room.length > 6) return { id: room.slice(6), crossSide: true };
  return null;
}

/**
 * The defined rooms of prev as the next statement keeps them (Go: e2ee.CarryDefined): never from the server's
 * description. Sealed slots are kept as they are, at the epoch epochs gives their room when prev places it.
 */
export function carryDefined(prev: Pick<Statement, "rooms" | "sealed"> | null, people: Person[], epochs: Record<string, number>): RoomMembers[] {
  if (!prev) return [];
  const inCase = new Set(people.map((p) => p.account));
  const slotEpoch = new Map((prev.sealed ?? []).map((v) => [v.slot, epochs[v.name] ?? 0]));
  return prev.rooms.filter((r) => definedRoom(r.name) || isSealedSlot(r.name)).map((r) => isSealedSlot(r.name)
    ? { name: r.name, epoch: Math.max(r.epoch, epochs[r.name] ?? 0, slotEpoch.get(r.name) ?? 0), members: [] }
    : { name: r.name, epoch: Math.max(r.epoch, epochs[r.name] ?? 0), members: r.members.filter((m) => inCase.has(m)) });
}

const membershipErr = (d: string) => new E2EEError("membership statement refused", d);

export function checkRules(s: Pick<Statement, "case" | "seq" | "people" | "rooms">): void {
  if (!s.case || s.seq < 1) throw membershipErr("no case or sequence number");
  const people = new Map<string, Person>();
  let mediators = 0;
  for (const p of s.people) {
    if (people.has(p.account) || !p.account) throw membershipErr(`person ${p.account} listed twice or without an id`);
    if (p.role === RoleMediator || p.role === RoleObserver) {
      if (p.side) throw membershipErr(`${p.role} ${p.account} has a side`);
      if (p.role === RoleMediator) mediators++;
    } else if (p.role === RoleParty || p.role === RoleCounsel) {
      if (!p.side) throw membershipErr(`${p.role} ${p.account} has no side`);
    } else throw membershipErr(`person ${p.account} has unknown role ${p.role}`);
    people.set(p.account, p);
  }
  if (mediators === 0) throw membershipErr("no mediator");
  const rooms = new Set<string>();
  for (const r of s.rooms) {
    if (rooms.has(r.name)) throw membershipErr(`room ${r.name} listed twice`);
    rooms.add(r.name);
    if (r.epoch < 1) throw membershipErr(`room ${r.name}: epoch ${r.epoch}`);
    if (isSealedSlot(r.name)) {
      if (r.members.length) throw membershipErr(`sealed room slot ${r.name} lists members`);
      continue;
    }
    const side = caucusSide(r.name);
    const defined = definedRoom(r.name);
    if (side === null && !defined && r.name !== "joint" && r.name !== "mediators") throw membershipErr(`unknown room ${r.name}`);
    const seen = new Set<string>();
    for (const m of r.members) {
      const p = people.get(m);
      if (!p || seen.has(m)) throw membershipErr(`room ${r.name}: member ${m} not in the case or listed twice`);
      seen.add(m);
      if (r.name === "mediators" && p.role !== RoleMediator) throw membershipErr(`room mediators: ${m} is not a mediator`);
      if (side !== null && p.role !== RoleMediator && (p.side !== side || p.role === RoleObserver)) {
        throw membershipErr(`caucus rule: ${m} (${p.role} of side "${p.side}") may not be in ${r.name}`);
      }
    }
    if (defined) {
      const sides = new Set<string>();
      for (const m of r.members) {
        const p = people.get(m)!;
        if (p.role === RoleObserver) throw membershipErr(`defined room rule: observer ${m} may not be in ${r.name}`);
        if (p.role === RoleParty || p.role === RoleCounsel) sides.add(p.side);
      }
      if (sides.size > 1 && !defined.crossSide) throw membershipErr(`defined room rule: ${r.name} holds people of ${sides.size} sides but is not declared cross-side`);
    }
  }
}

export async function decodeStatement(data: Uint8Array): Promise<Statement> {
  const r = Reader.object(data, TypeStatement, MaxStatement);
  const caseID = r.id("case");
  const seq = Number(r.u64("seq"));
  const prev = r.fixed("prev", 32).slice();
  const created = r.i64("created");
  const signerAccount = r.id("signer account");
  const signerDevice = r.id("signer device");
  const people: Person[] = [];
  r.list("people", (e) => people.push({ account: e.id("account"), role: e.id("role"), side: e.str("side", maxString) }));
  const rooms: RoomMembers[] = [];
  r.list("rooms", (e) => {
    const name = e.id("room"), epoch = e.i64("epoch");
    rooms.push({ name, epoch, members: e.strs("members", (m) => m.id("member")) });
  });
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64).slice();
  r.end("statement");
  const s: Statement = { case: caseID, seq, prev, created, signerAccount, signerDevice, people, rooms, raw: data.slice(), logIndex: -1, bodyLen, sig, hash: await P.sha256(data) };
  checkRules(s);
  return s;
}

/** Builds the membership a mediator signs (joint: everyone; caucus:X: mediators and side X; mediators: mediators). */
export function statementFor(caseID: string, people: Person[], sides: string[], epochs: Record<string, number>): Pick<Statement, "case" | "people" | "rooms"> {
  const ps = [...people].sort((a, b) => (a.account < b.account ? -1 : a.account > b.account ? 1 : 0));
  const rooms: RoomMembers[] = [];
  const add = (name: string, inRoom: (p: Person) => boolean) => {
    if (!(name in epochs)) return;
    rooms.push({ name, epoch: epochs[name], members: ps.filter(inRoom).map((p) => p.account) });
  };
  add("joint", () => true);
  for (const side of sides) {
    add("caucus:" + side, (p) => p.role === RoleMediator || (p.side === side && (p.role === RoleParty || p.role === RoleCounsel)));
  }
  add("mediators", (p) => p.role === RoleMediator);
  return { case: caseID, people: ps, rooms };
}

export async function signStatement(
  s: Pick<Statement, "case" | "seq" | "prev" | "created" | "people" | "rooms">, me: DeviceKeys,
): Promise<Uint8Array> {
  const full = { ...s, signerAccount: me.account, signerDevice: me.id };
  checkRules(full);
  const body = statementBody(full);
  if (body.length + 68 > MaxStatement) throw new E2EEError("statement", `over ${MaxStatement} bytes`);
  return concat(body, await signField(me.sig, TypeStatement, body));
}

export function sameMembership(a: Pick<Statement, "people" | "rooms">, b: Pick<Statement, "people" | "rooms">): boolean {
  const j = (x: Pick<Statement, "people" | "rooms">) => JSON.stringify([x.people.map((p) => [p.account, p.role, p.side]), x.rooms.map((r) => [r.name, r.epoch, r.members])]);
  return j(a) === j(b);
}

/**
 * The first-statement rule (Go: checkGenesis, e2ee/genesis.go): a case's first statement names exactly one mediator,
 * its signer. The first statement is its own authority (trust on first use), so if it could name others a server
 * could have an account of its own sign one naming the real mediator too, and that account would be "sitting" with
 * no person ever admitting it. Co-mediators come in by a later statement a sitting mediator signs.
 */
export function checkGenesis(first: Statement): void {
  for (const p of first.people) {
    if (p.role === RoleMediator && p.account !== first.signerAccount) {
      throw membershipErr(`statement ${first.seq}: first statement names mediator ${p.account} besides its signer ${first.signerAccount}: ` +
        "a case's first statement names exactly one mediator, its signer; co-mediators are admitted by a later statement");
    }
  }
}

export class Chain {
  stmts: Statement[] = [];
  private sticky = new Map<string, Person>();
  private sealed = new Map<string, SealedRoom>();
  private conflicted = new Set<string>(); // rooms opened twice: placed by no statement, never brought back
  constructor(public caseID: string) {}
  latest(): Statement | null { return this.stmts.length ? this.stmts[this.stmts.length - 1] : null; }
  get(seq: number): Statement | null { return seq >= 1 && seq <= this.stmts.length ? this.stmts[seq - 1] : null; }
  get length(): number { return this.stmts.length; }

  async extend(next: Statement, dir: Devices): Promise<void> {
    const bad = (d: string) => membershipErr(`statement ${next.seq}: ${d}`);
    if (next.case !== this.caseID) throw bad(`for case ${next.case}, not ${this.caseID}`);
    const prev = this.latest();
    if (!prev && (next.seq !== 1 || !equalBytes(next.prev, new Uint8Array(32)))) throw bad("the chain must start at 1");
    if (prev && (next.seq !== prev.seq + 1 || !equalBytes(next.prev, prev.hash))) throw bad(`does not follow statement ${prev.seq}`);
    checkRules(next);
    const authority = prev ?? next;
    const signer = authority.people.find((p) => p.account === next.signerAccount);
    if (!signer || signer.role !== RoleMediator) throw bad(`signed by ${next.signerAccount}, who is not a mediator of the case`);
    if (!prev) checkGenesis(next);
    const dev = dir.device(next.signerAccount, next.signerDevice, next.logIndex);
    if (!dev) throw new E2EEError("unknown device", `statement ${next.seq} signer ${next.signerAccount}/${next.signerDevice}`);
    if (dev.account !== next.signerAccount) throw bad("signer device belongs to another account");
    await verifyBy(dev, TypeStatement, next.raw.subarray(0, next.bodyLen), next.sig, "statement");
    for (const p of next.people) {
      const was = this.sticky.get(p.account);
      if (was && (was.role !== p.role || was.side !== p.side)) throw bad(`${p.account} was ${was.role} "${was.side}" and is now ${p.role} "${p.side}": nobody changes role or side`);
    }
    if (prev) {
      for (const r of prev.rooms) {
        const nr = next.rooms.find((x) => x.name === r.name);
        if (!nr) throw bad(`room ${r.name} disappeared`);
        if (nr.epoch < r.epoch) throw bad(`room ${r.name} went back from epoch ${r.epoch} to ${nr.epoch}`);
      }
    }
    for (const r of next.rooms) {
      if (!definedRoom(r.name)) continue;
      const before = prev?.rooms.find((x) => x.name === r.name);
      if (!before) {
        const hasMediator = r.members.some((m) => next.people.find((p) => p.account === m)?.role === RoleMediator);
        if (!hasMediator) throw bad(`room ${r.name} opens without a mediator in it`);
        continue;
      }
      for (const m of r.members) {
        if (!before.members.includes(m)) throw bad(`room ${r.name} gained member ${m}: a mediator-defined room's people are fixed when it opens`);
      }
    }
    for (const p of next.people) this.sticky.set(p.account, p);
    if (prev && this.sealed.size) {
      next.sealed = [];
      for (const r of this.sealed.values()) Chain.expand(next, r.name, r.openSlot, roomOf(prev, r.name)?.members ?? []);
    }
    this.stmts.push(next);
  }

  /** Adds the view of sealed room name (slot) to st: the members before it still in the case. */
  private static expand(st: Statement, name: string, slot: string, before: string[]): string[] {
    const epoch = st.rooms.find((r) => r.name === slot)?.epoch ?? 0;
    const members = before.filter((m) => st.people.some((p) => p.account === m));
    (st.sealed ??= []).push({ name, epoch, members, slot });
    return members;
  }

  /**
   * Adds a sealed room's entry (Go: Chain.AddEntry): an opening committed by a verified statement's slot, under a
   * name new to the chain, with members of the case, a mediator, no observer, one side unless declared cross-side;
   * a closing after its opening, committed in a statement signed by a mediator in the room then.
   */
  async addEntry(raw: Uint8Array): Promise<void> {
    const e = await decodeRoomEntry(raw);
    if (e.case !== this.caseID) throw membershipErr(`room entry for case ${e.case}, not ${this.caseID}`);
    const first = this.stmts.findIndex((st) => st.rooms.some((r) => r.name === e.slot));
    if (first < 0) throw new E2EEError("unknown membership statement", `no verified statement commits to the entry of ${e.room} yet`);
    const st = this.stmts[first];
    const known = this.sealed.get(e.room);
    if (e.kind === EntryClose) {
      if (!known) throw new E2EEError("unknown membership statement", `${e.room} is closed before this browser knows it was opened`);
      if (known.closeSlot === e.slot) return;
      if (known.closeSlot) throw membershipErr(`room ${e.room} is closed twice`);
      if (st.seq <= known.opened) throw membershipErr(`room ${e.room} is closed in statement ${st.seq}, before it opened`);
      const signer = st.people.find((p) => p.account === st.signerAccount);
      if (signer?.role !== RoleMediator || !roomOf(st, e.room)?.members.includes(st.signerAccount)) {
        throw membershipErr(`room ${e.room} is closed in statement ${st.seq} by ${st.signerAccount}, who is not a mediator in it`);
      }
      known.closeSlot = e.slot; known.closed = st.seq; known.entries.push(e.raw);
      return;
    }
    if (known?.openSlot === e.slot) return;
    if (known || this.conflicted.has(e.room) || this.stmts.some((s) => s.rooms.some((r) => r.name === e.room))) {
      // Neither opening is taken: no statement places the room from now on, and the page says so.
      this.conflicted.add(e.room);
      this.sealed.delete(e.room);
      for (const s of this.stmts) if (s.sealed) s.sealed = s.sealed.filter((v) => v.name !== e.room);
      throw membershipErr(`room ${e.room} is opened twice in the chain: a name already held is another room`);
    }
    for (const m of e.members) if (!st.people.some((p) => p.account === m)) throw membershipErr(`room ${e.room} opens in statement ${st.seq} with ${m}, who is not in the case`);
    if (!e.members.some((m) => st.people.find((p) => p.account === m)?.role === RoleMediator)) throw membershipErr(`statement ${st.seq}: room ${e.room} opens without a mediator in it`);
    checkRules({ case: st.case, seq: st.seq, people: st.people, rooms: [{ name: e.room, epoch: 1, members: e.members }] });
    this.sealed.set(e.room, { name: e.room, openSlot: e.slot, opened: st.seq, closeSlot: "", closed: 0, entries: [e.raw] });
    let members = e.members;
    for (const s of this.stmts.slice(first)) members = Chain.expand(s, e.room, e.slot, members);
  }

  /** Adds entries, openings first; those no verified statement commits to yet wait; returns the first room opened twice, else the first refusal. */
  async addEntries(entries: Uint8Array[]): Promise<Error | null> {
    let first: Error | null = null, conflict: Error | null = null;
    const kinds = await Promise.all(entries.map((raw) => decodeRoomEntry(raw).then((e) => e.kind, () => 0)));
    for (const pass of [EntryOpen, EntryClose, 0]) {
      for (let i = 0; i < entries.length; i++) {
        if (kinds[i] !== pass) continue;
        try { await this.addEntry(entries[i]); } catch (e) {
          if (isRoomConflict(e) && !conflict) conflict = e as Error;
          if (!(e instanceof E2EEError && e.kind === "unknown membership statement") && !first) first = e as Error;
        }
      }
    }
    return conflict ?? first;
  }

  /** The entries this chain holds, openings first (kept across refreshes, so a closing seen stays seen). */
  entries(): Uint8Array[] {
    const rooms = [...this.sealed.values()];
    return [...rooms.map((r) => r.entries[0]), ...rooms.flatMap((r) => r.entries.slice(1))];
  }

  /** The statement whose signed closing closed room, if any. */
  closed(room: string): number | null { return this.sealed.get(room)?.closed || null; }

  /** Whether the chain holds room's sealed opening. */
  holdsSealed(room: string): boolean { return this.sealed.has(room); }

  forEpoch(room: string, epoch: number): Statement | null {
    for (let i = this.stmts.length - 1; i >= 0; i--) {
      const r = roomOf(this.stmts[i], room);
      if (r && r.epoch === epoch) return this.stmts[i];
      if (r && r.epoch < epoch) break;
    }
    return null;
  }
}

// --- plaintext ---

export const KindText = 1, KindCarryProposal = 2, KindCarried = 3, KindCarryDeclined = 4;
/** A mediator's notice to every room (floor.ts); encoded like KindText. */
export const KindNotice = 5;
export interface Plaintext {
  kind: number;
  text: string;
  carryID?: string;
  room?: string;
  /**
   * Proposal, declined: the original's position in the caucus and its
   * payload's hash. A carried copy names neither: written zero (the
   * encoding keeps the fields), ignored on reading.
   */
  ref?: { epoch: number; offset: number };
  refHash?: Uint8Array;
  proposer?: string;
}
const padBlock = 64;
const maxText = 40 << 10;

export function encodePlaintext(p: Plaintext): Uint8Array {
  const w = new Writer(TypePlaintext).u8(p.kind);
  if (p.kind === KindText || p.kind === KindNotice) w.str(p.text);
  else {
    w.str(p.carryID!).str(p.room!).u64(p.ref!.epoch).u64(p.ref!.offset).bytes(p.refHash!);
    if (p.kind === KindCarried) w.str(p.proposer!);
    w.str(p.text);
  }
  const b = w.done();
  const out = new Uint8Array(Math.ceil((b.length + 1) / padBlock) * padBlock);
  out.set(b);
  out[b.length] = 0x80;
  return out;
}

export function decodePlaintext(padded: Uint8Array): Plaintext {
  if (padded.length === 0 || padded.length % padBlock !== 0) throw malformed(`plaintext: not padded to ${padBlock} bytes`);
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (end < 0 || padded[end] !== 0x80) throw malformed("plaintext: bad padding");
  const r = Reader.object(padded.subarray(0, end), TypePlaintext, MaxPayload);
  const p: Plaintext = { kind: r.u8("kind"), text: "" };
  if (p.kind === KindText || p.kind === KindNotice) p.text = r.str("text", maxText);
  else if (p.kind === KindCarryProposal || p.kind === KindCarried || p.kind === KindCarryDeclined) {
    p.carryID = r.id("carry");
    p.room = r.id("room");
    p.ref = { epoch: r.i64("ref epoch"), offset: r.i64("ref offset") };
    p.refHash = r.fixed("ref hash", 32).slice();
    if (p.kind === KindCarried) p.proposer = r.id("proposer");
    p.text = r.str("text", maxText);
  } else throw malformed(`plaintext: unknown kind ${p.kind}`);
  r.end("plaintext");
  return p;
}

export async function payloadHash(payload: Uint8Array): Promise<Uint8Array> { return P.sha256(payload); }

// --- sender keys ---

export interface ChainContext { case: string; room: string; epoch: number; statementSeq: number; account: string; device: string; chain: Uint8Array }

function ctxFields(w: Writer, c: ChainContext): Writer {
  return w.str(c.case).str(c.room).u64(c.epoch).u64(c.statementSeq).str(c.account).str(c.device).bytes(c.chain);
}

function readCtx(r: Reader): ChainContext {
  return {
    case: r.id("case"), room: r.id("room"), epoch: r.i64("epoch"), statementSeq: Number(r.u64("statement")),
    account: r.id("sender account"), device: r.id("sender device"), chain: r.fixed("chain", 8).slice(),
  };
}

const sameCtx = (a: ChainContext, b: ChainContext) =>
  a.case === b.case && a.room === b.room && a.epoch === b.epoch && a.statementSeq === b.statementSeq &&
  a.account === b.account && a.device === b.device && equalBytes(a.chain, b.chain);

function keyDistInfo(c: ChainContext, iteration: number, recipient: string): Uint8Array {
  return concat(utf8("parley/e2ee/v1/keydist\x00"), ctxFields(new Writer(), c).u32(iteration).str(recipient).done());
}

export class SenderChain {
  counter = 0;
  sent = new Set<string>();
  constructor(public ctx: ChainContext, private ck: Uint8Array) {}

  static fresh(ctx: Omit<ChainContext, "chain">): SenderChain {
    return new SenderChain({ ...ctx, chain: P.random(8) }, P.random(32));
  }

  async keyDist(me: DeviceKeys, recipients: DeviceRecord[]): Promise<Uint8Array[]> {
    if (me.id !== this.ctx.device || me.account !== this.ctx.account) throw new E2EEError("keydist", "by another device than the chain's");
    const entries: { device: string; kem: number; ct: Uint8Array }[] = [];
    for (const rec of recipients) {
      entries.push({ device: rec.id, kem: rec.kem, ct: await P.hpkeSeal(rec.kem, rec.kemPub, keyDistInfo(this.ctx, this.counter, rec.id), this.ck) });
    }
    const out: Uint8Array[] = [];
    let rest = entries;
    while (rest.length > 0 || out.length === 0) {
      let n = 0, size = 512;
      while (n < rest.length) {
        const es = 12 + rest[n].device.length + 2 + 4 + rest[n].ct.length + 4;
        if (size + es > MaxPayload && n > 0) break;
        size += es;
        n++;
      }
      const part = rest.slice(0, n);
      rest = rest.slice(n);
      const body = ctxFields(new Writer(TypeKeyDist), this.ctx).u32(this.counter)
        .list(part, (e, x) => e.str(x.device).u16(x.kem).bytes(x.ct)).done();
      out.push(concat(body, await signField(me.sig, TypeKeyDist, body)));
      if (out.length > maxList) throw new E2EEError("keydist", "too many recipients");
    }
    for (const rec of recipients) this.sent.add(rec.id);
    return out;
  }

  async encrypt(me: DeviceKeys, p: Plaintext): Promise<Uint8Array> {
    if (this.counter === 0xffffffff) throw new E2EEError("chain", "exhausted; start a new one");
    const { key, nonce, next } = await P.ratchet(this.ck);
    const header = ctxFields(new Writer(TypeMessage), this.ctx).u32(this.counter).done();
    const ct = await P.aesSeal(key, nonce, encodePlaintext(p), concat(label(TypeMessage), header));
    const body = concat(header, new Writer().bytes(ct).done());
    if (body.length + 68 > MaxPayload) throw new E2EEError("message", `over ${MaxPayload} bytes`);
    this.ck.fill(0);
    key.fill(0);
    this.ck = next;
    this.counter++;
    return concat(body, await signField(me.sig, TypeMessage, body));
  }
}

export interface KeyDist { ctx: ChainContext; iteration: number; recipients: { device: string; kem: number; ct: Uint8Array }[]; raw: Uint8Array; bodyLen: number; sig: Uint8Array }

export function decodeKeyDist(data: Uint8Array): KeyDist {
  const r = Reader.object(data, TypeKeyDist, MaxPayload);
  const ctx = readCtx(r);
  const iteration = r.u32("iteration");
  const recipients: KeyDist["recipients"] = [];
  r.list("recipients", (e) => {
    const s = { device: e.id("device"), kem: e.u16("kem"), ct: e.bytes("ciphertext").slice() };
    if (s.ct.length !== P.encLen(s.kem) + 32 + 16) throw malformed(`recipient ${s.device}: ciphertext of ${s.ct.length} bytes for ${P.kemName(s.kem)}`);
    recipients.push(s);
  });
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64).slice();
  r.end("keydist");
  return { ctx, iteration, recipients, raw: data, bodyLen, sig };
}

export async function verifyKeyDist(kd: KeyDist, sender: DeviceRecord): Promise<void> {
  if (sender.id !== kd.ctx.device || sender.account !== kd.ctx.account) throw new E2EEError("bad signature", "key distribution names another device");
  await verifyBy(sender, TypeKeyDist, kd.raw.subarray(0, kd.bodyLen), kd.sig, "keydist");
}

export class NotForMe extends E2EEError {
  constructor() { super("key distribution not addressed to this device", ""); }
}

/** Finds this device's copy of the chain key and starts the receiving chain. */
export async function openKeyDist(kd: KeyDist, me: DeviceKeys): Promise<ReceiverChain> {
  for (const s of kd.recipients) {
    if (s.device !== me.id) continue;
    if (s.kem !== me.kemKey.kem) throw new E2EEError("decryption failed", `sealed for ${P.kemName(s.kem)}, device uses ${P.kemName(me.kemKey.kem)}`);
    const ck = await P.hpkeOpen(me.kemKey, keyDistInfo(kd.ctx, kd.iteration, me.id), s.ct);
    if (!ck || ck.length !== 32) throw new E2EEError("decryption failed", "chain key");
    return new ReceiverChain(kd.ctx, ck, kd.iteration);
  }
  throw new NotForMe();
}

export interface Message { ctx: ChainContext; counter: number; ciphertext: Uint8Array; raw: Uint8Array; headerLen: number; bodyLen: number; sig: Uint8Array }

export function decodeMessage(data: Uint8Array): Message {
  const r = Reader.object(data, TypeMessage, MaxPayload);
  const ctx = readCtx(r);
  const counter = r.u32("counter");
  const headerLen = r.off;
  const ciphertext = r.bytes("ciphertext");
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64);
  r.end("message");
  if (ciphertext.length < 16 + padBlock) throw malformed("message: ciphertext too short");
  return { ctx, counter, ciphertext, raw: data, headerLen, bodyLen, sig };
}

export async function verifyMessage(m: Message, sender: DeviceRecord): Promise<void> {
  if (sender.id !== m.ctx.device || sender.account !== m.ctx.account) throw new E2EEError("bad signature", "message names another device");
  await verifyBy(sender, TypeMessage, m.raw.subarray(0, m.bodyLen), m.sig, "message");
}

export const MaxSkip = 10000;

export class ReceiverChain {
  private last = -1;
  constructor(public ctx: ChainContext, private ck: Uint8Array, private next: number) {}

  /** Opens m (signature already verified); counters strictly increase. */
  async open(m: Message): Promise<Plaintext> {
    if (!sameCtx(m.ctx, this.ctx)) throw new E2EEError("payload does not belong here", "message of another chain");
    if (m.counter <= this.last || m.counter < this.next) throw new E2EEError("replayed or reordered message", `counter ${m.counter} after ${this.last}`);
    if (m.counter - this.next > MaxSkip) throw new E2EEError("replayed or reordered message", `counter ${m.counter} skips more than ${MaxSkip}`);
    let ck = this.ck;
    for (let i = this.next; i < m.counter; i++) ck = (await P.ratchet(ck)).next;
    const { key, nonce, next } = await P.ratchet(ck);
    const padded = await P.aesOpen(key, nonce, m.ciphertext, concat(label(TypeMessage), m.raw.subarray(0, m.headerLen)));
    key.fill(0);
    if (!padded) throw new E2EEError("decryption failed", `message ${m.counter}`);
    const p = decodePlaintext(padded);
    this.ck.fill(0);
    this.ck = next;
    this.next = m.counter + 1;
    this.last = m.counter;
    return p;
  }
}

// --- session: one device in one case ---

export interface Received { ctx: ChainContext; keyDist: boolean; delivered: boolean; plain?: Plaintext; counter?: number }

export class Session {
  private out = new Map<string, SenderChain>();
  private inbound = new Map<string, ReceiverChain>();
  constructor(public me: DeviceKeys, public caseID: string, public chain: Chain, public dir: Devices) {}

  private static inKey(room: string, epoch: number, device: string, chain: Uint8Array) { return `${room}\x00${epoch}\x00${device}\x00${hex(chain)}`; }

  /** Key distributions to post before sending in room at epoch (none when the chain reached everyone). */
  async prepare(room: string, epoch: number): Promise<Uint8Array[]> {
    const closed = this.chain.closed(room);
    if (closed) throw new E2EEError("the room was closed by a mediator", `${room}, in statement ${closed}`);
    const st = this.chain.forEpoch(room, epoch);
    if (!st) throw new E2EEError("no signed membership for this epoch yet", `${room} epoch ${epoch}`);
    const members = roomOf(st, room)!;
    if (!members.members.includes(this.me.account)) throw new E2EEError("sender is not a member of the room", `you are not in ${room} in the signed membership`);
    const recipients: DeviceRecord[] = [];
    const active = new Set<string>();
    for (const m of members.members) for (const d of this.dir.active(m)) { recipients.push(d); active.add(d.id); }
    if (!active.has(this.me.id)) throw new E2EEError("unknown device", "this device is not in the key directory (or revoked)");
    let c = this.out.get(room);
    let fresh = !c || c.ctx.epoch !== epoch || c.counter === 0xffffffff;
    if (!fresh && c!.ctx.statementSeq !== st.seq) {
      const old = this.chain.get(c!.ctx.statementSeq);
      const oldMembers = old ? roomOf(old, room) : undefined;
      fresh = !oldMembers || oldMembers.members.join("\x00") !== members.members.join("\x00");
    }
    if (!fresh) for (const d of c!.sent) if (!active.has(d)) { fresh = true; break; }
    if (fresh) {
      c = SenderChain.fresh({ case: this.caseID, room, epoch, statementSeq: st.seq, account: this.me.account, device: this.me.id });
      this.out.set(room, c);
      return c.keyDist(this.me, recipients);
    }
    const missing = recipients.filter((d) => !c!.sent.has(d.id));
    return missing.length ? c!.keyDist(this.me, missing) : [];
  }

  async encrypt(room: string, p: Plaintext): Promise<Uint8Array> {
    const c = this.out.get(room);
    if (!c) throw new E2EEError("session", "prepare the room first");
    return c.encrypt(this.me, p);
  }

  rotate(room: string): void { this.out.delete(room); }

  /** Checks a key distribution and returns the chain it gives this device (null: none), without installing it (to hand to a new device of this account). */
  async share(room: string, epoch: number, from: string, payload: Uint8Array): Promise<SharedChain | null> {
    const kd = decodeKeyDist(payload);
    const dev = this.check(kd.ctx, room, epoch, from);
    await verifyKeyDist(kd, dev);
    const s = kd.recipients.find((x) => x.device === this.me.id);
    if (!s || s.kem !== this.me.kemKey.kem) return null;
    const ck = await P.hpkeOpen(this.me.kemKey, keyDistInfo(kd.ctx, kd.iteration, this.me.id), s.ct);
    if (!ck || ck.length !== 32) throw new E2EEError("decryption failed", "chain key");
    return { ctx: kd.ctx, iteration: kd.iteration, ck };
  }

  /** Installs chains another device of this account handed over (other cases' and ones held already are left alone). */
  addShared(chains: SharedChain[]): void {
    for (const c of chains) {
      if (c.ctx.case !== this.caseID) continue;
      const key = Session.inKey(c.ctx.room, c.ctx.epoch, c.ctx.device, c.ctx.chain);
      if (!this.inbound.has(key)) this.inbound.set(key, new ReceiverChain(c.ctx, c.ck.slice(), c.iteration));
    }
  }

  async receive(room: string, epoch: number, from: string, payload: Uint8Array): Promise<Received> {
    if (payload.length < 4) throw malformed("payload too short");
    if (payload[3] === TypeKeyDist) {
      const kd = decodeKeyDist(payload);
      const dev = this.check(kd.ctx, room, epoch, from);
      await verifyKeyDist(kd, dev);
      const out: Received = { ctx: kd.ctx, keyDist: true, delivered: false };
      const key = Session.inKey(room, epoch, kd.ctx.device, kd.ctx.chain);
      if (this.inbound.has(key)) return { ...out, delivered: true };
      try {
        this.inbound.set(key, await openKeyDist(kd, this.me));
      } catch (e) {
        if (e instanceof NotForMe) return out;
        throw e;
      }
      return { ...out, delivered: true };
    }
    if (payload[3] === TypeMessage) {
      const m = decodeMessage(payload);
      const dev = this.check(m.ctx, room, epoch, from);
      await verifyMessage(m, dev);
      const rc = this.inbound.get(Session.inKey(room, epoch, m.ctx.device, m.ctx.chain));
      if (!rc) throw new E2EEError("no key for this message", `chain ${hex(m.ctx.chain)} of ${m.ctx.device}`);
      const plain = await rc.open(m);
      // A carried message is its author's consent: a device a mediator
      // admitted (and no device of the account's own linked) cannot give it.
      if (plain.kind === KindCarried && !this.dir.ownChain(m.ctx.account, m.ctx.device)) {
        throw new E2EEError("device admitted by a mediator cannot give consent", `${m.ctx.account}/${m.ctx.device}`);
      }
      return { ctx: m.ctx, keyDist: false, delivered: false, plain, counter: m.counter };
    }
    throw malformed(`payload type ${payload[3]}`);
  }

  private check(c: ChainContext, room: string, epoch: number, from: string): DeviceRecord {
    if (c.case !== this.caseID || c.room !== room || c.epoch !== epoch) {
      throw new E2EEError("payload does not belong here", `names ${c.case}/${c.room} epoch ${c.epoch}, found in ${this.caseID}/${room} epoch ${epoch}`);
    }
    if (c.account !== from) throw new E2EEError("payload does not belong here", `signed by ${c.account}, posted by ${from}`);
    const st = this.chain.get(c.statementSeq);
    if (!st) throw new E2EEError("unknown membership statement", `${c.statementSeq}`);
    const r = roomOf(st, room);
    if (!r || r.epoch !== epoch) throw new E2EEError("payload does not belong here", `statement ${st.seq} does not place ${room} at epoch ${epoch}`);
    if (!r.members.includes(c.account)) throw new E2EEError("sender is not a member of the room", `${c.account} in ${room} (statement ${st.seq})`);
    const closed = this.chain.closed(room);
    if (closed && c.statementSeq >= closed) throw new E2EEError("the room was closed by a mediator", `${room}, in statement ${closed}; the payload names statement ${c.statementSeq}`);
    const dev = this.dir.device(c.account, c.device, -1);
    if (!dev) throw new E2EEError("unknown device", `${c.account}/${c.device}`);
    return dev;
  }
}

// --- safety numbers ---

export async function fingerprint(account: string, devices: DeviceRecord[]): Promise<string> {
  const devs = [...devices].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const kw = new Writer();
  for (const d of devs) kw.str(d.id).bytes(d.sigPub).u16(d.kem).bytes(d.kemPub);
  const keys = kw.done();
  let h = await P.sha512(concat(new Uint8Array([0, 0]), new Writer().str("parley/e2ee/v1/safety").str(account).bytes(keys).done()));
  for (let i = 0; i < 5200; i++) h = await P.sha512(concat(h, keys));
  let out = "";
  for (let i = 0; i < 6; i++) {
    let v = 0;
    for (let j = 0; j < 5; j++) v = v * 256 + h[i * 5 + j];
    out += String(v % 100000).padStart(5, "0");
  }
  return out;
}

export async function safetyNumber(a: string, devA: DeviceRecord[], b: string, devB: DeviceRecord[]): Promise<string> {
  let x = await fingerprint(a, devA), y = await fingerprint(b, devB);
  if (y < x) [x, y] = [y, x];
  return x + y;
}

export function formatSafetyNumber(n: string): string {
  return (n.match(/.{5}/g) ?? []).join(" ");
}

// --- adding a device (docs/protocol.md, "Adding a device") ---

/** A receiving chain handed from one device to a new device of the same account. */
export interface SharedChain { ctx: ChainContext; iteration: number; ck: Uint8Array }

/** Signs an endorsement of rec by me: a link of my account's new device (caseID "") or a mediator's admission in caseID. */
export async function endorse(me: DeviceKeys, rec: DeviceRecord, caseID: string, now = Date.now()): Promise<Uint8Array> {
  if (caseID === "" && rec.account !== me.account) throw new E2EEError("endorsement", "a link is for a device of the same account");
  const body = new Writer(TypeEndorse).str(rec.account).str(rec.id).bytes(await P.sha256(rec.raw)).str(caseID)
    .str(me.account).str(me.id).u64(now).done();
  return concat(body, await signField(me.sig, TypeEndorse, body));
}

function keyShareInfo(account: string, from: string, to: string, created: number): Uint8Array {
  return concat(utf8("parley/e2ee/v1/keyshare\x00"), new Writer().str(account).str(from).str(to).u64(created).done());
}

/** The most chain keys one key share carries (e2ee.MaxSharedChains: the wire format's list limit, which readers enforce). */
export const MaxSharedChains = maxList;

/** Seals chains to `to` (a device of my account) and signs the share. */
export async function shareKeys(me: DeviceKeys, to: DeviceRecord, chains: SharedChain[], now = Date.now()): Promise<Uint8Array> {
  if (to.account !== me.account) throw new E2EEError("keyshare", "keys go only to a device of the same account");
  if (chains.length > MaxSharedChains) throw new E2EEError("keyshare", `more than ${MaxSharedChains} chains`);
  const pt = new Writer(TypeShared).list(chains, (e, c) => ctxFields(e, c.ctx).u32(c.iteration).bytes(c.ck)).done();
  const sealed = await P.hpkeSeal(to.kem, to.kemPub, keyShareInfo(me.account, me.id, to.id, now), pt);
  pt.fill(0);
  const body = new Writer(TypeKeyShare).str(me.account).str(me.id).str(to.id).u64(now).u16(to.kem).bytes(sealed).done();
  return concat(body, await signField(me.sig, TypeKeyShare, body));
}

/** Checks a key share was signed by `from` (a counted device of my account: the caller checks) for me, and opens it. */
export async function openKeyShare(data: Uint8Array, me: DeviceKeys, from: DeviceRecord): Promise<SharedChain[]> {
  const r = Reader.object(data, TypeKeyShare, 4 << 20);
  const account = r.id("account"), fromID = r.id("from device"), to = r.id("to device"), created = r.i64("created"), kem = r.u16("kem");
  const sealed = r.bytes("sealed");
  const bodyLen = r.off;
  const sig = r.fixed("signature", 64);
  r.end("keyshare");
  if (account !== me.account || from.account !== me.account || from.id !== fromID) throw new E2EEError("bad signature", "key share from another account or device");
  if (to !== me.id) throw new E2EEError("key distribution not addressed to this device", "key share for another device");
  await verifyBy(from, TypeKeyShare, data.subarray(0, bodyLen), sig, "keyshare");
  if (kem !== me.kemKey.kem) throw new E2EEError("decryption failed", "key share sealed for another KEM");
  const pt = await P.hpkeOpen(me.kemKey, keyShareInfo(account, fromID, to, created), sealed);
  if (!pt) throw new E2EEError("decryption failed", "key share");
  const out: SharedChain[] = [];
  const pr = Reader.object(pt, TypeShared, 4 << 20);
  pr.list("chains", (e) => {
    const ctx = readCtx(e);
    out.push({ ctx, iteration: e.u32("iteration"), ck: e.fixed("chain key", 32).slice() });
  });
  pr.end("shared chains");
  pt.fill(0);
  return out;
}
