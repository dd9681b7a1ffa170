// The mediator's case desk: every case of theirs with its stage, next
// session and open items; opening a case with labelled sides; invitations
// per side and role (the link shown once); objectives and success
// criteria; the five stages; conflict disclosures and who acknowledged
// them; stepping off a case; the outcome and its survey links. Every form
// says who will see what it saves. Nothing here needs this browser's
// encryption keys: it is the case's record, not its conversation.
import { call, casePath, APIError, staffWords, notConfirmed, saysInternal } from "./api";
import type * as W from "./wire_gen";
import { ProblemTypeBase } from "./wire_gen";
import { h } from "./dom";
import { latest } from "./latest";
import { personName } from "./names";

const deskAPI = {
  cases: () => call<W.Listed[]>("GET", "/api/v1/cases"),
  caseload: () => call<W.Caseload>("GET", "/api/v1/caseload"),
  create: (req: W.CreateCaseRequest) => call<W.Case>("POST", "/api/v1/cases", req),
  get: (id: string) => call<W.Case>("GET", casePath(id)),
  pending: (id: string) => call<W.PendingInvite[]>("GET", casePath(id) + "/invites"),
  withdrawInvite: (id: string, inviteId: string) => call<W.InviteWithdrawn>("DELETE", casePath(id) + "/invites/" + encodeURIComponent(inviteId)),
  invite: (id: string, req: W.InviteRequest) => call<W.InviteResponse>("POST", casePath(id) + "/invites", req),
  objective: (id: string, kind: W.ObjectiveKind, text: string) => call<W.Case>("POST", casePath(id) + "/objectives", { kind, text } satisfies W.TextRequest),
  disclose: (id: string, text: string) => call<W.Case>("POST", casePath(id) + "/disclosures", { text }),
  stage: (id: string, stage: W.Stage, note: string) => call<W.Case>("POST", casePath(id) + "/stage", { stage, note } satisfies W.StageRequest),
  recuse: (id: string, mediatorId: string, reason: string) => call<W.Case>("POST", casePath(id) + "/recusals", { mediatorId, reason } satisfies W.RecuseRequest),
  outcome: (id: string, req: W.OutcomeRequest) => call<W.OutcomeResponse>("POST", casePath(id) + "/outcome", req),
  rooms: (id: string) => call<W.RoomView[]>("GET", casePath(id) + "/rooms"),
};

/** A refusal in words: the server's field detail when it gave one, never a status code alone. */
function errWords(e: unknown): string {
  if (e instanceof APIError) {
    if (e.status === 0 || e.status >= 500) return "the server could not be reached or had a problem; try again in a moment";
    if (e.status === 403 && !notConfirmed(e)) return "you are not allowed to do this on this case";
    const f = e.problem.errors?.[0];
    if (f && fieldWords[f.field] && !saysInternal(f.detail)) return `${fieldWords[f.field]}: ${f.detail}`;
  }
  return staffWords(e); // a mediator's screen: the refusal's own words (who has not accepted yet)
}
/**
 * Whether a write's answer leaves open if it was saved: no answer came (the
 * connection was lost), or the server failed (5xx) other than saying it was
 * too busy to start (503 busy). A refusal (4xx) is definite: nothing was saved.
 */
export function outcomeUnknown(e: unknown): boolean {
  if (e instanceof APIError) return e.status === 0 || (e.status >= 500 && !(e.status === 503 && e.problem.type === ProblemTypeBase + ("busy" satisfies W.ProblemType)));
  return e instanceof TypeError; // fetch: no answer at all
}

/**
 * A failed write in words: definite for a refusal ("Not disclosed: …"), open
 * when nobody can tell whether it was saved (what: "the disclosure"): a
 * disclosure or an invitation sent again blindly could be saved twice.
 * The words are the agreement's (agreement.ts: "We can't tell yet whether …").
 */
function writeFailed(x: unknown, refused: string, what: string, see = "reload the case"): string {
  return outcomeUnknown(x) ? unknownWords(what, see) : `${refused}: ${errWords(x)}.`;
}
export const unknownWords = (what: string, see = "reload the case") => `We can't tell yet whether ${what} was saved: ${see} to see before trying again.`;
/** Says next to a form (err, if still drawn for case id) that the case is read again after a write whose outcome is unknown (reread). */
function checkingSaid(err: HTMLElement, id: string, what: string): void {
  if (err.isConnected && shown === id) err.textContent = `We can't tell yet whether ${what} was saved: reading the case again to see…`;
}
/** Texts compared as the server keeps them (trimmed, NFC). */
const sameText = (a: string, b: string) => a.normalize("NFC").trim() === b.normalize("NFC").trim();

const fieldWords: Record<string, string> = {
  title: "Title", type: "Type of case", referralSource: "Referred by", sides: "Sides", text: "Text", note: "Note",
  name: "Name", email: "Email", role: "Takes part as", side: "Side", reason: "Reason", result: "Result", sessions: "Sessions", hours: "Hours",
};

const stageOrder: W.Stage[] = ["preparation", "opening", "issues", "negotiation", "closure"];
const stageTitle: Record<W.Stage, string> = {
  preparation: "Preparation and case assessment", opening: "Opening session and ground rules",
  issues: "Issue identification and exploration", negotiation: "Negotiation and issue resolution", closure: "Closure and follow-up",
};
const resultWords: Record<W.OutcomeResult, string> = {
  "full-agreement": "Full agreement", "partial-agreement": "Partial agreement", "no-agreement": "No agreement", withdrawn: "Withdrawn",
};
const when = (iso: string) => new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
/** A day in words ("5 December 2026"): never "05/12/2026", which reads as May in some places. */
const dayWords = (iso: string) => new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric" }).format(new Date(iso));
/** A moment someone acts by (a link's expiry, the next session), with its time zone: the link may be passed to someone elsewhere. */
const whenZoned = (iso: string) => new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" }).format(new Date(iso));
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;

/** Who will see what a form saves: one line, always above the button. */
const audience = (text: string, id?: string) => h("p", { class: "banner room-mediators desk-audience", ...(id ? { id } : {}) }, h("span", { class: "swatch" }, "Who will see this"), " ", text);

/**
 * A deliberate confirmation for something that cannot be undone, in the
 * markup of closing a case and stepping off: the question names the action,
 * the list says what follows and who will see it, and focus moves to the
 * question (not the button that does it: Enter pressed twice must not do it). "Go back to the form" leaves the form as it was and
 * puts focus back on the button that asked. The button is pressed once: it
 * stays disabled while the server answers.
 */
function confirmStep(box: HTMLElement, id: string, question: string, what: (Node | string)[], yesWords: string, asker: HTMLElement | null, act: () => Promise<void>): void {
  const yes = h("button", {
    type: "button", class: "primary", id: id + "-confirm", "data-write": "",
    disabled: !!saving,
    onclick: async () => {
      if (saving) return;
      yes.disabled = true;
      try { await act(); } finally { yes.disabled = !!saving; }
    },
  }) as HTMLButtonElement;
  yes.textContent = yesWords;
  box.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": id + "-q", "aria-describedby": id + "-what" },
    h("p", { id: id + "-q", tabindex: "-1" }, h("strong", {}, question)),
    h("ul", { id: id + "-what" }, ...what.map((w) => h("li", {}, w))),
    h("div", { class: "row" }, yes, h("button", { type: "button", id: id + "-back", onclick: () => { box.replaceChildren(); asker?.focus(); } }, "Go back to the form"))));
  document.getElementById(id + "-q")?.focus();
}

/** Names in a sentence: "A", "A and B", "A, B and C". */
const nameList = (xs: string[]) => xs.length <= 1 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];

let me: W.Account;
let main: HTMLElement;

function go(hash: string) {
  history.replaceState(null, "", "/app#" + hash);
}

/** The desk: the mediator's cases (#desk) or one case (#desk=ID). */
export async function deskView(account: W.Account, into: HTMLElement): Promise<void> {
  me = account;
  main = into;
  const id = new URLSearchParams(location.hash.slice(1)).get("desk");
  if (id) return caseDesk(id);
  return caseList();
}

/** A button that leads a mediator to the desk (none for anyone else). */
export function deskButton(account: W.Account, caseID = ""): HTMLElement | null {
  if (account.role !== "mediator") return null;
  return h("button", { type: "button", id: "open-desk", onclick: () => { location.hash = caseID ? "desk=" + caseID : "desk"; location.reload(); } },
    caseID ? "Case desk: people, stages, disclosures" : "Case desk: open and run cases");
}

const toRooms = (id: string) => { location.hash = "case=" + id; location.reload(); };

// --- the list of cases ---

