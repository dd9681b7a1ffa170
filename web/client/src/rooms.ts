// Rooms a mediator opens with chosen people (issue 23): the mediator's
// "Open a room" form and list (close, with a confirmation), and, for
// everyone, the rooms they are in: their names, who is in each (from the
// membership the mediator's device signed) and whether it is cross-side.
// Nobody else sees such a room: the server lists it to its members only.
import { call, casePath, APIError, Case, plainWords } from "./api";
import type { DefinedRoom, OpenRoomRequest } from "./wire_gen";
import type { SecureCase } from "./secure";
import * as E from "./e2ee";
import { h } from "./dom";
import { latest } from "./latest";
import { personName } from "./names";

const errText = plainWords; // never a status, an id or the browser's network text

const roomsAPI = {
  list: (caseID: string) => call<DefinedRoom[]>("GET", `${casePath(caseID)}/defined-rooms`),
  open: (caseID: string, req: OpenRoomRequest) => call<DefinedRoom>("POST", `${casePath(caseID)}/defined-rooms`, req),
  close: (caseID: string, room: string) => call<DefinedRoom>("POST", `${casePath(caseID)}/defined-rooms/${encodeURIComponent(room).replace(/%3A/g, ":")}/close`),
};

/** The longest room name (api.MaxRoomLabel). */
const maxLabel = 60;

const known = new Map<string, DefinedRoom>();
// The server's answers about the rooms are numbered (a list when it is
// asked, an opening or closing when it arrives): a poll asked before a
// closing and answered after it still lists the room open, and drew the
// list again over "Closed …"; it is dropped.
const order = latest();

let secure: SecureCase | undefined;

/**
 * The room as the verified membership chain holds it: its signed members now, or undefined when no
 * statement names it. Never the server's list.
 */
function signed(room: string): string[] | undefined {
  const latest = secure?.sess?.chain.latest();
  return latest ? E.roomOf(latest, room)?.members : undefined;
}

/**
 * The defined room called room (its room name, "room:…" or "cross:…"), if the verified chain holds it
 * with this person in it. Whether it is cross-side comes from its signed name and who is in it from the
 * signed statement; only its label and whether it is closed are the server's word.
 */
export function definedRoom(room: string): DefinedRoom | undefined {
  const d = known.get(room);
  const name = E.definedRoom(room);
  const members = signed(room);
  if (!d || !name || !members || !secure || !members.includes(secure.me.account)) return undefined;
  // A signed closing stands whatever the server says now; a server's closing not yet signed is its word.
  const seq = secure.sess.chain.closed(room);
  const closed = d.closed ?? (seq ? new Date(secure.sess.chain.get(seq)!.created).toISOString() : undefined);
  return { ...d, crossSide: name.crossSide, members, closed };
}

/** Whether room may be shown in the room list: any standing room, and a defined room only as definedRoom finds it. */
export function roomShown(room: string): boolean {
  return !E.definedRoom(room) || !!definedRoom(room);
}

export interface RoomsContext {
  sc: () => SecureCase;
  c: () => Case;
  me: () => string;
  /** How the viewer reads a person ("you", "your lawyer …"). */
  personWords: (account: string) => string;
  /** The room list, banner or composer must show a change. */
  changed: () => void;
  switchRoom: (room: string) => void;
}

let ctx: RoomsContext | undefined;
/** The defined rooms shown when the list was last drawn. */
let lastShown = "";
let poll: number | undefined;

/**
 * Who is in a defined room, as the mediator's device signed it (nobody, until a statement names the
 * room: the server's list is never shown as who reads it).
 */
export function roomMembers(room: string): string[] | undefined {
  if (!E.definedRoom(room)) return undefined;
  return signed(room) ?? [];
}

/** The start of a defined room's "Visible to" line: cross-side as its signed name says. */
export function roomLead(room: string): string | undefined {
  const name = E.definedRoom(room);
  if (!name) return undefined;
  return name.crossSide ? "a cross-side room — people of both sides are in it and read each other's words: " : "only the people in this room: ";
}

