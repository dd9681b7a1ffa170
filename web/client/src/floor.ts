// Room controls in the browser (package floor on the server): a room's
// countdown, whose turn it is to speak, raised hands, and a mediator's
// notice to every room. The server pushes a "floor" frame after each change
// (SecureCase.onFloor) with what this person may see; countdowns are
// computed here from the server's clock.
//
// Decisions, stated where people see them:
// - A message sent out of turn is not held: it is sent, and every browser
//   marks it "out of turn" from the server's time on it and the turns the
//   server keeps, so nothing is lost and the mediator sees it.
// - A raised hand is lowered by the mediator ("Lower hand"), by the person
//   who raised it, or when the mediator writes in that room (their browser
//   lowers it: they are answering). Only the mediators see it.
// - A notice is one end-to-end encrypted message per room the mediator is
//   in (never the mediators' own room); rooms they are not in get nothing.
import { call, casePath } from "./api";
import type { Case } from "./api";
import type { FloorTurn, FloorView, Hand, RoomTimer } from "./wire_gen";
import { KindNotice, definedRoom as definedName } from "./e2ee";
import { definedRoom } from "./rooms";
import type { SecureCase, SecureEvent, Status } from "./secure";
import { unconfirmedWords } from "./secure";

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
type H = (tag: string, attrs?: Attrs, ...kids: (Node | string | null | undefined | false)[]) => HTMLElement;

export interface FloorCtx {
  h: H;
  sc: () => SecureCase;
  c: () => Case;
  me: () => string;
  current: () => string;
  roomTitle: (room: string) => string;
  roomClass: (room: string) => string;
  sideLabel: (side?: string) => string;
  nameOf: (account: string) => string;
  errText: (e: unknown) => string;
  openRoom: (room: string) => void;
}

let ctx: FloorCtx | undefined;
let view: FloorView | undefined;
let skew = 0; // the server's clock minus this browser's
let ticker: ReturnType<typeof setInterval> | undefined;
let fetching = false;
// A notice is being sent: the panel drawn again meanwhile keeps its Send button off (a second click would send it twice).
let noticeSending = false;
// A notice some rooms refused: pressing Send again with the same words sends it to every room that can take a notice
// now and does not have it yet (those that refused it, and any opened or joined since), never to the rooms that have
// it (they would show it twice); changed words are a new notice, to every room. have: the rooms the page saw take it;
// missed: those that refused it last time, or did not confirm it in time (it may be there: the page says to look first).
let noticeRetry: { caseID: string; words: string; have: string[]; missed: string[] } | undefined;
/** Messages shown so far, to mark those sent out of turn when the turns arrive. */
const shown: { room: string; at: number; from: string; li: HTMLElement }[] = [];

const now = () => Date.now() + skew;
const roomURL = (room: string, what: string) => casePath(ctx!.sc().caseID) + "/rooms/" + encodeURIComponent(room) + "/" + what;
const isMediator = (a: string) => ctx!.c().mediators.some((m) => m.accountId === a && !m.recused);
/** Who is a mediator for what a message claims: the verified signed membership, never the server's case record. */
const signedMediator = (a: string) => ctx!.sc().signedMediator(a);
const mySide = () => ctx!.c().participants.find((p) => p.accountId === ctx!.me())?.side;
const iAmMediator = () => isMediator(ctx!.me());
const observer = () => ctx!.c().participants.find((p) => p.accountId === ctx!.me())?.role === "observer";

function minutes(ms: number): string {
  const m = Math.ceil(ms / 60000);
  return m <= 1 ? "1 min" : `${m} min`;
}
function ago(since: number): string {
  const m = Math.floor((now() - since) / 60000);
  return m < 1 ? "just now" : `${m} min ago`;
}
function waited(since: number): string {
  const m = Math.floor((now() - since) / 60000);
  return m < 1 ? "less than a minute" : `${m} min`;
}

