// Checks the browser's document code (src/docs-e2ee.ts) against
// e2ee/testdata/doc-vectors.json, which Go's package e2ee generates and
// checks (TestDocVectors): the stream opens and seals byte for byte, the
// wrap opens for side A's devices and the mediators' and for nobody else,
// and a wrap made here holds the same recipients. With --write it also
// writes e2ee/testdata/doc-vectors-browser.json (a stream and a wrap made
// here), which TestDocVectors opens in Go. Exits non-zero on a mismatch.
import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as E from "../build/e2ee.mjs";
import * as D from "../build/docs-e2ee.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const testdata = here + "../../../e2ee/testdata/";
const v = JSON.parse(readFileSync(testdata + "doc-vectors.json", "utf8"));
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
let checks = 0;
function ok(cond, what) {
  if (!cond) throw new Error("doc vector mismatch: " + what);
  checks++;
}
async function refused(f, what) {
  let err = null;
  try { await f(); } catch (e) { err = e; }
  ok(err instanceof D.IntegrityError, `${what}: refused as an integrity failure (got ${err && err.message})`);
}
const sha = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));

// The incremental SHA-256 against WebCrypto's, fed in awkward pieces.
for (const n of [0, 1, 55, 56, 63, 64, 65, 1000, 70001]) {
  const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 255);
  const h = new D.Sha256();
  for (let i = 0; i < n; i += 37) h.update(data.subarray(i, i + 37));
  ok(hex(h.digest()) === hex(await sha(data)), `sha-256 of ${n} bytes`);
}

