// The Parley browser client: sign in (or join by invite), then the case's
// rooms, end-to-end encrypted in this browser, and its documents. Every room
// and document says in words who can read it; each caucus keeps one colour.
import { renderSessions, renderCaseload } from "./sessions";
import { recordsView } from "./records";
import { confirmEmailView, emailLinkButton, emailSignInPanel } from "./signinlink";
import { staffNav, staffScreen, peopleView, passwordView, signInErrorWords, rememberSignInPassword, sessionEndedWords } from "./staff";
import { consentGate, renderConsentPanel } from "./consent";
import { deskView, deskButton, inviteWords, outcomeUnknown, unknownWords } from "./desk";
import { api, APIError, Account, Case, plainWords } from "./api";
import { mountDocuments, DocsScreen } from "./documents";
import { forgetDecrypted, sweepAllTemporary } from "./docs-e2ee-ui";
import { forgetDialog, forgetThisBrowser } from "./forget";
import type { InviteResponse, ParticipantRole } from "./wire_gen";
import * as E from "./e2ee";
import type { DocSession } from "./docs-e2ee";
import { registerDevice, SecureCase, SecureEvent, SecurityStop, tooManyDevicesWords, tooManyTabsWords, unconfirmedWords, notAdmittedWords } from "./secure";
import { showSecurityStop } from "./alarm";
import { endSession, notSignedOut, signOutDialog } from "./signout";
import { loadOrCreateDevice, loadWrapPins, markRegistered, saveWrapPins } from "./store";
import { afterSignOut, comeBackPage, offerReentry, rememberRole, renderPeople, shouldShowComeBack } from "./reentry";
import { isUnreadable, noteUnreadable, refreshAdmissions, renderDevices } from "./devices";
import { carryItem, carryOffer, initCarry } from "./carry";
import { redrawWelcome, showWelcome } from "./welcome";
import { definedRoom, roomMembers, roomLead, roomShown, closedNote, loadDefinedRooms, mountRooms } from "./rooms";
import { commentWords, mountAgreement, noteMessage } from "./agreement";
import { floorAfterSend, floorBadge, floorBar, floorMessage, floorRoomsChanged, floorStatus, initFloor, turnNote } from "./floor";
import { h } from "./dom";
import { personName } from "./names";

const $ = (id: string) => document.getElementById(id)!;
const main = () => $("main");
function say(text: string, error = false) {
  main().replaceChildren(h("p", { id: "status", role: "status", class: error ? "error" : "" }, text));
}
const errText = plainWords; // never a status, an id or the browser's network text

let me: Account;
let sc: SecureCase;
let c: Case;
let current = "joint";
// The room on the screen is kept for this tab (sessionStorage: a reload, not
// a new tab, comes back to it): a reload the stalled-room notice asks for
// must not turn a caucus draft pasted back into a joint-room message.
const keptRoomKey = (caseID: string) => "parley.room." + caseID;
function keptRoom(caseID: string): string {
  try { return sessionStorage.getItem(keptRoomKey(caseID)) ?? ""; } catch { return ""; } // private mode: the joint room
}
function keepRoom(caseID: string, room: string): void {
  try { sessionStorage.setItem(keptRoomKey(caseID), room); } catch { /* private mode: a reload opens the joint room */ }
}
// Draws the stalled-room notice again (it names the room a reload opens): set while a case is open.
let redrawStalled = () => {};
const logs = new Map<string, HTMLElement>();
const unread = new Map<string, number>();
const roomButtons = new Map<string, HTMLElement>();
let docs: DocsScreen | undefined;
/** A co-mediator no mediator of the case has admitted yet (waitForAdmission): offered nothing the server refuses them. */
let notAdmitted = false;

// --- who can read what, in words ---

function roomClass(room: string): string {
  if (room === "joint") return "room-joint";
  if (room === "mediators") return "room-mediators";
  const d = definedRoom(room);
  if (d) return d.crossSide ? "room-defined room-cross" : "room-defined";
  const side = E.caucusSide(room);
  const i = c.sides.findIndex((s) => s.id === side);
  return "room-side-" + (i < 0 ? 0 : i % 4);
}

function sideLabel(side?: string): string {
  return c.sides.find((s) => s.id === side)?.label ?? side ?? "";
}

function roomTitle(room: string): string {
  if (room === "joint") return "Joint room";
  if (room === "mediators") return "Mediators only";
  const d = definedRoom(room);
  if (d) return d.label;
  return `${sideLabel(E.caucusSide(room)!)} caucus`;
}

/** The room on the screen as a confirmation names it: "your private caucus", "the joint room", … */
function lookingWords(room: string): string {
  if (room === "joint") return "the joint room";
  if (room === "mediators") return "the mediators' room";
  const d = definedRoom(room);
  if (d) return `the room “${d.label}”`;
  const side = E.caucusSide(room);
  return side && myself()?.side === side ? "your private caucus" : `the ${roomTitle(room)}`;
}

function myself() {
  return c.participants.find((p) => p.accountId === me.id);
}

/** How the viewer should read an account: "you", "your lawyer Jordan Blake", "the mediator Morgan Reyes", … */
/**
 * Whether a message is over what every screen accepts (40 KiB of UTF-8,
 * e2ee.ts): the box counts characters, and one character of many scripts
 * takes three or four bytes.
 */
const tooLong = (text: string) => new TextEncoder().encode(text).length > 40 << 10;
const tooLongWords = "Not sent: this message is too long to send in one piece. Split it into two or more messages.";

/** Who wrote something, once they are no longer in the case (never their account id). */
const formerWords = "someone no longer in this mediation";
function personWords(account: string): string {
  if (account === me.id) return "you";
  const m = c.mediators.find((x) => x.accountId === account);
  if (m) return `the mediator ${m.name}`;
  const p = c.participants.find((x) => x.accountId === account);
  if (!p) return formerWords; // removed or stepped off: the case no longer names them
  const mine = myself();
  if (mine && mine.side && p.side === mine.side) {
    if (p.role === "counsel") return `your lawyer ${p.name}`;
    if (mine.role === "counsel" && p.role === "party") return `your client ${p.name}`;
    return `${p.name} (your side)`;
  }
  return personName(p.name, p.role, sideLabel(p.side));
}

function membersOf(audience: string): string[] {
  // The case record is the server's word; who can read what is sent in a room is the verified statement in
  // force. A member the record leaves out, or shows as gone, while the statement still gives them the keys
  // is named too (docs/protocol.md, "Names and Visible to").
  return [...new Set([...recordMembersOf(audience), ...(sc?.readersInForce(audience) ?? [])])];
}

/**
 * The verified session documents are wrapped and opened under: a document key is wrapped only when the latest
 * verified statement is the one in force for each room of its audience (readersInForce), as a message is sent only
 * under a statement covering its room's current epoch (review 394 M1).
 */
function docSession(s: SecureCase): DocSession {
  const { me, caseID, chain, dir } = s.sess;
  return { me, caseID, chain, dir, inForce: (room) => s.readersInForce(room) !== undefined,
    wrapPins: { load: () => loadWrapPins(me.account), save: (w) => saveWrapPins(me.account, w) } };
}

