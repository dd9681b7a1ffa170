// Sessions of a case, their mail, and the caseload view. Times are shown
// in the viewer's own time zone (and in the zone the session was scheduled
// in, when that differs).
import { call, casePath, APIError, plainWords } from "./api";
import { h } from "./dom";
import { latest, type Latest } from "./latest";
import type * as W from "./wire_gen";

export interface SessionChange { kind: string; at: string; by: string; from?: string; reason?: string }
export interface Session {
  id: string; caseId: string; start: string; end: string; timeZone: string; minutes: number;
  rooms: string[]; expected: string[]; status: string; sequence: number; changes?: SessionChange[]; mailWarning?: string;
}
export interface MailMessage {
  id: string; kind: string; to: string; subject: string; state: string; attempts: number; notBefore: string;
  nextAttempt: string; created: string; done?: string; lastError?: string; development?: boolean; text?: string; attachment?: string;
}
export interface StageNorm { caseType: string; stage: string; cases: number; medianDays: number; p90Days: number }
export interface CaseloadRow {
  caseId: string; title?: string; reference?: string; opened?: string; type: string; stage: string; stageSince: string; daysInStage: number; nextSession?: string;
  unacknowledged?: string[]; unacknowledgedCount: number; overdueFollowUps?: number[]; stalled: boolean; norm?: StageNorm;
}
export interface Caseload { cases: CaseloadRow[]; norms: StageNorm[]; method: string }

const sessionsAPI = {
  list: (id: string) => call<Session[]>("GET", casePath(id) + "/sessions"),
  add: (id: string, start: string, timeZone: string, minutes: number, rooms: string[]) =>
    call<Session>("POST", casePath(id) + "/sessions", { start, timeZone, minutes, rooms }),
  move: (id: string, s: string, start: string, timeZone: string, reason: string) =>
    call<Session>("POST", `${casePath(id)}/sessions/${encodeURIComponent(s)}/move`, { start, timeZone, reason }),
  cancel: (id: string, s: string, reason: string) =>
    call<Session>("POST", `${casePath(id)}/sessions/${encodeURIComponent(s)}/cancel`, { reason }),
  mail: (id: string) => call<MailMessage[]>("GET", casePath(id) + "/mail"),
  resend: (id: string, m: string) => call<MailMessage>("POST", `${casePath(id)}/mail/${encodeURIComponent(m)}/resend`, {}),
  caseload: () => call<Caseload>("GET", "/api/v1/caseload"),
  followUps: (id: string) => call<FollowUps>("GET", casePath(id) + "/followups"),
  setFollowUps: (id: string, days: number[]) => call<FollowUps>("POST", casePath(id) + "/followups", { days }),
};
export interface Checkpoint { days: number; due: string; issued: number; mailed: number; mailFailed: number; notMailed: number; answered: number }
export interface FollowUps { checkpoints: Checkpoint[]; links?: { name: string; days: number; link?: string; mailed?: boolean }[]; mailWarning?: string }

const errText = plainWords; // never a status, an id or the browser's network text

export const myZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";

/** When, in zone (then the caller names the zone), or in this browser's zone, said with its name ("… at 12:30 CET"). */
function when(iso: string, zone?: string): string {
  return new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone: zone, ...(zone ? {} : { timeZoneName: "short" }) })
    .format(new Date(iso));
}
function clock(iso: string, zone?: string): string {
  return new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: zone }).format(new Date(iso));
}

/** A time zone as the place it is named after: "America/New_York" → "New York", "Europe/Berlin" → "Berlin" ("UTC" stays). */
export const zoneWords = (zone: string) => zone.slice(zone.lastIndexOf("/") + 1).replace(/_/g, " ");

