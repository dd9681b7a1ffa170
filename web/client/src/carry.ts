// Carries: a mediator proposes carrying a party's caucus message to the
// joint room; only its author decides, on their own device. The author may
// edit the words first (their device encrypts exactly what they approved;
// the consent the server records names that payload), or decline. Every
// view of a proposal follows its real state as it changes: proposed,
// carried (and whether the author edited it), declined.
import * as E from "./e2ee";
import type { SecureCase, SecureEvent } from "./secure";

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
type H = (tag: string, attrs?: Attrs, ...kids: (Node | string | null | undefined | false)[]) => HTMLElement;

/** What the carry screens need from the page. */
export interface CarryContext {
  h: H;
  sc: () => SecureCase;
  me: () => string;
  fmtTime: (ms: number) => string;
  roomTitle: (room: string) => string;
  roomClass: (room: string) => string;
  errText: (e: unknown) => string;
  /** Words for who can read the room, e.g. "you, Sam Ortiz, the mediator Morgan Reyes". */
  visibleTo: (room: string) => string;
  /** Who can read room, as a sentence's subject: "you, … and the mediator …" (no "Visible to:"). */
  readersOf: (room: string) => string;
  isMediator: (account: string) => boolean;
}

let cx: CarryContext;

/** Called once by the page. */
export function initCarry(ctx: CarryContext): void { cx = ctx; }

const declines = new Map<string, SecureEvent>();     // carry id → its author's decline
const copies = new Map<string, SecureEvent[]>();     // carry id → carried copies read in the joint room
// carry id → the accepted proposal: the first one a mediator of the signed
// membership posted in a caucus. Anyone in a room can post a message that
// says it is a proposal; only this one decides what a copy or a decline
// naming the id is checked against.
const proposals = new Map<string, SecureEvent>();
const conflicting = new Set<string>();               // carry ids a second, different proposal named too
const views = new Map<string, (() => void)[]>();     // carry id → views to refresh when it changes

function original(room: string, ref?: { epoch: number; offset: number }): SecureEvent | undefined {
  return ref ? cx.sc().seen.get(`${room}|${ref.epoch}|${ref.offset}`) : undefined;
}

/**
 * What this device knows of a carried copy's source: the proposal its
 * carry id names and, through the proposal's position, the original. A
 * carried copy names no position itself (the whole joint room reads it),
 * so only those who read the caucus (its side and the mediators) find
 * the original; for them a copy whose author is not the original's, or
 * whose source room is not the proposal's, was not consented.
 */
function sourceOf(copy: SecureEvent): { orig?: SecureEvent; consented: boolean; conflict?: boolean } {
  const p = copy.plain!;
  if (conflicting.has(p.carryID!)) return { consented: false, conflict: true };
  const prop = proposals.get(p.carryID!);
  if (!prop) return { consented: true };
  // The copy must come from the proposal's caucus, land in its target
  // room, and name its proposer.
  if (prop.room !== p.room || prop.plain?.room !== copy.room || prop.from !== p.proposer) return { consented: false };
  const orig = original(prop.room, prop.plain?.ref);
  return { orig, consented: !orig || orig.from === copy.from };
}

/**
 * Whether ev can be a carry's proposal: posted in a caucus (never in the
 * joint room, nor in the room it would carry to), naming a position, by a
 * mediator of the signed statement the sender's keys were issued under
 * (never the case record).
 */
function acceptable(ev: SecureEvent): boolean {
  const p = ev.plain!;
  return !!E.caucusSide(ev.room) && ev.room !== p.room && !!p.ref && !!ev.fromMediator;
}