/** Starts the room controls for the open case: reads the current state, listens for changes. */
export function initFloor(c: FloorCtx): void {
  ctx = c;
  c.sc().onFloor = apply;
  if (iAmMediator() && !document.getElementById("floor-panel")) {
    const panel = c.h("section", { id: "floor-panel", class: "floor-panel", "aria-labelledby": "floor-panel-title" });
    (document.getElementById("sessions") ?? document.getElementById("documents"))?.before(panel);
  }
  if (ticker === undefined) ticker = setInterval(tick, 1000);
  void refresh();
}

/** After a reconnect, read the state again (changes may have been missed). */
export function floorStatus(s: Status): void {
  if (s === "live" && ctx && view) void refresh();
}

async function refresh(): Promise<void> {
  if (!ctx || fetching) return;
  fetching = true;
  try {
    apply(await call<FloorView>("GET", casePath(ctx.sc().caseID) + "/floor"));
  } catch { /* the next change or reconnect brings it */ } finally {
    fetching = false;
  }
}

function apply(v: FloorView): void {
  if (view && v.now < view.now) return; // an older answer than a pushed frame
  view = v;
  skew = v.now - Date.now();
  fillBar();
  fillTurnNote();
  fillPanel();
  for (const m of shown) mark(m);
  for (const b of document.querySelectorAll<HTMLElement>("#rooms button[data-room]")) {
    b.querySelector(".hand-badge")?.remove();
    const badge = floorBadge(b.dataset.room!);
    if (badge) b.append(badge);
  }
}

/** A mediator's room button: how many people in that room are asking for them. */
export function floorBadge(room: string): HTMLElement | "" {
  if (!ctx || !view?.mediator) return "";
  const n = view.hands.filter((x) => x.room === room).length;
  return n ? ctx.h("span", { class: "hand-badge" }, ` · ${n} asking for you`) : "";
}

function timerOf(room: string): RoomTimer | undefined {
  return view?.timers.find((t) => t.room === room);
}
/** The turn running in room now, if any. */
function turnOf(room: string): FloorTurn | undefined {
  const n = now();
  for (let i = (view?.turns.length ?? 0) - 1; i >= 0; i--) {
    const t = view!.turns[i];
    if (t.room !== room) continue;
    return !t.ended && t.from <= n && n < t.until ? t : undefined;
  }
  return undefined;
}
/** The turn that was running in room at a moment (for marking messages). */
function turnAt(room: string, at: number): FloorTurn | undefined {
  return view?.turns.find((t) => t.room === room && t.from <= at && at < (t.ended || t.until));
}
function myHand(room: string): Hand | undefined {
  return view?.hands.find((x) => x.room === room && x.account === ctx!.me());
}

function timerWords(room: string): string {
  const t = timerOf(room);
  if (!t) return "";
  const left = t.endsAt - now();
  const what = room.startsWith("caucus:") ? "Caucus" : room === "joint" ? "The joint session" : "This room";
  if (left <= 0) return iAmMediator() ? `Time is up in the ${ctx!.roomTitle(room)}. Its members read: “Time is up — the mediator will be with you.”` : "Time is up — the mediator will be with you.";
  return `${what} ends in ${minutes(left)}` + (iAmMediator() ? " (everyone in this room sees this countdown)" : "");
}

function turnWords(room: string): string {
  const t = turnOf(room);
  if (!t) return "";
  const left = minutes(t.until - now());
  if (iAmMediator()) return `You gave the floor to the ${ctx!.sideLabel(t.side)} side: ${left} left.`;
  if (mySide() === t.side) return `Your side is speaking now: ${left} left.`;
  return `The ${ctx!.sideLabel(t.side)} side is speaking now: ${left} left.`;
}