/** "Tuesday 9 June 2026, 10:00–11:30 your time (Paris)", and the scheduled zone's time when it differs: never a zone's id ("Europe/Paris"). */
export function sessionTime(s: Session): string {
  const mine = myZone();
  let out = `${when(s.start, mine)}–${clock(s.end, mine)}, your time (${zoneWords(mine)})`;
  if (s.timeZone !== mine) out += ` · ${clock(s.start, s.timeZone)} in ${zoneWords(s.timeZone)}, where it was scheduled`;
  return out;
}

/** A datetime-local value for an instant in a zone. */
function localInput(iso: string, zone: string): string {
  const p = Object.fromEntries(new Intl.DateTimeFormat("en-CA", { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: zone })
    .formatToParts(new Date(iso)).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

export interface SessionContext {
  caseID: string;
  mediator: boolean;
  rooms: string[];
  roomTitle: (room: string) => string;
  nameOf: (account: string) => string;
  /** Closed with a full or partial agreement: the mediator may set check-ins. */
  agreement?: boolean;
  /** Closed: no more sessions to schedule. */
  closed?: boolean;
}

const mailState: Record<string, (m: MailMessage) => string> = {
  sent: () => "Sent",
  held: () => "Not sent: no mail server is set up (development outbox). The text is below.",
  pending: (m) => m.attempts > 0
    ? `Not delivered yet; trying again at ${when(m.nextAttempt)}.` + (m.lastError ? " " + m.lastError : "")
    : new Date(m.notBefore) > new Date() ? `Goes out ${when(m.notBefore)}` : "Being sent",
  sending: () => "Being sent",
  // No attempt: its send-time check kept failing, so it never reached the mail server.
  failed: (m) => m.attempts === 0
    ? "Not sent: when its time came, the server could not confirm it was still wanted. Resend it if it is."
    // lastError is the server's plain sentence of why (mail/outbox.go sendReason), with what to do.
    : "Not sent. " + (m.lastError ?? "The mail server gave no reason; check the address, then resend."),
  uncertain: () => "May not have been delivered — the sending stopped half-way. Resend?",
  cancelled: () => "Withdrawn (the session changed before it was due)",
};
const kindWords: Record<string, string> = {
  invitation: "Invitation", update: "New time", cancellation: "Cancellation", reminder: "Reminder", survey: "Survey", "follow-up": "Check-in", join: "Invitation link",
  "sign-in": "Sign-in link (asked for by the participant; not shown)", "email-confirmation": "Address confirmation (not shown)",
};

// What a mediator has filled in the form to schedule a session and not yet
// sent, by case: the list drawn again (a session moved or cancelled) keeps
// it; scheduling the session, or the case closing, drops it.
interface ScheduleDraft { start: string; zone: string; minutes: string; rooms: string[] }
const scheduling = new Map<string, ScheduleDraft>();

/**
 * What the mediator has not dismissed yet about a case's sessions, shown above the list (never in a browser alert)
 * and kept through every redraw until dismissed or the page is left: each warning of the server after a scheduling,
 * move or cancellation (some mail could not be queued, or someone was not mailed) — a later write without one does
 * not take an earlier one away — and each write's refusal that its form, drawn again meanwhile (after another
 * write), can no longer show.
 */
interface SessionNote { kind: "mail" | "error"; words: string }
const sessionNotes = new Map<string, SessionNote[]>();
function addNote(caseID: string, kind: SessionNote["kind"], words: string): void {
  const xs = sessionNotes.get(caseID) ?? [];
  xs.push({ kind, words });
  sessionNotes.set(caseID, xs);
  document.getElementById("sessions-notes")?.replaceWith(notesBox(caseID));
}
const noteMail = (caseID: string, warning?: string) => { if (warning) addNote(caseID, "mail", warning); };
/** A write's refusal: next to its form when that is still on screen, else above the list (with what was asked). */
function refused(out: HTMLElement, caseID: string, words: string, asked: string): void {
  if (out.isConnected) out.textContent = words;
  else addNote(caseID, "error", `${words} (${asked})`);
}
function notesBox(caseID: string): HTMLElement {
  const xs = sessionNotes.get(caseID) ?? [];
  let mail = 0, errs = 0;
  return h("div", { id: "sessions-notes" }, ...xs.map((x) => {
    const id = x.kind === "mail" ? (mail++ ? `sessions-mail-warning-${mail}` : "sessions-mail-warning") : `sessions-refused-${++errs}`;
    return h("div", { class: "sessions-note" }, h("p", { class: "error", role: "alert", id }, x.words),
      h("button", {
        type: "button", class: "sessions-note-dismiss", "aria-describedby": id,
        onclick: () => {
          const left = (sessionNotes.get(caseID) ?? []).filter((y) => y !== x);
          sessionNotes.set(caseID, left);
          document.getElementById("sessions-notes")?.replaceWith(notesBox(caseID));
        },
      }, "Dismiss"));
  }));
}
/** A session asked for, in words for a note: "the session asked for 2026-06-09 10:00 Paris time". */
const askedFor = (start: string, zone: string) => `the session asked for ${start.replace("T", " ")} ${zoneWords(zone)} time`;

/**
 * The list's reads, numbered when asked, per sessions section: each write (schedule, move, cancel) is followed by a
 * read, and after two quick writes the first read can be answered after the second; taken, it would put the list back
 * as it was before the second write (a session just scheduled gone, a cancelled one back).
 */
const listOrder = new WeakMap<HTMLElement, Latest>();

export async function renderSessions(sec: HTMLElement, ctx: SessionContext): Promise<void> {
  let order = listOrder.get(sec);
  if (!order) listOrder.set(sec, order = latest());
  const asked = order.ask();
  let list: Session[] = [];
  let err = "";
  try { list = await sessionsAPI.list(ctx.caseID); } catch (e) { err = errText(e); }
  // The lists read (taken or dropped), for a test that holds an old one to wait on before it looks.
  sec.dataset.listsRead = String(Number(sec.dataset.listsRead ?? "0") + 1);
  if (!order.take(asked)) return; // a newer list is on the screen
  const now = Date.now();
  const shown = ctx.mediator ? list : list.filter((s) => new Date(s.end).getTime() > now);
  if (ctx.closed) scheduling.delete(ctx.caseID);
  const ul = h("ul", { class: "sessions", id: "session-list" });
  for (const s of shown) ul.append(sessionItem(s, ctx, () => void renderSessions(sec, ctx)));
  // The focus stays where it was (a field of a form being filled in).
  const active = document.activeElement;
  const focused = active instanceof HTMLElement && sec.contains(active) && active.id ? active.id : "";
  sec.replaceChildren(h("h2", { id: "sessions-title" }, ctx.mediator ? "Sessions" : "Your upcoming sessions"),
    h("p", { class: "note" }, ctx.mediator
      ? "Joint sessions are shown to everyone in the case; a caucus session only to that side and the mediators. Invitations by email carry only the time and the link, never what the case is about."
      : "You see the joint sessions and the sessions you are invited to. Invitations by email carry only the time and the link, never what the case is about."),
    err ? h("p", { class: "error" }, "Sessions could not be loaded: " + err) : "",
    ctx.mediator ? notesBox(ctx.caseID) : "",
    shown.length ? ul : h("p", { class: "note" }, "No sessions are scheduled yet."));
  if (!ctx.mediator) return;
  if (ctx.agreement) {
    const fu = h("div", { id: "followups" });
    sec.append(fu);
    await renderFollowUps(fu, ctx);
  }
  if (!ctx.closed) sec.append(scheduleForm(ctx, () => void renderSessions(sec, ctx)));
  const mailBox = h("div", { id: "mail" });
  sec.append(mailBox);
  if (focused && document.activeElement === document.body) sec.querySelector<HTMLElement>("#" + CSS.escape(focused))?.focus({ preventScroll: true });
  await renderMail(mailBox, ctx);
}

function sessionItem(s: Session, ctx: SessionContext, refresh: () => void): HTMLElement {
  const cancelled = s.status === "cancelled";
  const li = h("li", { class: "session" + (cancelled ? " cancelled" : ""), "data-session": s.id },
    h("strong", {}, (cancelled ? "Cancelled: " : "") + sessionTime(s)),
    h("span", { class: "note" }, ` · ${s.minutes} minutes · ${s.rooms.map(ctx.roomTitle).join(", ")}`));
  if (!ctx.mediator) return li;
  const moves = (s.changes ?? []).filter((c) => c.kind !== "scheduled");
  if (moves.length) {
    li.append(h("p", { class: "note" }, moves.map((c) => `${c.kind === "moved" ? "Moved" : "Cancelled"} ${when(c.at)}: ${c.reason ?? ""}`).join(" · "),
      " (the reasons are seen by mediators only)"));
  }
  if (cancelled) return li;
  const start = h("input", { type: "datetime-local", id: "move-start-" + s.id, value: localInput(s.start, s.timeZone), required: true }) as HTMLInputElement;
  const reason = h("input", { type: "text", id: "move-reason-" + s.id, maxlength: "500", required: true, placeholder: "Why (mediators only)" }) as HTMLInputElement;
  const out = h("p", { class: "error", role: "alert" });
  const cancelReason = h("input", { type: "text", id: "cancel-reason-" + s.id, maxlength: "500", placeholder: "Why (mediators only)" }) as HTMLInputElement;
  const cancelBox = h("div", { "aria-live": "polite" });
  li.append(h("details", {}, h("summary", {}, "Move or cancel this session"),
    h("form", {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        out.textContent = "";
        try {
          const r = await sessionsAPI.move(ctx.caseID, s.id, start.value, s.timeZone, reason.value);
          noteMail(ctx.caseID, r.mailWarning);
          refresh();
        } catch (x) { refused(out, ctx.caseID, "Not moved: " + errText(x), `moving the session of ${when(s.start)}`); }
      },
    },
    h("div", { class: "row" },
      h("div", {}, h("label", { for: start.id }, `New time (${s.timeZone})`), start),
      h("div", {}, h("label", { for: reason.id }, "Reason"), reason),
      h("button", { type: "submit", id: "move-" + s.id }, "Move and send the new time")), out),
    h("div", { class: "row" },
      h("div", {}, h("label", { for: cancelReason.id }, "Reason for cancelling"), cancelReason),
      h("button", {
        type: "button", id: "cancel-" + s.id,
        onclick: () => {
          if (!cancelReason.value.trim()) { out.textContent = "Say why you cancel it (only mediators see the reason)."; return; }
          cancelBox.replaceChildren(h("p", {}, `Cancel the session of ${when(s.start)}? Everyone expected gets a cancellation by email. This cannot be undone; you would schedule a new session instead.`),
            h("button", {
              type: "button", class: "danger", id: "cancel-confirm-" + s.id,
              onclick: async () => {
                try { const r = await sessionsAPI.cancel(ctx.caseID, s.id, cancelReason.value); noteMail(ctx.caseID, r.mailWarning); refresh(); } catch (x) {
                  refused(out, ctx.caseID, "Not cancelled: " + errText(x), `cancelling the session of ${when(s.start)}`);
                }
              },
            }, "Yes, cancel it and tell everyone"),
            h("button", { type: "button", onclick: () => cancelBox.replaceChildren() }, "Keep it"));
        },
      }, "Cancel session…")), cancelBox));
  return li;
}

/** Cases with a scheduling being sent: the form, even drawn again meanwhile, sends no second one until it is answered. */
const sending = new Set<string>();

function scheduleForm(ctx: SessionContext, refresh: () => void): HTMLElement {
  // What the mediator filled in and has not sent survives the form being drawn again.
  const kept = scheduling.get(ctx.caseID);
  const start = h("input", { type: "datetime-local", id: "session-start", value: kept?.start ?? "", required: true }) as HTMLInputElement;
  const zone = h("input", { type: "text", id: "session-zone", value: kept?.zone ?? myZone(), required: true, maxlength: "64", autocomplete: "off" }) as HTMLInputElement;
  const minutes = h("input", { type: "number", id: "session-minutes", value: kept?.minutes ?? "90", min: "15", max: "600", step: "15", required: true }) as HTMLInputElement;
  const rooms = ctx.rooms.map((r) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "session-room", id: "session-room-" + r, value: r, checked: kept ? kept.rooms.includes(r) : r === "joint" }), " " + ctx.roomTitle(r)));
  const out = h("p", { class: "error", role: "alert" });
  const send = h("button", { class: "primary", type: "submit", disabled: sending.has(ctx.caseID) }, "Schedule and send invitations") as HTMLButtonElement;
  const keep = () => scheduling.set(ctx.caseID, {
    start: start.value, zone: zone.value, minutes: minutes.value,
    rooms: rooms.map((l) => l.querySelector("input")!).filter((i) => i.checked).map((i) => i.value),
  });
  return h("form", {
    id: "session-form",
    oninput: keep,
    onchange: keep,
    onsubmit: async (e: Event) => {
      e.preventDefault();
      // One session per press: a second click while this one is sent would schedule (and email) it twice.
      if (sending.has(ctx.caseID)) return;
      out.textContent = "";
      const chosen = [...document.querySelectorAll<HTMLInputElement>("input[name=session-room]:checked")].map((i) => i.value);
      const at = start.value, tz = zone.value.trim();
      sending.add(ctx.caseID);
      send.disabled = true;
      try {
        const s = await sessionsAPI.add(ctx.caseID, at, tz, Number(minutes.value), chosen);
        scheduling.delete(ctx.caseID); // scheduled: the next form starts empty
        noteMail(ctx.caseID, s.mailWarning);
        refresh();
      } catch (x) { refused(out, ctx.caseID, "Not scheduled: " + errText(x), askedFor(at, tz)); } finally {
        sending.delete(ctx.caseID);
        // This form's button, or the one of the form drawn again meanwhile.
        send.disabled = false;
        const now = document.querySelector<HTMLButtonElement>("#session-form button[type=submit]");
        if (now) now.disabled = false;
      }
    },
  },
  h("h3", {}, "Schedule a session"),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "session-start" }, "Date and time"), start),
    h("div", {}, h("label", { for: "session-zone" }, "Time zone"), zone),
    h("div", {}, h("label", { for: "session-minutes" }, "Minutes"), minutes)),
  h("fieldset", {}, h("legend", {}, "Rooms"), ...rooms),
  h("div", { class: "row" }, send),
  h("p", { class: "note" }, "Everyone who may enter the chosen rooms (for a caucus: that side and the mediators) and has an email address gets an invitation for their calendar, and reminders 2 days and 2 hours before."),
  out);
}

