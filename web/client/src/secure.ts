// SecureCase: one browser device's end-to-end encrypted connection to a
// case's rooms, the browser twin of Go's client.SecureChat. History is paged
// over HTTP, then the WebSocket resumes each room after the last position
// delivered; every payload is checked and decrypted here, and only
// ciphertext (key distributions and messages) is ever sent.
import { api, APIError, Case, casePath, plainWords, Pos, saysInternal, WireMessage } from "./api";
import type { Carry, ClientFrame, FloorView, ServerFrame } from "./wire_gen";
import { CloseAccessLost, CloseSessionEnded, CloseTooManySockets } from "./wire_gen";
import * as E from "./e2ee";
import { loadPins, loadShared, updatePins } from "./store";
import { verifyProven } from "./tlog";
import { b64, E2EEError, hex, unb64 } from "./wire";

export interface SecureEvent {
  room: string;
  pos: Pos;
  at: number;
  from: string;
  id: string;
  kind?: number;
  text?: string;
  plain?: E.Plaintext;
  hash?: string; // sha256 hex of the payload
  rejected?: string;
  /** The sender is a mediator in the signed statement its keys were issued under (never the case record). */
  fromMediator?: boolean;
}

export type Status = "connecting" | "live" | "reconnecting" | "closed";

/**
 * What the page says when the server refused its connection because this browser (its sign-in) or this person
 * already has as many open as a node allows (close 4029): reconnect() tries again when the person presses Reconnect,
 * and the page tries once by itself after TOO_MANY_RETRY_MS (connections of this browser that dropped without the
 * server knowing, on a change of network, keep their places until the server's ping misses them, 45 s).
 */
export const TOO_MANY_RETRY_MS = 50000;
export const tooManyTabsWords = "Parley is open in too many browser tabs on this device. Close the other Parley tabs, then press Reconnect.";
/** The same, when this person's tabs on all their devices together are too many (the close's reason says "account"). */
export const tooManyDevicesWords = "Parley is open in too many tabs on your devices. Close some, here or on your other devices, and press Reconnect.";

/**
 * A check of the case's keys failed (what this browser verified before is contradicted, or the server's answer
 * does not verify): the case is not used on this device. what says what happened in plain words, for the person;
 * technical, for the program, sits behind "Technical details" on the alarm screen (app.ts showSecurityStop). The
 * message is a whole sentence in plain words too, for any screen that shows only that.
 */
export class SecurityStop extends Error {
  constructor(readonly what: string, readonly technical: string, mediator = false) {
    super(what + ". This browser will not use this case until that is resolved: " + tellWhom(mediator) + " (by phone) and do not write in this case here meanwhile");
  }

  /** The same stop, worded for a mediator of the case (who tells the program, not "your mediator"). */
  forMediator(): SecurityStop {
    return new SecurityStop(this.what, this.technical, true);
  }
}

/** Whom a person tells when a check fails: a party their mediator; a mediator the program's administration. */
export function tellWhom(mediator: boolean): string {
  return mediator ? "tell the program's administration" : "tell your mediator";
}

/** What a party is told while their message waits for a mediator's device to admit the room's newest members. */
export const PendingNotice = "Your message will be sent when your mediator connects. You can keep writing; keep this page open.";

const before = (a: Pos, b: Pos) => a.epoch < b.epoch || (a.epoch === b.epoch && a.offset < b.offset);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomID = (prefix: string) => prefix + hex(crypto.getRandomValues(new Uint8Array(12)));

function carryID(): string {
  // ids.New("cr"): "cr_" + 26 lower-case base32 characters (16 random bytes).
  const a = "abcdefghijklmnopqrstuvwxyz234567";
  const b = crypto.getRandomValues(new Uint8Array(26));
  return "cr_" + Array.from(b, (x) => a[x & 31]).join("");
}

/** The proposal does not name what the mediator registered with the server for its carry: nothing was carried. */
/**
 * Why a send failed when the server did not confirm it within a minute:
 * it may have been stored all the same (the confirmation lost on the
 * way), so the words never say "not sent", and they say what to do. The
 * composer (app.ts) says it in a sentence of its own, the text kept in
 * the box.
 */
export const unconfirmedWords = "Parley did not confirm your message in time, so it may or may not have arrived; if it does not appear in the room within a minute, send it again";

/** Why a check of who is in the case and their devices failed when the server did not answer it in time. */
export const refreshTimeoutWords = "the server did not answer in time while this page checked who is in this case; try again in a moment, and reload the page if it keeps happening";

export class CarryMismatch extends Error {
  constructor() {
    super("This proposal does not match what the mediator registered, so nothing was carried. Ask your mediator to propose it again.");
    this.name = "CarryMismatch";
  }
}

export class SecureCase {
  sess!: E.Session;
  c!: Case;
  rooms: string[] = [];
  mediator = false;
  status: Status = "connecting";
  onEvent: (ev: SecureEvent) => void = () => {};
  onStatus: (s: Status, detail?: string) => void = () => {};
  onNotice: (text: string) => void = () => {};
  onCase: (c: Case) => void = () => {};
  /**
   * The server refused to follow room on this connection (it could not, just then) and asking again did not help
   * (subRetries): the room's new messages do not reach this page until it reconnects or is reloaded.
   */
  onRoomStalled: (room: string) => void = () => {};
  /** A room onRoomStalled named follows again (a reconnection subscribed it). */
  onRoomResumed: (room: string) => void = () => {};
  private stalled = new Set<string>();
  /** Whether a connection of this page has opened before (the next one is a reconnection). */
  private connectedBefore = false;
  /** The page has tried once by itself since the server last refused a connection for too many open (4029). */
  private triedAfterTooMany = false;
  onPresence: (room: string) => void = () => {};
  /** The case's room controls changed (floor.ts): what this person sees now. */
  onFloor: (v: FloorView) => void = () => {};
  /** Who is connected to each room now (the server's presence, not a secret from it). */
  readonly present = new Map<string, Set<string>>();

  private epochs = new Map<string, number>();
  private pos = new Map<string, Pos>();
  private seenIDs = new Set<string>();
  readonly seen = new Map<string, SecureEvent>(); // room|epoch|offset → decrypted message
  private queue: Promise<void> = Promise.resolve();
  private ws: WebSocket | null = null;
  // Each unacknowledged pub, with the epoch its body was encrypted for.
  private pending = new Map<string, { room: string; body: string; epoch: number; resolve: (p: Pos) => void; reject: (e: Error) => void }>();
  private closed = false;
  private retryingSign = false;
  /** The subscribes the server answered "could not subscribe; try again" on this connection, by room: how many so far. */
  private subRefusals = new Map<string, number>();
  private sendLock: Promise<unknown> = Promise.resolve();
  private signing: Promise<void> | null = null;
  private signAgain = false;
  /** The co-mediator this mediator just confirmed (admitMediator): the next statement admits them. */
  private admitting = "";
  /** Called after each signing with the mediators the case record lists that no statement admits yet. */
  onPendingMediators: (pending: { accountId: string; name: string }[]) => void = () => {};
  /** Called when a check of the case's keys fails (SecurityStop), before the failure reaches whoever asked. */
  onStop: (e: SecurityStop) => void = () => {};
  private lastRefresh = 0;
  /** Defined rooms this mediator is opening: signed with the next statement (rooms.ts). */
  private opening: E.RoomMembers[] = [];
  private openingRoom = 0;