/** The room's bar, under its banner: countdown, whose turn, and (for parties and lawyers) asking for the mediator. */
export function floorBar(room: string): HTMLElement {
  const h = ctx!.h;
  const bar = h("div", { id: "floor-bar", class: "floor-bar", "data-room": room },
    // The countdowns (role "timer") are not read out as they tick; what
    // happens is, politely, from regions already on the page: the time
    // running out (shown, in #floor-timeup) and the floor changing hands
    // (for screen readers, in #floor-news; the line above shows it).
    h("p", { id: "floor-timer", class: "floor-timer", role: "timer", hidden: true }),
    h("p", { id: "floor-timeup", class: "floor-timer up", role: "status", "aria-live": "polite" }),
    h("p", { id: "floor-turn", class: "floor-turn", role: "timer", hidden: true }),
    h("p", { id: "floor-news", class: "visually-hidden", role: "status", "aria-live": "polite" }),
    h("div", { id: "floor-hand", class: "floor-hand" }));
  queueMicrotask(() => { fillBar(); fillPanel(); });
  return bar;
}

function fillBar(): void {
  const bar = document.getElementById("floor-bar");
  if (!bar || !ctx) return;
  const room = bar.dataset.room!;
  tickBar();
  const hand = document.getElementById("floor-hand")!;
  if (iAmMediator() || observer() || room === "mediators") { hand.replaceChildren(); return; }
  const h = ctx.h;
  const raised = myHand(room);
  const out = h("span", { class: "error", role: "alert" });
  const act = async (method: string) => {
    out.textContent = "";
    try {
      await call(method, roomURL(room, "hand"));
      await refresh();
    } catch (e) {
      out.textContent = (method === "POST" ? "Your request did not reach the mediator: " : "Not lowered: ") + ctx!.errText(e);
    }
  };
  hand.replaceChildren(raised
    ? h("p", { id: "hand-state", class: "hand-state", role: "status" }, "You asked for the mediator ",
      h("span", { "data-ago": String(raised.since) }, ago(raised.since)), ". Only the mediators see that you asked. ",
      h("button", { type: "button", id: "lower-hand", onclick: () => act("DELETE") }, "Lower my hand"))
    : h("p", { id: "hand-state", class: "hand-state" },
      h("button", { type: "button", id: "raise-hand", onclick: () => act("POST") }, "Ask for the mediator"),
      " Only the mediators see that you asked."), out);
}

function tickBar(): void {
  const bar = document.getElementById("floor-bar");
  if (!bar) return;
  const room = bar.dataset.room!;
  const set = (id: string, text: string, cls = "") => {
    const el = document.getElementById(id);
    if (!el) return;
    if (el.textContent !== text) el.textContent = text;
    el.hidden = text === "";
    if (cls) el.classList.toggle("up", cls === "up");
  };
  const t = timerOf(room);
  const up = !!t && t.endsAt <= now();
  set("floor-timer", up ? "" : timerWords(room));
  const timeup = document.getElementById("floor-timeup");
  const upWords = up ? timerWords(room) : "";
  if (timeup && timeup.textContent !== upWords) timeup.textContent = upWords;
  set("floor-turn", turnWords(room));
  // Said once when the floor changes hands (or is taken back), not every minute.
  const tn = turnOf(room);
  const key = tn ? `${room}|${tn.side}|${tn.from}` : room;
  const news = document.getElementById("floor-news");
  if (news && news.dataset.turn !== key) {
    if (news.dataset.turn !== undefined) news.textContent = tn ? turnWords(room).replace(/: .* left\.$/, ".") : news.dataset.turn.startsWith(room + "|") ? "The turn has ended: nobody is speaking now." : "";
    news.dataset.turn = key;
  }
}

/** The line in the composer saying whose turn it is (empty when nobody has the floor). */
export function turnNote(room: string): HTMLElement {
  const p = ctx!.h("p", { id: "turn-note", class: "turn-note", "data-room": room, hidden: true });
  queueMicrotask(fillTurnNote);
  return p;
}

