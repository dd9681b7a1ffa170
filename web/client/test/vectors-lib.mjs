// The vector checks, shared by node (test/vectors.mjs) and Chromium
// (test/e2e.mjs loads this with the library in a page). E is the protocol
// library (src/e2ee.ts), ratchet the chain step (src/primitives.ts), v the
// parsed vectors.json. Returns the number of checks; throws on a mismatch.
export async function runVectors(E, ratchet, v) {
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
let checks = 0;
function ok(cond, what) {
  if (!cond) throw new Error("vector mismatch: " + what);
  checks++;
}
if (v.protocol !== "parley-e2ee-v1") throw new Error("unexpected protocol " + v.protocol);
const devs = {};
for (const d of v.devices) {
  const k = await E.deviceKeysFromSeeds(d.account, d.kem, unhex(d.sigSeed), unhex(d.kemSeed), d.created);
  ok(k.id === d.id, `device ${d.name}: id`);
  ok(hex(k.record.sigPub) === d.sigPublic, `device ${d.name}: signing key`);
  ok(hex(k.record.kemPub) === d.kemPublic, `device ${d.name}: KEM key (${E.kemName(d.kem)})`);
  ok(hex(k.record.raw) === d.record, `device ${d.name}: record encoding`);
  const dec = await E.decodeDeviceRecord(unhex(d.record));
  ok(dec.id === d.id, `device ${d.name}: decodes`);
  devs[d.name] = k;
}
const dir = new E.Devices();
v.devices.forEach((d, i) => dir.add(devs[d.name].record, i));
await dir.computeTrust();
// Only an account's first device counts until another is endorsed.
ok(!dir.device("u_partya", devs["partyA-fallback"].id, -1), "a second device without an endorsement does not count");
for (const ve of v.endorsements) {
  const e = E.decodeEndorsement(unhex(ve.encoded));
  ok(e.case === ve.case && e.device === devs[ve.endorsed].id && e.byDev === devs[ve.signer].id, `endorsement of ${ve.endorsed}: decodes`);
  await E.verifyEndorsement(e, devs[ve.endorsed].record, devs[ve.signer].record);
  let refused = false;
  try { await E.verifyEndorsement(e, devs[ve.signer].record, devs[ve.signer].record); } catch { refused = true; }
  ok(refused, `endorsement of ${ve.endorsed}: does not verify for another record`);
  dir.endorse(e, 100);
}
await dir.computeTrust();
ok(!!dir.device("u_partya", devs["partyA-fallback"].id, -1), "a device linked by the account's first device counts");

// Revocations count only if signed by the revoked device or by a device of
// the account's own chain (first, or linked from one; never through a
// mediator's admission) that counted, unrevoked, before them in the log (as
// Go's Devices.Revoke), whatever the statement; the others are ignored.
const revs = [];
for (const vr of v.revocations) {
  const r = E.decodeRevocation(unhex(vr.encoded));
  ok(r.device === devs[vr.revoked].id && r.by === devs[vr.signer].id, `revocation of ${vr.revoked} by ${vr.signer}: decodes`);
  await E.verifyRevocation(r, devs[vr.signer].record);
  revs.push(r);
}
for (const l of v.revocationLogs) {
  const rd = new E.Devices();
  v.devices.forEach((d, i) => rd.add(devs[d.name].record, i));
  // The case's statement in force names l.mediators as its mediators: their admissions count.
  rd.admitFrom({ caseID: "c_vectorcase", latest: () => ({ people: (l.mediators ?? []).map((account) => ({ account, role: E.RoleMediator })) }) });
  for (const le of l.endorsements ?? []) rd.endorse(E.decodeEndorsement(unhex(v.endorsements[le.item].encoded)), le.index);
  for (const lr of l.revocations ?? []) rd.revoke(revs[lr.item], lr.index);
  // A server's flood: junk i (a device nobody linked) logged at 100+i, its revocation of itself at 200+i.
  const junk = [];
  for (const j of l.junk ?? []) {
    const rec = await E.decodeDeviceRecord(unhex(j.record)), r = E.decodeRevocation(unhex(j.revocation));
    await E.verifyRevocation(r, rec);
    junk.push({ rec, r });
  }
  const addJunk = (d) => junk.forEach(({ rec, r }, i) => { d.add(rec, 100 + i); d.revoke(r, 200 + i); });
  addJunk(rd);
  await rd.computeTrust();
  for (const { rec } of junk) ok(rd.revoked(rec.account, rec.id), `${l.what}: a junk device's revocation of itself counts`);
  for (const name of l.revoked ?? []) ok(!rd.device(devs[name].account, devs[name].id, -1) && rd.revoked(devs[name].account, devs[name].id), `${l.what}: ${name} is revoked`);
  for (const name of l.active ?? []) ok(!!rd.device(devs[name].account, devs[name].id, -1) && !rd.revoked(devs[name].account, devs[name].id), `${l.what}: ${name} is active`);
  for (const name of ["partyA", "partyA-fallback"]) {
    if (!(l.active ?? []).includes(name) && !(l.revoked ?? []).includes(name)) ok(!rd.device(devs[name].account, devs[name].id, -1), `${l.what}: ${name} does not count`);
  }
  // Revocation pins (as Go's Devices.CheckRevocations, on the same logs): a browser with none pins exactly the
  // revoked devices of the accounts' own chains (l.pinned), each at the index of the revocation that counted, and
  // refuses the same directory without its revocations, or with l.later's instead.
  const rp = {}, want = {};
  for (const p of l.pinned ?? []) (want[devs[p.name].account] ??= {})[devs[p.name].id] = p.index;
  const canon = (pins) => JSON.stringify(Object.keys(pins).sort().map((a) => [a, Object.keys(pins[a]).sort().map((id) => [id, pins[a][id]])]));
  rd.checkRevocations(rp);
  ok(canon(rp) === canon(want), `${l.what}: the revocations pinned are the revoked devices of the account's own chain, at their indexes (${JSON.stringify(rp)})`);
  const answer = async (revocations) => {
    const d = new E.Devices();
    v.devices.forEach((dv, i) => d.add(devs[dv.name].record, i));
    d.admitFrom({ caseID: "c_vectorcase", latest: () => ({ people: (l.mediators ?? []).map((account) => ({ account, role: E.RoleMediator })) }) });
    for (const le of l.endorsements ?? []) d.endorse(E.decodeEndorsement(unhex(v.endorsements[le.item].encoded)), le.index);
    for (const lr of revocations) d.revoke(revs[lr.item], lr.index);
    addJunk(d);
    await d.computeTrust();
    return d;
  };
  const refusedBy = (d) => { try { d.checkRevocations(rp); return false; } catch { return true; } };
  if ((l.pinned ?? []).length) ok(refusedBy(await answer([])), `${l.what}: the same directory without its revocations is refused`);
  if (l.later) {
    const later = await answer(l.later);
    for (const p of l.pinned ?? []) ok(later.revoked(devs[p.name].account, devs[p.name].id), `${l.what}: ${p.name} is revoked in the later answer (else the vector proves nothing)`);
    ok(refusedBy(later), `${l.what}: the later answer is refused`);
    ok(canon(rp) === canon(want), `${l.what}: the pins stay as they were after the refusal`);
    // Pins saved before they had an index (ids alone) take the index of the first answer that revokes the device.
    const old = E.revocationPinsFrom(Object.fromEntries(Object.entries(rp).map(([a, m]) => [a, Object.keys(m)])));
    ok((() => { try { return rd.checkRevocations(old); } catch { return false; } })() && canon(old) === canon(want),
      `${l.what}: pins saved without an index take this answer's (${JSON.stringify(old)})`);
    let oldRefused = false;
    try { later.checkRevocations(old); } catch { oldRefused = true; }
    ok(oldRefused, `${l.what}: and then refuse the later answer`);
  }
}

const chain = new E.Chain(v.statements[0].case);
for (const vs of v.statements) {
  const raw = await E.signStatement({ case: vs.case, seq: vs.seq, prev: unhex(vs.prev), created: vs.created, people: vs.people, rooms: vs.rooms }, devs[vs.signer]);
  ok(hex(raw) === vs.encoded, `statement ${vs.seq}: encoding`);
  const st = await E.decodeStatement(unhex(vs.encoded));
  ok(hex(st.hash) === vs.hash, `statement ${vs.seq}: hash`);
  await chain.extend(st, dir);
  ok(chain.length === vs.seq, `statement ${vs.seq}: extends the chain`);
  const rebuilt = E.statementFor(vs.case, vs.people, ["A", "B"], Object.fromEntries(vs.rooms.map((r) => [r.name, r.epoch])));
  ok(E.sameMembership(rebuilt, st), `statement ${vs.seq}: statementFor builds the same membership`);
}

// Each account's first device is pinned on first sight (as Go's
// Devices.CheckFirsts): an answer that leaves it out is refused.
const pins = {};
ok(dir.checkFirsts(pins) && pins.u_partya === devs.partyA.id && pins.u_partyb === devs.partyB.id, "first devices: pinned on first sight");
ok(!dir.checkFirsts(pins), "first devices: the same answer again changes nothing");
const omit = new E.Devices();
v.devices.forEach((d, i) => { if (d.name !== "partyA") omit.add(devs[d.name].record, i); });
await omit.computeTrust();
ok(!!omit.device("u_partya", devs["partyA-fallback"].id, -1), "an answer leaving the first device out makes another device first");
let forked = false;
try { omit.checkFirsts(pins); } catch { forked = true; }
ok(forked && pins.u_partya === devs.partyA.id, "first devices: an answer leaving the pinned first device out is refused");
// A device that counts only through a mediator's admission reads and
// writes, but its carried message (a consent) is refused.
dir.admitFrom(chain);
await dir.computeTrust();
ok(dir.ownChain("u_partya", devs["partyA-fallback"].id), "a linked device counts by its account's own chain");
const lostPhone = await E.deviceKeysFromSeeds("u_partyb", 32, new Uint8Array(32).fill(7), new Uint8Array(32).fill(9), 1767225600000);
const adm = new E.Devices();
adm.add(lostPhone.record, 0);
v.devices.forEach((d, i) => adm.add(devs[d.name].record, i + 1));
for (const ve of v.endorsements) adm.endorse(E.decodeEndorsement(unhex(ve.encoded)), 100);
adm.admitFrom(chain);
await adm.computeTrust();
ok(!!adm.device("u_partyb", devs.partyB.id, -1) && !adm.ownChain("u_partyb", devs.partyB.id), "an admitted device counts, but not by its account's own chain");
// An admission counts for a participant's device only: one onto a mediator's account does not.
const medPhone = await E.deviceKeysFromSeeds("u_mediator", 32, new Uint8Array(32).fill(3), new Uint8Array(32).fill(4), 1767225600000);
const mad = new E.Devices();
v.devices.forEach((d, i) => mad.add(devs[d.name].record, i));
mad.add(medPhone.record, 10);
mad.endorse(E.decodeEndorsement(await E.endorse(devs.mediator, medPhone.record, chain.caseID, 1767225603000)), 11);
for (const ve of v.endorsements) mad.endorse(E.decodeEndorsement(unhex(ve.encoded)), 100);
mad.admitFrom(chain);
await mad.computeTrust();
ok(!mad.device("u_mediator", medPhone.id, -1), "an admission onto a mediator's account does not count");
ok(!!mad.device("u_partyb", devs.partyB.id, -1), "an admission onto a participant's account counts");
const jointEpoch = chain.latest().rooms.find((r) => r.name === "joint").epoch;
const reader = new E.Session(devs.mediator, chain.caseID, chain, adm);
const writer = new E.Session(devs.partyB, chain.caseID, chain, adm);
for (const kd of await writer.prepare("joint", jointEpoch)) await reader.receive("joint", jointEpoch, "u_partyb", kd);
const plainMsg = await writer.encrypt("joint", { kind: E.KindText, text: "hello" });
ok((await reader.receive("joint", jointEpoch, "u_partyb", plainMsg)).plain.text === "hello", "an admitted device's message is read");
const consent = await writer.encrypt("joint", { kind: E.KindCarried, text: "I accept", carryID: "cr_vector", room: "caucus:B", ref: { epoch: 2, offset: 1 }, refHash: new Uint8Array(32), proposer: "u_mediator" });
let refusedConsent = "";
try { await reader.receive("joint", jointEpoch, "u_partyb", consent); } catch (e) { refusedConsent = String(e.message); }
ok(refusedConsent.includes("admitted by a mediator"), "a carried message from an admitted device is refused: " + refusedConsent);

const c = v.chain.context;
const sender = devs[c.sender];
const ctx = { case: c.case, room: c.room, epoch: c.epoch, statementSeq: c.statementSeq, account: sender.account, device: sender.id, chain: unhex(c.chain) };
const sc = new E.SenderChain(ctx, unhex(v.chain.steps[0].chainKey));
const rc = new E.ReceiverChain(ctx, unhex(v.chain.steps[0].chainKey), 0);
for (const s of v.chain.steps) {
  ok(sc.counter === s.counter, `step ${s.counter}: counter`);
  const r = await ratchet(unhex(s.chainKey));
  ok(hex(r.key) === s.messageKey && hex(r.nonce) === s.nonce && hex(r.next) === s.nextChainKey, `step ${s.counter}: derivations`);
  ok(hex(E.encodePlaintext({ kind: E.KindText, text: s.text })) === s.plaintext, `step ${s.counter}: plaintext encoding`);
  const payload = await sc.encrypt(sender, { kind: E.KindText, text: s.text });
  ok(hex(payload) === s.payload, `step ${s.counter}: payload`);
  const m = E.decodeMessage(unhex(s.payload));
  await E.verifyMessage(m, sender.record);
  const got = await rc.open(m);
  ok(got.text === s.text, `step ${s.counter}: opens to the text`);
}
// Replaying the last message is refused.
try { await rc.open(E.decodeMessage(unhex(v.chain.steps.at(-1).payload))); ok(false, "replay refused"); } catch (e) { ok(/replayed/.test(e.message), "replay refused"); }

const kd = E.decodeKeyDist(unhex(v.keyDist.payload));
await E.verifyKeyDist(kd, devs[v.keyDist.context.sender].record);
ok(kd.iteration === v.keyDist.iteration && hex(kd.ctx.chain) === v.keyDist.context.chain, "keydist: context");
for (const name of v.keyDist.recipients) {
  const r = await E.openKeyDist(kd, devs[name]);
  const m = E.decodeMessage(unhex(v.chain.steps[0].payload));
  ok((await r.open(m)).text === v.chain.steps[0].text, `keydist: ${name} (${E.kemName(devs[name].kemKey.kem)}) opens it and reads message 0`);
}
try { await E.openKeyDist(kd, devs.partyB); ok(false, "party B refused"); } catch (e) { ok(e instanceof E.NotForMe, "party B opens nothing of caucus:A's key distribution"); }

// A key distribution made here opens with the same code (Go opens them in the interop test).
const sc2 = E.SenderChain.fresh({ ...ctx });
const kds = await sc2.keyDist(sender, v.keyDist.recipients.map((n) => devs[n].record));
for (const name of v.keyDist.recipients) {
  const r = await E.openKeyDist(E.decodeKeyDist(kds[0]), devs[name]);
  const msg = await sc2.encrypt(sender, { kind: E.KindText, text: "round trip" });
  ok((await r.open(E.decodeMessage(msg))).text === "round trip", `keydist made here: ${name} opens it`);
}

const sn = v.safetyNumber;
const recs = (names) => names.map((n) => devs[n].record);
ok((await E.fingerprint(sn.a, recs(sn.aDevices))) === sn.fingerprintA, "safety: fingerprint A");
ok((await E.fingerprint(sn.b, recs(sn.bDevices))) === sn.fingerprintB, "safety: fingerprint B");
const num = await E.safetyNumber(sn.b, recs(sn.bDevices), sn.a, recs(sn.aDevices));
ok(num === sn.number && E.formatSafetyNumber(num) === sn.formatted, "safety: number");
// Safety numbers from a directory (as Go's checkSafetyDirectories): each account's active devices, a device a
// mediator admitted included (what the session's safetyNumber reads), and not once the admitting device is revoked.
ok((v.safetyDirectories ?? []).length > 0, "safety directories: present");
for (const sd of v.safetyDirectories ?? []) {
  const d = new E.Devices();
  v.devices.forEach((dv, i) => d.add(devs[dv.name].record, i));
  d.admitFrom({ caseID: "c_vectorcase", latest: () => ({ people: (sd.mediators ?? []).map((account) => ({ account, role: E.RoleMediator })) }) });
  for (const le of sd.endorsements ?? []) d.endorse(E.decodeEndorsement(unhex(v.endorsements[le.item].encoded)), le.index);
  for (const lr of sd.revocations ?? []) d.revoke(revs[lr.item], lr.index);
  await d.computeTrust();
  const names = (rs) => rs.map((r) => v.devices.find((dv) => dv.id === r.id)?.name).sort().join(",");
  const a = d.active(sd.a), b = d.active(sd.b);
  ok(names(a) === [...sd.aDevices].sort().join(",") && names(b) === [...sd.bDevices].sort().join(","), `${sd.what}: active devices (${names(a)} / ${names(b)})`);
  ok((await E.safetyNumber(sd.b, b, sd.a, a)) === sd.number, `${sd.what}: safety number`);
  // Who admitted each of A's admitted devices: the mediator of an admission that counts now (as Go's Devices.Admitted).
  const admittedNow = d.admitted(sd.a).map(({ rec, by }) => `${names([rec])}:${by}`).join(",");
  ok(admittedNow === (sd.aAdmitted ?? []).map((x) => `${x.device}:${x.by}`).join(","), `${sd.what}: admitted (${admittedNow})`);
}

for (const bad of v.invalid) {
  let err = null;
  try {
    const b = unhex(bad.payload);
    if (bad.type === "message") await E.verifyMessage(E.decodeMessage(b), sender.record);
    else if (bad.type === "statement") await E.decodeStatement(b);
    else if (bad.type === "device") await E.decodeDeviceRecord(b);
  } catch (e) { err = e; }
  ok(err && err.message.includes(bad.error), `invalid "${bad.what}": refused with "${bad.error}" (got ${err && err.message})`);
}
// Session-level checks on the vector case: where a payload is found, who
// posted it, which statement it names, replays — each refused with its reason.
const refused = async (f, reason, what) => {
  let err = null;
  try { await f(); } catch (e) { err = e; }
  ok(err && err.message.includes(reason), `${what}: refused with "${reason}" (got ${err && err.message})`);
};
const sessFor = (name) => new E.Session(devs[name], c.case, chain, dir);
const kdRaw = unhex(v.keyDist.payload), m0 = unhex(v.chain.steps[0].payload), m1 = unhex(v.chain.steps[1].payload);
const med = sessFor("mediator");
ok((await med.receive(c.room, c.epoch, sender.account, kdRaw)).delivered, "session: the mediator receives caucus A's key distribution");
ok((await med.receive(c.room, c.epoch, sender.account, m0)).plain.text === v.chain.steps[0].text, "session: and reads message 0");
await refused(() => med.receive(c.room, c.epoch, sender.account, m0), "replayed", "session: message 0 again");
await refused(() => med.receive("caucus:B", c.epoch, sender.account, m1), "does not belong here", "session: a caucus A message moved to caucus B");
await refused(() => med.receive(c.room, c.epoch + 1, sender.account, m1), "does not belong here", "session: a message moved to another epoch");
await refused(() => med.receive(c.room, c.epoch, "u_partyb", m1), "does not belong here", "session: a message the server attributes to someone else");
ok((await med.receive(c.room, c.epoch, sender.account, m1)).plain.text === v.chain.steps[1].text, "session: message 1 still opens after the refusals");
const b = sessFor("partyB");
const rb = await b.receive(c.room, c.epoch, sender.account, kdRaw);
ok(rb.keyDist && !rb.delivered, "session: party B's device gets nothing from caucus A's key distribution");
await refused(() => b.receive(c.room, c.epoch, sender.account, m0), "no key for this message", "session: party B cannot read caucus A");
const a = sessFor("partyA");
const dists = await a.prepare("caucus:A", 2);
const recips = E.decodeKeyDist(dists[0]).recipients.map((r) => r.device).sort();
const want = ["mediator", "partyA", "partyA-fallback"].map((n) => devs[n].id).sort();
ok(JSON.stringify(recips) === JSON.stringify(want), "session: party A keys caucus A for the mediator's and side A's devices only");
await refused(() => sessFor("partyB").prepare("caucus:A", 2), "not a member", "session: party B may not send in caucus A");
await refused(() => a.prepare("caucus:A", 3), "no signed membership", "session: nobody keys an epoch no mediator signed");

// A sealed room's entry: the same encoding and commitment (the slot a statement holds) as Go's.
const re = v.roomEntry;
const enc = E.encodeRoomEntry({ case: re.case, room: re.room, kind: re.kind, members: re.members, salt: unhex(re.salt) });
ok(hex(enc) === re.encoded, "room entry: encoding");
const de = await E.decodeRoomEntry(unhex(re.encoded));
ok(de.slot === re.slot && E.isSealedSlot(de.slot) && de.room === re.room && de.members.join() === re.members.join(), "room entry: decodes to its slot");
await refused(() => E.decodeRoomEntry(E.encodeRoomEntry({ ...de, members: [...de.members].reverse() })), "not sorted", "room entry: unsorted members");
ok(await E.roomIdFor(unhex(re.salt)) === E.definedRoom(re.room).id, "room entry: its name is the one its salt gives (as Go's RoomIDFor)");
await refused(() => E.decodeRoomEntry(E.encodeRoomEntry({ ...de, room: "cross:r1" })), "salt does not give", "room entry: an opening under a name its salt does not give");

// A sealed room in a chain: the statement holds only the slot; the entry places the room with its people;
// an entry with a member added (no statement commits to it) or reusing the name is refused.
const sealedChain = new E.Chain(c.case);
for (const vs of v.statements) await sealedChain.extend(await E.decodeStatement(unhex(vs.encoded)), dir);
const last = sealedChain.latest();
const opening = await E.newRoomOpening(c.case, false, ["u_partya", "u_mediator"]);
const r2 = opening.room;
const s2 = await E.decodeStatement(await E.signStatement({ case: c.case, seq: last.seq + 1, prev: last.hash, created: last.created + 1, people: last.people,
  rooms: [...last.rooms, { name: opening.slot, epoch: 1, members: [] }] }, devs.mediator));
ok(!new TextDecoder().decode(s2.raw).includes(r2), "sealed room: the statement does not name it");
await sealedChain.extend(s2, dir);
ok(!E.roomOf(sealedChain.latest(), r2), "sealed room: unknown without its entry");
await sealedChain.addEntry(opening.raw);
ok(E.roomOf(sealedChain.latest(), r2)?.members.join() === "u_mediator,u_partya", "sealed room: its entry places it with its people");
const twin = await E.decodeRoomEntry(E.encodeRoomEntry({ ...opening, members: ["u_mediator", "u_partya", "u_partyb"] }));
await refused(async () => sealedChain.addEntry(twin.raw), "unknown membership statement", "sealed room: an entry with a member added");
await refused(() => new E.Session(devs.partyB, c.case, sealedChain, dir).prepare(r2, 1), "not a member", "sealed room: party B may not send in it");
// A second opening of the name, signed (only someone holding the first one's salt could make it): the room is
// placed by no statement any more, and addEntries reports it (Go: ErrRoomConflict).
const l2 = sealedChain.latest();
await sealedChain.extend(await E.decodeStatement(await E.signStatement({ case: c.case, seq: l2.seq + 1, prev: l2.hash, created: l2.created + 1, people: l2.people,
  rooms: [...l2.rooms, { name: twin.slot, epoch: 1, members: [] }] }, devs.mediator)), dir);
ok(E.isRoomConflict(await sealedChain.addEntries([twin.raw])) && !E.roomOf(sealedChain.latest(), r2), "sealed room: a second opening of its name drops it and is reported");
// A case's first statement names exactly one mediator, its signer (Go: checkGenesis): each chain is extended from
// empty; error "" means every statement is accepted.
ok((v.genesis ?? []).length > 0, "genesis vectors present");
for (const g of v.genesis) {
  let err = null, chain = null;
  try {
    for (const raw of g.statements) {
      const st = await E.decodeStatement(unhex(raw));
      chain ??= new E.Chain(st.case);
      await chain.extend(st, dir);
    }
  } catch (e) { err = e; }
  if (g.error === "") ok(!err && chain.length === g.statements.length, `genesis "${g.what}": accepted (got ${err && err.message})`);
  else ok(err && err.message.includes(g.error), `genesis "${g.what}": refused with "${g.error}" (got ${err && err.message})`);
}
// Who may sign a case's first statement (api.Opener; TestOpenerVectors in Go).
ok((v.opener ?? []).length >= 5, "opener vectors present");
for (const o of v.opener) {
  const got = E.opener(o.createdBy, o.mediators);
  ok(got === o.want, `opener "${o.what}": ${JSON.stringify(got)}, want ${JSON.stringify(o.want)}`);
}
return checks;
}