  /**
   * Fetches the membership chain again (rooms.ts, when the server lists a room no statement names
   * yet), in turn with the room work of this case and never while this device signs a room or a
   * statement.
   */
  syncChain(): Promise<void> {
    if (this.openingRoom > 0 || this.signing) return Promise.resolve();
    return this.enqueue(() => this.refresh());
  }

  /**
   * Reads each of this person's rooms from the server up to its head, then fetches the membership chain again
   * (syncChain), before a document key is wrapped (app.ts e2ee). The epochs readersInForce compares the latest
   * statement with otherwise come from the live stream alone: a dropped connection or a fan-out event the server
   * lost leaves a room's epoch stale, and a wrap would go under a statement the server has sealed the room past
   * (one still naming a recused mediator's device; review 404 M2). History pages past a seal into the next epoch.
   * Fails when a room cannot be read, so nothing is wrapped on what this device could not check.
   */
  async syncRooms(): Promise<void> {
    // A signing under way is waited out, not skipped: a wrap would else go on epochs never read again (review 408).
    if (this.signing) await this.signing.catch(() => {});
    if (this.openingRoom > 0) return;
    let failed: unknown = null;
    await this.enqueue(async () => {
      try {
        for (const room of this.rooms) if (this.pos.has(room)) await this.catchUp(room, null);
        await this.refresh();
      } catch (e) { failed = e; }
    });
    if (failed) throw failed;
  }

  constructor(public caseID: string, public me: E.DeviceKeys) {}

  /**
   * Fetches and verifies the devices and the membership chain (against what this browser pinned). One at a time: a
   * caller while one runs waits for the next, which starts when that one ends and is shared by every caller
   * meanwhile (so it sees what changed after they asked). Overlapping checks would each save what they saw, and an
   * older one finishing last would take the pins back.
   */
  refresh(): Promise<void> {
    if (this.refreshNext) return this.refreshNext;
    if (!this.refreshing) return this.startRefresh();
    const next = this.refreshing.catch(() => {}).then(() => {
      this.refreshNext = null;
      return this.startRefresh();
    });
    this.refreshNext = next;
    return next;
  }

  private refreshing: Promise<void> | null = null;
  private refreshNext: Promise<void> | null = null;

  private startRefresh(): Promise<void> {
    const p: Promise<void> = this.refreshOnce().finally(() => { if (this.refreshing === p) this.refreshing = null; });
    this.refreshing = p;
    return p;
  }

  /**
   * How long one check may take (ms) before it is given up, its requests aborted: refreshes run one at a time, so a
   * server that never answers one must not hold every later check (a send, the devices screen, the agreement).
   */
  refreshTimeoutMs = 60_000;