async function caseList(): Promise<void> {
  showCase("");
  document.getElementById("case-title")!.textContent = "";
  main.replaceChildren(h("p", { role: "status" }, "Loading your cases…"));
  let list: W.Listed[];
  let load: W.CaseloadRow[] = [];
  try {
    list = (await deskAPI.cases()).filter((l) => l.relation === "mediator");
    try { load = (await deskAPI.caseload()).cases; } catch { /* the list still shows without sessions */ }
  } catch (e) {
    main.replaceChildren(h("p", { class: "error", role: "alert" }, "Your cases could not be loaded: " + errWords(e) + "."));
    return;
  }
  const row = new Map(load.map((r) => [r.caseId, r]));
  // Who is invited and has not joined, per open case (best effort: the list shows without it).
  const invited = new Map<string, number>();
  await Promise.all(list.filter((l) => !l.closed).map(async (l) => {
    try { invited.set(l.id, (await deskAPI.pending(l.id)).length); } catch { /* not shown */ }
  }));
  list.sort((a, b) => Number(!!a.closed) - Number(!!b.closed) || b.created.localeCompare(a.created));
  const rows = list.map((l) => {
    const r = row.get(l.id);
    const items: string[] = [];
    if (l.participants === 0 && !l.closed) items.push("nobody has joined yet");
    if (invited.get(l.id)) items.push(`${plural(invited.get(l.id)!, "invitation")} not used yet`);
    if (r?.unacknowledgedCount) items.push(`${plural(r.unacknowledgedCount, "person")} yet to acknowledge a disclosure` + (r.unacknowledged?.length ? ` (${r.unacknowledged.join(", ")})` : ""));
    if (r?.overdueFollowUps?.length) items.push(r.overdueFollowUps.map((d) => `${d}-day check-in overdue`).join(", "));
    if (r?.stalled) items.push("longer than usual in this stage");
    // A mediator not admitted yet reads the case's roster only: no outcome, recorded or not, so none is claimed missing.
    if (l.waiting) items.push("waiting for a mediator already in this case to admit you");
    else if (l.stage === "closure" && !l.outcome) items.push("outcome not recorded yet");
    return h("tr", { "data-case": l.id },
      h("td", {}, h("button", { type: "button", class: "link", onclick: () => { go("desk=" + l.id); void caseDesk(l.id); } }, l.title ?? `${l.type} case`),
        h("span", { class: "note" }, ` · ${l.type}`)),
      h("td", {}, stageTitle[l.stage] ?? l.stage, l.closed ? h("span", { class: "note" }, ` (closed ${dayWords(l.closed)})`) : ""),
      h("td", {}, r?.nextSession ? whenZoned(r.nextSession) : l.closed ? "—" : "none scheduled"),
      h("td", { class: items.length ? "open-items" : "" }, items.length ? items.join("; ") : "—"),
      h("td", {}, h("button", { type: "button", "aria-label": `Rooms of ${l.title ?? l.type + " case"}`, onclick: () => toRooms(l.id) }, "Open")));
  });
  if (shown !== "") return; // a case was opened meanwhile
  main.replaceChildren(
    h("h1", { id: "desk-title" }, "Case desk"),
    said,
    h("div", { class: "row desk-nav" },
      h("button", { type: "button", id: "open-caseload", onclick: () => { location.hash = "caseload"; location.reload(); } }, "Caseload: open cases and delays"),
      h("a", { href: "#new-case-title", class: "button-link" }, "Open a new case ↓")),
    list.length ? h("div", { class: "scroll" }, h("table", { id: "desk-cases" },
      h("caption", {}, "Your cases, open ones first"),
      h("thead", {}, h("tr", {}, ...["Case", "Stage", "Next session", "Open items", "Rooms"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows))) : h("p", { class: "note" }, "You have no cases yet. Open one below."),
    newCaseForm(new Set(list.map((l) => l.id))));
}

/** The form that opens a case; known: the cases listed above it (a case opened whose answer was lost is looked for among the others). */
function newCaseForm(known: ReadonlySet<string>): HTMLElement {
  const title = h("input", { id: "new-title", type: "text", required: true, maxlength: "200", autocomplete: "off" }) as HTMLInputElement;
  const type = h("input", { id: "new-type", type: "text", required: true, maxlength: "64", list: "case-types", autocomplete: "off" }) as HTMLInputElement;
  const referral = h("input", { id: "new-referral", type: "text", maxlength: "64", list: "referral-sources", autocomplete: "off" }) as HTMLInputElement;
  const reference = h("input", { id: "new-reference", type: "text", maxlength: "40", autocomplete: "off", "aria-describedby": "new-reference-note" }) as HTMLInputElement;
  const sides = h("div", { id: "new-sides" });
  const addSide = (value = "") => {
    const n = sides.children.length + 1;
    const input = h("input", { id: "new-side-" + n, type: "text", required: true, maxlength: "64", autocomplete: "off", value }) as HTMLInputElement;
    sides.append(h("div", {}, h("label", { for: input.id }, `Side ${n} is called`), input));
    more.hidden = sides.children.length >= 8;
  };
  const more = h("button", { type: "button", id: "new-side-add", onclick: () => addSide() }, "Add another side") as HTMLButtonElement;
  const err = h("p", { class: "error", role: "alert" });
  addSide();
  addSide();
  return h("form", {
    id: "new-case", "aria-labelledby": "new-case-title",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      err.textContent = "";
      const labels = [...sides.querySelectorAll("input")].map((i) => (i as HTMLInputElement).value.trim()).filter((v) => v);
      const asked = title.value;
      try {
        const c = await deskAPI.create({ title: asked, type: type.value, referralSource: referral.value, sides: labels, reference: reference.value.trim() || undefined });
        go("desk=" + c.id);
        await caseDesk(c.id, "The case is open. Invite the people taking part next.");
      } catch (x) {
        if (!outcomeUnknown(x)) { err.textContent = writeFailed(x, "Not opened", "the new case", "go back to your list of cases"); return; }
        // Opened again blindly it would be there twice: the list of cases is read again first.
        err.textContent = "We can't tell yet whether the new case was opened: reading your list of cases again to see…";
        const mine = (ls: W.Listed[]) => ls.find((l) => l.relation === "mediator" && !known.has(l.id) && sameText(l.title ?? "", asked));
        const r = await reread("", asked, () => deskAPI.cases(), (ls) => !!mine(ls));
        const opened = r && mine(r.got);
        if (opened && shown === "") {
          go("desk=" + opened.id);
          await caseDesk(opened.id, "The case is open: the answer was lost on the way, but your list of cases, read again, has it. Invite the people taking part next.");
          return;
        }
        err.textContent = !r ? unknownWords("the new case", "go back to your list of cases")
          : opened ? "The case is open: the answer was lost on the way, but your list of cases, read again, has it."
          : "Not opened: the answer was lost on the way, and your list of cases, read again, does not have it. You can open it again.";
      }
    },
  },
  h("h2", { id: "new-case-title" }, "Open a new case"),
  h("label", { for: "new-title" }, "Title (for example: Okafor v. Lindqvist — deposit)"), title,
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "new-type" }, "Type of case"), type),
    h("div", {}, h("label", { for: "new-referral" }, "Referred by (optional)"), referral),
    h("div", {}, h("label", { for: "new-reference" }, "Docket or file number (optional)"), reference)),
  h("p", { class: "note", id: "new-reference-note" }, "The program's own number for the case, such as 2026-CV-0142: records staff find the case by it (they never see its title)."),
  h("datalist", { id: "case-types" }, ...["tenancy", "family", "workplace", "neighbour", "commercial", "consumer"].map((v) => h("option", { value: v }))),
  h("datalist", { id: "referral-sources" }, ...["court", "self", "agency", "lawyer", "employer"].map((v) => h("option", { value: v }))),
  h("p", { class: "note" }, "Each side gets its own private caucus room with the mediators. Name the sides the way the people taking part would recognise them, for example “Tenant” and “Landlord”."),
  sides, h("div", { class: "row" }, more),
  audience("the title, type and side names are seen by you, any other mediator on the case and everyone you invite. Records staff see only the type of case, its docket or file number, its stage and its dates — never the title or anyone's name."),
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Open the case")), err);
}

// --- one case ---

let c: W.Case;
/**
 * The case (its id) whose mediators have not confirmed this mediator yet:
 * the server gives them no room (its list of rooms is empty, as the rooms
 * page's waiting check reads it), only the case's roster, and refuses
 * them every change of the case but stepping off. Their desk shows the
 * people and the stage, says what they wait for, and offers no form the
 * server would refuse (no disclosure: the parties would be asked to
 * acknowledge it). Read when the case is opened.
 */
let waitingOf = "";
/**
 * The invited list of case pendingOf (always the case on screen: it is
 * emptied whenever another case is opened, so one case's invitations are
 * never drawn under another): null until it is read, or when its read
 * failed (pendingFailed).
 */
let pending: W.PendingInvite[] | null = null;
let pendingOf = "";
let pendingFailed = false;
/**
 * The case whose invited list the server refused because no mediator already
 * in it has admitted this mediator (mediator-not-confirmed): until one does,
 * the desk offers them nothing the server refuses them (stage, objectives,
 * invitations, the outcome) and says why; stepping off and disclosing stay.
 */
let unseatedOf = "";
/** One plain line where a mediator not admitted yet would find a control (what: "invite people"). */
const notAdmittedYet = (what: string, id: string) =>
  h("p", { class: "note desk-not-admitted", id }, `You can ${what} once a mediator already in this case has admitted you.`);
// The invited list is read again after each invitation and withdrawal, and
// after two quick ones the first read can be answered after the second:
// taken, it would put the list back as it was before the second (an
// invitation just made missing, one just withdrawn back). Reads are
// numbered when asked; an older answer than the list taken is dropped.
const pendingOrder = latest();

/** Reads the invited list into pending; false when a list asked later was taken already (this answer is dropped). */
async function readPending(id: string): Promise<boolean> {
  const n = pendingOrder.ask();
  let got: W.PendingInvite[];
  try { got = await deskAPI.pending(id); } finally { counted(); }
  if (shown !== id || pendingOf !== id || !pendingOrder.take(n)) return false;
  pending = got;
  pendingFailed = false;
  return true;
}

/** Reads case id's invited list and draws it (with said, the list's last outcome) if that case is still on screen. */
async function redrawPending(id: string, said = ""): Promise<void> {
  try {
    if (!(await readPending(id))) return;
  } catch {
    if (shown !== id || pendingOf !== id) return;
    if (pending === null) pendingFailed = true;
  }
  document.getElementById("desk-pending")?.replaceWith(pendingList(said));
}

/** The case on screen is now id ("" for the list of cases): the invited list drawn is read for it alone. */
function showCase(id: string): void {
  shown = id;
  pending = null;
  pendingOf = id;
  pendingFailed = false;
  drawNotes();
}

const sideLabel = (id?: string) => c.sides.find((s) => s.id === id)?.label ?? "";
const nameOf = (acc: string) => acc === me.id ? "you" : c.mediators.find((m) => m.accountId === acc)?.name ?? c.participants.find((p) => p.accountId === acc)?.name ?? "someone no longer in the case";
const activeMediator = () => c.mediators.some((m) => m.accountId === me.id && !m.recused);