/** What replaces the composer of a closed room. */
export function closedNote(room: string): HTMLElement | null {
  const d = definedRoom(room) ?? known.get(room); // a signed closing stands whatever the server's list says
  if (!d?.closed) return null;
  return h("p", { class: "note", id: "room-closed" },
    `A mediator closed this room on ${new Date(d.closed).toLocaleDateString(undefined, { day: "numeric", month: "long", year: "numeric" })}. The people in it can still read what was said; nothing more can be written here.`);
}

/** Loads the defined rooms this person is in (before the room list is drawn). */
export async function loadDefinedRooms(caseID: string, sc: SecureCase): Promise<void> {
  secure = sc;
  const n = order.ask();
  const list = await roomsAPI.list(caseID);
  if (!order.take(n)) return;
  for (const r of list) known.set(r.room, r);
  lastShown = shownNow();
}

function shownNow(): string {
  return [...known.keys()].filter((k) => definedRoom(k)).join(",");
}

/** Starts following this person's defined rooms, and for a mediator draws the panel in box. */
export function mountRooms(box: HTMLElement, c: RoomsContext): void {
  ctx = c;
  secure = c.sc();
  if (poll !== undefined) clearInterval(poll);
  // A room opened or closed elsewhere shows up here within a few seconds.
  poll = window.setInterval(() => { if (document.visibilityState === "visible") void update(); }, 5000);
  draw(box);
}

async function update(): Promise<void> {
  if (!ctx) return;
  const sc = ctx.sc();
  let list: DefinedRoom[];
  const n = order.ask();
  try { list = await roomsAPI.list(sc.caseID); } catch { return; }
  if (!order.take(n)) return;
  let change = false;
  for (const r of list) {
    const old = known.get(r.room);
    if (!old || !!old.closed !== !!r.closed) change = true;
    known.set(r.room, r);
    if (!sc.rooms.includes(r.room)) await sc.addRoom(r.room);
  }
  // A room shows once the verified chain holds it with this person in it (and goes when it does not):
  // while the server lists a room no statement names yet, fetch the chain again.
  if ([...known.keys()].some((k) => !definedRoom(k))) await sc.syncChain().catch(() => {});
  const shown = shownNow();
  if (shown !== lastShown) change = true;
  lastShown = shown;
  if (change) {
    ctx.changed();
    const box = document.getElementById("defined-rooms");
    if (box) draw(box);
  }
}

function peopleWords(ids: string[]): string {
  return ids.map((a) => ctx!.personWords(a)).join(", ");
}

function draw(box: HTMLElement): void {
  if (!ctx || !ctx.sc().mediator) { box.replaceChildren(); box.hidden = true; return; }
  box.hidden = false;
  const mine = [...known.keys()].map(definedRoom).filter((r): r is DefinedRoom => !!r);
  const list = h("ul", { class: "defined-rooms" });
  for (const r of mine) {
    const out = h("div", { "aria-live": "polite" });
    list.append(h("li", { "data-room-label": r.label },
      h("strong", {}, r.label), r.crossSide ? " (cross-side)" : "", r.closed ? " — closed" : "", h("br"),
      h("span", { class: "note" }, "In it: " + peopleWords(r.members)), " ",
      r.closed ? "" : h("button", { type: "button", class: "close-room", "aria-label": `Close the room ${r.label}`, onclick: () => confirmClose(r, out) }, "Close room…"),
      // Closed on the server, its closing not signed yet (the browser that closed it could not): any mediator in it signs.
      r.closed && !ctx.sc().sess.chain.closed(r.room) && ctx.sc().sess.chain.holdsSealed(r.room) ? signCloseButton(r, out) : "",
      out));
  }
  box.setAttribute("aria-labelledby", "defined-rooms-title");
  box.replaceChildren(
    h("h2", { id: "defined-rooms-title" }, "Rooms you open"),
    h("p", { class: "note" }, "Meet some of the people in this case apart: a party without their lawyer, the lawyers without their clients. Nobody you leave out can read it or join it — not the other mediators either. They are not told its name or who is in it; with technical tools they could see only that some room was added to the case's signed membership, and when."),
    mine.length ? list : "",
    openForm());
}