  /** One check, bounded by refreshTimeoutMs: past it, it fails with refreshTimeoutWords and commits nothing more. */
  private async refreshOnce(): Promise<void> {
    const ctl = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => { ctl.abort(); reject(new Error(refreshTimeoutWords)); }, this.refreshTimeoutMs);
    });
    const check = this.check(ctl.signal);
    check.catch(() => {}); // past the deadline its own failure (the aborted requests) is no one's
    try {
      await Promise.race([check, late]);
    } catch (e) {
      if (e instanceof SecurityStop) {
        const stop = this.mediator ? e.forMediator() : e;
        this.onStop(stop);
        throw stop;
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  private async check(signal: AbortSignal): Promise<void> {
    const wait = 500 - (Date.now() - this.lastRefresh);
    if (wait > 0) await sleep(wait);
    this.lastRefresh = Date.now();
    const pins = await loadPins(this.me.account);
    const devP = await api.caseDevices(this.caseID, pins.logSize ?? 0, signal);
    const devV = await verifyProven(devP, pins).catch((e: unknown) => {
      throw new SecurityStop("the server's record of the devices in this case does not match the one this browser checked before", "key-directory: " + errorText(e));
    });
    const dir = new E.Devices();
    for (const d of devV.devices) dir.add(d.rec, d.index);
    for (const r of devV.revocations) {
      const by = dir.record(r.rev.account, r.rev.by);
      if (!by) throw new Error(`revocation by unknown device ${r.rev.by}`);
      await E.verifyRevocation(r.rev, by);
      dir.revoke(r.rev, r.index); // counts only if by is the revoked device or an own-chain device that counted then (computeTrust)
    }
    for (const e of devV.endorsements) dir.endorse(e.e, e.index);
    await dir.computeTrust();
    const stP = await api.statements(this.caseID, devV.size, signal);
    const stV = await verifyProven(stP, { logKey: devP.key, logSize: devV.size, logCheckpoint: devV.checkpoint }).catch((e: unknown) => {
      throw new SecurityStop("the server's record of who is in this case does not match its record of the devices in it", "statements: " + errorText(e));
    });
    const chain = new E.Chain(this.caseID);
    for (const st of stV.statements) {
      await chain.extend(st, dir).catch((e: unknown) => {
        throw new SecurityStop("the server shows a change to who is in this case that this browser cannot confirm a mediator of this case made", `statement ${st.seq}: ` + errorText(e));
      });
    }
    if (chain.length) {
      // The sealed rooms this person is in: the statements hold only commitments to their entries, which the
      // server gives to each room's members only; an entry no statement commits to, or that breaks a rule, is
      // left out (its room is not shown). What this page saw before stays seen (a closing cannot be undone).
      // What this page held goes in first, so it takes precedence over the server's list; a room opened twice
      // (with different people) stops the page.
      const defined = await api.definedRooms(this.caseID, signal).catch(() => []); // without it, no sealed room is shown
      const held = [...(this.sess?.chain.entries() ?? []), ...(pins.cases?.[this.caseID]?.entries ?? []).map((x) => unb64(x))];
      for (const entries of [held, defined.flatMap((d) => (d.entries ?? []).map((x) => unb64(x)))]) {
        if (E.isRoomConflict(await chain.addEntries(entries))) {
          throw new SecurityStop("the server shows one of your rooms opened twice, with different people in it",
            "room-opened-twice: two signed entries open the same sealed room with different members");
        }
      }
    }
    dir.admitFrom(chain); // the case's mediators may admit participants' new devices
    await dir.computeTrust();
    // Trust on first use: the first statement, and every statement seen before, must stay.
    const cases = { ...(pins.cases ?? {}) };
    const pin = cases[this.caseID];
    if (pin) {
      const first = chain.get(1), old = chain.get(pin.seq);
      if (!first || hex(first.hash) !== pin.first) throw new SecurityStop("the server now shows a different record of who was in this case from the start than the one this browser checked before",
        `first-statement-changed: pinned ${pin.first.slice(0, 16)}…, server ${first ? hex(first.hash).slice(0, 16) + "…" : "none"}`);
      if (!old || hex(old.hash) !== pin.latest) throw new SecurityStop("the server no longer shows the record of who is in this case that this browser checked before: it was changed or removed",
        `statement-changed: statement ${pin.seq} pinned ${pin.latest.slice(0, 16)}…, server ${old ? hex(old.hash).slice(0, 16) + "…" : "none"}`);
    }
    // Trust on first use of each account's first device: an answer that
    // leaves it out (making another device "first") is refused.
    const firsts = { ...(pins.firsts ?? {}) };
    try {
      dir.checkFirsts(firsts);
    } catch (e) {
      throw new SecurityStop("the server's list of devices leaves out the first device of someone in this case, or shows another one in its place",
        "first-device-changed: " + errorText(e));
    }
    // Each revocation this browser verified stays: an answer that shows a revoked device as working again (the server
    // left its revocation out) is refused, so nothing is sealed to a lost device.
    // Each pinned with the index of the revocation that counted: a later one (the lost device's own) does not stand in
    // for it. Pins saved before they had an index take the index of this answer's revocation.
    const revoked = E.revocationPinsFrom(pins.revoked);
    try {
      dir.checkRevocations(revoked);
    } catch (e) {
      if (e instanceof E2EEError && e.kind === "too many revocations") throw new Error(E.tooManyRevocationsWords);
      throw new SecurityStop("the server now shows a device as working again that someone in this case took out of use (this browser saw it taken out of use before)",
        "revocation-left-out: " + errorText(e));
    }
    if (this.sess && chain.length < this.sess.chain.length) throw new SecurityStop("the server now shows fewer changes to who is in this case than this browser already checked",
      `chain-shorter: server ${chain.length} statements, this page ${this.sess.chain.length}`);
    const latest = chain.latest();
    if (latest) cases[this.caseID] = { first: hex(chain.get(1)!.hash), seq: latest.seq, latest: hex(latest.hash), entries: chain.entries().map((x) => b64(x)) };
    // Merged with the pins saved now (another tab may have saved newer ones meanwhile): nothing moves back. A check
    // given up (refreshOnce) takes nothing: a later one may have run meanwhile.
    signal.throwIfAborted();
    await updatePins(this.me.account, { logKey: devP.key, logSize: stV.size, logCheckpoint: stV.checkpoint, cases, firsts, revoked });
    signal.throwIfAborted();
    if (!this.sess) {
      this.sess = new E.Session(this.me, this.caseID, chain, dir);
      this.sess.addShared(await loadShared(this.me.account)); // chains another device of this account handed over
    }
    else { this.sess.chain = chain; this.sess.dir = dir; }
  }

  /** Whether account is a mediator in the verified membership statement seq (default: the latest). */
  signedMediator(account: string, seq?: number): boolean {
    const st = seq === undefined ? this.sess?.chain.latest() : this.sess?.chain.get(seq);
    return !!st?.people.some((p) => p.account === account && p.role === E.RoleMediator);
  }

  /**
   * Who holds room's keys by the verified chain: the latest statement's members of room, when that
   * statement is the one a send would encrypt for (the server has not sealed the room past it); undefined
   * when no statement names the room or a send waits for a mediator to sign the next one. What the
   * screens say about a room must not leave any of them out, whatever the case record says.
   */
  readersInForce(room: string): string[] | undefined {
    const st = this.sess?.chain.latest();
    const r = st ? E.roomOf(st, room) : undefined;
    if (!r || r.epoch < (this.epochs.get(room) ?? 1)) return undefined;
    return r.members;
  }

  async open(): Promise<void> {
    this.c = await api.getCase(this.caseID);
    this.mediator = this.c.mediators.some((m) => m.accountId === this.me.account && !m.recused);
    const views = await api.rooms(this.caseID);
    this.rooms = views.map((r) => r.name);
    for (const v of views) this.present.set(v.name, new Set(v.present ?? []));
    await this.refresh();
    if (!this.sess.dir.device(this.me.account, this.me.id, -1)) {
      // The directory does not know this browser's device (a server reset,
      // or registration cut short): register it again.
      await registerDevice(this.me, this.mediator);
      this.lastRefresh = 0;
      await this.refresh();
    }
    // Read each room from the first epoch any statement gives it (older
    // epochs were never keyed for this case's membership chain).
    for (const room of this.rooms) {
      let first = 1;
      for (const st of this.sess.chain.stmts) {
        const r = E.roomOf(st, room);
        if (r) { first = r.epoch; break; }
      }
      this.pos.set(room, { epoch: first, offset: 0 });
      this.epochs.set(room, first);
    }
    for (const room of this.rooms) await this.catchUp(room, null);
    if (this.mediator) await this.signSoon();
    this.connect();
  }

  /**
   * Connects again after the server refused the connection for too many open (tooManyTabsWords): the person closed
   * some tabs and pressed Reconnect. Nothing happens while a connection is open or being made, or once closed.
   */
  reconnect(): void {
    if (this.closed || (this.ws && this.ws.readyState !== WebSocket.CLOSED)) return;
    this.setStatus("connecting");
    this.connect();
  }

  close(): void {
    this.closed = true;
    this.ws?.close();
    this.setStatus("closed");
  }

  private setStatus(s: Status, detail?: string) {
    this.status = s;
    this.onStatus(s, detail);
  }

  private enqueue(f: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(f).catch((e: unknown) => {
      console.warn("while handling what the server sent:", e); // the technical reason, for the browser's console
      this.onNotice(noticeWords(e, this.mediator));
    });
    return this.queue;
  }

  /** Whether this browser's device counts (the account's first, or linked, or admitted). */
  counted(): boolean { return !!this.sess.dir.device(this.me.account, this.me.id, -1); }

  /** Every chain key this device was given in this case (to hand to a new device of this account). */
  async chainsToShare(): Promise<E.SharedChain[]> {
    const rooms = new Set<string>();
    for (const st of this.sess.chain.stmts) for (const r of E.allRooms(st)) if (r.members.includes(this.me.account)) rooms.add(r.name);
    const out = (await loadShared(this.me.account)).filter((c) => c.ctx.case === this.caseID);
    for (const room of rooms) {
      let from: Pos = { epoch: 1, offset: 0 };
      for (let i = 0; i < 10000; i++) {
        const page = await api.history(this.caseID, room, from);
        for (const m of page.messages) {
          const body = unb64(m.body);
          if (body.length < 4 || body[3] !== 0x03) continue; // key distributions only
          const sc = await this.sess.share(room, m.epoch, m.from, body).catch(() => null);
          if (sc) out.push(sc);
        }
        if (!before(from, page.next)) break;
        from = page.next;
      }
    }
    return out;
  }

  /**
   * Every chain key this device holds in every case of the account, to hand to a new device of the account (docs/
   * protocol.md, "Linking from a device you have"): this case first, then the others as the server lists them. A
   * case goes whole or not at all: one whose chains would take the share past MaxSharedChains, or that this browser
   * cannot check or read just now, is left out, and counted in left (the new device reads that case only onward).
   * No other case is started after until (ms since the epoch: the pairing must still be open to complete it); those
   * are left out too.
   */
  async chainsOfAccount(until = Infinity): Promise<{ chains: E.SharedChain[]; cases: number; left: number }> {
    const chains = await this.chainsToShare();
    if (chains.length > E.MaxSharedChains) throw new Error("this mediation has more conversations than one device can hand to another");
    let cases = 1, left = 0;
    for (const k of await api.cases()) {
      if (k.id === this.caseID) continue;
      if (Date.now() >= until) { left++; continue; }
      try {
        const other = new SecureCase(k.id, this.me);
        await other.refresh();
        const cc = other.counted() ? await other.chainsToShare() : [];
        if (chains.length + cc.length > E.MaxSharedChains) { left++; continue; }
        chains.push(...cc);
        cases++;
      } catch (e) {
        console.warn("the keys of another case could not be gathered for the new device:", e); // for the console
        left++;
      }
    }
    return { chains, cases, left };
  }

  /** Pages a room's history after its position (up to head, if given). */
  private async catchUp(room: string, head: Pos | null): Promise<void> {
    for (let i = 0; i < 10000; i++) {
      const from = this.pos.get(room)!;
      if (head && !before(from, head)) return;
      const page = await api.history(this.caseID, room, from);
      for (const m of page.messages) await this.deliver(room, m);
      if (!before(from, page.next)) return;
      if (before(this.pos.get(room)!, page.next)) this.pos.set(room, page.next);
      const known = this.epochs.get(room) ?? 1;
      this.epochs.set(room, Math.max(known, page.next.epoch));
      if (page.next.epoch > known) {
        // Paged past a seal (a history page ends at the next epoch's start): what its live frame does, since
        // that frame, arriving after, now finds the room past it (review 408): the case record read again, and
        // a mediator's device signs the new epoch.
        void api.getCase(this.caseID).then((c) => { this.c = c; this.onCase(c); }).catch(() => {});
        if (this.mediator) void this.signSoon();
      }
    }
  }

  private connect(attempt = 0): void {
    if (this.closed) return;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + casePath(this.caseID) + "/ws";
    const ws = new WebSocket(url);
    this.ws = ws;
    // The backoff starts again only after a connection that worked: the
    // server sent a frame, or it stayed open 10 s. One the server accepts
    // and drops at once (a node in trouble) is retried with the growing
    // delay, not every 250 ms.
    let opened = false;
    let openedAt = 0;
    ws.onopen = () => {
      openedAt = Date.now();
      // Back after a dropped connection: a seal missed meanwhile (someone
      // joined or left) reaches this page only as history, so the case
      // record (names, sides) is read again.
      if (this.connectedBefore) void api.getCase(this.caseID).then((c) => { this.c = c; this.onCase(c); }).catch(() => {});
      this.connectedBefore = true;
      this.triedAfterTooMany = false;
      this.subRefusals.clear(); // a new connection asks for every room afresh
      for (const room of this.rooms) ws.send(JSON.stringify({ t: "sub", room, from: this.pos.get(room) } satisfies ClientFrame));
      this.setStatus("live");
      // Unacknowledged messages go again (receivers drop duplicates by sender and id).
      for (const [id, p] of this.pending) ws.send(JSON.stringify({ t: "pub", room: p.room, id, body: p.body, epoch: p.epoch } satisfies ClientFrame));
    };
    ws.onmessage = (e) => {
      opened = true;
      // The server sends only ServerFrames (package api); a frame of a
      // kind this client does not know is ignored by frame's switch.
      const f = JSON.parse(e.data as string) as ServerFrame;
      // A refused subscribe counts against the connection that sent it: one
      // of a connection since replaced (handled after the new one opened
      // and asked for every room) is dropped.
      this.enqueue(async () => { if (f.t !== "error" || f.refused !== "sub" || this.ws === ws) await this.frame(f); });
    };
    ws.onclose = (e) => {
      if (this.ws !== ws || this.closed) return;
      if (e.code === CloseSessionEnded || e.code === CloseAccessLost) {
        this.setStatus("closed", e.code === CloseSessionEnded ? "Your session ended. Sign in again." : "Your access to this case ended.");
        return;
      }
      // Too many of this browser's (or this person's) connections are open on the server: trying again by itself
      // would only be refused again while the other tabs stay open, so the person is asked to close some first.
      if (e.code === CloseTooManySockets) {
        this.setStatus("closed", e.reason.includes("account") ? tooManyDevicesWords : tooManyTabsWords);
        // Once by itself, after the server has let go of connections that dropped unseen (a new network):
        // those need no tab closed. Refused again, it waits for Reconnect.
        if (!this.triedAfterTooMany) {
          this.triedAfterTooMany = true;
          setTimeout(() => { if (this.ws === ws) this.reconnect(); }, TOO_MANY_RETRY_MS);
        }
        return;
      }
      const n = opened || (openedAt > 0 && Date.now() - openedAt > 10000) ? 0 : attempt + 1;
      // Giving up is for a server that cannot be reached at all: one that
      // opened the connection is retried (every 4 s at most) for as long
      // as the page is open.
      if (n > 120 && openedAt === 0) { this.setStatus("closed", "Cannot reach the server. Reload the page to try again."); return; }
      this.setStatus("reconnecting");
      setTimeout(() => this.connect(n), Math.min(250 * 2 ** Math.min(n, 4), 4000));
    };
  }

  private async frame(f: ServerFrame): Promise<void> {
    switch (f.t) {
      case "subscribed":
        this.subRefusals.delete(f.room);
        if (this.stalled.delete(f.room)) this.onRoomResumed(f.room);
        if (f.head) {
          const known = this.epochs.get(f.room) ?? 1;
          this.epochs.set(f.room, Math.max(known, f.head.epoch));
          // The room moved on (someone joined) while this mediator's page was
          // loading: sign now, not only when the mediator next posts there.
          if (this.mediator && f.head.epoch > known) void this.signSoon();
        }
        break;
      case "reload":
        // Subscribed too (the server pages the gap over HTTP instead of
        // sending it): the room is live again, as after "subscribed".
        this.subRefusals.delete(f.room);
        if (this.stalled.delete(f.room)) this.onRoomResumed(f.room);
        if (f.head) this.epochs.set(f.room, Math.max(this.epochs.get(f.room) ?? 1, f.head.epoch));
        await this.catchUp(f.room, f.head);
        break;
      case "msgs":
        for (const m of f.ms ?? []) await this.deliver(f.room, m);
        break;
      case "seal": {
        const p = this.pos.get(f.room);
        if (f.seal && f.seal.next === f.epoch + 1 && p && before(p, { epoch: f.seal.next, offset: 0 })) {
          this.pos.set(f.room, { epoch: f.seal.next, offset: 0 });
          this.epochs.set(f.room, Math.max(this.epochs.get(f.room) ?? 1, f.seal.next));
          // Someone joined or left: the case record (names, sides) changed.
          void api.getCase(this.caseID).then((c) => { this.c = c; this.onCase(c); }).catch(() => {});
          if (this.mediator) void this.signSoon();
        }
        break;
      }
      case "floor":
        if (f.floor) this.onFloor(f.floor);
        break;
      case "presence": {
        const set = this.present.get(f.room) ?? new Set<string>();
        if (f.here) set.add(f.user);
        else set.delete(f.user);
        this.present.set(f.room, set);
        this.onPresence(f.room);
        break;
      }
      case "ack": {
        const p = this.pending.get(f.id);
        if (p && f.m) { this.pending.delete(f.id); p.resolve({ epoch: f.m.epoch, offset: f.m.offset }); }
        break;
      }
      case "error": {
        if (f.refused === "sub") {
          if (f.room) this.subRefused(f.room, f.code);
          break;
        }
        const p = f.id ? this.pending.get(f.id) : undefined;
        if (!p || !f.id) break;
        if (f.code === "unavailable") {
          // Not stored this time: the same frame goes again shortly (the
          // server drops a duplicate by sender and id), until the send's
          // 60 s run out or a reconnection sends it anyway.
          const id = f.id;
          setTimeout(() => {
            const q = this.pending.get(id);
            if (q && this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ t: "pub", room: q.room, id, body: q.body, epoch: q.epoch } satisfies ClientFrame));
          }, 1000);
          break;
        }
        this.pending.delete(f.id);
        console.warn("message refused by the server:", f.code, f.detail); // the technical reason, for the browser's console
        // "moved": a seal came first and nothing was stored; sendNow encrypts again.
        p.reject(f.code === "moved" ? new EpochMoved(f.epoch ?? 0)
          : new Error(f.code === "forbidden" ? "you cannot write in this room any more (it was closed, or who may be in it changed); reload the page to see where you can write"
            : "the server could not take this message as it was sent; reload the page and send it again"));
        break;
      }
    }
  }

  /**
   * The server did not take this connection's subscribe to room. One it could not take just then ("unavailable": its
   * store did not answer, or it was still checking this person's access) is asked again on the same connection after
   * a pause (1 s, doubling to 4 s), subRetries times at most; after that the person is told (onRoomStalled), and a
   * reconnection asks again anyway. A refusal ("forbidden") is not asked again.
   */
  private subRefused(room: string, code: string): void {
    if (code !== "unavailable" || !this.rooms.includes(room)) {
      console.warn("subscription refused by the server:", code); // the technical reason, for the browser's console
      return;
    }
    const n = (this.subRefusals.get(room) ?? 0) + 1;
    this.subRefusals.set(room, n);
    if (n > this.subRetries) {
      if (n === this.subRetries + 1) { this.stalled.add(room); this.onRoomStalled(room); }
      return;
    }
    const ws = this.ws;
    setTimeout(() => {
      if (this.closed || this.ws !== ws || ws?.readyState !== WebSocket.OPEN || this.subRefusals.get(room) !== n) return;
      ws.send(JSON.stringify({ t: "sub", room, from: this.pos.get(room) } satisfies ClientFrame));
    }, Math.min(this.subRetryMs * 2 ** (n - 1), 4 * this.subRetryMs));
  }

  /** How often a subscribe the server could not take is asked again on one connection, and the first pause (ms). */
  subRetries = 5;
  subRetryMs = 1000;

  /** Checks and decrypts one stored message, in room order. */
  private async deliver(room: string, m: WireMessage): Promise<void> {
    const p = this.pos.get(room);
    const mp = { epoch: m.epoch, offset: m.offset };
    if (p && !before(p, mp)) return;
    this.pos.set(room, mp);
    this.epochs.set(room, Math.max(this.epochs.get(room) ?? 1, m.epoch));
    if (!m.from) return; // a system event
    const key = room + "\x00" + m.from + "\x00" + m.id;
    if (this.seenIDs.has(key)) return;
    this.seenIDs.add(key);
    const body = unb64(m.body);
    const ev: SecureEvent = { room, pos: mp, at: m.at, from: m.from, id: m.id };
    for (let attempt = 0; ; attempt++) {
      try {
        const r = await this.sess.receive(room, m.epoch, m.from, body);
        if (!r.plain) return;
        // A carried copy's position and hash are ignored (this client
        // writes them zero; an older one's would tell the joint room about
        // the author's caucus): the carry id leads to the proposal.
        if (r.plain.kind === E.KindCarried) { delete r.plain.ref; delete r.plain.refHash; }
        ev.plain = r.plain;
        ev.kind = r.plain.kind;
        ev.fromMediator = this.signedMediator(m.from, r.ctx.statementSeq);
        // Only a mediator sends notices: anyone else's "notice" is an
        // ordinary message. Who is a mediator comes from the signed
        // statement the sender's keys were issued under, never the case record.
        if (ev.kind === E.KindNotice && !ev.fromMediator) ev.kind = E.KindText;
        ev.text = r.plain.text;
        ev.hash = hex(await E.payloadHash(body));
        this.seen.set(`${room}|${mp.epoch}|${mp.offset}`, ev);
        break;
      } catch (e) {
        const msg = errorText(e);
        if (attempt < 2 && /unknown membership statement|unknown device/.test(msg)) {
          await this.refresh();
          continue;
        }
        ev.rejected = msg;
        break;
      }
    }
    this.onEvent(ev);
  }

  /** Encrypts and sends a text (or carry) message in room; resolves once stored. */
  send(room: string, p: E.Plaintext, beforePost?: (payload: Uint8Array) => Promise<void>): Promise<Pos> {
    const run = this.sendLock.then(() => this.sendNow(room, p, beforePost));
    this.sendLock = run.catch(() => {});
    return run;
  }

  private async sendNow(room: string, p: E.Plaintext, beforePost?: (payload: Uint8Array) => Promise<void>): Promise<Pos> {
    if (!this.rooms.includes(room)) throw new Error("this room is closed; choose another room");
    // Pick up devices registered since (a member's new browser) before keying.
    if (Date.now() - this.lastRefresh > 3000) await this.refresh();
    for (let attempt = 0; attempt < 4; attempt++) {
      const { dists, epoch } = await this.prepare(room);
      const msg = await this.sess.encrypt(room, p);
      if (beforePost) {
        try { await beforePost(msg); } catch (e) { this.sess.rotate(room); throw e; }
      }
      let moved = false;
      const payloads = [...dists, msg];
      for (let i = 0; i < payloads.length; i++) {
        let at: Pos;
        try { at = await this.post(room, payloads[i], epoch); } catch (e) {
          this.sess.rotate(room);
          if (!(e instanceof EpochMoved)) throw e;
          // A "moved" naming no later epoch is no seal: a failure, not a reason to encrypt again.
          if (!(e.epoch > epoch)) throw new Error("the server did not store your message; send it again");
          // The room was sealed (someone joined or left) before this was
          // stored, and the server kept none of it: encrypt again, with a
          // new key, for the new epoch.
          this.epochs.set(room, Math.max(this.epochs.get(room) ?? 1, e.epoch));
          moved = true;
          break;
        }
        // A server that ignored the epoch: receivers refuse the payload.
        if (at.epoch !== epoch) {
          this.sess.rotate(room);
          this.epochs.set(room, Math.max(this.epochs.get(room) ?? 1, at.epoch));
          moved = true;
          break;
        }
        if (i === payloads.length - 1) return at;
      }
      if (!moved) break;
    }
    throw new Error("the people in this room changed several times while your message was being sent, so it was not sent; send it again");
  }

  /**
   * Prepare, waiting for a mediator's device to sign the room's current
   * membership. A mediator's own device signs at once; a party's message
   * waits, told in words, until a mediator's browser or client connects
   * (it signs as soon as it does), for as long as this page stays open.
   */
  private async prepare(room: string): Promise<{ dists: Uint8Array[]; epoch: number }> {
    let backoff = 200, told = false;
    const started = Date.now();
    for (let i = 0; !this.closed; i++) {
      // The room's latest epoch each time: a seal heard while waiting for
      // a signed membership moves the wait on to the new epoch's. The later
      // of what the server reported and what the verified membership chain
      // names: a server that holds back a seal cannot make this device
      // encrypt to an earlier membership (one that still held a recused
      // mediator's devices, say).
      const epoch = this.sendEpoch(room);
      try {
        const dists = await this.sess.prepare(room, epoch);
        if (told) this.onNotice("Your mediator is connected; your message is being sent.");
        return { dists, epoch };
      } catch (e) {
        const msg = errorText(e);
        if (/no signed membership/.test(msg)) {
          if (this.mediator) {
            await this.signMembership();
            if (i >= 20) throw new Error("your browser could not confirm who is in this room; reload the page and send again");
          } else await this.refresh();
        } else if (/unknown device/.test(msg) && i === 0) {
          await this.refresh();
          continue;
        } else throw e;
      }
      if (!told && !this.mediator && Date.now() - started > 1500) {
        told = true;
        this.onNotice(PendingNotice);
      }
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 3000);
    }
    throw new Error("the case was closed before your message could be sent");
  }

  /**
   * The epoch to encrypt for in room: the later of the server's word and the verified chain's latest statement.
   * A defined (sealed) room is looked up as the chain places it (E.roomOf; Go: Statement.Room): the statement's
   * own list names it only by its slot.
   */
  private sendEpoch(room: string): number {
    const known = this.epochs.get(room) ?? 1;
    const latest = this.sess?.chain.latest();
    const signed = (latest ? E.roomOf(latest, room)?.epoch : undefined) ?? 0;
    return Math.max(known, signed);
  }

  /** Posts one payload encrypted for epoch; the server stores it only in that epoch (else EpochMoved). */
  private post(room: string, payload: Uint8Array, epoch: number): Promise<Pos> {
    const id = randomID("b");
    const body = b64(payload);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { room, body, epoch, resolve, reject });
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ t: "pub", room, id, body, epoch } satisfies ClientFrame));
      setTimeout(() => {
        if (this.pending.delete(id)) reject(new Error(unconfirmedWords));
      }, 60000);
    });
  }

  /**
   * Signs the membership after a change this page saw (the page opening, a join, a seal). A statement the server
   * refused as unavailable (503: its audit log takes no writes just now) is tried again in the background, a few
   * times within about two minutes (waiting at least its Retry-After), so a party who joined meanwhile is let in
   * once it takes writes, with nobody acting; then the notice says it failed.
   */
  private async signSoon(): Promise<void> {
    try {
      await this.signMembership();
    } catch (e) {
      void this.signLater(e);
    }
  }

  private async signLater(e: unknown): Promise<void> {
    if (this.retryingSign) return; // the loop running signs the membership as it is then
    this.retryingSign = true;
    try {
      for (let tries = 1; ; tries++) {
        const wait = signRetryWait(e, tries);
        if (wait === null) {
          if (!this.closed) this.onNotice(membershipWords(e));
          return;
        }
        await new Promise((r) => setTimeout(r, wait));
        if (this.closed) return;
        try {
          await this.signMembership();
          return;
        } catch (err) {
          e = err;
        }
      }
    } finally {
      this.retryingSign = false;
    }
  }

  /** A mediator's device signs the membership the case record describes, if it changed. */
  signMembership(): Promise<void> {
    // A change that arrives while a statement is being signed (a join seals
    // the joint room and a caucus one after the other) is signed right
    // after it: the run in flight read the epochs before that seal.
    if (this.signing) {
      this.signAgain = true;
      return this.signing;
    }
    this.signing = (async () => {
      try {
        do {
          this.signAgain = false;
          await this.signNow();
        } while (this.signAgain);
      } finally {
        this.signing = null;
      }
    })();
    return this.signing;
  }

  private async signNow(): Promise<void> {
    for (let attempt = 0; attempt < 4; attempt++) {
      await this.refresh();
      const c = await api.getCase(this.caseID);
      this.c = c;
      this.onCase(c);
      const latest = this.sess.chain.latest();
      const people: E.Person[] = [];
      // A new mediator reads every room: the case record (the server's word) is not enough to add one.
      // They wait for a mediator's explicit confirmation (admitMediator); the rest is signed as it is.
      // A case's first statement names this mediator alone (e2ee.ts checkGenesis): an admission waits for it.
      for (const m of c.mediators) if (!m.recused && (this.sitting(m.accountId) || (latest && m.accountId === this.admitting))) people.push({ account: m.accountId, role: E.RoleMediator, side: "" });
      if (latest && !this.sitting(this.me.account)) throw new NotSitting(this.startedElsewhere(c.createdBy));
      const o = latest ? "" : E.opener(c.createdBy, c.mediators);
      if (o && o !== this.me.account) {
        // The key directory takes the first statement only from the case's opener: say so rather than sign one it refuses.
        throw new NotSitting(`${this.nameOf(o)} opens this case's conversation (the mediator who created the case, or, if they are no longer one of its mediators, the one longest on it). Once it is open, they check your safety number with you and admit you.`);
      }
      for (const p of c.participants) people.push({ account: p.accountId, role: p.role, side: p.role === "observer" ? "" : p.side ?? "" });
      this.onPendingMediators(this.pendingMediators());
      const epochs: Record<string, number> = {};
      for (const [r, e] of this.epochs) epochs[r] = e;
      for (const r of latest?.rooms ?? []) if (!(r.name in epochs)) epochs[r.name] = r.epoch;
      const want = E.statementFor(this.caseID, people, c.sides.map((s) => s.id), epochs);
      want.rooms.push(...E.carryDefined(latest, people, epochs));
      // signRoom refused any name the chain held before; a second pass after signing finds it carried.
      for (const r of this.opening) if (!want.rooms.some((x) => x.name === r.name)) want.rooms.push(r);
      if (latest && E.sameMembership(latest, want)) return;
      const raw = await E.signStatement({ ...want, seq: latest ? latest.seq + 1 : 1, prev: latest ? latest.hash : new Uint8Array(32), created: Date.now() }, this.me);
      const dec = await E.decodeStatement(raw);
      // Check it extends the verified chain before publishing it.
      const trial = new E.Chain(this.caseID);
      for (const st of this.sess.chain.stmts) await trial.extend(st, this.sess.dir);
      await trial.extend(dec, this.sess.dir);
      try {
        const pins = await loadPins(this.me.account);
        await api.postStatement(this.caseID, raw, pins.logSize ?? 0);
      } catch (e) {
        if (e instanceof APIError && e.status === 409) continue;
        throw e;
      }
      const added = dec.people.filter((p) => !latest?.people.some((q) => q.account === p.account)).map((p) => this.nameOf(p.account));
      const removed = (latest?.people ?? []).filter((p) => !dec.people.some((q) => q.account === p.account)).map((p) => this.nameOf(p.account));
      // Only a change of who reads is news: a re-signing for a new epoch alone would replace the
      // notice naming who was just admitted with one that names nobody.
      if (added.length || removed.length) {
        this.onNotice("Who can read each room is up to date." + (added.length ? ` Now admitted: ${added.join(", ")}.` : "") + (removed.length ? ` No longer reading: ${removed.join(", ")}.` : ""));
      }
      await this.refresh();
      return;
    }
    // Said as it is to the mediator (app.ts: "Sam Lee was not admitted: …"): what happened and what to do.
    throw new Error("other mediators were changing who is in the case at the same moment; try again");
  }

  /**
   * What a mediator of the case record is told when the signed chain has no place for them: the first statement is
   * another account's and no statement admits them. A mediator who created the case (the record's createdBy) has
   * never let anyone else start it: someone else's device did, which is the server's doing (trust on first use of
   * the first statement, docs/protocol.md). Anyone else is a co-mediator a sitting mediator has not admitted yet.
   */
  private startedElsewhere(createdBy?: string): string {
    const first = this.sess.chain.get(1);
    if (first && first.signerAccount !== this.me.account && createdBy === this.me.account &&
      !this.sess.chain.stmts.some((st) => st.people.some((p) => p.account === this.me.account))) {
      return "This case's conversation was started by someone else's device, not yours. Do not use it; tell the program.";
    }
    return notAdmittedWords;
  }

  /**
   * Is account a mediator a statement may list without anyone's confirmation: a mediator of the latest
   * signed statement, or, for the case's first statement, this mediator alone?
   */
  private sitting(account: string): boolean {
    const latest = this.sess.chain.latest();
    if (!latest) return account === this.me.account;
    return latest.people.some((p) => p.account === account && p.role === E.RoleMediator);
  }

  /**
   * The mediators the case record lists that no signed statement admits (a co-mediator being added, one
   * coming back after a recusal, or an account the server made up): they read nothing until a mediator
   * of the case confirms them with admitMediator — the server refuses them the case's rooms, documents and
   * sessions meanwhile (docs/security.md, "A co-mediator nobody admitted reading the case").
   */
  pendingMediators(): { accountId: string; name: string }[] {
    if (!this.mediator || !this.sitting(this.me.account)) return [];
    return (this.c?.mediators ?? []).filter((m) => !m.recused && !this.sitting(m.accountId)).map((m) => ({ accountId: m.accountId, name: m.name }));
  }

  /**
   * A mediator's explicit confirmation that account, listed as a mediator of the case, joins it: this
   * device signs them into the joint room, every caucus and the mediators' room (and so the documents'
   * newcomer wraps give them the case's documents). Only on a person's deliberate word.
   */
  async admitMediator(account: string): Promise<void> {
    if (this.signing) await this.signing.catch(() => {});
    if (!this.sess.chain.latest()) await this.signMembership(); // the first statement names this mediator alone
    this.admitting = account;
    try {
      await this.signMembership();
    } finally {
      this.admitting = "";
    }
    // The caller names them ("Sam Lee was not admitted: …"): the reason alone, without the name again.
    if (!this.sitting(account)) throw new Error("the case no longer lists them as a mediator");
    this.onPendingMediators(this.pendingMediators());
  }

  /**
   * Mediator: signs the membership of a room the server just opened (rooms.ts), for the people and the
   * cross-side declaration this mediator chose — refusing a server answer that differs from them.
   */
  async signRoom(r: { room: string; id: string; members: string[]; crossSide?: boolean; label: string }, entry: E.RoomEntry): Promise<void> {
    const want = entry.members;
    const got = [...new Set(r.members)].sort();
    const name = entry.room; // this browser chose it (newRoomOpening): the server only repeats it
    if (r.room !== name || r.room !== (r.crossSide ? "cross:" : "room:") + r.id || want.join(",") !== got.join(",")) {
      throw new Error(`the server describes the room "${r.label}" otherwise than you asked for it; it was not signed`);
    }
    let slot = "";
    this.openingRoom++;
    try {
      // A name the verified chain has ever held is an existing room: signing would add nothing and
      // messages meant for the new room would reach that room's people. Only a new name is opened.
      await this.refresh();
      if (this.sess.chain.stmts.some((st) => E.roomOf(st, name))) {
        throw new Error(`the server answered with a room that already exists instead of opening "${r.label}"; it was not signed`);
      }
      // Who is in it is sealed in an entry kept for its members; the case's signed membership, which everyone in
      // the case fetches, holds only a commitment to it.
      slot = entry.slot;
      await api.addRoomEntry(this.caseID, name, entry.raw);
      this.opening.push({ name: entry.slot, epoch: 1, members: [] });
      await this.signMembership();
      if (!this.sess.chain.latest()?.rooms.some((x) => x.name === entry.slot)) await this.signMembership();
    } finally {
      this.opening = this.opening.filter((x) => x.name !== slot);
      this.openingRoom--;
    }
    const latest = this.sess.chain.latest();
    const signed = latest ? E.roomOf(latest, name) : undefined;
    if (!signed) throw new Error("your browser could not sign who is in the room yet; try again");
    if ([...signed.members].sort().join(",") !== want.join(",")) {
      throw new Error(`the signed membership of "${r.label}" is not the people you chose; do not use the room`);
    }
  }

  /**
   * Mediator in the room: signs its closing (a closing entry committed in the membership chain) after the server
   * closed it, so every member's client refuses to write in it and no server can reopen it.
   */
  async signClose(room: string): Promise<void> {
    await this.refresh();
    if (this.sess.chain.closed(room)) return;
    if (!this.sess.chain.holdsSealed(room)) throw new Error("this room's membership was not sealed by a mediator's device, so its closing cannot be signed");
    // A closing entry the server keeps already (an earlier try handed it over and failed before signing) is the
    // one to sign — the server refuses a second — once checked to be this room's closing (Go: storedClosing).
    let entry: E.RoomEntry | null = null;
    const kept = (await api.definedRooms(this.caseID)).find((d) => d.room === room)?.entries ?? [];
    for (const raw of kept) {
      const e = await E.decodeRoomEntry(unb64(raw));
      if (e.kind !== E.EntryClose) continue;
      if (e.case !== this.caseID || e.room !== room) throw new Error("the server keeps another room's closing for this room; it was not signed");
      entry = e;
    }
    if (!entry) {
      entry = await E.newRoomEntry(this.caseID, room, E.EntryClose, []);
      await api.addRoomEntry(this.caseID, room, entry.raw);
    }
    this.openingRoom++;
    try {
      this.opening.push({ name: entry.slot, epoch: 1, members: [] });
      await this.signMembership();
      if (!this.sess.chain.latest()?.rooms.some((x) => x.name === entry.slot)) await this.signMembership();
    } finally {
      this.opening = this.opening.filter((x) => x.name !== entry!.slot);
      this.openingRoom--;
    }
    if (!this.sess.chain.closed(room)) throw new Error("your browser could not sign the room's closing yet; try again");
  }

  /** Follows a room that appeared after the page opened (a mediator put this person in it). */
  addRoom(room: string): Promise<void> {
    return this.enqueue(async () => {
      if (this.rooms.includes(room)) return;
      await this.refresh();
      let first = 1;
      for (const st of this.sess.chain.stmts) {
        const r = E.roomOf(st, room);
        if (r) { first = r.epoch; break; }
      }
      this.rooms.push(room);
      this.pos.set(room, { epoch: first, offset: 0 });
      this.epochs.set(room, first);
      await this.catchUp(room, null);
      if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ t: "sub", room, from: this.pos.get(room) } satisfies ClientFrame));
    });
  }

  nameOf(account: string): string {
    const m = this.c.mediators.find((x) => x.accountId === account);
    if (m) return m.name;
    return this.c.participants.find((x) => x.accountId === account)?.name ?? "someone no longer in this mediation";
  }

  /** Mediator: propose carrying a caucus message to the joint room. */
  async proposeCarry(ev: SecureEvent, note: string): Promise<string> {
    if (!E.caucusSide(ev.room) || !ev.hash) throw new Error("only messages of a caucus are carried");
    const id = carryID();
    await api.proposeCarry(this.caseID, { id, from: ev.room, to: "joint", epoch: ev.pos.epoch, offset: ev.pos.offset, hash: "sha256:" + ev.hash });
    const refHash = Uint8Array.from(ev.hash.match(/../g)!, (x) => parseInt(x, 16));
    await this.send(ev.room, { kind: E.KindCarryProposal, text: note, carryID: id, room: "joint", ref: ev.pos, refHash });
    return id;
  }

  /**
   * Author: consent to a proposal on this device, for exactly `text` (the
   * original words, or the author's edit of them): this device encrypts it
   * for the joint room, and the consent recorded on the server names that
   * payload's hash. The mediator never holds the words to re-encrypt.
   */
  async approveCarry(proposal: SecureEvent, text?: string): Promise<Pos> {
    const { p, orig } = this.ownProposal(proposal);
    const words = text ?? orig.text ?? "";
    if (!words.trim()) throw new Error("there is nothing to carry; write the text or decline");
    await this.checkRecord(proposal, p);
    // The copy names the carry, the source room and the proposer, never the
    // original's position or payload hash (written zero): every joint-room
    // member reads it, and those would say how active the caucus was.
    // Whoever reads the caucus finds the original through the carry id.
    const carried: E.Plaintext = { kind: E.KindCarried, text: words, carryID: p.carryID, room: proposal.room, ref: { epoch: 0, offset: 0 }, refHash: new Uint8Array(32), proposer: proposal.from };
    return this.send(p.room ?? "joint", carried, async (payload) => {
      await api.consentCarry(this.caseID, p.carryID!, "sha256:" + hex(await E.payloadHash(payload)));
    });
  }

  /**
   * Compares the proposal with the server's record of its carry: the same
   * source room, target room, position and payload hash, and this account
   * as the author. The consent names only the carry id, so without this a
   * second proposal under the same id could have this device carry another
   * message than the one the server recorded (and audited).
   */
  private async checkRecord(proposal: SecureEvent, p: E.Plaintext): Promise<void> {
    let rec: Carry;
    try {
      rec = await api.getCarry(this.caseID, p.carryID!);
    } catch (e) {
      if (e instanceof APIError && e.status === 404) throw new CarryMismatch();
      throw e;
    }
    if (rec.id !== p.carryID || rec.from !== proposal.room || rec.to !== (p.room ?? "joint") ||
      rec.ref.epoch !== p.ref!.epoch || rec.ref.offset !== p.ref!.offset ||
      rec.hash !== "sha256:" + hex(p.refHash!) || rec.author !== this.me.account) throw new CarryMismatch();
  }

  /** Author: decline a proposal: recorded (and audited) on the server, then said in the caucus, signed by this device. */
  async declineCarry(proposal: SecureEvent): Promise<Pos> {
    const { p } = this.ownProposal(proposal);
    await api.declineCarry(this.caseID, p.carryID!);
    return this.send(proposal.room, { kind: E.KindCarryDeclined, text: "", carryID: p.carryID, room: p.room ?? "joint", ref: p.ref, refHash: p.refHash });
  }

  /** Checks a proposal comes from a mediator and names one of this account's own messages. */
  private ownProposal(proposal: SecureEvent): { p: E.Plaintext; orig: SecureEvent } {
    const p = proposal.plain;
    if (!p || p.kind !== E.KindCarryProposal || !p.ref || !p.refHash) throw new Error("not a carry proposal");
    const st = this.sess.chain.latest();
    if (!st || st.people.find((x) => x.account === proposal.from)?.role !== E.RoleMediator) throw new Error("the proposal does not come from a mediator of the case");
    const orig = this.seen.get(`${proposal.room}|${p.ref.epoch}|${p.ref.offset}`);
    if (!orig) throw new Error("this device cannot read the message the proposal names");
    if (orig.from !== this.me.account) throw new Error("only the author of a message can decide about carrying it");
    if (!this.sess.dir.ownChain(this.me.account, this.me.id)) {
      throw new Error("this device was admitted by your mediator, so it cannot give consent for you (the others' screens would refuse it); approve on a device you linked yourself, or tell your mediator");
    }
    if (orig.hash !== hex(p.refHash) || orig.kind !== E.KindText) throw new Error("the proposal does not match the message");
    return { p, orig };
  }

  /** The safety number between this account and another, from their verified active devices. */
  async safetyNumber(other: string): Promise<string> {
    const mine = this.sess.dir.active(this.me.account), theirs = this.sess.dir.active(other);
    if (!theirs.length) throw new Error(`${this.nameOf(other)} has not opened this mediation on a phone or computer yet, so there is no safety number to compare`);
    return E.formatSafetyNumber(await E.safetyNumber(this.me.account, mine, other, theirs));
  }
}