function recordMembersOf(audience: string): string[] {
  // A co-mediator no mediator has admitted yet reads nothing: not named as a reader (renderPendingMediators).
  const waiting = new Set(sc?.pendingMediators().map((m) => m.accountId) ?? []);
  const med = c.mediators.filter((m) => !m.recused && !waiting.has(m.accountId)).map((m) => m.accountId);
  if (audience === "joint") return [...med, ...c.participants.map((p) => p.accountId)];
  if (audience === "mediators") return med;
  const defined = roomMembers(audience);
  if (defined) return defined;
  const side = E.caucusSide(audience);
  if (side) return [...med, ...c.participants.filter((p) => p.side === side && p.role !== "observer").map((p) => p.accountId)];
  if (audience.startsWith("user:")) return [...med, ...audience.slice(5).split(",")];
  return med;
}

function visibleTo(audience: string): string {
  const lead = roomLead(audience) ?? (audience === "joint" ? "everyone in this mediation: " : audience.startsWith("caucus:") ? `the ${sideLabel(E.caucusSide(audience)!)} side only: ` : "");
  return "Visible to: " + lead + readerWords(audience).join(", ");
}

/** Who can read audience as a sentence's subject, without "Visible to:": "you, Lars Lindqvist (Landlord) and the mediator Morgan Reyes". */
function readersOf(audience: string): string {
  const w = readerWords(audience);
  return w.length > 1 ? w.slice(0, -1).join(", ") + " and " + w[w.length - 1] : w.join("");
}

/** The people who can read audience, in words (the same people as visibleTo, signed members included): you first, then your side, then others, the mediators last. */
function readerWords(audience: string): string[] {
  const ids = membersOf(audience);
  // You first, then your side, then others, the mediators last.
  const rank = (a: string) => {
    if (a === me.id) return 0;
    if (c.mediators.some((m) => m.accountId === a)) return 3;
    const p = c.participants.find((x) => x.accountId === a);
    return p && myself()?.side && p.side === myself()!.side ? 1 : 2;
  };
  const all = [...new Set(ids)].sort((a, b) => rank(a) - rank(b)).map(personWords);
  // People the case no longer names (a statement in force still lists them): counted, last.
  const former = all.filter((w) => w === formerWords).length;
  const words = all.filter((w) => w !== formerWords);
  if (former) words.push(former === 1 ? formerWords : `${former} people no longer in this mediation`);
  return words;
}

function banner(audience: string, what: string): HTMLElement {
  const tag = audience.startsWith("user:") ? "Named people" : roomTitle(audience);
  return h("p", { class: "banner " + (audience.startsWith("user:") ? "room-mediators" : roomClass(audience)), "data-audience": audience },
    h("span", { class: "swatch" }, tag), " ", h("strong", {}, visibleTo(audience)), h("span", { class: "note" }, " — " + what));
}

/** The room's audience banner, a live region: screen readers announce who can read when it changes. */
function roomBanner(room: string): HTMLElement {
  const b = banner(room, "messages are encrypted in the senders' browsers for these people's devices only.");
  b.setAttribute("role", "status");
  return b;
}

// --- sign in, join, device ---

async function signIn(): Promise<void> {
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true }) as HTMLInputElement;
  const pw = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const err = h("p", { class: "error", role: "alert" });
  return new Promise((resolve) => {
    const form = h("form", {
      class: "form", "aria-labelledby": "signin-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await api.login(email.value, pw.value);
          rememberSignInPassword(pw.value);
          resolve();
        } catch (x) {
          err.textContent = signInErrorWords(x);
        }
      },
    },
    h("h1", { id: "signin-title" }, "Sign in to Parley"),
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, "Password"), pw,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Sign in")), err,
    h("p", { class: "note" }, "Invited to a mediation? Open the link your mediator sent you instead."),
    h("p", { class: "note" }, "Taking part in a mediation and already joined? You can also sign in on this phone or computer with a link by email."),
    h("div", { class: "row" }, emailLinkButton(main(), () => { main().replaceChildren(form); email.focus(); })));
    main().replaceChildren(form);
    email.focus();
  });
}

/**
 * Why an invitation could not be opened, in plain words, with what to do:
 * a failure that may pass (a dropped connection, the same link opening in
 * another tab, too many attempts) offers to try again with the same link;
 * an invitation for someone who already joined says to ask for a link back
 * in, never for a new invitation (which would make a second copy of them);
 * a link whose address is now shared with someone else in the case
 * (cases.ErrLinkShared) says to ask the mediator for a new one, not to get
 * one by email (none goes to a shared address).
 */
function inviteFailed(e: unknown): void {
  const type = e instanceof APIError ? (e.problem.type ?? "").replace(/^urn:parley:problem:/, "") : "";
  const status = e instanceof APIError ? e.status : 0;
  let words: string;
  let again = true;
  let more: HTMLElement[] = [];
  if (type === "already-joined" || (status === 410 && /link back in/.test(e instanceof APIError ? e.problem.detail ?? "" : ""))) {
    words = "This invitation link was already used to join this mediation as you.";
    more = [h("p", { id: "joined-if-you" }, "If that was you, on another phone, computer or browser, ask your mediator for a “link back in”. It brings you back as yourself. On a phone or computer you have not used for this mediation before, earlier messages cannot be opened until you link it from one you used before. Please do not ask for a new invitation: it would add a second you, who cannot read anything said so far."),
      h("p", { id: "joined-not-you", class: "refusal" }, "If you have not opened this mediation before, someone else may have used your link: don't write anything, and phone your mediator now so they can end that access.")];
    again = false;
  } else if (status === 410 && /now also uses/.test(e instanceof APIError ? e.problem.detail ?? "" : "")) {
    // cases.ErrLinkShared: the address it was emailed to is now someone
    // else's in the mediation too; the link is not used up, but refused.
    words = "This link no longer works: the email address it was sent to is now also used by someone else in this mediation. Please ask your mediator for a new link (a “link back in” if you have used Parley before); they will give it to you in person or by phone.";
    again = false;
  } else if (status === 410) {
    words = "This link has expired or was already used. Please ask your mediator for a new link (a “link back in” if you have used Parley before). If you did not use it, tell your mediator.";
    more = [h("p", {}, "If you confirmed your email address in Parley, you can also get a link yourself:"),
      h("div", { class: "row" }, h("a", { href: "/app", id: "get-email-link" }, "Get a link by email"))];
    again = false;
  } else if (status === 409) {
    words = "This invitation is being opened right now, perhaps in another tab or window. Wait a minute, then try again.";
  } else if (status === 429) {
    words = "There were too many attempts to open this invitation in a short time. Wait a minute, then try again.";
  } else if (e instanceof TypeError) {
    words = "Your invitation could not be checked: the connection dropped. Check that you are online, then try again.";
  } else {
    words = "We could not open this invitation: " + errText(e) + ".";
  }
  say(words, true);
  main().append(...more);
  if (again) {
    main().append(h("div", { class: "row" }, h("button", { type: "button", class: "primary", id: "invite-again", onclick: () => location.reload() }, "Try again")),
      h("p", { class: "note" }, "If you closed this page, open the link from your message again."));
  }
}