function openForm(): HTMLElement {
  const c = ctx!.c();
  const me = ctx!.me();
  const name = h("input", { id: "room-label", type: "text", required: true, maxlength: String(maxLabel), autocomplete: "off" }) as HTMLInputElement;
  const boxes: HTMLInputElement[] = [];
  const pick = h("fieldset", { id: "room-people" }, h("legend", {}, "Who is in it"));
  const person = (account: string, words: string, mandatory: boolean) => {
    const id = "room-person-" + account.replace(/[^a-z0-9_]/gi, "");
    const cb = h("input", { type: "checkbox", id, value: account }) as HTMLInputElement;
    if (mandatory) { cb.checked = true; cb.disabled = true; }
    boxes.push(cb);
    pick.append(h("div", {}, h("label", { class: "check" }, cb, words)));
  };
  person(me, "You (a mediator is in every room)", true);
  for (const m of c.mediators) if (!m.recused && m.accountId !== me) person(m.accountId, personName(m.name, "mediator"), false);
  const sideOf = (s?: string) => c.sides.find((x) => x.id === s)?.label ?? s ?? "";
  for (const p of c.participants) {
    if (p.role === "observer") continue;
    person(p.accountId, personName(p.name, p.role, sideOf(p.side)), false);
  }
  if (c.participants.some((p) => p.role === "observer")) pick.append(h("p", { class: "note" }, "Observers are never put in a room of their own."));
  const cross = h("input", { type: "checkbox", id: "room-cross" }) as HTMLInputElement;
  const crossField = h("div", { class: "cross-field" }, h("label", { class: "check" }, cross,
    "Cross-side room: people of both sides will be in it and will read each other's words. Everyone in it is told so at the top of the room."));
  const who = h("p", { class: "note", id: "room-who", "aria-live": "polite" });
  const chosen = () => boxes.filter((b) => b.checked).map((b) => b.value);
  const summary = () => {
    who.textContent = `Who will see this room, its name and its messages: ${peopleWords(chosen())}${cross.checked ? " — people of both sides, who read each other's words" : ""}. Nobody else can read or join it, or learn who is in it: the case's signed membership, which anyone in the case can inspect with technical tools, shows only that some room was added, never its name or its people. Your browser signs who is in it, so nobody can be added later.`;
  };
  for (const b of boxes) b.addEventListener("change", summary);
  cross.addEventListener("change", summary);
  summary();
  const out = h("div", { "aria-live": "polite" });
  const form = h("form", {
    id: "open-room-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const btn = form.querySelector("button[type=submit]") as HTMLButtonElement;
      btn.disabled = true;
      out.replaceChildren();
      const members = chosen();
      try {
        if (members.length < 2) throw new Error("choose at least one person besides you");
        // This browser names the room (from the salt of the entry that seals who is in it), not the server.
        const entry = await E.newRoomOpening(ctx!.sc().caseID, cross.checked, members);
        const r = await roomsAPI.open(ctx!.sc().caseID, { id: E.definedRoom(entry.room)!.id, label: name.value, members, crossSide: cross.checked });
        order.take(order.ask());
        known.set(r.room, r);
        try {
          await ctx!.sc().signRoom(r, entry);
        } catch (x) {
          out.replaceChildren(h("p", { class: "error", role: "alert" }, `The room "${r.label}" was opened, but your browser could not sign who is in it, so nobody can write there yet: ${errText(x)}. Reload the page and try again.`));
          return;
        }
        await ctx!.sc().addRoom(r.room);
        lastShown = shownNow(); // drawn here: the next poll must not redraw over the status below
        ctx!.changed();
        draw(document.getElementById("defined-rooms")!);
        ctx!.switchRoom(r.room);
        document.getElementById("room-opened")?.remove();
        document.getElementById("defined-rooms")!.append(h("p", { role: "status", id: "room-opened" }, `Opened "${r.label}". It is now in the rooms of: ${peopleWords(r.members)}.`));
      } catch (x) {
        out.replaceChildren(h("p", { class: "error", role: "alert" }, "The room was not opened: " + errText(x)));
      } finally {
        btn.disabled = false;
      }
    },
  },
  h("h3", {}, "Open a room"),
  h("label", { for: "room-label" }, `Room name (the people in it see it; at most ${maxLabel} characters)`), name,
  pick, crossField, who,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Open the room")), out);
  return form;
}