const hexOf = (b?: Uint8Array) => (b ? Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") : "");

/** Whether two proposals say the same (the same one, read or sent twice). */
function sameProposal(a: SecureEvent, b: SecureEvent): boolean {
  const x = a.plain!, y = b.plain!;
  return a.room === b.room && a.from === b.from && x.room === y.room &&
    x.ref?.epoch === y.ref?.epoch && x.ref?.offset === y.ref?.offset && hexOf(x.refHash) === hexOf(y.refHash);
}

function whoWords(account: string): string {
  return account === cx.me() ? "you" : cx.sc().nameOf(account);
}

function changed(id: string): void {
  for (const f of views.get(id) ?? []) f();
}

function watch(id: string, f: () => void): void {
  views.set(id, [...(views.get(id) ?? []), f]);
  f();
}

/**
 * The line for a carry event (a proposal, a carried copy, a decline), or
 * null when ev is not one.
 */
export function carryItem(ev: SecureEvent): HTMLElement | null {
  const p = ev.plain;
  if (!p || !p.carryID) return null;
  if (ev.kind === E.KindCarryProposal) return proposalItem(ev, p);
  if (ev.kind === E.KindCarried) return carriedItem(ev, p);
  if (ev.kind === E.KindCarryDeclined) return declinedItem(ev, p);
  return null;
}

function proposalItem(ev: SecureEvent, p: E.Plaintext): HTMLElement {
  const { h } = cx;
  const id = p.carryID!;
  if (!acceptable(ev)) {
    return h("li", { class: "proposal ignored", "data-carry": id },
      h("span", { class: "meta" }, `${cx.fmtTime(ev.at)} · ${ev.from === cx.me() ? "You" : cx.sc().nameOf(ev.from)}`), h("br"),
      "A proposal to carry a message was ignored: only a mediator proposes that, in a side’s caucus.");
  }
  const prior = proposals.get(id);
  if (!prior) {
    proposals.set(id, ev);
    changed(id); // a carried copy read before it now finds its original
  } else if (!sameProposal(prior, ev) && !conflicting.has(id)) {
    conflicting.add(id);
    changed(id);
  }
  const orig = original(ev.room, p.ref);
  const author = orig?.from ?? "";
  const mine = author === cx.me();
  const who = ev.from === cx.me() ? "You propose" : `${cx.sc().nameOf(ev.from)} proposes`;
  const li = h("li", { class: "proposal", "data-carry": id },
    h("span", { class: "meta" }, `${cx.fmtTime(ev.at)} · ${ev.from === cx.me() ? "You" : cx.sc().nameOf(ev.from)}`), h("br"),
    `${who} carrying ${mine ? "your" : author ? cx.sc().nameOf(author) + "’s" : "a"} message${orig ? ` “${orig.text}”` : ""} to the joint room, where everyone in the mediation will see it.`,
    p.text ? h("span", { class: "note" }, " Note: " + p.text) : null);
  const state = h("p", { class: "carry-state", role: "status", "data-carry-state": "proposed" });
  const controls = h("div", { class: "carry-controls" });
  li.append(state, controls);
  let decided = false;
  watch(id, () => {
    const carried = (copies.get(id) ?? []).find((c) => sourceOf(c).consented);
    const declined = declines.get(id);
    if (conflicting.has(id)) {
      state.dataset.carryState = "conflict";
      state.textContent = "Two different proposals use the same reference, so this browser cannot tell which one was answered. " +
        `Nothing is shown as carried or declined; ${cx.sc().mediator ? "propose it again" : "ask the mediator to propose it again"}.`;
      controls.replaceChildren();
      decided = true;
    } else if (carried) {
      const edited = orig ? (carried.text ?? "") !== (orig.text ?? "") : false;
      state.dataset.carryState = edited ? "carried-edited" : "carried";
      state.textContent = mine
        ? `Carried to the joint room with your consent${edited ? ", as you edited it" : ""}.`
        : `Carried to the joint room with ${whoWords(carried.from)}’s consent${edited ? `, edited by them before approving: “${carried.text}”` : ", word for word"}.`;
      controls.replaceChildren();
      decided = true;
    } else if (declined) {
      state.dataset.carryState = "declined";
      state.textContent = mine ? "You declined; nothing was carried." : `Declined by ${whoWords(declined.from)}; nothing was carried.`;
      controls.replaceChildren();
      decided = true;
    } else {
      state.dataset.carryState = "proposed";
      state.textContent = mine ? "Waiting for your decision. Nothing is carried unless you approve."
        : `Proposed. Waiting for ${author ? cx.sc().nameOf(author) : "its author"} to approve or decline on their own device.`;
    }
  });
  if (mine && !decided) controls.append(authorControls(ev, orig!));
  return li;
}

const upper = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

/** The author's choice: edit the words, then approve, or decline; each confirmed. */
function authorControls(ev: SecureEvent, orig: SecureEvent): HTMLElement {
  const { h } = cx;
  const id = ev.plain!.carryID!;
  const taID = "carry-text-" + id;
  const ta = h("textarea", { id: taID, rows: "3", maxlength: "40000", "aria-describedby": taID + "-hint" }) as HTMLTextAreaElement;
  ta.value = orig.text ?? "";
  const out = h("div", { "aria-live": "polite" });
  const buttons = h("div", { class: "row" });
  const wrap = h("div", { class: "carry-author" },
    h("label", { for: taID }, "Text to carry (you may edit it first)"), ta,
    h("p", { class: "note", id: taID + "-hint" }, `Only this text goes to the joint room, from you. ${upper(cx.readersOf("joint"))} will see it. The mediator will see whether you changed it. Your original message stays in your caucus.`),
    buttons, out);
  const confirmStep = (words: string, yes: string, act: () => Promise<unknown>) => {
    const go = h("button", {
      type: "button", class: "primary",
      onclick: async () => {
        (go as HTMLButtonElement).disabled = true;
        try {
          await act();
          out.replaceChildren();
        } catch (e) {
          if (e instanceof Error && e.name === "CarryMismatch") {
            out.replaceChildren(h("p", { class: "error", role: "alert", "data-carry-mismatch": id }, e.message));
            return;
          }
          out.replaceChildren(h("p", { class: "error", role: "alert" }, "That did not work: " + cx.errText(e) + ". You can try again."));
          (go as HTMLButtonElement).disabled = false;
        }
      },
    }, yes);
    const question = h("p", { tabindex: "-1", class: "carry-confirm-q" }, words);
    out.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": yes },
      question,
      h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => out.replaceChildren() }, "Cancel"))));
    // The question has the focus, not the button: Enter pressed twice must not act.
    question.focus();
  };
  buttons.append(
    h("button", {
      type: "button", class: "primary", "data-carry-approve": id,
      onclick: () => {
        const text = ta.value;
        if (!text.trim()) {
          out.replaceChildren(h("p", { class: "error", role: "alert" }, "The text is empty. Write what may be carried, or decline."));
          return;
        }
        const edited = text !== (orig.text ?? "");
        confirmStep(`${upper(cx.readersOf("joint"))} will see ${edited ? "your edited text" : "your message word for word"}: “${text}”${/[.!?]$/.test(text.trim()) ? "" : "."} This cannot be undone.`,
          "Yes, carry this text", () => cx.sc().approveCarry(ev, text));
      },
    }, "Approve…"),
    h("button", {
      type: "button", "data-carry-decline": id,
      onclick: () => confirmStep("Nothing will be carried. The mediator will see that you declined; you cannot approve this proposal afterwards.",
        "Yes, decline", () => cx.sc().declineCarry(ev)),
    }, "Decline…"));
  return wrap;
}