async function start(): Promise<void> {
  let caseID = new URLSearchParams(location.hash.slice(1)).get("case") ?? "";
  if (location.pathname === "/join") {
    const token = location.hash.slice(1);
    if (!token) {
      history.replaceState(null, "", "/app");
      return say("This link has no invitation in it. Please open the full link your mediator sent you.", true);
    }
    say("Checking your invitation…");
    // The invitation stays in the address bar until it is redeemed: a
    // reload after a failure tries it again, rather than opening a page
    // with no invitation (a sign-in form for staff).
    try {
      caseID = (await api.redeem(token)).caseId ?? "";
    } catch (e) {
      return inviteFailed(e);
    }
    history.replaceState(null, "", "/app#case=" + encodeURIComponent(caseID));
  }
  for (let i = 0; i < 5; i++) {
    try { me = await api.me(); break; } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) throw e;
      await sweepAllTemporary(); // no session: decrypted files a closed tab left go now
      if (shouldShowComeBack()) await comeBackPage(main());
      await signIn();
    }
  }
  $("who").textContent = me.name;
  const out = $("signout") as HTMLButtonElement;
  out.hidden = false;
  // Signing out deletes the decrypted documents' temporary files at once,
  // before the page goes (not at the next visit of the documents screen).
  // A sign-out the server did not take leaves the page here, saying the
  // person is not signed out yet (signout.ts notSignedOut).
  const signOut = async () => {
    sc?.close();
    await sweepAllTemporary();
    const r = await endSession();
    if (r.ended) return afterSignOut(me.role);
    notSignedOutHere(r.error, false, () => afterSignOut(me.role));
  };
  // A party or lawyer has no password: signed out, they need a new link to
  // come back, so they are asked first (signout.ts). Staff sign in again
  // with their password: their Sign out acts at once.
  out.onclick = me.role === "participant" ? () => signOutDialog(signOut) : signOut;
  if (me.role === "participant") out.after(forgetButton());
  rememberRole(me.role);
  const nav = staffNav(me);
  if (nav) { document.querySelector(".staff-nav")?.remove(); out.before(nav); }
  const screen = staffScreen(me);
  if (screen === "forced" || screen === "password") {
    return passwordView(main(), me, screen === "forced", () => {
      main().append(h("p", {}, h("a", { href: "/app", id: "pw-continue" }, "Continue to Parley")));
    });
  }
  if (screen === "people") return peopleView(main(), me);
  if (me.role === "participant" && location.hash.startsWith("#confirm-email=")) {
    // A link confirming the participant's address for sign-in links: used
    // once, in this session; off the address bar at once.
    const token = location.hash.slice("#confirm-email=".length);
    history.replaceState(null, "", "/app");
    return confirmEmailView(main(), token);
  }

  if (me.role === "records" || me.role === "admin") return recordsView(me, main());
  if (me.role === "mediator" && location.hash === "#caseload") return caseloadView();
  if (me.role === "mediator" && location.hash.startsWith("#desk")) return deskView(me, main());
  say("Preparing this browser's encryption keys…");
  const dev = await loadOrCreateDevice(me.id);
  const newDevice = !dev.registered;
  if (newDevice) {
    await registerDevice(dev.keys, me.role !== "participant");
    await markRegistered(me.id);
  }
  if (!caseID) {
    const list = await api.cases();
    if (list.length === 0 && me.role === "mediator") return deskView(me, main());
    if (list.length === 0) return say("You're not part of a mediation yet. Open the invitation link from your email or message.");
    if (list.length > 1) return chooseCase(list, dev.keys);
    caseID = list[0].id;
  }
  await openCase(caseID, dev.keys);
}

/**
 * "Sign out and forget this browser" (a party on a shared computer): asks,
 * in plain words, then signs out and deletes everything Parley kept here
 * (forget.ts).
 */
function forgetButton(): HTMLElement {
  document.getElementById("forget-open")?.remove();
  return h("button", {
    type: "button", id: "forget-open", onclick: () => {
      const dlg = forgetDialog(async (status) => {
        status("Forgetting this browser…");
        sc?.close();
        await forgetDecrypted();
        const r = await endSession();
        // This browser's share is deleted either way: that part needs no
        // server. A session the server did not end is said so, and the
        // page does not reload into the case (it would register a new
        // device on this account).
        await forgetThisBrowser(me.id);
        const forgotten = () => { location.href = "/app#forgotten"; location.reload(); };
        if (r.ended) return forgotten();
        notSignedOutHere(r.error, true, forgotten);
      }, otherDevices());
      document.body.append(dlg);
      dlg.showModal();
    },
  }, "Sign out and forget this browser");
}

/** How many other devices of the person count in the open case (null: no case open, or its devices not read yet). */
function otherDevices(): number | null {
  try { return sc?.sess ? sc.sess.dir.active(me.id).filter((d) => d.id !== sc.me.id).length : null; } catch { return null; }
}

function caseloadButton(): HTMLElement | null {
  if (me.role !== "mediator") return null;
  return h("button", { type: "button", id: "open-caseload", onclick: () => { location.hash = "caseload"; location.reload(); } }, "Caseload: open cases and delays");
}

/** A mediator's caseload, each case a button that opens it. */
async function caseloadView(): Promise<void> {
  const box = h("section", { id: "caseload", "aria-labelledby": "caseload-title" });
  main().replaceChildren(h("button", { type: "button", id: "back-to-cases", onclick: () => { location.hash = ""; location.reload(); } }, "← Back to your cases"), box);
  await renderCaseload(box, (id) => { location.hash = "case=" + id; location.reload(); });
}

const relationWords: Record<string, string> = { party: "party", counsel: "lawyer", mediator: "mediator", observer: "observer", records: "records" };
function chooseCase(list: { id: string; title?: string; relation: string }[], keys: E.DeviceKeys) {
  main().replaceChildren(h("h1", {}, "Your cases"), deskButton(me) ?? "", caseloadButton() ?? "", h("ul", {}, ...list.map((l) =>
    h("li", {}, h("button", { type: "button", onclick: () => { history.replaceState(null, "", "/app#case=" + l.id); openCase(l.id, keys).catch((e) => { if (e instanceof SecurityStop) stopCase(e); else say("The case could not be opened: " + errText(e) + ".", true); }); } },
      `${l.title ?? "A case"} (${relationWords[l.relation] ?? "in this case"})`)))));
}

// --- the case ---

/**
 * A sign-out (forgot: with "forget this browser") the server did not
 * take: the case gives way to a page saying the person is not signed out
 * yet, with one Sign out button that tries again; done runs once the
 * session has ended.
 */
function notSignedOutHere(error: unknown, forgot: boolean, done: () => void): void {
  hideAccountButtons();
  // The case's title often names the parties: off the screen with the case.
  $("case-title").textContent = "";
  const el = $("conn");
  el.textContent = "Not signed out yet";
  el.className = "conn bad";
  notSignedOut(main(), { error, participant: me.role === "participant", forgot, retry: endSession, done, back: () => location.reload() });
}

/** Signed out, or access ended: "Sign out" and "Change password" would do nothing there, so they go. */
function hideAccountButtons(): void {
  ($("signout") as HTMLButtonElement).hidden = true;
  document.getElementById("forget-open")?.remove();
  document.querySelector(".staff-nav")?.remove();
}

/**
 * A check of the case's keys failed (at opening or any later check): the connection is closed and the page shows
 * the alarm screen instead of the case, so nothing more is written or sent in it from here.
 */
function stopCase(e: SecurityStop): void {
  if (sc) { sc.onStatus = () => {}; sc.onEvent = () => {}; sc.close(); }
  const el = $("conn");
  el.textContent = "Stopped for safety";
  el.className = "conn bad";
  showSecurityStop(main(), e, me?.role !== "participant");
}

