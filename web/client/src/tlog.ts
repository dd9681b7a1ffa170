// Verifying key-directory answers (keydir.Proven) in the browser, as Go's
// keydir.Proven.Verify does: the log key is the one pinned at first use,
// the checkpoint (a C2SP signed note) is signed by it and extends the one
// seen before (RFC 6962 consistency proof), and every record is included
// at its index (RFC 6962 inclusion proof) under an entry naming exactly
// that record's hash and ids.
import type { AuditEvent, Logged, Proven } from "./wire_gen";
import * as E from "./e2ee";
import { ed25519Verify, sha256 } from "./primitives";
import { concat, equalBytes, hex, unb64, utf8 } from "./wire";

export interface Checkpoint { origin: string; size: number; hash: Uint8Array }
export interface ProvenPins { logKey?: string; logSize?: number; logCheckpoint?: string }

const logErr = (d: string) => new Error("the key directory's answer does not verify: " + d);

/** Checks a C2SP signed note against a verifier key (name+hash+base64) and returns its text. */
export async function openSignedNote(signed: string, vkey: string, err: (d: string) => Error = logErr): Promise<string> {
  // name+hash+base64(key): the key's base64 may itself contain "+".
  const i = vkey.indexOf("+"), j = vkey.indexOf("+", i + 1);
  const name = vkey.slice(0, i), keyHash = vkey.slice(i + 1, j), keyB64 = vkey.slice(j + 1);
  if (i <= 0 || j < 0 || !/^[0-9a-f]{8}$/.test(keyHash) || !keyB64) throw err("malformed log key");
  const key = unb64(keyB64);
  if (key.length !== 33 || key[0] !== 1) throw err("log key is not Ed25519");
  const kh = (await sha256(concat(utf8(name + "\n"), key))).slice(0, 4);
  if (hex(kh) !== keyHash) throw err("log key hash mismatch");
  const split = signed.lastIndexOf("\n\n");
  if (split < 0) throw err("checkpoint has no signatures");
  const text = signed.slice(0, split + 1);
  let ok = false;
  for (const line of signed.slice(split + 2).split("\n")) {
    if (!line) continue;
    const m = /^\u2014 (\S+) (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const sig = unb64(m[2]);
    if (sig.length === 68 && equalBytes(sig.slice(0, 4), kh) && (await ed25519Verify(key.slice(1), utf8(text), sig.slice(4)))) ok = true;
  }
  if (!ok) throw err("checkpoint not signed by the log key");
  return text;
}

async function openNote(signed: string, vkey: string): Promise<Checkpoint> {
  const text = await openSignedNote(signed, vkey);
  const name = vkey.slice(0, vkey.indexOf("+"));
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3 || lines[0] !== name || !/^(0|[1-9][0-9]*)$/.test(lines[1])) throw logErr("malformed checkpoint");
  const hash = unb64(lines[2]);
  if (hash.length !== 32) throw logErr("malformed checkpoint root");
  // A size past 2^53 cannot be held exactly; saved as a pin it would make
  // every later reading of the pins fail. Refused here, as any malformed
  // checkpoint is, before anything is pinned.
  const size = Number(lines[1]);
  if (!Number.isSafeInteger(size)) throw logErr("checkpoint size out of range");
  return { origin: lines[0], size, hash };
}

const nodeHash = (l: Uint8Array, r: Uint8Array) => sha256(concat(new Uint8Array([1]), l, r));
const leafHash = (entry: Uint8Array) => sha256(concat(new Uint8Array([0]), entry));