async function caseDesk(id: string, hello = ""): Promise<void> {
  showCase(id);
  main.replaceChildren(h("p", { role: "status" }, "Loading the case…"));
  try {
    const n = caseOrder.ask();
    let got: W.Case;
    try { got = await deskAPI.get(id); } finally { counted(); }
    // Another case (or the list) opened since.
    if (shown !== id) return;
    // A write's answer arrived since this was asked: that answer, newer, is
    // drawn already, but without this case's invited list: read it now.
    if (!caseOrder.take(n)) {
      if (activeMediator() && !c.closed) void redrawPending(id);
      return;
    }
    c = got;
    waitingOf = "";
    if (unseatedOf === id) unseatedOf = "";
    if (activeMediator() && c.mediators.filter((m) => !m.recused).length > 1) {
      const rooms = await deskAPI.rooms(id).catch(() => null);
      if (shown !== id) return;
      if (rooms?.length === 0) waitingOf = id;
    }
    if (activeMediator() && waitingOf !== id && !c.closed) {
      await readPending(id).catch((e) => {
        if (shown === id && e instanceof APIError && e.status === 403 && notConfirmed(e)) unseatedOf = id;
        else if (shown === id && pendingOf === id && pending === null) pendingFailed = true;
        return false;
      });
    }
  } catch (e) {
    if (shown !== id) return;
    main.replaceChildren(h("p", { class: "error", role: "alert" }, "This case could not be opened: " + errWords(e) + "."), backButton());
    return;
  }
  if (shown !== id) return;
  renderCase(hello);
}

function backButton(): HTMLElement {
  return h("button", { type: "button", id: "desk-back", onclick: () => { go("desk"); void caseList(); } }, "← All your cases");
}

// The case as the server answers it: read when the case is opened, and
// with each write (a stage, an objective, a disclosure, the outcome,
// stepping off), whose answer holds the case after it.
//
// One write at a time: while one is being saved, the desk's other buttons
// that change a case are disabled, with a line saying why. Two writes sent
// together could be saved by the server in either order (separate
// requests, possibly to different servers), and each answer holds only
// what was saved before it: the first one shown could lack the other
// (a disclosure just confirmed missing, with no error, so the mediator
// discloses it again).
//
// A read is numbered when asked, a write's answer when it arrives (it holds
// the case after the write: newer than any read asked before): one older
// than the case drawn is dropped, so reopening the case while a write is
// saved does not put the case back as it was before it. An answer about a
// case that is no longer on screen is not drawn (its outcome's survey
// links are kept for when it is opened again; an error or "saved" is said
// in the desk's status area, which every redraw keeps).
const caseOrder = latest();
/** The case on screen, or being opened; "" on the list of cases (or after stepping off). */
let shown = "";
/** The one write being saved, and the title of its case. */
let saving: { id: string; title: string } | null = null;
/** The outcome's survey links by case ("shown only once"): kept for the page, under the case's Outcome. */
const surveysKept = new Map<string, HTMLElement>();
/**
 * The invitation just made (its link shown only once), by case: a redraw
 * of the case keeps it, until that invitation is withdrawn. who is the
 * invitation the box shows (its id when the invited list read after it
 * told it apart).
 */
const invitationShown = new Map<string, { out: HTMLElement; who?: { id: string } }>();
/** The cases with an invitation being made (one at a time per case). */
const inviting = new Set<string>();
/** Whether the outcome form's button may be pressed now (set by the form drawn last). */
let outcomeReady: (() => void) | null = null;
/** Whether the case is being read again after a write whose outcome is unknown (reread): the desk's writes wait meanwhile. */
let checking = false;
/** How long reread waits before its second read (a write whose answer was lost may still be under way). */
const rereadPause = 1500;

/**
 * After a write about case id whose answer left open whether it was saved
 * (outcomeUnknown: the connection was lost, or the server failed), the
 * case is read again before the desk offers the action again — at once,
 * then once more a moment later unless the first read has it — so that a
 * disclosure that did land is shown as made and not offered for posting
 * twice. Meanwhile the desk's other writes wait, as while one is saved.
 * read is the read (the case, or its invited list); landed says whether an
 * answer has the write. The answer: the last one read and whether it has
 * the write; null when no read was answered (the desk then says it cannot
 * tell, and to reload).
 */
async function reread<T>(id: string, title: string, read: () => Promise<T>, landed: (x: T) => boolean): Promise<{ got: T; saved: boolean } | null> {
  const lock = !saving; // an invitation is made beside a write being saved: that write keeps its own lock
  if (lock) {
    saving = { id, title };
    checking = true;
    syncSaving();
  }
  let got: T | null = null;
  try {
    for (let i = 0; i < 2; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, rereadPause));
      try { got = await read(); } catch { continue; } finally { counted(); }
      if (landed(got)) return { got, saved: true };
    }
    return got === null ? null : { got, saved: false };
  } finally {
    if (lock) {
      saving = null;
      checking = false;
      syncSaving();
    }
  }
}

/**
 * reread for a write answered by the case: a case read is taken as the
 * desk's (numbered when asked, as every read: one older than the case
 * drawn is dropped) while that case is on screen.
 */
function rereadCase(id: string, title: string, landed: (x: W.Case) => boolean): Promise<{ got: W.Case; saved: boolean } | null> {
  return reread(id, title, async () => {
    const n = caseOrder.ask();
    const got = await deskAPI.get(id);
    if (shown === id && caseOrder.take(n)) c = got;
    return got;
  }, landed);
}

/**
 * Says where a write whose outcome was unknown stands once the case was read
 * again (r, from rereadCase): saved, the case is drawn again with saved
 * said in section (or, when another case is on screen, in the status area);
 * not saved, notSaved is said next to its form (err), which keeps what was
 * written; not read, that nobody can tell yet (what: "the disclosure").
 */
function settle(r: { got: W.Case; saved: boolean } | null, id: string, title: string, err: HTMLElement, what: string, section: string, saved: string, notSaved: string, wrote = ""): void {
  if (r?.saved) {
    if (shown === id) changed(c, section, saved);
    else note(id, title, `On “${title}”: ${saved}`, "done");
    return;
  }
  failed(err, id, title, r ? notSaved : unknownWords(what), wrote);
}

// The desk's status area: the same elements in every drawing of the desk,
// so what is said there survives a redraw. Each note stays until dismissed.
// A note belongs to its case: it is shown in full under that case only
// (it can quote what the mediator wrote, a disclosure's text); under
// another case, and on the list of cases, a pointer says which case to
// open, without the note's own words.
const savingHint = h("p", { id: "desk-saving", role: "status", class: "note" });
const notes = h("div", { id: "desk-notes" });
const said = h("div", { id: "desk-said" }, savingHint, notes);
type Note = { id: string; full: HTMLElement; elsewhere: HTMLElement };
const noteList: Note[] = [];
let notesMade = 0;

/**
 * Adds a note about case id to the desk's status area, with a button to
 * dismiss it. elsewhere is what is shown under other cases (by default a
 * pointer to the case, without words); opens says whether the case can be
 * opened again (not after stepping off it).
 */
function note(id: string, title: string, words: string, kind: "error" | "done", elsewhere = "", opens = true): void {
  const k = "desk-note-" + (++notesMade);
  const n: Note = {
    id,
    full: h("p", { class: kind === "error" ? "error" : "done", role: kind === "error" ? "alert" : "status", id: k, tabindex: "-1", "data-case": id },
      h("span", { id: k + "-words" }, words), " ",
      h("button", { type: "button", class: "desk-note-dismiss", "aria-describedby": k + "-words", onclick: () => dismiss(n) }, "Dismiss")),
    elsewhere: h("p", { class: (kind === "error" ? "error" : "done") + " desk-note-elsewhere", role: "status", "data-case": id },
      elsewhere || (kind === "error" ? `A change to “${title}” needs your attention: open “${title}”.` : `A change to “${title}” was saved: open “${title}” to read about it.`),
      opens ? h("span", {}, " ", h("button", { type: "button", class: "desk-note-open", onclick: () => { go("desk=" + id); void caseDesk(id); } }, `Open “${title}”`))
        : h("span", {}, " ", h("button", { type: "button", class: "desk-note-dismiss", onclick: () => dismiss(n) }, "Dismiss"))),
  };
  noteList.push(n);
  drawNotes();
}

/** Drops every note about case id (the mediator stepped off it: they could no longer open it to read them). */
function dropNotes(id: string): void {
  for (let i = noteList.length - 1; i >= 0; i--) if (noteList[i].id === id) noteList.splice(i, 1);
  drawNotes();
}

/** Draws the status area's notes for the case on screen: its own in full, one pointer per other case (and wording). */
function drawNotes(): void {
  const seen = new Set<string>();
  notes.replaceChildren(...noteList.flatMap((n) => {
    if (n.id === shown) return [n.full];
    const key = n.id + "|" + n.elsewhere.textContent;
    if (seen.has(key)) return [];
    seen.add(key);
    return [n.elsewhere];
  }));
}

/** Dismisses a note (and its pointer); focus goes to the case's next note, else to the page's heading. */
function dismiss(n: Note): void {
  const at = noteList.indexOf(n);
  if (at >= 0) noteList.splice(at, 1);
  drawNotes();
  const next = noteList.slice(Math.max(at, 0)).find((x) => x.id === n.id && x.full.isConnected) ?? noteList.find((x) => x.id === n.id && x.full.isConnected);
  if (next) { next.full.focus(); return; }
  const title = document.getElementById("desk-title");
  if (title) { title.tabIndex = -1; title.focus(); }
}

/** Says that a write failed: next to its form when that form is still on screen, else in the desk's status area, naming the case (and what the mediator wrote). */
function failed(err: HTMLElement, id: string, title: string, words: string, wrote = ""): void {
  if (err.isConnected && shown === id) { err.textContent = words; return; }
  note(id, title, `On “${title}”: ${words}` + (wrote ? ` What you wrote: “${wrote}”` : ""), "error");
}

/** Disables (or enables again) every button that changes a case, by whether a write is being saved, and says so. */
function syncSaving(): void {
  savingHint.textContent = checking ? "Checking whether the last change was saved… the other changes wait until then."
    : saving ? "Saving… one change at a time: the other changes wait until this one is saved." : "";
  for (const b of main.querySelectorAll<HTMLButtonElement>("button[data-write]")) b.disabled = !!saving;
  outcomeReady?.();
}

// Leaving the page while a write is being saved, or an invitation made (its link shown only once), asks first (the browser's own question).
addEventListener("beforeunload", (e) => { if (saving || inviting.size) e.preventDefault(); });