/** Registers a new device record in the key directory (once per browser and account). */
export async function registerDevice(me: E.DeviceKeys, mediator = false): Promise<void> {
  const pins = await loadPins(me.account);
  const p = await api.registerDevice(me.record.raw, pins.logSize ?? 0);
  // The directory's answer not verifying is a check of the keys failing, as at any later check (SecureCase.check):
  // the alarm screen, in plain words, not "Something went wrong: …" with the check's own words.
  const v = await verifyProven(p, pins).catch((e: unknown) => {
    throw new SecurityStop("the server's answer when this browser's keys were added could not be checked: it does not prove the server kept them as this browser sent them", "key-directory: " + errorText(e), mediator);
  });
  if (v.devices.length !== 1 || v.devices[0].rec.id !== me.id) throw new Error("this browser could not be added to your account: the server's record of devices did not take it. Reload the page to try again; if this keeps happening, " + tellWhom(mediator));
  await updatePins(me.account, { logKey: p.key, logSize: v.size, logCheckpoint: v.checkpoint });
}

/** The server stored nothing of a pub: the room moved on to epoch (a seal came first). */
class EpochMoved extends Error {
  constructor(readonly epoch: number) {
    super("the people in this room changed while your message was being sent");
  }
}

/**
 * What a failure while handling the server's frames (catching up after a
 * reconnection, checking a message) means for the person, in plain words.
 * Sentences this file throws for people (plain Errors) are kept; anything
 * else (a network failure, a check that refused the server's answer) is
 * said without its technical text, which goes to the console.
 */