function carriedItem(ev: SecureEvent, p: E.Plaintext): HTMLElement {
  const { h } = cx;
  const id = p.carryID!;
  copies.set(id, [...(copies.get(id) ?? []), ev]);
  changed(id);
  const words = ev.from === cx.me() ? "your" : "their";
  const li = h("li", { class: "carried " + cx.roomClass(p.room ?? ""), "data-carry": id });
  // Followed as the proposal (in the caucus, perhaps read later) comes:
  // only those who can read the caucus (its side and the mediators) find
  // the original, to compare, and to tell a copy from someone else (only
  // the author's own device can consent).
  watch(id, () => {
    const { orig, consented, conflict } = sourceOf(ev);
    const edited = consented && orig ? (ev.text ?? "") !== (orig.text ?? "") : false;
    li.dataset.edited = String(edited);
    const from = `${cx.fmtTime(ev.at)} · ${ev.from === cx.me() ? "You" : cx.sc().nameOf(ev.from)} · `;
    li.replaceChildren(
      h("span", { class: "meta" }, consented
        ? `${from}carried from the ${cx.roomTitle(p.room ?? "")} with ${words} consent (proposed by ${cx.sc().nameOf(p.proposer ?? "")})${edited ? " · edited by its author before approving" : ""}`
        : `${from}says it was carried from the ${cx.roomTitle(p.room ?? "")}`),
      h("br"), h("span", { class: "text" }, ev.text ?? ""),
      ...(consented ? [] : [h("p", { class: "error" }, conflict
        ? "Two different proposals use this copy’s reference, so this browser cannot confirm that the message’s author consented."
        : "This copy does not come from the message’s author; it was not consented.")]));
  });
  return li;
}

/**
 * A decline counts only through the accepted proposal: posted in that
 * proposal's caucus by the author of the message the proposal names (the
 * server lets only them decline). The decline's own position is not used:
 * anyone could name a message of their own there.
 */
function declinedItem(ev: SecureEvent, p: E.Plaintext): HTMLElement {
  const { h } = cx;
  const id = p.carryID!;
  const prop = proposals.get(id);
  const orig = prop ? original(prop.room, prop.plain?.ref) : undefined;
  const fromAuthor = !!prop && !conflicting.has(id) && ev.room === prop.room && !!orig && orig.from === ev.from;
  if (fromAuthor && !declines.has(id)) {
    declines.set(id, ev);
    changed(id);
  }
  const who = ev.from === cx.me() ? "You" : cx.sc().nameOf(ev.from);
  return h("li", { class: "proposal declined", "data-carry": id },
    h("span", { class: "meta" }, `${cx.fmtTime(ev.at)} · ${who}`), h("br"),
    fromAuthor ? `${who} declined carrying ${ev.from === cx.me() ? "your" : "their"} message to the joint room; nothing was carried.`
      : "A decline that does not come from the message’s author was ignored.");
}

/**
 * The mediator's offer under a party's caucus message: propose carrying
 * it. Appended by the page to the message's line.
 */
export function carryOffer(ev: SecureEvent): HTMLElement | null {
  const { h } = cx;
  const sc = cx.sc();
  if (!sc.mediator || !E.caucusSide(ev.room) || ev.from === cx.me() || cx.isMediator(ev.from)) return null;
  const status = h("span", { role: "status" });
  const b = h("button", {
    type: "button",
    onclick: async () => {
      (b as HTMLButtonElement).disabled = true;
      try {
        await sc.proposeCarry(ev, "");
        status.textContent = ` Proposed. ${sc.nameOf(ev.from)} decides on their own device; the proposal below shows what they decide.`;
      } catch (e) {
        status.textContent = " Not proposed: " + cx.errText(e);
        (b as HTMLButtonElement).disabled = false;
      }
    },
  }, "Propose carrying to the joint room");
  return h("div", {}, b, status);
}