/**
 * Signs the closing of r, which the server has closed: every member's browser then refuses to write there and no
 * server can reopen it. If the browser cannot sign it, out says so — the room is closed, the closing not signed yet —
 * and offers to sign it again (the room's line in the list offers it too, after a reload).
 */
async function signClosing(r: DefinedRoom, out: HTMLElement): Promise<void> {
  try {
    await ctx!.sc().signClose(r.room);
  } catch (e) {
    // (plainWords's words for an outage say to reload, which would not help here: the button below does.)
    out.parentElement?.querySelector("button.close-room")?.remove(); // it is closed: nothing more to close
    const why = e instanceof TypeError || (e instanceof APIError && e.status >= 500) ? "the service did not answer" : errText(e);
    out.replaceChildren(h("p", { class: "error", role: "alert", id: "room-close-unsigned" },
      `"${r.label}" is closed: nobody can write in it now. But your browser could not sign its closing (${why}), and until it is signed the server could open the room again. Press “Sign the closing” to try again.`),
    signCloseButton(r, out));
    return;
  }
  ctx!.changed();
  draw(document.getElementById("defined-rooms")!);
  document.getElementById("defined-rooms")!.append(h("p", { role: "status", id: "room-closed-status" }, `Closed "${r.label}". Its messages stay readable to the people in it.`));
}

function signCloseButton(r: DefinedRoom, out: HTMLElement): HTMLElement {
  const b = h("button", {
    type: "button", class: "sign-close-room", "aria-label": `Sign the closing of the room ${r.label}`,
    onclick: async () => { b.disabled = true; try { await signClosing(r, out); } finally { b.disabled = false; } },
  }, "Sign the closing") as HTMLButtonElement;
  return b;
}

function confirmClose(r: DefinedRoom, out: HTMLElement): void {
  const others = (roomMembers(r.room) ?? []).filter((a) => a !== ctx!.me());
  const yes = h("button", {
    type: "button", class: "danger", id: "confirm-close-room", onclick: async () => {
      try {
        let closed: DefinedRoom;
        try { closed = await roomsAPI.close(ctx!.sc().caseID, r.room); } catch (e) {
          if (!(e instanceof APIError && e.status === 409)) throw e;
          closed = { ...r, closed: r.closed ?? new Date().toISOString() }; // closed on the server already: sign it
        }
        order.take(order.ask());
        known.set(closed.room, closed);
      } catch (e) { out.replaceChildren(h("p", { class: "error", role: "alert" }, `"${r.label}" was not closed: ` + errText(e))); return; }
      await signClosing(r, out);
    },
  }, `Yes, close ${r.label}`);
  out.replaceChildren(h("div", { role: "alertdialog", "aria-labelledby": "close-room-q", class: "confirm" },
    h("p", { id: "close-room-q", tabindex: "-1" }, `Close the room "${r.label}"? ${others.length ? peopleWords(others) : "Nobody else"} and you can no longer write in it, for good. Everyone in it keeps reading what was said there. This cannot be undone.`),
    h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => out.replaceChildren() }, "Keep it open"))));
  // The question has the focus, not the button: Enter pressed twice must not close the room.
  document.getElementById("close-room-q")?.focus();
}