function fillTurnNote(): void {
  const p = document.getElementById("turn-note");
  if (!p || !ctx) return;
  const room = p.dataset.room!;
  const t = turnOf(room);
  let text = "";
  if (t && !iAmMediator()) {
    const left = minutes(t.until - now());
    text = mySide() === t.side ? `Your side is speaking now (${left} left).`
      : `It is the ${ctx.sideLabel(t.side)} side's turn to speak (${left} left). You can still write: your message will show as “out of turn” to everyone in this room.`;
  }
  if (p.textContent !== text) p.textContent = text;
  p.hidden = text === "";
}

function tick(): void {
  if (!view) return;
  tickBar();
  fillTurnNote();
  for (const el of document.querySelectorAll<HTMLElement>("[data-ago]")) el.textContent = ago(Number(el.dataset.ago));
  for (const el of document.querySelectorAll<HTMLElement>("[data-waited]")) el.textContent = waited(Number(el.dataset.waited));
}

/** Decorates a shown message: a mediator's notice, or a message sent out of turn. */
export function floorMessage(ev: SecureEvent, li: HTMLElement): void {
  if (!ctx) return;
  if (ev.kind === KindNotice && signedMediator(ev.from)) { // secure.ts already turned a non-mediator's kind 5 into an ordinary message
    li.classList.add("notice");
    li.prepend(ctx.h("strong", { class: "notice-label" }, `Notice from the mediator ${ctx.nameOf(ev.from)} (shown in every room)`), ctx.h("br"));
  }
  const m = { room: ev.room, at: ev.at, from: ev.from, li };
  shown.push(m);
  mark(m);
}

function mark(m: { room: string; at: number; from: string; li: HTMLElement }): void {
  if (m.li.querySelector(".out-of-turn") || signedMediator(m.from)) return;
  const t = turnAt(m.room, m.at);
  const side = ctx!.c().participants.find((p) => p.accountId === m.from)?.side;
  if (!t || side === t.side) return;
  const meta = m.li.querySelector(".meta");
  const tag = ctx!.h("span", { class: "out-of-turn" }, `Out of turn: the ${ctx!.sideLabel(t.side)} side had the floor`);
  if (meta) meta.after(" ", tag);
  else m.li.prepend(tag);
}

/** The mediator wrote in room: they are answering, so the hands raised there come down. */
export function floorAfterSend(room: string): void {
  if (!ctx || !iAmMediator() || !view) return;
  const waiting = view.hands.filter((x) => x.room === room);
  if (waiting.length === 0) return;
  void Promise.all(waiting.map((x) => call("DELETE", roomURL(room, "hand") + "?account=" + encodeURIComponent(x.account)).catch(() => {})))
    .then(refresh);
}

// --- the mediator's panel ---

/**
 * Where a notice to every room goes: the rooms this browser follows but the mediators' own, and of the rooms a
 * mediator defined only the open ones this mediator is in as the signed membership holds them (a closed room is
 * left out: it takes nothing more).
 */
function broadcastRooms(): string[] {
  const sc = ctx!.sc();
  return sc.rooms.filter((r) => {
    if (r === "mediators" || sc.sess.chain.closed(r)) return false;
    if (!definedName(r)) return true;
    const d = definedRoom(r);
    return !!d && !d.closed;
  });
}

/** A room in a sentence: “the Joint room”, “the Tenant caucus”, “the “Counsel only” room”. */
function roomWords(room: string): string {
  return definedName(room) ? `the “${ctx!.roomTitle(room)}” room` : `the ${ctx!.roomTitle(room)}`;
}

function list(words: string[]): string {
  return words.length <= 1 ? words.join("") : words.slice(0, -1).join(", ") + " and " + words[words.length - 1];
}

/**
 * The rooms still without the notice with these words, when they are a retry of one some rooms refused: every room
 * a notice can go to now (open and followed) that the page did not see take it — those that refused it and any room
 * opened or joined since; undefined when the words are a new notice, for every room.
 */
function retryRooms(words: string): string[] | undefined {
  const r = noticeRetry;
  if (!r || r.caseID !== ctx!.sc().caseID || r.words !== words) return undefined;
  return broadcastRooms().filter((x) => !r.have.includes(x));
}