/**
 * Sends one write about case id (none while another is being saved) and
 * takes the case in its answer (caseOf) when it arrives, if that case is
 * still on screen: onScreen says whether it is (c is then the answer's case).
 */
async function saveCase<T>(id: string, send: () => Promise<T>, caseOf: (r: T) => W.Case | undefined): Promise<{ r: T; onScreen: boolean }> {
  if (saving) throw new Error("another change is being saved; try again once it is");
  saving = { id, title: c.title };
  syncSaving();
  try {
    let r: T;
    try { r = await send(); } finally { counted(); }
    const n = caseOrder.ask(); // numbered now: it holds the case after this write
    const nc = caseOf(r);
    const onScreen = shown === id && (!nc || nc.id === id);
    if (onScreen && nc && caseOrder.take(n)) c = nc;
    return { r, onScreen };
  } finally {
    saving = null;
    syncSaving();
  }
}

/**
 * Counts the answers the desk has read (taken or dropped) in data-answers
 * on its container: a test that holds an old answer waits for the count to
 * grow before it checks that the old answer changed nothing.
 */
function counted(): void {
  main.dataset.answers = String(Number(main.dataset.answers ?? "0") + 1);
}

/** Sends a write that answers with the case and re-renders with that answer (changed) if the case is on screen; else says in the status area that it is saved. */
async function write(send: (id: string) => Promise<W.Case>, focus: string, status = ""): Promise<void> {
  const id = c.id, title = c.title;
  const { onScreen } = await saveCase(id, () => send(id), (x) => x);
  if (onScreen) changed(c, focus, status);
  else if (status) note(id, title, `Saved on “${title}”: ${status}`, "done");
}

/** Re-render after a change, keeping the reader where they were. */
function changed(nc: W.Case, focus: string, status = "") {
  c = nc;
  renderCase();
  const el = document.getElementById(focus);
  if (el) {
    el.scrollIntoView({ block: "nearest" });
    if (status) { const s = el.querySelector(".done"); if (s) s.textContent = status; }
  }
}

function renderCase(hello = "") {
  document.getElementById("case-title")!.textContent = c.title;
  const closed = !!c.closed;
  const active = activeMediator();
  // Not admitted yet by a mediator already in the case (the case's rooms
  // are none of theirs, or the server refused the pending invitations as
  // to one not confirmed): what the server would refuse is not offered.
  const waiting = active && (waitingOf === c.id || unseatedOf === c.id);
  const mine = active && !waiting;
  main.replaceChildren(
    h("div", { class: "row desk-nav" }, backButton(), h("button", { type: "button", id: "desk-rooms", onclick: () => toRooms(c.id) }, "Go to this case's rooms")),
    h("h1", { id: "desk-title" }, c.title),
    hello ? h("p", { role: "status", class: "verified" }, hello) : "",
    said,
    h("p", { class: "note" }, `${c.type} case` + (c.referralSource ? `, referred by ${c.referralSource}` : "") + (c.reference ? ` · docket or file number ${c.reference}` : "") + ` · opened ${dayWords(c.created)}` +
      ` · sides: ${c.sides.map((s) => s.label).join(", ")}`),
    !active ? h("p", { class: "refusal", role: "status" }, "You are no longer a mediator on this case, so you cannot change it.") : "",
    waiting ? h("p", { class: "refusal", role: "status", id: "desk-waiting" }, "No mediator already in this case has confirmed you as a co-mediator yet. " +
      "Until one does, you see who is in it and its stage, but not its objectives, disclosures or outcome, and you cannot change it or make a disclosure. " +
      "They will check your safety number with you by phone (on the case's rooms page), then admit you. You can still step off this case below.") : "",
    peopleSection(mine && !closed, waiting && !closed),
    stageSection(mine, waiting),
    waiting ? "" : objectivesSection(mine && !closed),
    waiting ? "" : disclosuresSection(mine),
    waiting ? "" : outcomeSection(mine),
    active ? stepOffSection() : "");
  const kept = surveysKept.get(c.id);
  if (kept) document.getElementById("desk-outcome")?.append(kept);
  drawNotes();
  syncSaving();
}

// --- people and invitations ---

function peopleSection(canInvite: boolean, notYet = false): HTMLElement {
  const lines = c.sides.map((s) => {
    const ps = c.participants.filter((p) => p.side === s.id);
    return h("li", { "data-side": s.id }, h("strong", {}, s.label + " side: "),
      ps.length ? ps.map((p) => personName(p.name, p.role, s.label)).join(", ") : h("span", { class: "note" }, "nobody has joined yet"));
  });
  const obs = c.participants.filter((p) => p.role === "observer");
  if (obs.length) lines.push(h("li", {}, h("strong", {}, "Observers: "), obs.map((p) => p.name).join(", ")));
  lines.push(h("li", {}, h("strong", {}, "Mediators: "), c.mediators.map((m) => (m.accountId === me.id ? "you" : m.name) + (m.recused ? " (stepped off)" : "")).join(", ")));
  return h("section", { id: "desk-people", "aria-labelledby": "people-title" },
    h("h2", { id: "people-title" }, "People"),
    h("ul", { id: "desk-people-list" }, ...lines),
    h("p", { class: "note" }, "People appear here once they have opened their invitation."),
    canInvite ? pendingList() : "",
    canInvite ? inviteForm() : notYet ? notAdmittedYet("invite people and see who is invited", "desk-invite-not-yet") : "");
}

/** Invited and not joined yet: names, roles, sides and expiry (the links themselves were shown once), each with "Withdraw…" (said is the list's last outcome). */
function pendingList(said = ""): HTMLElement {
  const status = h("p", { id: "desk-pending-said", role: "status", tabindex: "-1", class: said ? "done" : "note" }, said);
  const list = pendingOf !== c.id || pending === null ? null : pending; // only this case's own list
  return h("div", { id: "desk-pending" }, h("h3", {}, "Invited, not joined yet"),
    list === null ? h("p", { class: "note" }, pendingFailed && pendingOf === c.id ? "Who is invited could not be read just now. Open the case again to see it." : "Reading who is invited…")
      : list.length ? h("ul", {}, ...list.map((p) => pendingItem(p)))
      : h("p", { class: "note" }, "Nobody: every invitation made here has been used, has expired or was withdrawn."),
    status);
}

/** Clears the kept invitation box of case id when it shows invitation p, just withdrawn (its link no longer works). */
function forgetInvitation(id: string, p: W.PendingInvite): void {
  const k = invitationShown.get(id);
  const w = k?.who;
  if (!k || !w || w.id !== p.id) return; // the server named the invitation it made: never a guess by name
  k.out.replaceChildren();
  k.who = undefined;
}

let withdrawAsked = 0; // numbers each withdrawal question's heading (never the invitation's id)

/**
 * A masked address (the server keeps its first character and its domain:
 * "s***@example.org") as a screen reader should say it: "an address
 * starting with s at example.org", never "s star star star".
 */
export function spokenAddress(hint: string): string {
  const m = /^(.)\*+@(.+)$/.exec(hint);
  return m ? `an address starting with ${m[1]} at ${m[2]}` : hint;
}

/** "email address s***@example.org" as shown, read aloud in words instead (spokenAddress). */
const addressWords = (hint: string): HTMLElement =>
  h("span", {}, h("span", { "aria-hidden": "true" }, "email address " + hint), h("span", { class: "visually-hidden" }, " " + spokenAddress(hint)));

/** One pending invitation, with its Withdraw button and, once pressed, an in-page confirmation naming the person. */
function pendingItem(p: W.PendingInvite): HTMLElement {
  const who = personName(p.name, p.role, p.side ? sideLabel(p.side) : "");
  // Two invitations for one name are told apart by the address (masked: two
  // can look alike, sam.ortz@ and sam.ortiz@) and by when each link was made.
  const made = `link made ${when(p.created)}`;
  const box = h("div", { class: "withdraw-box" });
  const err = h("p", { class: "error", role: "alert" });
  const ask = h("button", {
    type: "button", class: "withdraw-invite",
    "aria-label": `Withdraw the invitation for ${p.name}${p.emailHint ? ", " + spokenAddress(p.emailHint) : ""}, ${made}`,
    onclick: () => {
      const q = "withdraw-q-" + (++withdrawAsked);
      const yes = h("button", {
        type: "button", class: "danger withdraw-confirm",
        onclick: async () => {
          if (yes.disabled) return;
          yes.disabled = true;
          err.textContent = "";
          // The case asked about: another may be on screen by the time the server answers.
          const id = c.id, title = c.title;
          try {
            let out: W.InviteWithdrawn;
            try { out = await deskAPI.withdrawInvite(id, p.id); } finally { counted(); }
            forgetInvitation(id, p);
            const said = `Withdrawn: the invitation for ${p.name} no longer works.` + (out.mailWarning ? " " + out.mailWarning : "");
            if (shown === id) {
              try { await readPending(id); } catch { /* taken off below */ }
              if (pendingOf === id && pending) pending = pending.filter((x) => x.id !== p.id);
            }
            if (shown !== id) { note(id, title, `On “${title}”: ${said}`, "done"); return; }
            document.getElementById("desk-pending")?.replaceWith(pendingList(said));
            document.getElementById("desk-pending-said")?.focus();
          } catch (x) {
            if (!outcomeUnknown(x)) { failed(err, id, title, writeFailed(x, `Not withdrawn: the invitation for ${p.name} still works`, `withdrawing the invitation for ${p.name}`)); return; }
            checkingSaid(err, id, `withdrawing the invitation for ${p.name}`);
            const r = await reread(id, title, () => deskAPI.pending(id), (list) => !list.some((o) => o.id === p.id));
            if (r?.saved) {
              forgetInvitation(id, p);
              const said = `Withdrawn: the invitation for ${p.name} no longer works (the answer was lost on the way, but the list of who is invited, read again, no longer has it).`;
              if (shown !== id) { note(id, title, `On “${title}”: ${said}`, "done"); return; }
              if (pendingOf === id) pending = r.got;
              document.getElementById("desk-pending")?.replaceWith(pendingList(said));
              document.getElementById("desk-pending-said")?.focus();
              return;
            }
            failed(err, id, title, r ? `Not withdrawn: the answer was lost on the way, and the list of who is invited, read again, still has it: the invitation for ${p.name} still works. You can withdraw it again.`
              : unknownWords(`withdrawing the invitation for ${p.name}`));
          } finally { yes.disabled = false; }
        },
      }, "Withdraw the invitation") as HTMLButtonElement;
      const question = h("p", { id: q, tabindex: "-1" }, h("strong", {}, `Withdraw the invitation for ${who}`, p.emailHint ? h("span", {}, ", ", addressWords(p.emailHint)) : "", `, ${made}?`));
      box.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": q }, question,
        h("p", {}, `The link sent to ${p.name} stops working at once. They will not be able to join with it. You can invite them again.`),
        p.emailed ? h("p", { class: "note" }, "If its email has not gone out yet, it is not sent.") : "",
        h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => { box.replaceChildren(); ask.focus(); } }, "Cancel")), err));
      question.focus(); // not the button: Enter pressed twice must not withdraw
    },
  }, "Withdraw…");
  return h("li", {}, who, p.emailHint ? h("span", { class: "invite-address" }, ", ", addressWords(p.emailHint)) : "",
    h("span", { class: "note" }, ` — link made ${when(p.created)}, works until ${whenZoned(p.expires)}${p.emailHint ? "" : p.emailed ? "; emailed" : "; no email address given"} `), ask, box);
}