async function openCase(caseID: string, keys: E.DeviceKeys): Promise<void> {
  say("Opening the case and checking its keys…");
  sc = new SecureCase(caseID, keys);
  initCarry({ h, sc: () => sc, me: () => me.id, fmtTime, roomTitle, roomClass, errText, visibleTo, readersOf, isMediator: (a) => c.mediators.some((m) => m.accountId === a) });
  sc.onEvent = onEvent;
  sc.onStop = (e) => stopCase(e);
  sc.onNotice = (t) => notice(t);
  // Every room not updating is named in one notice; it goes once none is left.
  const stalledRooms = new Set<string>();
  const drawStalled = () => {
    if (!stalledRooms.size) { if (document.getElementById("room-stalled-reload")) notice(""); return; }
    const names = [...stalledRooms].map((r) => `“${roomTitle(r)}”`).join(" and ");
    noticeEl.replaceChildren(`New messages in ${names} are not reaching this page just now. Reload the page to bring it up to date: ` +
      `it opens again in “${roomTitle(current)}”, the room you are in now (copy any message you have not sent yet first). `,
      h("button", { type: "button", id: "room-stalled-reload", onclick: () => location.reload() }, "Reload the page"));
  };
  redrawStalled = () => { if (stalledRooms.size) drawStalled(); };
  sc.onRoomStalled = (room) => { stalledRooms.add(room); drawStalled(); };
  sc.onRoomResumed = (room) => { if (stalledRooms.delete(room)) drawStalled(); };
  sc.onPendingMediators = (pending) => renderPendingMediators(pending);
  sc.onPresence = (room) => {
    roomButtons.get(room)?.replaceChildren(...roomLabel(room));
    if (room === current) document.getElementById("present")?.replaceWith(presenceLine(room));
    if (sc.mediator) void refreshAdmissions(devicesContext()).catch(() => {});
  };
  sc.onCase = (nc) => {
    c = nc;
    if (roomButtons.size) {
      renderRooms();
      // Refresh the banner (who can read) without touching the composer.
      const old = document.querySelector("#room > .banner");
      if (old) old.replaceWith(roomBanner(current));
    }
    redrawWelcome(welcomeWho); // the welcome open names who joined since
    docs?.caseChanged();
  };
  sc.onStatus = (s, detail) => {
    const el = $("conn");
    el.textContent = s === "live" ? "Connected — end-to-end encrypted" : s === "reconnecting" ? "Reconnecting…" : s === "closed" ? detail ?? "Disconnected" : "Connecting…";
    el.className = "conn" + (s === "live" ? "" : " bad");
    floorStatus(s);
    // Refused for too many connections open (tabs of this browser, or this person's other devices): the words and a
    // Reconnect button, which tries once more when pressed.
    if (s === "closed" && (detail === tooManyTabsWords || detail === tooManyDevicesWords)) {
      el.textContent = "Not connected";
      noticeEl.replaceChildren(detail + " ", h("button", { type: "button", id: "reconnect", onclick: () => { notice(""); sc.reconnect(); } }, "Reconnect"));
    } else if (document.getElementById("reconnect")) notice("");
    if (s === "closed" && detail?.startsWith("Your session ended")) void sweepAllTemporary();
    if (s === "closed" && detail?.startsWith("Your session ended")) void sessionEndedWords(me.role === "participant").then((w) => {
      el.textContent = "Signed out";
      hideAccountButtons();
      // The case's title often names the parties: off the screen with the case.
      $("case-title").textContent = "";
      // A party whose way back is a link reads plain text, not an error
      // (nothing they did was wrong), and gets the email-link button, as
      // on the come-back page (reentry.ts). A disabled account, or staff
      // signed out by a password change, still reads it as a problem.
      const page = () => main().replaceChildren(h("h1", {}, "You are signed out"), h("p", { id: "status", role: "status", class: w.emailLink ? "" : "error" }, w.text),
        ...(w.emailLink ? [h("p", {}, "If you confirmed your email address in Parley, you can also get a link yourself:"),
          h("div", { class: "row" }, emailLinkButton(main(), page))] : []));
      page();
    });
    // The server closed this case to this account (removed, stepped off,
    // recused, the case closed to them): a page that still looked alive
    // would let them type messages that can never be sent.
    if (s === "closed" && detail?.startsWith("Your access to this case ended")) {
      el.textContent = "Not connected";
      hideAccountButtons();
      // Plain words, not an error: nothing the person did was wrong (a
      // party's part ends when the mediator removes them, a mediator's when
      // they step off or are recused). A mediator's start page is their
      // cases, and they have no mediator of their own to contact.
      const party = me.role === "participant";
      main().replaceChildren(h("h1", {}, "You are no longer part of this mediation"),
        h("p", { id: "status", role: "status" },
          "Your part in this mediation has ended, so its rooms and documents are closed to you. " +
          (party ? "If you did not expect this, contact your mediator or the mediation program." : "If you did not expect this, contact the mediation program.")),
        h("p", {}, h("a", { href: "/app", id: "access-ended-back" }, party ? "Back to the start page" : "Back to your cases")));
    }
  };
  c = await consentGate(main(), caseID, keys, await api.getCase(caseID));
  sc.c = c;
  render();
  await sc.open();
  await loadDefinedRooms(caseID, sc).catch(() => {});
  c = sc.c;
  // A co-mediator no mediator of the case has confirmed yet: the server
  // gives them no room, document or session. The page says so, keeps the
  // safety numbers (to check with whoever admits them), and looks for
  // rooms every 10 s: once admitted it opens the case as usual.
  notAdmitted = sc.mediator && sc.rooms.length === 0;
  if (notAdmitted) { waitForAdmission(caseID); return; }
  // The room this tab showed before a reload, if this person can still open it; else the joint room.
  const kept = keptRoom(caseID);
  if (kept && sc.rooms.includes(kept) && roomShown(kept)) current = kept;
  if (!sc.rooms.includes(current) || !roomShown(current)) current = sc.rooms[0];
  initFloor({ h, sc: () => sc, c: () => c, me: () => me.id, current: () => current, roomTitle, roomClass, sideLabel, nameOf: (a) => sc.nameOf(a), errText, openRoom: (r) => switchRoom(r) });
  renderRooms();
  switchRoom(current);
  if (!sc.mediator) welcome(false);
  // No welcome to read first: a screen reader starts at the room's name, not at the top of an empty page.
  if (!document.getElementById("welcome")) document.getElementById("room-title")?.focus();
  renderDevices($("devices"), devicesContext());
  if (me.role === "participant") emailSignInPanel($("email-signin"), me, caseID);
  mountRooms($("defined-rooms"), {
    sc: () => sc, c: () => c, me: () => me.id, personWords, switchRoom,
    changed: () => { renderRooms(); document.querySelector("#room > .banner")?.replaceWith(roomBanner(current)); if (definedRoom(current)) switchRoom(current); floorRoomsChanged(); },
  });
  docs = mountDocuments($("documents"), {
    caseID, keys, meID: me.id, mediator: sc.mediator, c: () => c, room: () => current,
    roomTitle, roomClass, visibleTo, membersOf, banner, personWords, errText,
    // Rooms read up to their heads first: the in-force check compares with their current epochs (review 404 M2).
    e2ee: async () => { await sc.syncRooms(); return docSession(sc); },
    verified: () => sc.sess ? docSession(sc) : undefined,
  });
  if (sc.mediator) { const s = h("section", { id: "consent-panel" }); $("documents").before(s); void renderConsentPanel(s, caseID, c); }
  mountAgreement($("agreement"), { caseID, caseTitle: () => c.title, keys, visibleTo: () => visibleTo("joint"), comment: async (body) => { await sc.send("joint", { kind: E.KindText, text: body }); },
    looking: () => current === "joint" ? "" : lookingWords(current), devices: async () => { await sc.refresh(); return sc.sess.dir; } });
  await renderSessions($("sessions"), {
    caseID, mediator: sc.mediator, rooms: sc.rooms.filter((r) => !definedRoom(r)), roomTitle, nameOf: (a) => sc.nameOf(a),
    closed: !!c.closed, agreement: !!c.closed && (c.outcome?.result === "full-agreement" || c.outcome?.result === "partial-agreement"),
  });
}