/** “Send to the Joint room again” for rooms that refused the notice; without “again” when a room is new to it. */
function sendAgainLabel(rooms: string[]): string {
  const again = rooms.every((x) => noticeRetry?.missed.includes(x));
  return `Send to ${list(rooms.map(roomWords))}${again ? " again" : ""}`;
}

/**
 * The Send button and the line under the notice say where it goes: every room, only those without it, or — when every
 * room it can go to has it — that there is nowhere left to send it (the button is off then).
 */
function noticeWhere(words: string): { label: string; goes: string; none?: boolean } {
  const again = retryRooms(words);
  if (again && again.length > 0) {
    return { label: sendAgainLabel(again), goes: `This goes to: ${again.map(ctx!.roomTitle).join(", ")} only — the other rooms already have this notice.` };
  }
  if (again) {
    return { label: "Every room has this notice", none: true,
      goes: "Every room you can send to has this notice already (the rooms that missed it are closed now or left). Change the words to send a new notice." };
  }
  return { label: "Send the notice to every room", goes: "This goes to: " + broadcastRooms().map(ctx!.roomTitle).join(", ") + "." };
}

/** The room list changed (a room opened or closed): the panel shows where a notice goes now. */
export function floorRoomsChanged(): void {
  fillPanel();
}

/**
 * The panel's inputs live across updates (a hand raised while the mediator
 * types a notice or picks a length keeps what they typed, picked and where
 * the caret is).
 */
const inputs: { timer?: HTMLSelectElement; side?: HTMLSelectElement; turn?: HTMLSelectElement; notice?: HTMLTextAreaElement } = {};
function select(id: string, values: [string, string][], initial: string): HTMLSelectElement {
  const el = ctx!.h("select", { id }, ...values.map(([v, t]) => ctx!.h("option", { value: v }, t))) as HTMLSelectElement;
  el.value = initial;
  return el;
}