/** Who will see a person invited as role on the side labelled label (the desk's and the case page's invitation forms). */
export function inviteWords(role: string, label: string, name: string): string {
  const who = name.trim() || "This person";
  // A newcomer is handed the documents already in their rooms (docs-newcomers.ts), never the messages written before
  // they joined (those were encrypted for the people there then).
  if (role === "observer") return `${who} will read the joint room only — never a caucus — and cannot post. Everyone in the case sees their name and that they observe. ` +
    `They will open the documents already in the joint room (one with the extra lock once a mediator next opens Parley), but not the messages written there before they join.`;
  return `${who} will take part as ${role === "counsel" ? `the ${label} side's lawyer` : `a party on the ${label} side`}: they read the joint room and the ${label} caucus. ` +
    `What is said in the ${label} caucus is seen only by the ${label} side and the mediators. Everyone in the case (both sides and the mediators) sees their name and role. ` +
    `They will open the documents already in the joint room and the ${label} caucus (one with the extra lock once a mediator next opens Parley), but not the messages written there before they join.`;
}

function inviteForm(): HTMLElement {
  const name = h("input", { id: "desk-invite-name", type: "text", required: true, maxlength: "200", autocomplete: "off" }) as HTMLInputElement;
  const email = h("input", { id: "desk-invite-email", type: "email", maxlength: "254", autocomplete: "off" }) as HTMLInputElement;
  const role = h("select", { id: "desk-invite-role" }, ...[["party", "Party"], ["counsel", "Lawyer (counsel) for a side"], ["observer", "Observer (joint room only)"]].map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
  const side = h("select", { id: "desk-invite-side" }, ...c.sides.map((s) => h("option", { value: s.id }, s.label))) as HTMLSelectElement;
  const who = audience(inviteWords(role.value, sideLabel(side.value), ""), "desk-invite-who");
  const update = () => {
    side.disabled = role.value === "observer";
    who.replaceChildren(h("span", { class: "swatch" }, "Who will see this person"), " ", inviteWords(role.value, sideLabel(side.value), name.value));
  };
  role.onchange = side.onchange = update;
  name.oninput = update;
  update();
  // The invitation just made (its link shown only once) stays through a redraw of the case, and a visit to another.
  const kept = invitationShown.get(c.id) ?? { out: h("div", { id: "desk-invite-out", "aria-live": "polite" }) };
  const out = kept.out;
  // One invitation at a time per case: a second press would make a second live link, the first never seen.
  const making = h("span", { role: "status", class: "note", id: "desk-invite-making" }, inviting.has(c.id) ? " Making the invitation link…" : "");
  const make = h("button", { type: "submit", class: "primary", id: "desk-invite-make", disabled: inviting.has(c.id) }, "Make the invitation link") as HTMLButtonElement;
  return h("form", {
    id: "desk-invite", "aria-labelledby": "desk-invite-title",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const id = c.id, title = c.title;
      if (inviting.has(id)) return;
      const person = name.value.trim();
      const to = email.value.trim();
      const sideLabelNow = role.value === "observer" ? "" : sideLabel(side.value);
      invitationShown.set(id, kept);
      // The invited list as drawn before: an invitation whose answer was lost is looked for among the others.
      const before = pendingOf === id && pending !== null ? new Set(pending.map((p) => p.id)) : null;
      const asRole = role.value as W.ParticipantRole;
      inviting.add(id);
      make.disabled = true;
      making.textContent = " Making the invitation link…";
      const done = () => {
        inviting.delete(id);
        if (shown !== id) return;
        const b = document.getElementById("desk-invite-make") as HTMLButtonElement | null;
        if (b) b.disabled = false;
        const m = document.getElementById("desk-invite-making");
        if (m) m.textContent = "";
      };
      try {
        let inv: W.InviteResponse;
        try {
          inv = await deskAPI.invite(id, { role: role.value as W.ParticipantRole, side: role.value === "observer" ? "" : side.value, name: person, email: to, ttlSeconds: 7 * 24 * 3600 });
        } finally { counted(); done(); }
        kept.who = { id: inv.id ?? "" };
        // A mailed invitation's link is in the email alone (the server does not send it here): only whoever reads that mailbox can join as the person.
        const link = inv.link ? h("input", { id: "desk-invite-link", type: "text", readonly: true, value: inv.link, "aria-describedby": "desk-invite-once" }) as HTMLInputElement : null;
        out.replaceChildren(h("div", { class: "confirm invite-result", "data-role": inv.role, "data-side": inv.side ?? "" },
          h("h3", {}, `Invitation for ${personName(person, inv.role, sideLabelNow)}`),
          ...(link ? [
            h("p", { id: "desk-invite-once" }, h("strong", {}, "This link is shown only once."), ` Copy it now and send it to ${person} privately. It works once and expires ${whenZoned(inv.expires)}. Anyone holding it can join as ${person}.`),
            h("label", { for: "desk-invite-link" }, "Invitation link"), link,
            h("div", { class: "row" }, copyButton(link, "desk-invite-copy", "Copy the link")),
          ] : []),
          inv.mailed ? h("p", { id: "desk-invite-mailed" }, h("strong", {}, `Sent by email to ${to}.`),
            ` The link is only in that email, not on this page, so that only whoever reads ${to} can join as ${person}. It works once and expires ${whenZoned(inv.expires)}. The email holds only the link and when it expires, not the case's name.`)
            : to ? h("p", { class: "note", id: "desk-invite-mailed" }, inv.mailWarning ?? "No email went out: this server does not send mail. Give the link yourself.") : "",
          inv.mailed ? h("p", { class: "note", id: "desk-invite-missing" }, `If ${person} does not get it (ask them to look in their spam folder too), withdraw it under “Invited, not joined yet” and invite them again with the same name, exactly as written here, and the same role and side: it is then emailed again, to the same address or a corrected one. With any other name, role or side, an address already used in this case is not emailed: the link is shown here for you to give them in person or by phone.`) : "",
          nextSteps(person, inv.role, sideLabelNow, to, !!inv.mailed, inv.expires)));
        if (shown !== id) {
          if (link) note(id, title, `The invitation link for ${person} in “${title}” is ready: open “${title}” again to copy it before you leave the page.`, "done",
            `An invitation link for “${title}” is ready: open “${title}” again to copy it before you leave the page.`);
          else note(id, title, `The invitation for ${person} in “${title}” was sent by email to ${to}.`, "done", `An invitation for “${title}” was sent by email.`);
          return;
        }
        name.value = email.value = "";
        update();
        // Selected for copying, unless the mediator has gone on typing elsewhere meanwhile.
        const at = document.activeElement;
        if (link?.isConnected && (!at || at === document.body || !!at.closest("#desk-invite"))) link.select();
        try {
          if (await readPending(id)) document.getElementById("desk-pending")?.replaceWith(pendingList());
        } catch { /* the list catches up on the next visit */ }
      } catch (x) {
        const refused = h("p", { class: "error", role: "alert", id: "desk-invite-refused" }, writeFailed(x, "No invitation made", `an invitation for ${person}`));
        // A link shown before and not withdrawn may not have been copied yet: it stays, under the refusal.
        const say = (words: string) => {
          refused.textContent = words;
          if (kept.who) { out.querySelector("#desk-invite-refused")?.remove(); out.prepend(refused); } else out.replaceChildren(refused);
        };
        let words = outcomeUnknown(x) ? unknownWords(`an invitation for ${person}`) : `no invitation made for ${person}: ${errWords(x)}.`;
        if (outcomeUnknown(x) && before) {
          // A second invitation sent blindly would make a second live link: the invited list is read again first,
          // and another invitation waits meanwhile.
          inviting.add(id);
          if (shown === id) { make.disabled = true; making.textContent = " Checking whether the invitation was made…"; }
          say(`We can't tell yet whether an invitation for ${person} was made: reading who is invited again to see…`);
          let r: { got: W.PendingInvite[]; saved: boolean } | null;
          try {
            r = await reread(id, title, () => deskAPI.pending(id), (list) => list.some((p) => !before.has(p.id) && p.role === asRole && sameText(p.name, person)));
          } finally { done(); }
          const made = r?.got.find((p) => !before.has(p.id) && p.role === asRole && sameText(p.name, person));
          if (r && shown === id && pendingOf === id) { pending = r.got; pendingFailed = false; document.getElementById("desk-pending")?.replaceWith(pendingList()); }
          words = !r ? unknownWords(`an invitation for ${person}`)
            : made ? `The invitation for ${person} was made: the answer was lost on the way, but the list of who is invited, read again, has it. ` +
              (made.emailed ? `It is emailed to ${to}.` : `Its link was in that answer and is not shown here: withdraw it under “Invited, not joined yet”, then invite ${person} again to get a link to give them.`)
            : `No invitation made: the answer was lost on the way, and the list of who is invited, read again, has none for ${person}. You can make it again.`;
          say(words);
        }
        if (shown !== id) note(id, title, `On “${title}”: ${words}`, "error");
      }
    },
  },
  h("h3", { id: "desk-invite-title" }, "Invite someone"),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "desk-invite-name" }, "Name"), name),
    h("div", {}, h("label", { for: "desk-invite-email" }, "Email (optional)"), email)),
  h("p", { class: "note" }, "With an email address, the link is emailed to that address and not shown here; it is shown for you to give by hand only when this server sends no mail, or someone else in this case uses that address. Later session invitations and reminders go there too; the emails carry only times and links."),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "desk-invite-role" }, "Takes part as"), role),
    h("div", {}, h("label", { for: "desk-invite-side" }, "Side"), side)),
  who,
  h("div", { class: "row" }, make, making), out);
}