/** The page of a co-mediator not confirmed yet (openCase): what they wait for, and their safety numbers. */
function waitForAdmission(caseID: string): void {
  renderRooms();
  renderDevices($("devices"), devicesContext());
  // Who may admit them: the mediators of the case other than this one (the safety numbers list them by name).
  const others = c.mediators.filter((m) => !m.recused && m.accountId !== me.id).map((m) => m.name);
  const goSafety = h("button", { type: "button", id: "admission-safety", onclick: () => {
    document.getElementById("safety-numbers")?.scrollIntoView({ block: "start" });
    document.querySelector<HTMLButtonElement>("#safety button")?.focus();
  } }, "Go to the safety numbers");
  $("room").replaceChildren(h("h2", { id: "room-title", tabindex: "-1" }, "Waiting for a mediator to confirm you"),
    h("p", { id: "admission-wait" }, "You are listed as a mediator of this case, but no mediator already in it has confirmed you yet. " +
      "Until one does, you cannot open its rooms, documents or sessions. " +
      `${others.length === 1 ? others[0] : "A mediator of the case"} will call you and read you a safety number. Under “Safety numbers” on this page (on the left on a computer, further down on a phone), ` +
      (others.length === 1 ? `press “Safety number with ${others[0]}”` : "press the button with the name of the mediator who calls you") + " and check that every digit is the same. " +
      "Then they admit you; this page opens the case by itself once they have."),
    h("div", { class: "row" }, goSafety));
  for (const id of ["sessions", "agreement", "documents"]) $(id).remove();
  if (noticeEl.textContent === notAdmittedWords) notice(""); // said above already, in the page's own words
  document.getElementById("room-title")?.focus();
  let tries = 0;
  const look = async () => {
    if (!document.getElementById("admission-wait") || ++tries > 720) return; // left the page, or 2 hours
    const rooms = await api.rooms(caseID).catch(() => null);
    if (rooms && rooms.length > 0) { location.reload(); return; }
    setTimeout(() => void look(), 10000);
  };
  setTimeout(() => void look(), 10000);
}

const devicesContext = () => ({ sc, myName: me.name, nameOf: (a: string) => sc.nameOf(a), participants: c.participants.map((p) => p.accountId) });

/** The first-time welcome (welcome.ts), for participants. */
function welcome(force: boolean) {
  const mine = myself();
  const caucus = mine?.side && mine.role !== "observer" ? "caucus:" + mine.side : "";
  showWelcome(main(), {
    h, account: me.id, mediators: c.mediators.filter((m) => !m.recused).map((m) => m.name), role: mine?.role ?? "party",
    caucus, caucusTitle: caucus ? roomTitle(caucus) : "", visibleTo: welcomeWho, openRoom: (r) => switchRoom(r),
  }, force);
}

/**
 * Who reads a room, for the welcome: as its banner says it, and for the
 * joint room, the sides nobody has joined for yet ("(and the Landlord side,
 * once they join)"), so a first reader does not take the people named so
 * far for everyone.
 */
function welcomeWho(room: string): string {
  const words = visibleTo(room);
  if (room !== "joint") return words;
  const waiting = c.sides.filter((s) => !c.participants.some((p) => p.side === s.id && p.role !== "observer")).map((s) => `the ${s.label} side`);
  if (!waiting.length) return words;
  return `${words} (and ${waiting.length > 1 ? waiting.slice(0, -1).join(", ") + " and " + waiting[waiting.length - 1] : waiting[0]}, once they join)`;
}

let noticeEl: HTMLElement;
function notice(text: string) {
  // The waiting page says this already, in its own words: not twice.
  if (text === notAdmittedWords && document.getElementById("admission-wait")) return;
  noticeEl.textContent = text;
}

function render() {
  $("case-title").textContent = c.title;
  noticeEl = h("p", { id: "notice", class: "note", role: "status", "aria-live": "polite" });
  main().replaceChildren(
    programNotices(),
    h("div", { class: "layout" },
      h("nav", { "aria-label": "Rooms" }, h("h2", { id: "rooms-title" }, "Rooms"), h("ul", { class: "rooms", id: "rooms" })),
      h("div", { class: "content" },
        h("section", { id: "mediator-admissions", "aria-label": "Co-mediators waiting to be admitted" }),
        h("section", { id: "room", "aria-labelledby": "room-title" }),
        noticeEl,
        h("section", { id: "sessions", "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title" }, "Sessions"), h("p", {}, "Loading…")),
        h("section", { id: "agreement", "aria-labelledby": "agreement-title" }, h("h2", { id: "agreement-title" }, "Settlement agreement"), h("p", {}, "Loading…")),
        h("section", { id: "documents", "aria-labelledby": "docs-title" }, h("h2", { id: "docs-title" }, "Documents"), h("p", {}, "Loading…"))),
      h("aside", { class: "tools", "aria-label": "Safety numbers and invitations" },
        deskButton(me, c.id) ?? "", caseloadButton() ?? "",
        c.mediators.some((m) => m.accountId === me.id) ? "" : h("button", { type: "button", id: "show-welcome", onclick: () => welcome(true) }, "About this mediation"),
        h("section", { id: "defined-rooms" }),
        h("section", { id: "people" }),
        h("section", { id: "safety-numbers", "aria-labelledby": "safety-title" }, h("h2", { id: "safety-title" }, "Safety numbers"), safetyHelp(), h("div", { id: "safety" })),
        h("section", { id: "devices", "aria-labelledby": "devices-title" }),
        h("section", { id: "email-signin", "aria-labelledby": "email-signin-title" }), h("div", { id: "invite" }))));
}

/**
 * For a mediator: each co-mediator the case record lists whom no mediator's device has admitted yet, with a
 * deliberate confirmation (the markup of the desk's confirmations). This device never admits a mediator on
 * its own: the case record is the server's word, and a mediator reads every room.
 */