// The stream: open it segment by segment, checking both hashes.
const s = v.stream;
const b = { case: s.case, doc: s.doc, version: s.version };
const sealed = unhex(s.sealed), key = unhex(s.key);
const plain = Uint8Array.from({ length: s.size }, (_, i) => (i * 7) % 251);
ok(D.plainSize(sealed.length) === s.size && D.ciphertextSize(s.size) === sealed.length, "sizes");
async function openAll(bytes, want) {
  const o = new D.StreamOpener(key, b, bytes.length, want);
  await o.header(bytes.subarray(0, D.HeaderSize));
  let off = D.HeaderSize;
  const parts = [];
  for (let n = o.next(); n > 0; n = o.next()) {
    parts.push(await o.open(bytes.subarray(off, off + n)));
    off += n;
  }
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
const got = await openAll(sealed, { ctSHA256: await sha(sealed), plainSHA256: unhex(s.plaintextSha256) });
ok(hex(got) === hex(plain), "the stream opens to the plaintext");
// Sealed here with the same salt: the same bytes.
const sealer = await D.StreamSealer.create(key, b, sealed.subarray(16, D.HeaderSize));
const out = [sealer.header];
for (let i = 0; i < s.size; i += D.SegmentSize) out.push(await sealer.seal(plain.subarray(i, i + D.SegmentSize), i + D.SegmentSize >= s.size));
ok(hex(Uint8Array.from(out.flatMap((p) => [...p]))) === s.sealed, "the stream seals to the same bytes");
// Tampering, truncation, another binding, another recorded hash: refused.
const flipped = sealed.slice(); flipped[D.HeaderSize + 10] ^= 1;
await refused(() => openAll(flipped, {}), "a flipped byte");
await refused(() => openAll(sealed.subarray(0, D.HeaderSize + D.SegmentCTSize + D.TagSize), {}), "cut after the first segment");
await refused(() => openAll(sealed.subarray(0, sealed.length - 1), {}), "one byte short");
const other = new D.StreamOpener(key, { ...b, version: 2 }, sealed.length, {});
await other.header(sealed.subarray(0, D.HeaderSize));
await refused(() => other.open(sealed.subarray(D.HeaderSize, D.HeaderSize + D.SegmentCTSize)), "moved to version 2");
await refused(() => openAll(sealed, { ctSHA256: new Uint8Array(32) }), "a stored-bytes hash that differs");
await refused(() => openAll(sealed, { plainSHA256: new Uint8Array(32) }), "a plaintext hash that differs");
// The review's cuts and splices (security review of the browser's documents,
// finding 8), on a stream sealed here of three full segments and a short one.
{
  const S = D.SegmentSize, C = D.SegmentCTSize, H = D.HeaderSize;
  const sealWith = async (pt) => {
    const z = await D.StreamSealer.create(key, b);
    const parts = [z.header];
    if (pt.length === 0) parts.push(await z.seal(pt, true));
    for (let i = 0; i < pt.length; i += S) parts.push(await z.seal(pt.subarray(i, i + S), i + S >= pt.length));
    return Uint8Array.from(parts.flatMap((p) => [...p]));
  };
  const p4 = Uint8Array.from({ length: 3 * S + 100 }, (_, i) => (i * 13) & 255);
  const four = await sealWith(p4);
  ok(hex(await openAll(four, { ctSHA256: await sha(four) })) === hex(p4), "four segments open");
  // Cut at exactly the header and one full segment: its size is a valid one-segment stream (65536 bytes), the segment is not the last.
  ok(D.plainSize(H + C) === S, "a cut after one full segment has a valid size");
  await refused(() => openAll(four.subarray(0, H + C), {}), "cut at exactly the header and one full segment");
  await refused(() => openAll(four.subarray(0, H + 2 * C), {}), "cut at exactly the header and two full segments");
  await refused(() => openAll(four.subarray(0, H), {}), "cut to the header alone");
  const swapped = four.slice();
  swapped.set(four.subarray(H, H + C), H + C);
  swapped.set(four.subarray(H + C, H + 2 * C), H);
  await refused(() => openAll(swapped, {}), "two segments swapped");
  const appended = new Uint8Array(four.length + C);
  appended.set(four);
  appended.set(four.subarray(H, H + C), four.length);
  await refused(() => openAll(appended, {}), "an extra full segment appended");
  const lastTwice = new Uint8Array(four.length + (four.length - H - 3 * C));
  lastTwice.set(four);
  lastTwice.set(four.subarray(H + 3 * C), four.length);
  await refused(() => openAll(lastTwice, {}), "the last segment appended again");
  // A full last segment followed by an empty one sealed as last: refused.
  const z = await D.StreamSealer.create(key, b);
  const tail = [z.header, await z.seal(new Uint8Array(S), false), await z.seal(new Uint8Array(0), true)];
  await refused(() => openAll(Uint8Array.from(tail.flatMap((p) => [...p])), {}), "an empty last segment after a full one");
  // An empty file: one empty last segment; it opens to nothing and checks its hashes; cut or altered, refused.
  const empty = await sealWith(new Uint8Array(0));
  ok(empty.length === D.ciphertextSize(0) && D.plainSize(empty.length) === 0, "an empty file's size");
  ok((await openAll(empty, { ctSHA256: await sha(empty), plainSHA256: await sha(new Uint8Array(0)) })).length === 0, "an empty file opens to nothing");
  const emptyBent = empty.slice(); emptyBent[emptyBent.length - 1] ^= 1;
  await refused(() => openAll(emptyBent, {}), "an empty file's tag altered");
  await refused(() => openAll(empty, { plainSHA256: new Uint8Array(32) }), "an empty file with another plaintext hash");
  // One full segment sealed as not last can never pass for a whole one-segment file.
  const one = await sealWith(new Uint8Array(S));
  ok((await openAll(one, {})).length === S, "exactly one full segment opens");
}

// The world: devices from their seeds, the signed membership.
const devs = {};
const dir = new E.Devices();
for (const [i, d] of v.devices.entries()) {
  devs[d.name] = await E.deviceKeysFromSeeds(d.account, d.kem, unhex(d.sigSeed), unhex(d.kemSeed), d.created);
  dir.add(devs[d.name].record, i);
}
// Go's test world counts side A's second device (a2); here it is linked by the first.
dir.endorse(E.decodeEndorsement(await E.endorse(devs.a1, devs.a2.record, "", 1767225600000)), 100);
await dir.computeTrust();
const chain = new E.Chain(s.case);
await chain.extend(await E.decodeStatement(unhex(v.first)), dir);
await chain.extend(await E.decodeStatement(unhex(v.statement)), dir);
// inForce: the rooms whose signed membership is not the one in force (the server sealed them into an epoch no
// mediator has signed yet); none by default.
const sess = (name, stale = []) => ({ me: devs[name], caseID: s.case, chain, dir, inForce: (room) => !stale.includes(room) });

const w = v.wrap;
const wrap = D.decodeDocKey(unhex(w.payload));
ok(JSON.stringify(wrap.recipients.map((r) => r.device)) === JSON.stringify(w.recipients), "wrap: recipients");
ok(unhex(w.payload)[3] === D.TypeDocKeyNamed && hex(wrap.ctx.name) === w.nameBinding, "wrap: the named form, with the version's name binding");
for (const name of ["med", "med2", "a1", "a2", "counsela"]) {
  const { key: k } = await D.openDocKey(sess(name), s.doc, 1, w.name, w.mediaType, unhex(w.payload));
  ok(hex(k) === w.key, `wrap: ${name} opens it`);
}
let notB = null;
try { await D.openDocKey(sess("b"), s.doc, 1, w.name, w.mediaType, unhex(w.payload)); } catch (e) { notB = e; }
ok(notB instanceof D.NotForThisDevice, "wrap: side B's device holds no copy");
ok((await D.pickDocKey(sess("b"), s.doc, 1, w.name, w.mediaType, [unhex(w.payload)])) === null, "wrap: side B picks no key");
let moved = null;
try { await D.openDocKey(sess("a1"), s.doc, 2, w.name, w.mediaType, unhex(w.payload)); } catch (e) { moved = e; }
ok(moved && /does not belong here/.test(moved.message), "wrap: refused for another version");
const bent = unhex(w.payload); bent[bent.length - 1] ^= 1;
let badSig = null;
try { await D.openDocKey(sess("a1"), s.doc, 1, w.name, w.mediaType, bent); } catch (e) { badSig = e; }
ok(badSig && /bad signature/.test(badSig.message), "wrap: a changed signature is refused");
// Names (review finding 1): the binding byte for byte; a wrap shown under
// another name or type is refused (also by the pick, so nothing opens);
// the old form binds none and says so; the binding cannot be stripped.
for (const n of v.names) ok(hex(D.bindName(n.name, n.mediaType)) === n.nameBinding, `name binding of ${JSON.stringify(n.name)} (${n.mediaType})`);
for (const n of v.relabelled) {
  let e = null;
  try { await D.openDocKey(sess("med"), s.doc, 1, n.name, n.mediaType, unhex(w.payload)); } catch (x) { e = x; }
  ok(e instanceof D.RelabelledError, `wrap shown as ${JSON.stringify(n.name)} (${n.mediaType}): refused (got ${e && e.message})`);
  let p = null;
  try { await D.pickDocKey(sess("med"), s.doc, 1, n.name, n.mediaType, [unhex(w.payload)]); } catch (x) { p = x; }
  ok(p instanceof D.RelabelledError, `pick under ${JSON.stringify(n.name)} (${n.mediaType}): refused`);
}
{
  const u = await D.openDocKey(sess("a2"), s.doc, 1, "Hearing schedule.pdf", "application/pdf", unhex(v.unbound.payload));
  ok(hex(u.key) === w.key && u.wrap.ctx.name === null && unhex(v.unbound.payload)[3] === D.TypeDocKey, "the old form opens under any name, unbound");
  const retyped = unhex(w.payload); retyped[3] = D.TypeDocKey;
  let e = null;
  try { await D.openDocKey(sess("med"), s.doc, 1, "Hearing schedule.pdf", "application/pdf", retyped); } catch (x) { e = x; }
  ok(e !== null, "a named wrap retyped as the old form is refused");
  ok(JSON.stringify(D.uploadLabel("  Offer.PDF ", "Application/PDF")) === JSON.stringify({ name: "Offer.PDF", mediaType: "application/pdf" }), "upload label: trimmed name, lowercased type");
  ok(D.uploadLabel("x", "").mediaType === "application/octet-stream" && D.uploadLabel("x", "text/plain; charset=utf-8").mediaType === "application/octet-stream", "upload label: no type, or one with parameters, goes as application/octet-stream");
}
// Wraps signed by someone who may not give this audience keys (the review's wrap.mjs):
// side B's device (in the directory, not in caucus:A), side A's unendorsed second
// device, and a device the directory does not list. Each is refused, and a forged
// newer wrap next to a genuine one does not win the pick.
{
  const k7 = new Uint8Array(32).fill(7);
  const wctx = (dev, extra = {}) => ({ case: s.case, doc: s.doc, version: 1, audience: "caucus:A", statementSeq: 1, account: dev.account, device: dev.id, created: 1767225600000, name: D.bindName(w.name, w.mediaType), ...extra });
  const recs = [devs.med.record, devs.a1.record];
  const refusedWrap = async (payload, what, why) => {
    let e = null;
    try { await D.openDocKey(sess("a1"), s.doc, 1, w.name, w.mediaType, payload); } catch (x) { e = x; }
    ok(e && why.test(e.message), `${what}: refused (got ${e && e.message})`);
  };
  await refusedWrap(await D.wrapDocKey(devs.b, wctx(devs.b), k7, recs), "a wrap for caucus:A signed by side B's device", /not a member/);
  const stranger = await E.deviceKeysFromSeeds(devs.a1.account, v.devices.find((d) => d.name === "a1").kem, new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 1767225600000);
  await refusedWrap(await D.wrapDocKey(stranger, wctx(stranger), k7, recs), "a wrap signed by a device the directory does not list", /unknown device/);
  const bare = new E.Devices();
  for (const [i, d] of v.devices.entries()) bare.add(devs[d.name].record, i); // a2 not endorsed
  await bare.computeTrust();
  const bareChain = new E.Chain(s.case);
  await bareChain.extend(await E.decodeStatement(unhex(v.first)), bare);
  await bareChain.extend(await E.decodeStatement(unhex(v.statement)), bare);
  let unendorsed = null;
  try { await D.openDocKey({ me: devs.a1, caseID: s.case, chain: bareChain, dir: bare }, s.doc, 1, w.name, w.mediaType, await D.wrapDocKey(devs.a2, wctx(devs.a2), k7, recs)); } catch (x) { unendorsed = x; }
  ok(unendorsed && /unknown device/.test(unendorsed.message), `a wrap signed by side A's unendorsed second device: refused (got ${unendorsed && unendorsed.message})`);
  const genuine = await D.wrapDocKey(devs.med, wctx(devs.med), k7, recs);
  ok((await D.openDocKey(sess("a1"), s.doc, 1, w.name, w.mediaType, genuine)).key[0] === 7, "a wrap signed by the mediator's device opens (control)");
  const forged = await D.wrapDocKey(devs.b, wctx(devs.b, { created: 1767225600000 + 1e9 }), new Uint8Array(32).fill(9), recs);
  const picked = await D.pickDocKey(sess("a1"), s.doc, 1, w.name, w.mediaType, [genuine, forged]);
  ok(picked && picked.key[0] === 7, "a forged newer wrap does not win over the genuine one");
}
let outsider = null;
try { await D.wrapForAudience(sess("b"), s.doc, 1, "caucus:A", D.bindName(w.name, w.mediaType), key); } catch (e) { outsider = e; }
ok(outsider && /not a member/.test(outsider.message), "side B's device may not wrap for caucus:A");

// Review 394 M1: no wrap while the latest statement is not the one in force for a room of the audience (someone
// left or joined it, unsigned yet: a recused co-mediator gets no copy); other audiences are wrapped as before.
for (const [name, audience, stale] of [["a1", "caucus:A", ["caucus:A"]], ["med", "joint", ["joint"]], ["med", "user:u_partyb", ["mediators"]], ["med", "user:u_partyb", ["joint"]]]) {
  let e = null;
  try { await D.wrapForAudience(sess(name, stale), s.doc, 1, audience, D.bindName(w.name, w.mediaType), key); } catch (x) { e = x; }
  ok(e && /no signed membership/.test(e.message), `${name} wraps nothing for ${audience} while ${stale} waits for a signed statement (got ${e && e.message})`);
}
ok(D.decodeDocKey(await D.wrapForAudience(sess("a1", ["caucus:B", "joint"]), s.doc, 1, "caucus:A", D.bindName(w.name, w.mediaType), key)).ctx.audience === "caucus:A",
  "caucus:A is wrapped while only other rooms wait for a signed statement");

// Review 394 M2: the newest wrap of a version a device opened or made is pinned; a newcomer pass refuses an older one
// the server serves again (the joint wrap from before a narrowing), whatever audience the server reports.
{
  const at = (statementSeq, created, audience) => ({ case: s.case, doc: s.doc, version: 1, audience, statementSeq, account: "u_med", device: "d", created, name: null });
  const joint = at(2, 1000, "joint"), narrowed = at(2, 2000, "caucus:A");
  let pins = D.mergeWrapPins({}, [joint]);
  ok(!D.rolledBack(pins, joint), "the wrap pinned is not rolled back");
  pins = D.mergeWrapPins(pins, [narrowed]);
  ok(D.mergeWrapPins(pins, [joint])[D.wrapPinKey(joint)].audience === "caucus:A", "an older wrap does not move the pin back");
  ok(D.rolledBack(pins, joint), "the joint wrap from before the narrowing, served again: rolled back");
  ok(D.rolledBack(pins, at(2, 2000, "joint")), "a wrap as new as the pinned one naming another audience: rolled back");
  ok(D.rolledBack(pins, at(1, 5000, "joint")), "a wrap under an earlier statement: rolled back");
  ok(!D.rolledBack(pins, narrowed) && !D.rolledBack(pins, at(2, 3000, "joint")) && !D.rolledBack(pins, at(3, 10, "joint")), "the pinned wrap and newer ones pass");
  ok(!D.rolledBack(pins, { ...joint, version: 2 }) && !D.rolledBack(pins, { ...joint, doc: "d_other" }), "pins are per document and version");
}

// Review 404 M1: only a wrap holding a copy for this device is pinned. A newcomer pass wraps for the devices lacking a
// copy only; pinned, that wrap sorted newer than the one this device opens, and every later pass refused the document.
{
  const own = await D.wrapForAudience(sess("a2"), s.doc, 1, "caucus:A", D.bindName(w.name, w.mediaType), key, null, 1767225600000);
  const others = w.recipients.filter((d) => d !== devs.a2.id);
  const newcomer = await D.wrapForAudience(sess("a2"), s.doc, 1, "caucus:A", D.bindName(w.name, w.mediaType), key, others, 1767225700000);
  ok(D.pinnable(devs.a2.id, [own]).length === 1, "a wrap holding this device's copy is pinned");
  ok(D.pinnable(devs.a2.id, [newcomer]).length === 0, "a newcomer wrap without this device's copy is not pinned");
  const pins = D.mergeWrapPins({}, D.pinnable(devs.a2.id, [own, newcomer]));
  ok(!D.rolledBack(pins, D.decodeDocKey(own).ctx), "after a newcomer pass, the next pass opens this device's own wrap: not rolled back");
}

// A wrap made here (by the X25519 device a2): the vector's recipients, and every one opens it.
const mine = await D.wrapForAudience(sess("a2"), s.doc, 1, "caucus:A", D.bindName(w.name, w.mediaType), key, null, 1767225600000);
ok(JSON.stringify(D.decodeDocKey(mine).recipients.map((r) => r.device)) === JSON.stringify(w.recipients), "wrap made here: the same recipients");
for (const name of ["med", "a1", "counsela"]) ok(hex((await D.openDocKey(sess(name), s.doc, 1, w.name, w.mediaType, mine)).key) === w.key, `wrap made here: ${name} opens it`);
// The mediator re-wraps for the joint room with the binding it opened: side B checks the same name.
{
  const opened = await D.openDocKey(sess("med"), s.doc, 1, w.name, w.mediaType, mine);
  const joint = await D.wrapForAudience(sess("med"), s.doc, 1, "joint", opened.wrap.ctx.name, opened.key, null, 1767225600000);
  ok(hex((await D.openDocKey(sess("b"), s.doc, 1, w.name, w.mediaType, joint)).key) === w.key, "a re-wrap for the joint room opens for side B under the signed name");
  let e = null;
  try { await D.openDocKey(sess("b"), s.doc, 1, v.relabelled[0].name, v.relabelled[0].mediaType, joint); } catch (x) { e = x; }
  ok(e instanceof D.RelabelledError, "the re-wrap shown under the relabelling server's name: refused");
}

// New documents' ids: derived as Go derives them (e2ee.DocumentID), each its own.
ok(Array.isArray(v.docIds) && v.docIds.length >= 4, "document id vectors present");
for (const d of v.docIds) ok(D.documentID(d.case, d.account, unhex(d.nonce)) === d.doc, `document id of ${d.case}, ${d.account}, ${d.nonce}`);
ok(new Set(v.docIds.map((d) => d.doc)).size === v.docIds.length, "document ids differ by case, account and nonce");
ok(/^d_[a-z2-7]{26}$/.test(D.documentID("c_x", "u_y", D.newDocIDNonce())), "a fresh document id has the form of every document id");

if (process.argv.includes("--write")) {
  const fresh = await D.StreamSealer.create(key, b);
  const parts = [fresh.header];
  for (let i = 0; i < s.size; i += D.SegmentSize) parts.push(await fresh.seal(plain.subarray(i, i + D.SegmentSize), i + D.SegmentSize >= s.size));
  const bv = {
    stream: { case: s.case, doc: s.doc, version: s.version, key: s.key, plaintextSha256: s.plaintextSha256, size: s.size, sealed: hex(Uint8Array.from(parts.flatMap((p) => [...p]))) },
    wrap: { wrapper: "a2", payload: hex(mine), name: w.name, mediaType: w.mediaType },
  };
  writeFileSync(testdata + "doc-vectors-browser.json", JSON.stringify(bv, null, 2) + "\n");
  console.log("wrote e2ee/testdata/doc-vectors-browser.json");
}
console.log(`doc vectors: ${checks} checks passed`);