/** After an invitation: what the invited person does with the link, what the mediator sees meanwhile, who gets mail, and the mediator's next step. */
function nextSteps(person: string, role: string, label: string, to: string, mailed: boolean, expires: string): HTMLElement {
  const rooms = role === "observer" ? "the joint room" : `the joint room and the ${label} caucus`;
  const where = role === "observer" ? "under People, as an observer" : `under People, on the ${label} side`;
  return h("div", { id: "desk-invite-next" }, h("h4", {}, "What happens next"), h("ul", {},
    h("li", {}, `${person} opens the link${mailed ? " in the email" : ""} and is then listed ${where}. Before entering ${rooms} they read the case's terms and accept them; the case cannot move on to the opening session until everyone who has joined has accepted.`),
    h("li", {}, `Until then they are listed on this page under “Invited, not joined yet”. If the link expires unused (${whenZoned(expires)}), make a new invitation.`),
    h("li", {}, to && mailed ? `Invitations to sessions in ${rooms}, and reminders, are emailed to ${to}: the times and links only.`
      : to ? `Invitations to sessions, and reminders, are emailed to ${to} once this server sends mail; until then, tell ${person} the times yourself.`
      : `No email address was given, so Parley emails ${person} no session invitations or reminders: tell them the times yourself.`),
    h("li", {}, "Your next step: schedule a session, from this case's rooms (“Go to this case's rooms”, then “Schedule a session”).")));
}

function copyButton(input: HTMLInputElement, id: string, label: string): HTMLElement {
  const said = h("span", { role: "status", class: "note" });
  const b = h("button", {
    type: "button", id,
    onclick: async () => {
      input.select();
      try { await navigator.clipboard.writeText(input.value); said.textContent = " Copied."; } catch {
        said.textContent = document.execCommand("copy") ? " Copied." : " Select the link and copy it (Ctrl+C).";
      }
    },
  }, label);
  return h("span", {}, b, said);
}

// --- stages ---

function stageSection(mine: boolean, notYet = false): HTMLElement {
  const at = stageOrder.indexOf(c.stage);
  const closed = !!c.closed;
  const out = h("p", { id: "desk-stage-out", role: "status", "aria-live": "polite" });
  const list = h("ol", { class: "stages", id: "desk-stages" }, ...stageOrder.map((s, i) => h("li", {
    "data-stage": s, class: i < at ? "past" : i === at ? "current" : "", ...(i === at ? { "aria-current": "step" } : {}),
  }, stageTitle[s], i === at ? h("strong", {}, " — now") : "")));
  const controls = h("div", {});
  const move = async (to: W.Stage, why: string, done: string) => {
    if (saving) return;
    out.className = "";
    out.textContent = "";
    const was = document.querySelector("#desk-stage .done");
    if (was) was.textContent = "";
    const id = c.id, title = c.title;
    const last = c.stageHistory[c.stageHistory.length - 1];
    try { await write((k) => deskAPI.stage(k, to, why), "desk-stage", done); } catch (x) {
      out.className = "error refusal";
      if (!outcomeUnknown(x)) { failed(out, id, title, stageRefusal(x, to), why); return; }
      checkingSaid(out, id, `the move to ${stageTitle[to]}`);
      const r = await rereadCase(id, title, (k) => {
        const l = k.stageHistory[k.stageHistory.length - 1];
        return k.stage === to && !!l && l.to === to && l.by === me.id && (l.at !== last?.at || l.to !== last?.to);
      });
      settle(r, id, title, out, `the move to ${stageTitle[to]}`, "desk-stage",
        `${done} (The answer was lost on the way, but the case read again shows the move was saved.)`,
        `Not moved to ${stageTitle[to]}: the answer was lost on the way, and the case read again is at “${stageTitle[r?.got.stage ?? c.stage]}”. You can try again.`, why);
    }
  };
  if (mine && !closed) {
    const next = stageOrder[at + 1];
    if (next && next !== "closure") {
      controls.append(h("div", { class: "row" }, h("button", { type: "button", class: "primary", id: "desk-stage-forward", "data-write": "", onclick: () => move(next, "", `Moved on to ${stageTitle[next]}.`) },
        `Move on to: ${stageTitle[next]}`)));
    }
    if (next === "closure") controls.append(closeControl(move));
    if (at > 0) {
      const back = h("select", { id: "desk-stage-back" }, ...stageOrder.slice(0, at).reverse().map((s) => h("option", { value: s }, stageTitle[s]))) as HTMLSelectElement;
      const note = h("textarea", { id: "desk-stage-note", maxlength: "4000", rows: "2" }) as HTMLTextAreaElement;
      controls.append(h("form", {
        id: "desk-stage-back-form", class: "stage-back",
        onsubmit: (e: Event) => { e.preventDefault(); void move(back.value as W.Stage, note.value, `Moved back to ${stageTitle[back.value as W.Stage]}.`); },
      }, h("h3", {}, "Go back to an earlier stage"),
      h("div", { class: "row" }, h("div", {}, h("label", { for: "desk-stage-back" }, "Back to"), back)),
      h("label", { for: "desk-stage-note" }, "Why (needed to go back)"), note,
      h("div", { class: "row" }, h("button", { type: "submit", "data-write": "" }, "Go back"))));
    }
  }
  const history = c.stageHistory.slice(1).map((x) => h("li", {}, `${when(x.at)}: ${x.from ? stageTitle[x.from] + " → " : ""}${stageTitle[x.to]} by ${nameOf(x.by)}`,
    x.note ? h("span", { class: "note" }, ` — note: ${x.note}`) : ""));
  return h("section", { id: "desk-stage", "aria-labelledby": "stage-title" },
    h("h2", { id: "stage-title" }, "Stage"),
    list,
    h("p", { class: "note", id: "desk-stage-rules" }, closed
      ? "This case is closed. Closure is final: the stage cannot change any more."
      : "A case moves forward one stage at a time. Going back to an earlier stage is allowed, with a note saying why. Closing the case is final: it cannot be reopened."),
    mine && !closed ? audience("everyone in the case sees the stage the case is in. A note for going back is seen only by the case's mediators.") : "",
    notYet && !closed ? notAdmittedYet("move the case to another stage", "desk-stage-not-yet") : "",
    controls, h("p", { class: "done", role: "status" }), out,
    history.length ? h("details", {}, h("summary", {}, "Earlier changes"), h("ul", {}, ...history)) : "");
}

function stageRefusal(x: unknown, to: W.Stage): string {
  const f = x instanceof APIError ? x.problem.errors?.[0] : undefined;
  if (f?.field === "note") return "Not moved back: going back to an earlier stage needs a note saying why. Write the note, then press “Go back” again.";
  if (f?.field === "stage") return `Not moved to ${stageTitle[to]}: a case moves forward one stage at a time.`;
  return writeFailed(x, "Not moved", `the move to ${stageTitle[to]}`);
}

function closeControl(move: (to: W.Stage, note: string, done: string) => Promise<void>): HTMLElement {
  const box = h("div", { id: "desk-close" });
  const ask = h("button", {
    type: "button", id: "desk-close-ask", "data-write": "",
    onclick: () => {
      const yes = h("button", { type: "button", class: "danger", id: "desk-close-confirm", "data-write": "", disabled: !!saving, onclick: () => move("closure", "", "The case is closed. Record its outcome below.") }, "Close this case for good");
      box.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "desk-close-q", "aria-describedby": "desk-close-what" },
        h("p", { id: "desk-close-q", tabindex: "-1" }, h("strong", {}, `Close “${c.title}”?`)),
        h("ul", { id: "desk-close-what" },
          h("li", {}, "The case can never be reopened or moved to another stage."),
          h("li", {}, "No more objectives or invitations can be added (you can still add a conflict disclosure)."),
          h("li", {}, "The clock starts for keeping, and later destroying, its records under the program's retention schedule."),
          h("li", {}, "Everyone in the case sees that it is closed. You then record the outcome, which makes a satisfaction survey link for each party and lawyer.")),
        h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => { box.replaceChildren(ask); ask.focus(); } }, "Cancel"))));
      document.getElementById("desk-close-q")?.focus(); // not the button: Enter pressed twice must not close the case
    },
  }, `Move on to: ${stageTitle.closure}…`);
  box.append(ask);
  return box;
}

// --- objectives and success criteria ---