function renderPendingMediators(pending: { accountId: string; name: string }[]) {
  const box = document.getElementById("mediator-admissions");
  if (!box) return;
  document.querySelector("#room > .banner")?.replaceWith(roomBanner(current));
  // A question open for someone still waiting stays as it is.
  const open = box.querySelector<HTMLElement>(".confirm")?.dataset.account;
  if (open && pending.some((m) => m.accountId === open)) return;
  // One question open at a time (as devices.ts): its parts have fixed ids.
  const closers: (() => void)[] = [];
  box.replaceChildren(...pending.map((m) => {
    const item = h("div", { class: "admit-mediator", "data-account": m.accountId });
    const ask = h("button", { type: "button", class: "admit-mediator-ask" }, `Admit ${m.name}…`) as HTMLButtonElement;
    const out = h("p", { class: "error", role: "alert" });
    const question = h("div", {});
    closers.push(() => question.replaceChildren());
    ask.onclick = () => {
      for (const close of closers) close();
      out.textContent = "";
      const number = h("div", { class: "admit-mediator-number", "aria-live": "polite", tabindex: "-1" });
      // No "admit" control until a safety number is shown: with no device of theirs there is nothing to compare,
      // and the first device registered under their account (perhaps by someone else) would be trusted as theirs.
      const cancel = h("button", { type: "button", id: "admit-mediator-cancel", onclick: () => { question.replaceChildren(); ask.focus(); } }, "Cancel");
      const actions = h("div", { class: "row" }, cancel);
      // The button before Cancel: Check again, or once a number shows, the one that admits. Cancel stays in place
      // (moved, it would lose the focus); a focused button replaced hands the focus to what replaced it.
      const lead = (b: HTMLButtonElement, focus: HTMLElement, pressed = false) => {
        // pressed: the button replaced was pressed (disabled, it may have lost the focus already).
        const had = pressed || [...actions.children].some((x) => x !== cancel && x.contains(document.activeElement));
        for (const x of [...actions.children]) if (x !== cancel) x.remove();
        cancel.before(b);
        if (had) focus.focus();
      };
      let shown = "";
      const admit = async (yes: HTMLButtonElement) => {
        yes.disabled = true;
        try {
          // The number admitted is the number compared: a device of theirs added meanwhile changes it.
          await sc.refresh();
          const now = await sc.safetyNumber(m.accountId);
          if (now !== shown) { showNumber(now, true, true); return; }
          await sc.admitMediator(m.accountId);
          question.replaceChildren();
          document.querySelector("#room > .banner")?.replaceWith(roomBanner(current));
          notice(`${m.name} is admitted: they read what is written from now on in the joint room and every caucus, and every document of the case, earlier ones included.`);
        } catch (e) {
          yes.disabled = false;
          out.textContent = `${m.name} was not admitted: ${errText(e)}.`;
        }
      };
      const showNumber = (n: string, changed: boolean, pressed = false) => {
        shown = n;
        const yes = h("button", { type: "button", class: "primary", id: "admit-mediator-confirm" }, `The numbers match: admit ${m.name}`) as HTMLButtonElement;
        yes.onclick = () => void admit(yes);
        number.replaceChildren(
          changed ? h("p", { class: "error" }, `The safety number with ${m.name} changed since it was shown (a device of theirs was added): compare this one instead.`) : "",
          h("p", {}, `Safety number with ${m.name}: `, h("strong", { class: "safety" }, n)),
          h("p", {}, `Call ${m.name} on a number you already have. Ask them to press “Safety number with ${me.name}” under “Safety numbers” on their page and read you the digits. Admit them only if every digit is the same.`));
        lead(yes, number, pressed);
      };
      const check = (again?: HTMLButtonElement) => {
        if (again) again.disabled = true;
        // The devices are read afresh: a co-mediator not admitted yet is in no room, so nothing they did (opening the
        // case on a new device) has reached this page otherwise.
        sc.refresh().catch(() => {}).then(() => sc.safetyNumber(m.accountId)).then((n) => showNumber(n, false, !!again), (e) => {
          const none = sc.sess.dir.active(m.accountId).length === 0;
          const w = errText(e);
          const retry = h("button", { type: "button", id: "admit-mediator-check" }, "Check again") as HTMLButtonElement;
          retry.onclick = () => check(retry);
          number.replaceChildren(h("p", {}, none
            ? `${m.name} has not opened this mediation on a phone or computer yet, so there is no safety number to compare and they cannot be admitted yet. Ask ${m.name} to open the case on their phone or computer, then press Check again.`
            : `${w.charAt(0).toUpperCase() + w.slice(1)}. There is no safety number to compare yet: press Check again in a moment.`));
          lead(retry, retry, !!again);
        });
      };
      question.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "admit-mediator-q", "aria-describedby": "admit-mediator-what", "data-account": m.accountId },
        h("p", { id: "admit-mediator-q" }, h("strong", {}, `Admit ${m.name} as a co-mediator?`)),
        h("ul", { id: "admit-mediator-what" },
          h("li", {}, `They will read what is written from now on in the joint room and every caucus (not earlier messages), and every document of the case, earlier ones included.`),
          h("li", {}, `Only do this if the program told you ${m.name} is joining this case, and the safety number you read them matches theirs.`)),
        number, actions));
      number.replaceChildren(h("p", {}, `Looking for ${m.name}'s devices…`));
      cancel.focus(); // not Admit: Enter pressed twice must not admit
      check();
    };
    item.append(
      h("p", {}, h("strong", {}, `${m.name} is listed as a mediator of this case, but nobody has let them into the conversation yet. `),
        `They cannot read any room or document until a mediator of the case admits them.`),
      h("div", { class: "row" }, ask), question, out);
    return item;
  }));
}

/**
 * The program's notices (a mediator recused, a new mediator assigned), shown
 * to everyone in the case, in the words the server wrote for them.
 */
function programNotices(): HTMLElement | string {
  const notices = c.notices ?? [];
  if (notices.length === 0) return "";
  return h("section", { id: "program-notices", class: "note", "aria-labelledby": "program-notices-title" },
    h("h2", { id: "program-notices-title" }, "Notices from the mediation program"),
    h("ul", {}, ...notices.map((n) => h("li", { "data-notice": n.kind }, n.text))),
    h("p", {}, "Everyone taking part in this mediation sees these notices. If you have a concern, contact the mediation program."));
}

function renderRooms() {
  const ul = $("rooms");
  ul.replaceChildren();
  for (const room of sc.rooms) {
    if (!roomShown(room)) continue;
    const b = h("button", { type: "button", class: roomClass(room), "data-room": room, "aria-current": String(room === current), onclick: () => switchRoom(room) }, ...roomLabel(room));
    roomButtons.set(room, b);
    ul.append(h("li", {}, b));
    logFor(room);
  }
  if (sc.mediator && notAdmitted) {
    // Not admitted yet: the server refuses their invitations, so none is offered; one line says why.
    if (!document.getElementById("invite-not-yet")) $("invite").replaceChildren(h("h2", {}, "Invite someone"), h("p", { class: "note", id: "invite-not-yet" }, "You can invite people once a mediator already in this case has admitted you."));
  } else if (sc.mediator && !document.getElementById("invite-form")) $("invite").replaceChildren(inviteForm());
  if (sc.mediator) renderPeople($("people"), { caseID: sc.caseID, c, sideLabel, removed: (k) => { c = k; sc.c = k; renderRooms(); }, notAdmitted });
  const safety = $("safety");
  safety.replaceChildren();
  // Everyone the record names, and anyone a verified statement in force gives a room's keys to (the record may leave them out).
  const signed = sc.rooms.flatMap((r) => sc.readersInForce(r) ?? []);
  const people = [...new Set([...c.mediators.filter((m) => !m.recused).map((m) => m.accountId), ...c.participants.map((p) => p.accountId), ...signed])].filter((a) => a !== me.id);
  for (const a of people) {
    const out = h("p", { class: "safety", "aria-live": "polite" });
    const hint = h("p", { class: "note safety-compare" });
    const name = sc.nameOf(a);
    safety.append(h("div", {}, h("button", {
      type: "button", onclick: async () => {
        try {
          out.textContent = await sc.safetyNumber(a);
          hint.textContent = `Read it aloud to ${name} by phone or in a joint session: their screen shows the same digits under your name. If any digit differs, stop and call the mediation program.`;
        } catch (e) { const w = errText(e); out.textContent = w.charAt(0).toUpperCase() + w.slice(1) + "."; hint.textContent = ""; }
      },
    }, "Safety number with " + name), out, hint));
  }
}

/**
 * What a safety number is for and how to compare it, in a few words, with the steps one click away: a party
 * who never heard of one reads what it proves, how to check it and what to do when it differs.
 */