const followUpWho = "Each party and lawyer gets a short email asking whether the agreement is being honoured. Their answers are anonymous and only counted in the program's evaluation.";

/** Check-ins on a closed case's agreement: set once, then counts only (never who answered or what). */
async function renderFollowUps(box: HTMLElement, ctx: SessionContext, justSet?: FollowUps): Promise<void> {
  let f: FollowUps;
  try { f = justSet ?? await sessionsAPI.followUps(ctx.caseID); } catch (e) { box.replaceChildren(h("p", { class: "error" }, "Check-ins could not be loaded: " + errText(e))); return; }
  if (!f.checkpoints.length) {
    // The case, to name who gets the check-ins and on which dates (without it, the words stay general).
    const kase = await call<W.Case>("GET", casePath(ctx.caseID)).catch(() => undefined);
    const boxes = [30, 90, 180].map((d) => h("label", { class: "check" },
      h("input", { type: "checkbox", name: "followup-days", value: String(d), checked: d !== 180 }), ` ${d} days after closing`));
    const out = h("p", { class: "error", role: "alert" });
    const ask = h("button", { class: "primary", type: "submit", id: "followup-ask" }, "Set check-ins…");
    const confirmBox = h("div", { id: "followup-box" });
    box.replaceChildren(h("form", {
      id: "followup-form",
      // A change after asking closes the question: what is confirmed is what is set.
      onchange: () => confirmBox.replaceChildren(),
      onsubmit: (e: Event) => {
        e.preventDefault();
        out.textContent = "";
        const days = [...box.querySelectorAll<HTMLInputElement>("input[name=followup-days]:checked")].map((i) => Number(i.value));
        if (!days.length) { out.textContent = "Tick at least one check-in."; return; }
        confirmFollowUps(confirmBox, days, kase, ask, async () => {
          try { await renderFollowUps(box, ctx, await sessionsAPI.setFollowUps(ctx.caseID, days)); } catch (x) { confirmBox.replaceChildren(); out.textContent = "Not set: " + errText(x); }
        });
      },
    },
    h("h3", {}, "Check on the agreement later"),
    h("p", {}, followUpWho),
    h("fieldset", {}, h("legend", {}, "Send a check-in"), ...boxes),
    h("p", { class: "note" }, "You can set check-ins once for this case."),
    h("div", { class: "row" }, ask), out, confirmBox));
    return;
  }
  const rows = f.checkpoints.map((c) => {
    const due = new Date(c.due) > new Date();
    const went = c.mailed ? `${c.mailed} of ${c.issued} emailed` : due ? `Goes out ${when(c.due)}` : "Not emailed (no addresses, or no mail server): give the links yourself";
    return h("tr", { "data-days": String(c.days) }, h("td", {}, `${c.days} days`), h("td", {}, went, c.mailFailed ? h("strong", { class: "flag" }, ` — ${c.mailFailed} failed, see the mail below`) : "",
      c.notMailed ? h("strong", { class: "flag" }, ` — ${c.notMailed} not emailed: their address is also on file for someone else in this case; give them their links yourself`) : ""),
      h("td", {}, `${c.answered} of ${c.issued}`));
  });
  box.replaceChildren(h("h3", {}, "Check-ins on the agreement"),
    h("p", { class: "note" }, followUpWho + " You see only how many answered."),
    f.mailWarning ? h("p", { class: "error", role: "alert" }, f.mailWarning) : "",
    h("div", { class: "scroll" }, h("table", { id: "followup-table" },
      h("thead", {}, h("tr", {}, ...["After", "Email", "Answered"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows))),
    followUpLinks(f.links ?? []),
    h("button", { type: "button", id: "followup-refresh", onclick: () => void renderFollowUps(box, ctx) }, "Refresh check-ins"));
}

/**
 * The check-in links as set (shown only now): a link Parley emailed is not
 * given, only said to be emailed, so that only its person can answer it;
 * the others are listed for the mediator to give each person privately.
 */
function followUpLinks(links: NonNullable<FollowUps["links"]>): HTMLElement | string {
  if (!links.length) return "";
  const byHand = links.filter((l) => !l.mailed && l.link);
  const emailed = links.filter((l) => l.mailed || !l.link);
  return h("div", { id: "followup-links" },
    emailed.length ? h("p", { id: "followup-links-mailed" }, "Emailed to them on the day each check-in is due (their links are not shown here, so that only they can answer): ",
      andList([...new Set(emailed.map((l) => l.name))]) + ".") : "",
    byHand.length ? h("details", { open: true }, h("summary", {}, "Links to give by hand (shown only now; give each person their own, privately; each works once)"),
      h("ul", {}, ...byHand.map((l) => h("li", {}, `${l.name}, ${l.days} days: `, h("code", {}, l.link ?? ""))))) : "");
}

const dayWords = (d: Date) => new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "long", year: "numeric" }).format(d);
const andList = (xs: string[]) => xs.length <= 1 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];