function objectivesSection(canAdd: boolean, notYet = false): HTMLElement {
  const list = (kind: W.ObjectiveKind) => {
    const xs = c.objectives.filter((o) => o.kind === kind);
    return xs.length ? h("ul", { id: "desk-" + kind }, ...xs.map((o) => h("li", {}, o.text, h("span", { class: "note" }, ` — added ${dayWords(o.added)} by ${nameOf(o.by)}`))))
      : h("p", { class: "note", id: "desk-" + kind }, "None yet.");
  };
  const text = h("textarea", { id: "desk-objective-text", required: true, maxlength: "4000", rows: "2" }) as HTMLTextAreaElement;
  const kind = h("select", { id: "desk-objective-kind" }, h("option", { value: "objective" }, "An objective (what the mediation aims at)"),
    h("option", { value: "success-criterion" }, "A success criterion (how you will know it worked)")) as HTMLSelectElement;
  const err = h("p", { class: "error", role: "alert" });
  // A mediator not admitted yet reads the roster only (the server leaves the objectives out): "None yet." would be
  // a guess, so the lists are not drawn; the line below says when they are.
  if (notYet) {
    return h("section", { id: "desk-objectives", "aria-labelledby": "objectives-title" },
      h("h2", { id: "objectives-title" }, "Objectives and success criteria"),
      notAdmittedYet("see and add objectives and success criteria", "desk-objective-not-yet"));
  }
  return h("section", { id: "desk-objectives", "aria-labelledby": "objectives-title" },
    h("h2", { id: "objectives-title" }, "Objectives and success criteria"),
    h("h3", {}, "Objectives"), list("objective"),
    h("h3", {}, "Success criteria"), list("success-criterion"),
    canAdd ? h("form", {
      id: "desk-objective-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (saving) return;
        err.textContent = "";
        const id = c.id, title = c.title, words = text.value, k0 = kind.value as W.ObjectiveKind;
        const what = k0 === "objective" ? "the objective" : "the success criterion";
        const before = new Set(c.objectives.map((o) => o.id));
        const was = document.querySelector("#desk-objectives .done");
        if (was) was.textContent = ""; // what was said of the last one is not read as this one's outcome
        try { await write((k) => deskAPI.objective(k, k0, words), "desk-objectives", "Added."); } catch (x) {
          if (outcomeUnknown(x)) {
            checkingSaid(err, id, what);
            const r = await rereadCase(id, title, (k) => k.objectives.some((o) => !before.has(o.id) && o.kind === k0 && o.by === me.id && sameText(o.text, words)));
            settle(r, id, title, err, what, "desk-objectives",
              `Added: the answer was lost on the way, but the case read again has ${what}, so it was saved.`,
              `Not added: the answer was lost on the way, and the case read again does not have ${what}. You can add it again.`, words);
            if (r?.saved) return;
          } else failed(err, id, title, writeFailed(x, "Not added", what), words);
          // Drawn again meanwhile (the case opened again): what was written goes back in the form.
          const now = document.getElementById("desk-objective-text") as HTMLTextAreaElement | null;
          if (now && now !== text && shown === id && !now.value) now.value = words;
        }
      },
    }, h("div", { class: "row" }, h("div", {}, h("label", { for: "desk-objective-kind" }, "Add"), kind)),
    h("label", { for: "desk-objective-text" }, "In words everyone can agree with"), text,
    audience("everyone in the case — both sides and the mediators — reads the objectives and success criteria."),
    h("div", { class: "row" }, h("button", { type: "submit", "data-write": "" }, "Add")), err) : "",
    h("p", { class: "done", role: "status" }));
}

// --- conflict disclosures ---

function disclosuresSection(canAdd: boolean): HTMLElement {
  const mustAck = c.participants.filter((p) => p.role === "party" || p.role === "counsel");
  const items = c.disclosures.map((d) => {
    const acked = new Map((d.acks ?? []).map((a) => [a.accountId, a.at]));
    const yes = mustAck.filter((p) => acked.has(p.accountId));
    const no = mustAck.filter((p) => !acked.has(p.accountId));
    return h("li", { "data-disclosure": d.id },
      h("p", {}, h("strong", {}, d.text), h("span", { class: "note" }, ` — disclosed ${when(d.at)} by ${nameOf(d.mediator)}`)),
      h("p", { class: "acked" }, "Acknowledged by: ", yes.length ? yes.map((p) => `${p.name} (${when(acked.get(p.accountId)!)})`).join(", ") : "nobody yet"),
      h("p", { class: no.length ? "flag not-acked" : "note not-acked" }, "Not yet acknowledged by: ",
        no.length ? no.map((p) => p.name).join(", ") : mustAck.length ? "nobody — everyone has acknowledged it" : "nobody has joined yet; each party and lawyer will be asked when they join"));
  });
  const text = h("textarea", { id: "desk-disclosure-text", required: true, maxlength: "4000", rows: "3" }) as HTMLTextAreaElement;
  const err = h("p", { class: "error", role: "alert" });
  const ask = h("button", { type: "submit", id: "desk-disclosure-ask", "data-write": "" }, "Disclose to everyone in the case…");
  const box = h("div", { id: "desk-disclosure-box" });
  return h("section", { id: "desk-disclosures", "aria-labelledby": "disclosures-title" },
    h("h2", { id: "disclosures-title" }, "Conflict disclosures"),
    h("p", { class: "note" }, "Disclose anything that might make a party doubt your impartiality: a past connection with a party, a lawyer or the subject. Each party and lawyer is asked to acknowledge every disclosure."),
    items.length ? h("ul", { class: "docs", id: "desk-disclosure-list" }, ...items) : h("p", { class: "note", id: "desk-disclosure-list" }, "No disclosures yet."),
    canAdd ? h("form", {
      id: "desk-disclosure-form",
      // A change to the text after asking closes the question: what is confirmed is what is sent.
      oninput: () => box.replaceChildren(),
      onsubmit: (e: Event) => {
        e.preventDefault();
        err.textContent = "";
        if (saving) return;
        const words = text.value.trim();
        if (!words) { err.textContent = "Write the disclosure first."; text.focus(); return; }
        const id = c.id, title = c.title;
        confirmStep(box, "desk-disclosure", "Disclose this to everyone in the case?", [
          h("span", {}, h("q", { id: "desk-disclosure-quote" }, words)),
          disclosureAudience(),
          "Each party and lawyer is asked to acknowledge it, and you see who has.",
          "It cannot be withdrawn or changed afterwards. To correct it, add another disclosure.",
        ], "Disclose it to everyone", ask, async () => {
          const before = new Set(c.disclosures.map((d) => d.id));
          const was = document.querySelector("#desk-disclosures .done");
          if (was) was.textContent = ""; // what was said of the last one is not read as this one's outcome
          try {
            await write((k) => deskAPI.disclose(k, words), "desk-disclosures", "Disclosed.");
          } catch (x) {
            box.replaceChildren();
            if (!outcomeUnknown(x)) { failed(err, id, title, writeFailed(x, "Not disclosed", "the disclosure"), words); return; }
            // A disclosure cannot be withdrawn: the case is read again before it is offered again.
            checkingSaid(err, id, "the disclosure");
            const r = await rereadCase(id, title, (k) => k.disclosures.some((d) => !before.has(d.id) && d.mediator === me.id && sameText(d.text, words)));
            if (r?.saved && shown === id) text.value = "";
            settle(r, id, title, err, "the disclosure", "desk-disclosures",
              "Disclosed: the answer was lost on the way, but the case read again has your disclosure, so it was saved. Do not disclose it again.",
              "Not disclosed: the answer was lost on the way, and the case read again does not have your disclosure. You can disclose it again.", words);
          }
        });
      },
    }, h("label", { for: "desk-disclosure-text" }, "Add a disclosure"), text,
    audience("everyone in the case — both sides, their lawyers, observers and the other mediators — reads every disclosure, with who has acknowledged it. It cannot be withdrawn."),
    h("div", { class: "row" }, ask), err, box) : "",
    h("p", { class: "done", role: "status" }));
}

/** Who reads a disclosure: everyone in the case now, by name and part, and whoever joins later. */
function disclosureAudience(): string {
  const people = c.participants.map((p) => personName(p.name, p.role, sideLabel(p.side)));
  const meds = c.mediators.filter((m) => !m.recused && m.accountId !== me.id).map((m) => m.name);
  const parts = [...people, ...(meds.length ? [`the other mediator${meds.length === 1 ? "" : "s"}, ${nameList(meds)}`] : [])];
  return parts.length ? `Who will see it: everyone in the case — ${nameList(parts)} — and everyone who joins later.`
    : "Who will see it: everyone who joins the case — each party, lawyer and observer — and any other mediator. Nobody has joined yet.";
}

// --- outcome and surveys ---