function safetyHelp(): HTMLElement {
  return h("div", { id: "safety-help" },
    h("p", {}, "A safety number lets you check that nobody else is secretly reading what you and one other person write here."),
    h("details", { id: "safety-how" }, h("summary", {}, "How to check a safety number"),
      h("ol", {},
        h("li", {}, "Press the button with the person’s name below: a number appears."),
        h("li", {}, "Read it aloud to that person by phone, or in a joint session. Their screen shows the same number under your name."),
        h("li", {}, "If every digit is the same, all is well: there is nothing more to do.")),
      h("p", {}, h("strong", {}, "If the numbers are different, stop. "),
        "Do not type or upload anything private in this case. Call the mediation program or your mediator by phone and tell them the safety numbers do not match."),
      h("p", { class: "note" }, "The number changes when someone adds or removes a device. If it changed, compare it again.")));
}

/** A room button's contents: its name, who is here, and how many new messages. */
function roomLabel(room: string): (Node | string)[] {
  const here = [...(sc.present.get(room) ?? [])].filter((a) => a !== me.id);
  const n = unread.get(room) ?? 0;
  return [roomTitle(room),
    h("span", { class: "here" }, here.length ? ` · ${here.length} here` : ""), floorBadge(room),
    // The badge shows the number; a screen reader reads "1 new message" (an aria-label on a plain span is not read).
    n > 0 ? h("span", { class: "unread", "aria-hidden": "true" }, String(n)) : "",
    n > 0 ? h("span", { class: "visually-hidden unread-words" }, `, ${n} new message${n === 1 ? "" : "s"}`) : ""];
}

function presenceLine(room: string): HTMLElement {
  const here = [...(sc.present.get(room) ?? [])].filter((a) => a !== me.id).map((a) => sc.nameOf(a));
  return h("p", { class: "note", id: "present" }, here.length ? "Here now: " + here.join(", ") : "Nobody else is here right now.");
}

/** A mediator invites a party, lawyer or observer; the link is shown once (the server keeps only its hash). */
function inviteForm(): HTMLElement {
  const role = h("select", { id: "invite-role" }, ...[["party", "Party"], ["counsel", "Lawyer"], ["observer", "Observer"]].map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
  const side = h("select", { id: "invite-side" }, ...c.sides.map((s) => h("option", { value: s.id }, s.label))) as HTMLSelectElement;
  const name = h("input", { id: "invite-name", type: "text", required: true, autocomplete: "off" }) as HTMLInputElement;
  const email = h("input", { id: "invite-email", type: "email", autocomplete: "off" }) as HTMLInputElement;
  const out = h("div", { "aria-live": "polite" });
  // Who will see this person: the desk's words (desk.ts inviteWords), kept up to date as the form changes.
  const who = h("p", { class: "banner room-mediators desk-audience", id: "invite-who" });
  const update = () => {
    side.disabled = role.value === "observer";
    who.replaceChildren(h("span", { class: "swatch" }, "Who will see this person"), " ",
      inviteWords(role.value, c.sides.find((s) => s.id === side.value)?.label ?? "", name.value));
  };
  role.onchange = side.onchange = update;
  name.oninput = update;
  update();
  // Pressed once: disabled while the server answers (a second press would make a second live link, or email it twice).
  const make = h("button", { type: "submit" }, "Make an invitation link") as HTMLButtonElement;
  return h("form", {
    id: "invite-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (make.disabled) return;
      make.disabled = true;
      const person = name.value.trim();
      try {
        let inv: InviteResponse;
        try {
          inv = await api.invite(sc.caseID, role.value as ParticipantRole, role.value === "observer" ? "" : side.value, name.value, email.value.trim());
        } finally { make.disabled = false; }
        const to = email.value.trim();
        if (inv.mailed || !inv.link) {
          // A mailed invitation's link is in the email alone: only whoever reads that mailbox can join as the person.
          out.replaceChildren(h("p", { id: "invite-mailed" }, `Invitation for ${name.value} sent by email to ${to}. The link is only in that email, not on this page, so that only whoever reads ${to} can join as ${name.value}; it works once. ` +
            `If they do not get it, withdraw it on the case desk under “Invited, not joined yet” and invite them again with the same name, exactly as written, and the same role and side: it is then emailed again, to the same address or a corrected one. With any other name, role or side, an address already used in this case is not emailed: the link is shown for you to give them in person or by phone.`));
          name.value = "";
          email.value = "";
          update();
          return;
        }
        const link = h("input", { id: "invite-link", type: "text", readonly: true, value: inv.link }) as HTMLInputElement;
        out.replaceChildren(h("label", { for: "invite-link" }, `Invitation for ${name.value} (send it privately; it works once)`), link,
          to ? h("p", { class: "note", id: "invite-mailed" }, inv.mailWarning ?? "No email went out (mail is not set up here): give the link yourself.") : "");
        name.value = "";
        email.value = "";
        update();
        link.select();
      } catch (x) {
        // The desk's words: definite for a refusal, open when nobody can tell whether the invitation was made.
        if (!offerReentry(x, sc.caseID, c, out)) out.replaceChildren(h("p", { class: "error", role: "alert" }, outcomeUnknown(x) ? unknownWords(`an invitation for ${person}`, "reload the page") : `No invitation made: ${errText(x)}.`));
      }
    },
  },
  h("h2", {}, "Invite someone"),
  h("label", { for: "invite-name" }, "Name"), name,
  h("label", { for: "invite-email" }, "Email (optional: we email this invitation link, then session invitations and reminders; mails carry only times and links)"), email,
  h("label", { for: "invite-role" }, "Takes part as"), role,
  h("label", { for: "invite-side" }, "Side"), side,
  who,
  h("div", { class: "row" }, make), out);
}

function logFor(room: string): HTMLElement {
  let l = logs.get(room);
  // The live region wraps the list: an <ol> keeps its list role (axe: listitem).
  if (!l) {
    logs.set(room, (l = h("ol", { class: "log", "aria-label": "Messages in " + roomTitle(room), tabindex: "0" })));
    h("div", { role: "log", "aria-live": "polite", "aria-label": "New messages in " + roomTitle(room) }, l);
  }
  return l;
}

// The rooms whose message is being sent: a composer drawn again meanwhile
// keeps its Send button off.
const sendingIn = new Set<string>();

