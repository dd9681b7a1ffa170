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
await chain.extend(await E.decodeStatement(unhex(v.statement)), dir);
const sess = (name) => ({ me: devs[name], caseID: s.case, chain, dir });

const w = v.wrap;
const wrap = D.decodeDocKey(unhex(w.payload));
ok(JSON.stringify(wrap.recipients.map((r) => r.device)) === JSON.stringify(w.recipients), "wrap: recipients");
for (const name of ["med", "med2", "a1", "a2", "counsela"]) {
  const { key: k } = await D.openDocKey(sess(name), s.doc, 1, unhex(w.payload));
  ok(hex(k) === w.key, `wrap: ${name} opens it`);
}
let notB = null;
try { await D.openDocKey(sess("b"), s.doc, 1, unhex(w.payload)); } catch (e) { notB = e; }
ok(notB instanceof D.NotForThisDevice, "wrap: side B's device holds no copy");
ok((await D.pickDocKey(sess("b"), s.doc, 1, [unhex(w.payload)])) === null, "wrap: side B picks no key");
let moved = null;
try { await D.openDocKey(sess("a1"), s.doc, 2, unhex(w.payload)); } catch (e) { moved = e; }
ok(moved && /does not belong here/.test(moved.message), "wrap: refused for another version");
const bent = unhex(w.payload); bent[bent.length - 1] ^= 1;
let badSig = null;
try { await D.openDocKey(sess("a1"), s.doc, 1, bent); } catch (e) { badSig = e; }
ok(badSig && /bad signature/.test(badSig.message), "wrap: a changed signature is refused");
let outsider = null;
try { await D.wrapForAudience(sess("b"), s.doc, 1, "caucus:A", key); } catch (e) { outsider = e; }
ok(outsider && /not a member/.test(outsider.message), "side B's device may not wrap for caucus:A");

// A wrap made here (by the X25519 device a2): the vector's recipients, and every one opens it.
const mine = await D.wrapForAudience(sess("a2"), s.doc, 1, "caucus:A", key, null, 1767225600000);
ok(JSON.stringify(D.decodeDocKey(mine).recipients.map((r) => r.device)) === JSON.stringify(w.recipients), "wrap made here: the same recipients");
for (const name of ["med", "a1", "counsela"]) ok(hex((await D.openDocKey(sess(name), s.doc, 1, mine)).key) === w.key, `wrap made here: ${name} opens it`);

if (process.argv.includes("--write")) {
  const fresh = await D.StreamSealer.create(key, b);
  const parts = [fresh.header];
  for (let i = 0; i < s.size; i += D.SegmentSize) parts.push(await fresh.seal(plain.subarray(i, i + D.SegmentSize), i + D.SegmentSize >= s.size));
  const bv = {
    stream: { case: s.case, doc: s.doc, version: s.version, key: s.key, plaintextSha256: s.plaintextSha256, size: s.size, sealed: hex(Uint8Array.from(parts.flatMap((p) => [...p]))) },
    wrap: { wrapper: "a2", payload: hex(mine) },
  };
  writeFileSync(testdata + "doc-vectors-browser.json", JSON.stringify(bv, null, 2) + "\n");
  console.log("wrote e2ee/testdata/doc-vectors-browser.json");
}
console.log(`doc vectors: ${checks} checks passed`);