function outcomeSection(mine: boolean, notYet = false): HTMLElement {
  outcomeReady = null;
  const sec = h("section", { id: "desk-outcome", "aria-labelledby": "outcome-title" }, h("h2", { id: "outcome-title" }, "Outcome"));
  if (c.outcome) {
    // The server sends sessions, hours and who recorded it to the case's
    // mediators only (parties and observers get the result alone), and
    // leaves out a zero.
    const o = c.outcome;
    const effort = o.recorded ? ` · ${plural(o.sessions ?? 0, "session")} · ${o.hours ?? 0} hours · recorded ${when(o.recorded)} by ${nameOf(o.by ?? "")}` : "";
    sec.append(h("p", { id: "desk-outcome-recorded" }, `${resultWords[o.result]}${effort}.`));
    return sec;
  }
  if (c.stage !== "closure") {
    sec.append(h("p", { class: "note" }, "The outcome is recorded once the case is closed."));
    return sec;
  }
  if (!mine) {
    if (notYet) sec.append(notAdmittedYet("record the outcome", "desk-outcome-not-yet"));
    return sec;
  }
  // No result is chosen for the mediator: it is recorded once, for good, so
  // the form starts empty and "Record the outcome…" waits until all three are filled.
  const result = h("select", { id: "desk-outcome-result", required: true },
    h("option", { value: "", selected: true, disabled: true }, "Choose the result…"),
    ...Object.entries(resultWords).map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
  const sessions = h("input", { id: "desk-outcome-sessions", type: "number", min: "0", max: "1000", step: "1", required: true, inputmode: "numeric" }) as HTMLInputElement;
  const hours = h("input", { id: "desk-outcome-hours", type: "number", min: "0", max: "10000", step: "0.25", required: true, inputmode: "decimal" }) as HTMLInputElement;
  const err = h("p", { class: "error", role: "alert" });
  const ask = h("button", { type: "submit", class: "primary", id: "desk-outcome-ask", disabled: true, "aria-describedby": "desk-outcome-missing" }, "Record the outcome…") as HTMLButtonElement;
  const missing = h("p", { class: "note", id: "desk-outcome-missing" });
  const box = h("div", { id: "desk-outcome-box" });
  const ready = () => {
    const gaps = [result.value ? "" : "the result", sessions.value === "" || !sessions.validity.valid ? "the sessions held" : "", hours.value === "" || !hours.validity.valid ? "the hours" : ""].filter(Boolean);
    ask.disabled = gaps.length > 0 || !!saving;
    missing.textContent = gaps.length ? `To record the outcome, fill in ${nameList(gaps)}.` : "";
  };
  const surveyed = c.participants.filter((p) => p.role !== "observer").map((p) => p.name);
  // A change after asking closes the question: what is confirmed is what is
  // recorded. (Compared by value: a field's "change" on losing focus, as
  // after Enter, is not a change.)
  const filled = () => `${result.value}|${sessions.value}|${hours.value}`;
  let asked = "";
  const edited = () => { if (filled() !== asked) box.replaceChildren(); ready(); };
  sec.append(h("form", {
    id: "desk-outcome-form",
    oninput: edited,
    onchange: edited,
    onsubmit: (e: Event) => {
      e.preventDefault();
      err.textContent = "";
      ready();
      if (ask.disabled) return;
      const id = c.id, title = c.title;
      asked = filled();
      const req: W.OutcomeRequest = { result: result.value as W.OutcomeResult, sessions: Number(sessions.value), hours: Number(hours.value) };
      confirmStep(box, "desk-outcome", `Record “${resultWords[req.result]}”, ${plural(req.sessions, "session")}, ${plural(req.hours, "hour")} for “${c.title}”?`, [
        "It can be recorded only once: it cannot be changed afterwards.",
        surveyed.length ? `Each party and lawyer — ${nameList(surveyed)} — gets a single-use satisfaction survey link: by email if Parley has their address, otherwise you see their link once, to hand on privately. Their answers are stored without their names; scores are only shown added up, and a comment may be read as written (names and contact details removed) in the program's evaluation.`
          : "Nobody joined as a party or lawyer, so no survey links are made.",
        "Everyone in the case sees the result; the sessions and hours only the case's mediators and records staff (they count each side's caucuses too). The program's evaluation counts it without names.",
      ], "Record this outcome", ask, async () => {
        try {
          const { r, onScreen } = await saveCase(id, () => deskAPI.outcome(id, req), (x) => x.case ?? undefined);
          // The links are shown only once: kept for this page under this case's Outcome, whichever case is on screen now.
          surveysKept.set(id, h("div", { class: "desk-surveys-kept" }, surveyLinks(r.surveys),
            r.mailWarning ? h("p", { class: "error", role: "alert", id: "desk-survey-mail" }, r.mailWarning) : ""));
          if (!onScreen) {
            const words = `The outcome of “${title}” is recorded. Its survey links are shown only in this page: open “${title}” again to copy them before you leave the page.`;
            note(id, title, words, "done", words);
            return;
          }
          renderCase();
          document.getElementById("desk-surveys")?.scrollIntoView({ block: "nearest" });
        } catch (x) {
          box.replaceChildren();
          if (!outcomeUnknown(x)) { failed(err, id, title, writeFailed(x, "Not recorded", "the outcome")); return; }
          // It can be recorded only once: the case is read again before it is offered again.
          checkingSaid(err, id, "the outcome");
          const r = await rereadCase(id, title, (k) => !!k.outcome);
          settle(r, id, title, err, "the outcome", "desk-outcome",
            "The outcome is recorded: the answer was lost on the way, but the case read again has it. That answer held the survey links: any link Parley did not email is not shown here.",
            "Not recorded: the answer was lost on the way, and the case read again has no outcome. You can record it again.");
          if (r?.saved && shown === id) {
            const said = h("p", { class: "done", role: "status", id: "desk-outcome-settled" }, "The outcome is recorded: the answer was lost on the way, but the case read again has it. That answer held the survey links: any link Parley did not email is not shown here.");
            document.getElementById("desk-outcome")?.append(said);
          }
        }
      });
    },
  }, h("div", { class: "row" },
    h("div", {}, h("label", { for: "desk-outcome-result" }, "Result"), result),
    h("div", {}, h("label", { for: "desk-outcome-sessions" }, "Sessions held"), sessions),
    h("div", {}, h("label", { for: "desk-outcome-hours" }, "Hours in all"), hours)),
  audience("everyone in the case sees the result; the sessions and hours only the case's mediators and records staff (they count each side's caucuses too). The program's evaluation counts it without names. Recording it makes one single-use satisfaction survey link for each party and lawyer; the answers are stored without names (a comment may be read as written, names and contact details removed, in the program's evaluation)."),
  h("p", { class: "note" }, "The outcome can be recorded only once."),
  h("div", { class: "row" }, ask), missing, err, box));
  outcomeReady = ready;
  ready();
  return sec;
}

function surveyLinks(links: W.SurveyLink[]): HTMLElement {
  return h("div", { id: "desk-surveys", class: "confirm" },
    h("h3", {}, "Survey links"),
    !links.length ? h("p", { class: "note" }, "Nobody to survey: no party or lawyer joined.")
      : links.some((l) => !l.mailed) ? h("p", {}, h("strong", {}, "These links are shown only once."),
        " Give each person their own link, privately; each works once.")
        : h("p", {}, "Parley emailed each person their own survey link."),
    links.some((l) => l.mailed) ? h("p", { class: "note" }, "A link Parley emailed is not shown here, so that only its person can answer it.") : "",
    h("ul", { class: "survey-links" }, ...links.map((l, i) => {
      if (l.mailed || !l.link) return h("li", { id: "desk-survey-mailed-" + i }, `${l.name}: their link was emailed to them.`);
      const input = h("input", { id: "desk-survey-" + i, type: "text", readonly: true, value: l.link }) as HTMLInputElement;
      return h("li", {}, h("label", { for: input.id }, `Survey link for ${l.name}`), input, copyButton(input, "desk-survey-copy-" + i, `Copy ${l.name}'s link`));
    })));
}

// --- stepping off ---

function stepOffSection(): HTMLElement {
  const others = c.mediators.filter((m) => m.accountId !== me.id && !m.recused);
  const reason = h("textarea", { id: "desk-stepoff-reason", maxlength: "4000", rows: "2" }) as HTMLTextAreaElement;
  const box = h("div", { id: "desk-stepoff-box" });
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", {
    id: "desk-stepoff-form",
    onsubmit: (e: Event) => {
      e.preventDefault();
      err.textContent = "";
      if (!reason.value.trim()) { err.textContent = "Say why you are stepping off: the reason is part of the case's record."; reason.focus(); return; }
      const id = c.id, title = c.title;
      const yes = h("button", {
        type: "button", class: "danger", id: "desk-stepoff-confirm", "data-write": "", disabled: !!saving,
        onclick: async () => {
          if (saving) return;
          // Stepped off (lost: its answer was lost, and the case read again no longer opens to this mediator).
          const off = (onScreen: boolean, lost = false) => {
            dropNotes(id); // pointers to a case that no longer opens
            const said = lost ? `You are no longer a mediator on “${title}”: the answer was lost on the way, but the case, read again, no longer opens for you.` : `You stepped off “${title}”.`;
            if (!onScreen) { note(id, title, said, "done", said, false); return; }
            showCase(""); // nothing answered later is drawn over this
            main.replaceChildren(h("h1", { id: "desk-title" }, "You stepped off the case"),
              lost ? h("p", { class: "note", id: "desk-stepoff-lost" }, "The answer was lost on the way, but the case, read again, no longer opens for you.") : "",
              h("p", { role: "status" }, "You are no longer a mediator on it and can no longer open it. " +
                (others.length ? `${others.map((m) => m.name).join(", ")} carr${others.length === 1 ? "ies" : "y"} on.` : "The mediation program will assign another mediator.")),
              backButton());
          };
          try {
            const { onScreen } = await saveCase(id, () => deskAPI.recuse(id, me.id, reason.value), (x) => x);
            off(onScreen);
          } catch (x) {
            if (!outcomeUnknown(x)) { failed(err, id, title, writeFailed(x, "Not stepped off", "your stepping off")); return; }
            checkingSaid(err, id, "your stepping off");
            // Stepped off, the case no longer opens to them: a plain refusal (403 forbidden) of the case they
            // were a mediator of a moment ago says so. Still a mediator on it, they did not step off.
            const r = await reread(id, title, async () => {
              try { return (await deskAPI.get(id)).mediators.some((m) => m.accountId === me.id && !!m.recused); } catch (e) {
                if (e instanceof APIError && e.status === 403 && e.problem.type === ProblemTypeBase + ("forbidden" satisfies W.ProblemType)) return true;
                throw e;
              }
            }, (gone) => gone);
            if (r?.saved) { off(shown === id, true); return; }
            failed(err, id, title, r ? "Not stepped off: the answer was lost on the way, and the case read again still has you as a mediator. You can step off again." : unknownWords("your stepping off"));
          }
        },
      }, "Step off this case for good");
      box.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "desk-stepoff-q" },
        h("p", { id: "desk-stepoff-q", tabindex: "-1" }, h("strong", {}, `Step off “${c.title}”?`)),
        h("ul", {},
          h("li", {}, "You stop being a mediator on this case at once: its rooms, documents and this desk close to you."),
          h("li", {}, "This is final: you cannot be added back to this case."),
          h("li", {}, "Invitations and links back in that you made and that were not used yet stop working" +
            (others.length ? `: ${others.map((m) => m.name).join(", ")} can send new ones.` : ".")),
          h("li", {}, others.length ? `${others.map((m) => m.name).join(", ")} remain${others.length === 1 ? "s" : ""} the case's mediator${others.length === 1 ? "" : "s"}.`
            : "You are its only mediator: the case has none until the program assigns another."),
          h("li", {}, "Everyone in the case sees that you stepped off, and your reason.")),
        h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => box.replaceChildren() }, "Cancel"))));
      document.getElementById("desk-stepoff-q")?.focus(); // not the button: Enter pressed twice must not step off
    },
  }, h("label", { for: "desk-stepoff-reason" }, "Why you are stepping off (for example: a conflict of interest came to light)"), reason,
  audience("everyone in the case sees that you stepped off and your reason. The audit log records that you did."),
  h("div", { class: "row" }, h("button", { type: "submit", "data-write": "" }, "Step off this case…")), err, box);
  return h("section", { id: "desk-stepoff", "aria-labelledby": "stepoff-title" },
    h("h2", { id: "stepoff-title" }, "Step off this case"),
    h("p", { class: "note" }, "If you can no longer be impartial, or cannot go on for another reason, you can recuse yourself."), form);
}