/**
 * The deliberate confirmation before check-ins are set (they can be set only
 * once), in the markup of the desk's confirmations: the days and their dates,
 * who gets the emails, and that it cannot be changed. Focus goes to the
 * question (not to the button that sets them, so that a second Enter on the
 * form's button sets nothing); "Go back to the form" returns it to the form's
 * button.
 */
function confirmFollowUps(box: HTMLElement, days: number[], kase: W.Case | undefined, asker: HTMLElement, act: () => Promise<void>): void {
  const closed = kase?.closed ? Date.parse(kase.closed) : NaN;
  const dated = days.map((d) => Number.isNaN(closed) ? `${d} days` : `${d} days (${dayWords(new Date(closed + d * 24 * 3600 * 1000))})`);
  const who = kase ? kase.participants.filter((p) => p.role !== "observer").map((p) => p.name) : [];
  const yes = h("button", {
    type: "button", class: "primary", id: "followup-confirm",
    onclick: async () => { yes.disabled = true; try { await act(); } finally { yes.disabled = false; } },
  }, days.length === 1 ? "Set this check-in" : "Set these check-ins") as HTMLButtonElement;
  box.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "followup-q", "aria-describedby": "followup-what" },
    h("p", { id: "followup-q", tabindex: "-1" }, h("strong", {}, `Send check-ins ${andList(dated)} after closing${kase ? ` for “${kase.title}”` : ""}?`)),
    h("ul", { id: "followup-what" },
      h("li", {}, (who.length ? `Each party and lawyer — ${andList(who)} —` : "Each party and lawyer") +
        ` gets a short email ${days.length === 1 ? "on that day" : "on each of those days"} asking whether the agreement is being honoured. For anyone without an email address, you get a link to hand on.`),
      h("li", {}, "Their answers are anonymous: you see only how many answered."),
      h("li", {}, "Check-ins can be set only once for this case: they cannot be changed or added to afterwards.")),
    h("div", { class: "row" }, yes, h("button", { type: "button", id: "followup-back", onclick: () => { box.replaceChildren(); asker.focus(); } }, "Go back to the form"))));
  (document.getElementById("followup-q") as HTMLElement).focus();
}