function fillPanel(): void {
  const panel = document.getElementById("floor-panel");
  if (!panel || !ctx || !view) return;
  const focused = document.activeElement;
  const h = ctx.h;
  const room = ctx.current();
  const title = ctx.roomTitle(room);
  const out = h("p", { id: "floor-result", class: "note", role: "status" });
  const fail = (e: unknown) => { out.textContent = "Not done: " + ctx!.errText(e); out.className = "error"; };
  const run = (f: () => Promise<unknown>, done: string) => async () => {
    try {
      await f();
      await refresh();
      const o = document.getElementById("floor-result");
      if (o) { o.textContent = done; o.className = "note"; }
    } catch (e) { fail(e); }
  };

  // Who is waiting, where, since when.
  const hands = [...view.hands].sort((a, b) => a.since - b.since);
  const waitingList = hands.length === 0
    ? h("p", { id: "hands-empty", class: "note" }, "Nobody is asking for you right now.")
    : h("ul", { id: "hands", class: "hands" }, ...hands.map((x) => h("li", { class: ctx!.roomClass(x.room), "data-account": x.account, "data-room": x.room },
      h("strong", {}, ctx!.nameOf(x.account)), ` waits in the ${ctx!.roomTitle(x.room)} for `, h("span", { "data-waited": String(x.since) }, waited(x.since)), " ",
      h("span", { class: "row" },
        h("button", { type: "button", onclick: () => ctx!.openRoom(x.room) }, `Go to the ${ctx!.roomTitle(x.room)}`),
        h("button", { type: "button", onclick: run(() => call("DELETE", roomURL(x.room, "hand") + "?account=" + encodeURIComponent(x.account)), `${ctx!.nameOf(x.account)}'s hand is lowered.`) }, "Lower hand")))));

  // This room's timer.
  const t = timerOf(room);
  const mins = inputs.timer ??= select("timer-minutes", [5, 10, 15, 20, 30, 45, 60, 90].map((m) => [String(m), `${m} minutes`]), "15");
  const timerBox = room === "mediators" ? h("p", { class: "note" }, "Open a joint or caucus room to set its timer.") : h("div", {},
    h("label", { for: "timer-minutes" }, `End the ${title} in`), mins,
    h("div", { class: "row" },
      h("button", { type: "button", id: "set-timer", onclick: run(() => call("PUT", roomURL(room, "timer"), { minutes: Number(mins.value) }), `The ${title} now ends in ${mins.value} minutes.`) }, t ? "Set a new end time" : "Start the timer"),
      t ? h("button", { type: "button", id: "extend-timer", onclick: run(() => call("PUT", roomURL(room, "timer"), { extend: 5 }), "Five more minutes.") }, "+5 minutes") : "",
      t ? h("button", { type: "button", id: "clear-timer", onclick: run(() => call("DELETE", roomURL(room, "timer")), "The timer is cleared.") }, "Clear the timer") : ""),
    h("p", { class: "note" }, `Everyone in the ${title} sees the countdown, and “Time is up — the mediator will be with you” at the end.`));

  // The floor (rooms with more than one side).
  const turn = turnOf(room);
  const sides = ctx.c().sides;
  const side = inputs.side ??= select("floor-side", sides.map((s) => [s.id, `${s.label} side`]), sides[0]?.id ?? "");
  const fmins = inputs.turn ??= select("floor-minutes", [2, 3, 5, 10, 15, 20].map((m) => [String(m), `${m} minutes`]), "5");
  const floorBox = room.startsWith("caucus:") || room === "mediators" ? h("p", { class: "note" }, "The floor is given in the joint room.") : h("div", {},
    turn ? h("p", { id: "floor-now" }, `The ${ctx.sideLabel(turn.side)} side has the floor.`) : "",
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "floor-side" }, "Give the floor to"), side),
      h("div", {}, h("label", { for: "floor-minutes" }, "For"), fmins)),
    h("div", { class: "row" },
      h("button", { type: "button", id: "give-floor", onclick: run(() => call("PUT", roomURL(room, "floor"), { side: side.value, minutes: Number(fmins.value) }), `The ${ctx!.sideLabel(side.value)} side has the floor for ${fmins.value} minutes.`) }, "Give the floor"),
      turn ? h("button", { type: "button", id: "take-floor", onclick: run(() => call("DELETE", roomURL(room, "floor")), "You have the floor back.") }, "Take the floor back") : ""),
    h("p", { class: "note" }, `Everyone in the ${title} sees whose turn it is and the time left. Messages from others are not held: they show as “out of turn”.`));

  // A notice to every room.
  const text = inputs.notice ??= h("textarea", {
    id: "notice-text", maxlength: "2000",
    // Words changed from (or back to) those of a notice some rooms missed: the button and the line say where it goes now.
    oninput: () => {
      const w = noticeWhere(inputs.notice!.value.trim());
      const b = document.getElementById("send-notice") as HTMLButtonElement | null, g = document.querySelector("#notice-targets strong");
      if (b && b.textContent !== w.label) b.textContent = w.label;
      if (b) b.disabled = noticeSending || !!w.none;
      if (g && g.textContent !== w.goes) g.textContent = w.goes;
    },
  }) as HTMLTextAreaElement;
  const where = noticeWhere(text.value.trim());
  const send = async () => {
    if (noticeSending) return;
    const words = text.value.trim();
    if (!words) { out.textContent = "Write the notice first."; return; }
    noticeSending = true;
    const btn = document.getElementById("send-notice") as HTMLButtonElement | null;
    if (btn) btn.disabled = true;
    const sent: string[] = [];
    const missed: string[] = [];
    const unsure: string[] = []; // of missed: the server did not confirm it there in time
    let result = "", failed = false;
    try {
      // A room another mediator closed meanwhile is left out too.
      await ctx!.sc().refresh().catch(() => {});
      const again = retryRooms(words);
      const have = again ? noticeRetry!.have : [];
      const rooms = again ?? broadcastRooms();
      // Every room is tried: one that refuses the notice does not stop the others.
      for (const r of rooms) {
        try { await ctx!.sc().send(r, { kind: KindNotice, text: words }); sent.push(r); }
        catch (e) {
          if (ctx!.sc().sess.chain.closed(r)) continue; // closed while sending: not a room to send to
          missed.push(r);
          // The server did not confirm it in time: it may be in that room already, read by the people there.
          if (e instanceof Error && e.message === unconfirmedWords) unsure.push(r);
        }
      }
      const n = `${sent.length} ${sent.length === 1 ? "room" : "rooms"}`;
      const refused = missed.filter((r) => !unsure.includes(r));
      // Rooms that may have it are said apart from those that did not take it, and a second press is said to be
      // for when the notice is not there: pressed at once, it could show twice there.
      const tryAgain = () => unsure.length === 0
        ? `“${sendAgainLabel(missed)}” sends it there only: the rooms that have it do not get it twice.`
        : `The server did not confirm it in ${list(unsure.map(roomWords))}, so it may or may not have arrived there: look there first. If it does not appear within a minute, “${sendAgainLabel(missed)}” sends it there only: the rooms that have it do not get it twice.`;
      noticeRetry = missed.length > 0 ? { caseID: ctx!.sc().caseID, words, have: [...have, ...sent], missed } : undefined;
      if (again && rooms.length === 0) { text.value = ""; result = "Every room you can send to has this notice already: the rooms that missed it are closed now or left."; }
      else if (rooms.length === 0) { failed = true; result = "You are in no open room to send a notice to."; }
      else if (missed.length === 0) {
        text.value = "";
        result = again ? `Notice sent to ${list(sent.map(roomWords))} too: every room has it now.` : `Notice sent to ${n}: ${sent.map(ctx!.roomTitle).join(", ")}.`;
      } else if (again) {
        failed = true;
        result = refused.length > 0
          ? (sent.length > 0 ? `Notice sent to ${list(sent.map(roomWords))} too; it` : "It") + ` still could not be sent to ${list(refused.map(roomWords))}. ${tryAgain()}`
          : (sent.length > 0 ? `Notice sent to ${list(sent.map(roomWords))} too. ` : "") + tryAgain();
      } else {
        failed = true;
        result = refused.length > 0 ? `Notice sent to ${n}; it could not be sent to ${list(refused.map(roomWords))}. ${tryAgain()}` : `Notice sent to ${n}. ${tryAgain()}`;
      }
    } finally {
      noticeSending = false;
      if (btn) btn.disabled = false;
      fillPanel(); // where a notice goes may have changed meanwhile
      const o = document.getElementById("floor-result");
      if (o && result) { o.textContent = result; o.className = failed ? "error" : "note"; }
    }
  };
  const noticeBox = h("div", {},
    h("label", { for: "notice-text" }, "Notice to every room"), text,
    h("p", { id: "notice-targets" }, h("strong", {}, where.goes)),
    h("p", { class: "note" }, "Each room's copy is end-to-end encrypted for the people in that room. Rooms you are not in get nothing."),
    h("div", { class: "row" }, h("button", { type: "button", class: "primary", id: "send-notice", onclick: send, ...(noticeSending || where.none ? { disabled: "" } : {}) }, where.label)));

  panel.replaceChildren(
    h("h2", { id: "floor-panel-title" }, "Running the session"),
    h("h3", {}, "Asking for you"), waitingList,
    h("p", { class: "note" }, "Only the mediators see this list. A hand comes down when you lower it, when its owner does, or when you write in that room."),
    h("h3", {}, `Timer: ${title}`), timerBox,
    h("h3", {}, `Speaking order: ${title}`), floorBox,
    h("h3", {}, "Notice"), noticeBox, out);
  if (focused instanceof HTMLElement && focused.isConnected && document.activeElement !== focused) focused.focus();
}