function switchRoom(room: string) {
  // The room shown drawn again (a room opened or closed elsewhere, its button pressed again) keeps what is being typed.
  const same = current === room;
  const drawn = document.getElementById("draft") as HTMLTextAreaElement | null;
  const old = same && drawn?.dataset.room === room ? drawn : null; // never another room's draft
  const typing = old && document.activeElement === old ? [old.selectionStart, old.selectionEnd] : null;
  current = room;
  keepRoom(sc.caseID, room);
  redrawStalled();
  unread.set(room, 0);
  for (const [r, b] of roomButtons) {
    b.setAttribute("aria-current", String(r === room));
    b.replaceChildren(...roomLabel(r));
  }
  const sec = $("room");
  const ta = h("textarea", { id: "draft", name: "draft", required: true, maxlength: "40000", "aria-describedby": "draft-hint draft-error", "data-room": room }) as HTMLTextAreaElement;
  const err = h("p", { class: "error", role: "alert", id: "draft-error" });
  const observer = myself()?.role === "observer";
  ta.addEventListener("input", () => { if (ta.value.trim() && err.textContent?.startsWith("Type your message")) err.textContent = ""; });
  // A new, empty composer for every room: a draft typed for one room is never kept for another.
  const form = h("form", {
    class: "composer " + roomClass(room), novalidate: true,
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const text = ta.value;
      // Said in words, next to the box (not the browser's bubble, which a phone may not show).
      if (!text.trim()) { err.textContent = "Type your message in the box first: there is nothing to send yet."; ta.focus(); return; }
      if (tooLong(text)) {
        err.textContent = tooLongWords;
        return;
      }
      if (sendingIn.has(room)) return; // one message at a time per room: a redraw meanwhile must not send it twice
      const btn = form.querySelector("button")!;
      btn.disabled = true;
      sendingIn.add(room);
      err.textContent = "";
      try {
        await sc.send(room, { kind: E.KindText, text });
        // The box on the page now (a redraw while sending drew a new one).
        if (current === room) for (const box of [ta, document.getElementById("draft") as HTMLTextAreaElement | null]) if (box && box.value === text) box.value = "";
        floorAfterSend(room);
      } catch (x) {
        const words = x instanceof Error && x.message === unconfirmedWords
          ? "Parley did not confirm your message, so it may or may not have arrived. Your text is still in the box: if the message does not appear above within a minute, send it again."
          : "Not sent: " + errText(x);
        err.textContent = words;
        // The same room drawn again while sending: the composer on the page
        // now is another one, and it is the one the person reads.
        const now = current === room ? document.getElementById("draft-error") : null;
        if (now && now !== err) now.textContent = words;
      } finally {
        sendingIn.delete(room);
        btn.disabled = false;
        // The composer drawn again meanwhile (the same room) waited for this send.
        const now = current === room ? document.querySelector<HTMLButtonElement>("#room form.composer button[type=submit]") : null;
        if (now) now.disabled = false;
      }
    },
  },
  h("label", { for: "draft" }, draftLabel(room)), turnNote(room), ta,
  h("div", { class: "row" }, h("button", { class: "primary", type: "submit", "aria-describedby": "draft-error", ...(sendingIn.has(room) ? { disabled: "" } : {}) }, sendLabel(room)),
    h("span", { class: "note", id: "draft-hint" }, touchScreen() ? "Enter starts a new line; the button sends." : "Enter sends; Shift+Enter starts a new line.")), err);
  // With a keyboard, Enter sends (as in most chat apps) and Shift+Enter is
  // a new line; not while an input method is composing a character. On a
  // touch screen (a phone's keyboard has no Shift+Enter, and a stray tap
  // must not send half a message to the joint room) Enter is a new line
  // and only the button sends.
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !touchScreen()) { e.preventDefault(); (form as HTMLFormElement).requestSubmit(); }
  });
  // Phones: the conversation can push the message box off the first screen; a jump to it.
  const jump = observer ? null : h("button", { type: "button", id: "jump-to-draft", class: "link jump", onclick: () => { ta.scrollIntoView({ block: "center" }); ta.focus(); } }, "Write a message ↓");
  sec.replaceChildren(
    // Focusable by script (not by Tab): the welcome put away, or the case opened without it, moves the focus here.
    h("div", { class: "room-head" }, h("h1", { id: "room-title", tabindex: "-1" }, roomTitle(room)), jump),
    roomBanner(room),
    floorBar(room),
    presenceLine(room),
    logFor(room).parentElement!,
    closedNote(room) ?? (observer ? h("p", { class: "note" }, "Observers read the joint room and do not post.") : form));
  if (old) { ta.value = old.value; if (typing) { ta.focus(); ta.setSelectionRange(typing[0], typing[1]); } }
  const log = logs.get(room)!;
  log.scrollTop = log.scrollHeight;
  docs?.roomChanged(same);
}

/** Whether the main pointer is a finger (a phone or tablet): Enter then makes a new line rather than sending. */
const touchScreen = () => matchMedia("(pointer: coarse)").matches;

/**
 * The message box's label, saying who reads the message and in which room: scrolled on a phone, the composer
 * alone may be on the screen.
 */
function draftLabel(room: string): string {
  if (room === "joint") return "Message to everyone (joint room)";
  if (room === "mediators") return "Message to the mediators only";
  if (definedRoom(room)) return `Message in “${roomTitle(room)}”`;
  const side = E.caucusSide(room);
  if (side && myself()?.side === side) return `Private message to your side (${roomTitle(room)})`;
  return `Private message to the ${sideLabel(side ?? undefined)} side (${roomTitle(room)})`;
}

/** The Send button, naming who will read the message (short enough for a phone's width). */
function sendLabel(room: string): string {
  if (room === "joint") return "Send to everyone";
  if (room === "mediators") return "Send to the mediators";
  const d = definedRoom(room);
  if (d?.crossSide) return `Send to both sides (“${d.label}”)`;
  if (d) return `Send to “${roomTitle(room)}”`;
  const side = E.caucusSide(room);
  const mine = myself();
  if (side && mine?.side === side) return "Send to your side only";
  return `Send to the ${sideLabel(side ?? undefined)} side only`;
}

function fmtTime(ms: number) {
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === new Date().toDateString()) return time;
  // Not today: the date too (and the year when it is not this one).
  const sameYear = d.getFullYear() === new Date().getFullYear();
  return d.toLocaleDateString([], { day: "numeric", month: "short", ...(sameYear ? {} : { year: "numeric" }) }) + ", " + time;
}

let recounting = false;
function onEvent(ev: SecureEvent) {
  // A new browser the mediator admitted (or another device linked) reads
  // from now on: its devices panel stops saying nobody sends it messages.
  if (ev.plain && ev.from !== me.id && document.getElementById("new-device") && !recounting) {
    recounting = true;
    void sc.refresh().then(() => { if (sc.counted() && document.getElementById("new-device")) renderDevices($("devices"), devicesContext()); })
      .catch(() => {}).finally(() => { recounting = false; });
  }
  const log = logFor(ev.room);
  const who = ev.from === me.id ? "You" : sc.nameOf(ev.from);
  if (!ev.rejected) noteMessage(ev.room, ev.text, who, ev.at);
  if (isUnreadable(ev.rejected)) {
    noteUnreadable(log, ev.at, sc.counted()); // one line per run, never counted as new
    return;
  }
  let li: HTMLElement;
  const carry = ev.rejected ? null : carryItem(ev);
  if (ev.rejected) {
    console.warn("message refused:", ev.rejected); // the technical reason, for the browser's console
    li = h("li", { class: "rejected" }, h("span", { class: "meta" }, `${fmtTime(ev.at)} · from ${who} · `), "This message could not be checked on this device, so it is not shown. If this keeps happening, tell your mediator.");
  } else if (carry) {
    li = carry;
  } else {
    li = h("li", { "data-pos": `${ev.pos.epoch}:${ev.pos.offset}` },
      h("span", { class: "meta" }, `${fmtTime(ev.at)} · ${who}`), h("br"), h("span", { class: "text" }, ev.room === "joint" ? commentWords(ev.text ?? "") : ev.text ?? ""));
    const offer = carryOffer(ev);
    if (offer) li.append(offer);
    floorMessage(ev, li);
  }
  log.append(li);
  log.scrollTop = log.scrollHeight;
  if (ev.room !== current) {
    unread.set(ev.room, (unread.get(ev.room) ?? 0) + 1);
    roomButtons.get(ev.room)?.replaceChildren(...roomLabel(ev.room));
  }
}

/**
 * What a failure while opening the page says: words that already tell the
 * person what to do (this client's own sentences, such as "tell your
 * mediator by phone") are shown as they are, never followed by a "reload"
 * that cannot help; anything else says to reload.
 */
export function startFailedWords(e: unknown): string {
  const w = errText(e);
  if (/\b(reload|try again|tell your mediator|ask your mediator|tell the program.s administration|sign in)\b/i.test(w)) return w.charAt(0).toUpperCase() + w.slice(1) + ".";
  return "Something went wrong: " + w + ". Reload the page to try again.";
}

start().catch((e) => { if (e instanceof SecurityStop) stopCase(e); else say(startFailedWords(e), true); });