async function renderMail(box: HTMLElement, ctx: SessionContext): Promise<void> {
  let mail: MailMessage[] = [];
  try { mail = await sessionsAPI.mail(ctx.caseID); } catch (e) { box.replaceChildren(h("p", { class: "error" }, "Mail could not be loaded: " + errText(e))); return; }
  // Newest first; what needs the mediator (failed, uncertain) on top.
  const order = (m: MailMessage) => (m.state === "failed" || m.state === "uncertain" ? 0 : 1);
  const rows = mail.slice().reverse().sort((a, b) => order(a) - order(b)).map((m) => {
    const state = (mailState[m.state] ?? (() => m.state))(m);
    const problem = m.state === "failed" || m.state === "uncertain";
    const failed = h("span", { class: "error", role: "alert" });
    const tr = h("tr", { "data-mail": m.id, "data-state": m.state, class: problem ? "problem" : m.state === "cancelled" ? "withdrawn" : "" },
      h("td", {}, kindWords[m.kind] ?? m.kind), h("td", {}, m.to), h("td", {}, state,
        problem ? h("button", {
          type: "button", onclick: async () => {
            failed.textContent = "";
            try { await sessionsAPI.resend(ctx.caseID, m.id); await renderMail(box, ctx); } catch (x) { failed.textContent = " Not resent: " + errText(x) + "."; }
          },
        }, "Resend") : "", failed,
        m.development && m.text ? h("details", {}, h("summary", {}, "The text"), h("pre", { class: "mailtext" }, `Subject: ${m.subject}\n\n${m.text}`)) : ""));
    return tr;
  });
  const dev = mail.some((m) => m.development);
  box.replaceChildren(h("h3", {}, "Mail about this case"),
    h("p", { class: "note" }, dev
      ? "No mail server is set up, so nothing is sent: this is what would go out. Give people the times yourself."
      : "Seen by the case's mediators only. Mail carries times and links, never what the case is about."),
    h("button", { type: "button", id: "mail-refresh", onclick: () => void renderMail(box, ctx) }, "Refresh mail status"),
    mail.length ? h("div", { class: "scroll" }, h("table", { id: "mail-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "To"), h("th", { scope: "col" }, "Status"))),
      h("tbody", {}, ...rows))) : h("p", { class: "note" }, "No mail yet."));
}

const stageWords: Record<string, string> = {
  preparation: "Preparation", opening: "Opening session", issues: "Issues", negotiation: "Negotiation", closure: "Closure",
};

/**
 * A caseload row without a title (records staff) in words: its reference,
 * else the day it was opened and the end of its Parley number (as the
 * records screens name it), and its type.
 */
function caseName(r: Caseload["cases"][number]): string {
  const opened = r.opened ? new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(r.opened)) : "";
  const name = r.reference ? `Case ${r.reference}` : `${opened ? `Case opened ${opened} (no reference)` : "A case with no reference"}, Parley number ending ${r.caseId.slice(-6)}`;
  return `${name} · ${r.type} case`;
}