function noticeWords(e: unknown, mediator: boolean): string {
  if (e instanceof APIError || e instanceof TypeError) return "Some messages could not be brought up to date: " + plainWords(e) + ".";
  if (e instanceof Error && e.constructor === Error && !saysInternal(e.message)) {
    const m = e.message.charAt(0).toUpperCase() + e.message.slice(1);
    return /[.!?]$/.test(m) ? m : m + ".";
  }
  return "This browser could not check something the server sent, so it is not shown. Reload the page; if this stays, " + tellWhom(mediator) + ".";
}

/**
 * How long to wait before signing again a statement refused with e (its tries-th refusal), or null for no retry:
 * only a 503 (the server could not take it just now), at most 5 times, waiting 5, 10, 20, 30 and 30 seconds, or the
 * server's Retry-After if longer (at most 30 seconds).
 */
function signRetryWait(e: unknown, tries: number): number | null {
  if (!(e instanceof APIError) || e.status !== 503 || tries > 5) return null;
  return Math.max(Math.min(5000 * 2 ** (tries - 1), 30000), Math.min(e.retryAfter * 1000, 30000));
}

/** An error's message, whatever was thrown. */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** What a mediator is told when this browser could not sign who is in a room, in plain words. */
/** A mediator of the case record whom no signed statement has as one: said as it is (startedElsewhere). */
class NotSitting extends Error {}

/** What a co-mediator not admitted yet is told when this browser cannot sign (the case page's waiting text says it already, so it is not repeated there). */
export const notAdmittedWords = "You are listed as a mediator of this case, but no mediator of it has admitted you yet: you read nothing until one does.";

function membershipWords(e: unknown): string {
  if (e instanceof NotSitting) return e.message;
  const msg = e instanceof Error ? e.message : String(e);
  if (/unknown device|not in the key directory|revoked/.test(msg)) {
    return "This browser is not added to your account yet, so it cannot confirm who is in each room. Add it from a device you already use (\u201cYour devices\u201d, \u201cAdd a device\u201d there); until then your other device does this.";
  }
  return "This browser could not confirm who is in a room just now. Parley tries again when someone joins or when you reload the page.";
}