function maxpow2(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

async function runRecordProof(p: Uint8Array[], lo: number, hi: number, n: number, leaf: Uint8Array): Promise<Uint8Array> {
  if (lo + 1 === hi) {
    if (p.length !== 0) throw logErr("inclusion proof too long");
    return leaf;
  }
  if (p.length === 0) throw logErr("inclusion proof too short");
  const k = maxpow2(hi - lo), last = p[p.length - 1], rest = p.slice(0, -1);
  if (n < lo + k) return nodeHash(await runRecordProof(rest, lo, lo + k, n, leaf), last);
  return nodeHash(last, await runRecordProof(rest, lo + k, hi, n, leaf));
}

async function runTreeProof(p: Uint8Array[], lo: number, hi: number, n: number, old: Uint8Array): Promise<[Uint8Array, Uint8Array]> {
  if (n === hi) {
    if (lo === 0) {
      if (p.length !== 0) throw logErr("consistency proof too long");
      return [old, old];
    }
    if (p.length !== 1) throw logErr("consistency proof malformed");
    return [p[0], p[0]];
  }
  if (p.length === 0) throw logErr("consistency proof too short");
  const k = maxpow2(hi - lo), last = p[p.length - 1], rest = p.slice(0, -1);
  if (n <= lo + k) {
    const [oh, th] = await runTreeProof(rest, lo, lo + k, n, old);
    return [oh, await nodeHash(th, last)];
  }
  const [oh, th] = await runTreeProof(rest, lo + k, hi, n, old);
  return [await nodeHash(last, oh), await nodeHash(last, th)];
}

async function checkLogged(l: Logged, cp: Checkpoint, kind: string, actor: string, caseID: string, objects: string[]): Promise<void> {
  const entry = unb64(l.entry);
  let ev: Partial<AuditEvent>;
  try { ev = JSON.parse(new TextDecoder().decode(entry)) as Partial<AuditEvent>; } catch { throw logErr(`entry ${l.index} is not an event`); }
  const h = "sha256:" + hex(await sha256(unb64(l.record)));
  const same = (a: unknown, b: string[]) => Array.isArray(a) && a.length === b.length && a.every((x, i) => x === b[i]);
  if (ev.type !== kind || (ev.actor ?? "") !== actor || (ev.case ?? "") !== caseID || !same(ev.objects ?? [], objects) || !same(ev.hashes ?? [], [h])) {
    throw logErr(`entry ${l.index} does not describe this record`);
  }
  if (l.index < 0 || l.index >= cp.size) throw logErr(`entry ${l.index} not covered by the checkpoint of ${cp.size}`);
  const root = await runRecordProof((l.proof ?? []).map(unb64), 0, cp.size, l.index, await leafHash(entry));
  if (!equalBytes(root, cp.hash)) throw logErr(`entry ${l.index} is not in the log`);
}

export interface VerifiedAnswer {
  size: number;
  checkpoint: string;
  devices: { rec: E.DeviceRecord; index: number }[];
  revocations: { rev: E.Revocation; index: number }[];
  statements: E.Statement[];
  endorsements: { e: E.Endorsement; index: number }[];
}

/** Verifies an answer against what this browser saw before (pins). */
export async function verifyProven(p: Proven, pins: ProvenPins): Promise<VerifiedAnswer> {
  if (pins.logKey && p.key !== pins.logKey) throw logErr("the log key changed from the one pinned");
  const cp = await openNote(p.checkpoint, p.key);
  if (pins.logCheckpoint && pins.logKey) {
    const old = await openNote(pins.logCheckpoint, pins.logKey);
    if (cp.size < old.size) throw logErr(`the log went back from ${old.size} to ${cp.size} entries`);
    if (cp.size === old.size && !equalBytes(cp.hash, old.hash)) throw logErr(`two different logs of ${cp.size} entries (fork)`);
    if (cp.size > old.size && old.size > 0) {
      const [h1, h2] = await runTreeProof((p.consistency ?? []).map(unb64), 0, cp.size, old.size, old.hash);
      if (!equalBytes(h1, old.hash) || !equalBytes(h2, cp.hash)) throw logErr(`the log of ${cp.size} does not extend the one of ${old.size} you saw (fork)`);
    }
  }
  const out: VerifiedAnswer = { size: cp.size, checkpoint: p.checkpoint, devices: [], revocations: [], statements: [], endorsements: [] };
  for (const l of p.devices ?? []) {
    const rec = await E.decodeDeviceRecord(unb64(l.record));
    await checkLogged(l, cp, "keydir.device", rec.account, "", [rec.id]);
    out.devices.push({ rec, index: l.index });
  }
  for (const l of p.revocations ?? []) {
    const rev = E.decodeRevocation(unb64(l.record));
    await checkLogged(l, cp, "keydir.revoke", rev.account, "", [rev.device, rev.by]);
    out.revocations.push({ rev, index: l.index });
  }
  for (const l of p.endorsements ?? []) {
    const e = E.decodeEndorsement(unb64(l.record));
    await checkLogged(l, cp, "keydir.endorse", e.by, e.case, [e.account, e.device, e.byDev]);
    out.endorsements.push({ e, index: l.index });
  }
  for (const l of p.statements ?? []) {
    const st = await E.decodeStatement(unb64(l.record));
    await checkLogged(l, cp, "keydir.statement", st.signerAccount, st.case, [String(st.seq), st.signerDevice]);
    st.logIndex = l.index;
    out.statements.push(st);
  }
  return out;
}