/** The caseload view: mediators see their own open cases, records staff every open case without titles or names. */
export async function renderCaseload(box: HTMLElement, open?: (caseID: string) => void): Promise<void> {
  let v: Caseload;
  try { v = await sessionsAPI.caseload(); } catch (e) { box.replaceChildren(h("p", { class: "error" }, "The caseload could not be loaded: " + errText(e))); return; }
  const rows = v.cases.map((r) => h("tr", { "data-case": r.caseId, class: r.stalled ? "stalled" : "" },
    h("td", {}, r.title && open ? h("button", { type: "button", class: "link", onclick: () => open(r.caseId) }, r.title) : caseName(r)),
    h("td", {}, stageWords[r.stage] ?? r.stage),
    h("td", {}, `${r.daysInStage} days`, r.stalled && r.norm
      ? h("strong", { class: "flag" }, ` — longer than usual: 9 in 10 closed ${r.norm.caseType === "*" ? "" : r.norm.caseType + " "}cases left this stage within ${r.norm.p90Days} days (median ${r.norm.medianDays})`)
      : ""),
    h("td", {}, r.nextSession ? when(r.nextSession) : "none scheduled"),
    h("td", {}, r.unacknowledged?.length ? r.unacknowledged.join(", ") : r.unacknowledgedCount ? `${r.unacknowledgedCount} people` : "—"),
    h("td", {}, r.overdueFollowUps?.length ? r.overdueFollowUps.map((d) => `${d}-day check-in`).join(", ") : "—")));
  const norms = v.norms.map((n) => h("tr", {}, h("td", {}, n.caseType === "*" ? "all types" : n.caseType), h("td", {}, stageWords[n.stage] ?? n.stage),
    h("td", {}, String(n.cases)), h("td", {}, `${n.medianDays} days`), h("td", {}, `${n.p90Days} days`)));
  box.replaceChildren(h("h2", { id: "caseload-title" }, "Caseload"),
    v.cases.length ? h("div", { class: "scroll" }, h("table", { id: "caseload-table" },
      h("caption", {}, "Open cases, the ones sitting longest in their stage first"),
      h("thead", {}, h("tr", {}, ...["Case", "Stage", "Time in stage", "Next session", "Not yet acknowledged a disclosure", "Overdue check-ins"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows))) : h("p", { class: "note" }, "No open cases."),
    h("h3", {}, "How long stages usually take in this program"),
    norms.length ? h("div", { class: "scroll" }, h("table", { id: "norms-table" },
      h("thead", {}, h("tr", {}, ...["Case type", "Stage", "Closed cases", "Median", "9 in 10 within"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...norms))) : h("p", { class: "note" }, "Not enough closed cases yet to say."),
    h("p", { class: "note" }, v.method));
}
