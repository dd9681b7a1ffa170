// Coming back: a mediator's list of the people in a case, with a link back
// in for each (bound to their own account, shown once) and removal; the
// pages a party sees when signed out or when their session ended; and the
// offer of a link back in when a mediator invites someone already there.
import { call, casePath, APIError, plainWords } from "./api";
import type { Case, Participant, ReentryResponse } from "./wire_gen";
import { h } from "./dom";
import { personName } from "./names";
import { emailLinkButton } from "./signinlink";

const errText = plainWords; // never a status, an id or the browser's network text

const reentryAPI = {
  link: (caseID: string, account: string) =>
    call<ReentryResponse>("POST", `${casePath(caseID)}/participants/${encodeURIComponent(account)}/reentry`, {}),
  remove: (caseID: string, account: string) => call<Case>("DELETE", `${casePath(caseID)}/participants/${encodeURIComponent(account)}`),
};

// --- who last used this browser, so an ended session gets the right page ---

const lastRoleKey = "parley-last-role";

/** Remember whether the person on this browser is a participant (no password). */
export function rememberRole(role: string): void {
  try { localStorage.setItem(lastRoleKey, role); } catch { /* private mode: the staff form shows */ }
}

function lastRole(): string {
  try { return localStorage.getItem(lastRoleKey) ?? ""; } catch { return ""; }
}

/**
 * Whether a browser with no valid session should show the come-back page
 * rather than the email and password form: after a party signed out, or
 * when the last person here was a party.
 */
export function shouldShowComeBack(): boolean {
  return location.hash === "#signed-out" || location.hash === "#forgotten" || lastRole() === "participant";
}

/**
 * The page a party sees with no session: in plain words how to come back.
 * It resolves when the person says they are staff (then the sign-in form
 * shows).
 */
export function comeBackPage(main: HTMLElement): Promise<void> {
  const signedOut = location.hash === "#signed-out" || location.hash === "#forgotten";
  // After "Sign out and forget this browser": what was done (forget.ts).
  const forgot = location.hash === "#forgotten" ? "Your keys and any copies of documents are deleted from this browser, so it cannot read anything from your mediation." : "";
  return new Promise((resolve) => {
    const page: HTMLElement = h("section", { id: "come-back", class: "form", "aria-labelledby": "come-back-title" },
      h("h1", { id: "come-back-title" }, forgot ? "You are signed out, and this browser has forgotten you" : signedOut ? "You are signed out" : "You have been signed out"),
      h("p", {}, forgot || (signedOut
        ? "You signed out of your mediation on this browser."
        : "For your privacy, you are signed out after a while without activity, and after some weeks in any case.")),
      h("p", {}, forgot
        ? "To come back, ask your mediator for a “link back in”. It brings you back as yourself, but this browser will not show your earlier messages: to read them here, add this browser from another phone or computer where you use Parley (“Add a device” there)."
        : "To come back, ask your mediator for a “link back in”. It brings you back as yourself, with your conversations and documents — nothing is lost."),
      h("p", { class: "note" }, "If you still have the link you used before, it will not work again: each link works once."),
      h("p", {}, "If you confirmed your email address in Parley, you can also get a link yourself:"),
      h("div", { class: "row" }, emailLinkButton(main, () => { main.replaceChildren(page); })),
      h("div", { class: "row" }, h("button", {
        type: "button", id: "staff-sign-in", onclick: () => {
          rememberRole("");
          history.replaceState(null, "", "/app");
          resolve();
        },
      }, "I am mediation staff: sign in with email and password")));
    main.replaceChildren(page);
  });
}

/** After signing out: a party goes to the come-back page, staff to the sign-in form. */
export function afterSignOut(role: string): void {
  location.href = role === "participant" ? "/app#signed-out" : "/app";
  if (role === "participant") location.reload();
}

// --- a link back in, shown once with a copy button ---

/** A link back in left on screen hides itself after this long (the mediator may have walked away from the screen). */
export const LINK_SHOWN_MS = 5 * 60 * 1000;
/** After "Copied.", the link stays this long, then hides itself. */
export const COPIED_SHOWN_MS = 3000;

// The link signs someone in as that person: it stays on screen only until
// the mediator is done with it. "Done — hide the link" hides it at once; a
// copy hides it after a short "Copied."; left alone it hides itself after
// LINK_SHOWN_MS. Hidden, it still works (once, until it expires); the
// mediator is told so.
function linkBox(id: string, name: string, r: ReentryResponse): HTMLElement {
  const input = h("input", { id: id + "-link", type: "text", readonly: true, value: r.link }) as HTMLInputElement;
  const copied = h("span", { class: "note", role: "status" });
  const until = new Date(r.expires).toLocaleString(undefined, { weekday: "long", day: "numeric", month: "long", hour: "2-digit", minute: "2-digit" });
  let timer = 0;
  const hide = (why: string) => {
    clearTimeout(timer);
    // Only while it is still shown: an open Remove question, or another
    // link made since, in the same place is left alone.
    if (!box.parentElement) return;
    const note = h("p", { class: "note reentry-hidden", id: id + "-hidden", role: "status", tabindex: "-1" },
      `${why} The link for ${name} is no longer shown. It still works once, until ${until}; if it was not sent, make a new one with “Link back in”.`);
    const had = box.contains(document.activeElement);
    box.replaceWith(note);
    if (had) note.focus();
  };
  const box = h("div", { class: "reentry-link", id },
    h("label", { for: id + "-link" }, `Link back in for ${name}`),
    h("p", { class: "note" }, `Shown only now. Send it to ${name} privately: it works once, until ${until}, and signs them in as themselves. On a new phone or computer they see earlier messages only after linking it from a device they used before. It is hidden once copied, or in ${LINK_SHOWN_MS / 60000} minutes.`),
    input,
    h("div", { class: "row" }, h("button", {
      type: "button", onclick: async () => {
        input.select();
        let ok = false;
        try { await navigator.clipboard.writeText(r.link); ok = true; } catch { try { ok = document.execCommand("copy"); } catch { /* not allowed */ } }
        if (!ok) { copied.textContent = "Select the link and copy it."; return; }
        copied.textContent = "Copied.";
        clearTimeout(timer);
        timer = window.setTimeout(() => hide("Copied."), COPIED_SHOWN_MS);
      },
    }, "Copy link"),
    h("button", { type: "button", class: "reentry-done", id: id + "-done", onclick: () => hide("Done.") }, "Done — hide the link"), copied),
    r.mailed ? h("p", { class: "note" }, `It was also sent by email to ${name}. The email has only the link and when it expires.`)
      : r.mailWarning ? h("p", { class: "note" }, r.mailWarning) : "");
  timer = window.setTimeout(() => hide(`Hidden after ${LINK_SHOWN_MS / 60000} minutes on screen.`), LINK_SHOWN_MS);
  setTimeout(() => input.select(), 0);
  return box;
}

async function issue(caseID: string, p: { accountId: string; name: string }, out: HTMLElement, id: string): Promise<void> {
  try {
    out.replaceChildren(linkBox(id, p.name, await reentryAPI.link(caseID, p.accountId)));
  } catch (e) {
    out.replaceChildren(h("p", { class: "error", role: "alert" }, "No link was made: " + errText(e)));
  }
}

/**
 * When an invitation is refused because the person is already in the case,
 * offer a link back in to their own account instead. Returns false for any
 * other error.
 */
export function offerReentry(e: unknown, caseID: string, c: Case, out: HTMLElement): boolean {
  if (!(e instanceof APIError && e.status === 409)) return false;
  const account = e.problem.errors?.find((f) => f.field === "participant")?.detail;
  const p = c.participants.find((x) => x.accountId === account);
  if (!p) return false;
  const result = h("div", { "aria-live": "polite" });
  out.replaceChildren(h("div", { id: "invite-existing", role: "alert" },
    h("p", {}, `${p.name} is already in this case. A new invitation would make a second ${p.name} who cannot read anything said so far.`),
    h("button", { type: "button", id: "invite-existing-reentry", onclick: () => issue(caseID, p, result, "invite-reentry") },
      `Send ${p.name} a link back in instead`),
    result));
  return true;
}

// --- the mediator's list of people ---

export interface PeopleContext {
  caseID: string;
  c: Case;
  sideLabel: (side: string) => string;
  /** Called with the case after someone was removed. */
  removed: (c: Case) => void;
  /** This mediator is not admitted yet by a mediator already in the case: links back in and removal are not offered (the server refuses them). */
  notAdmitted?: boolean;
}

/** The people in the case, for a mediator: a link back in for each, and removal. */
// Each person's output area — a link back in shown only once, an open
// "Remove?" question, what came of it — is kept across redraws of the list
// (someone joining or leaving draws it again), and so is the focus in it.
// Only the people listed now are kept.
const outs = new Map<string, HTMLElement>();

export function renderPeople(box: HTMLElement, ctx: PeopleContext): void {
  const { c } = ctx;
  const listed = new Set(c.participants.map((p) => ctx.caseID + "/" + p.accountId));
  for (const k of outs.keys()) if (!listed.has(k)) outs.delete(k);
  const focused = document.activeElement instanceof HTMLElement && box.contains(document.activeElement) ? document.activeElement : null;
  const list = h("ul", { class: "people" });
  for (const p of c.participants) list.append(ctx.notAdmitted ? h("li", { "data-person": p.name }, personName(p.name, p.role, ctx.sideLabel(p.side ?? ""))) : personRow(p, ctx));
  box.replaceChildren(h("h2", { id: "people-title" }, "People in this case"),
    ctx.notAdmitted ? h("p", { class: "note", id: "people-not-yet" }, "You can make links back in or remove someone once a mediator already in this case has admitted you.") : h("p", { class: "note" }, "Only the mediators see this list's buttons. A link back in signs the person in as themselves — use it when their session ended or they are on a new device. On a new phone or computer they see earlier messages only after linking it from a device they used before. If we have their email address, “Link back in” also emails the link to them at once, unless someone else in this case uses that address."),
    c.participants.length ? list : h("p", { class: "note" }, "Nobody has joined yet."));
  box.setAttribute("aria-labelledby", "people-title");
  if (focused?.isConnected) focused.focus();
}

function personRow(p: Participant, ctx: PeopleContext): HTMLElement {
  const key = ctx.caseID + "/" + p.accountId;
  let out = outs.get(key);
  if (!out) outs.set(key, (out = h("div", { "aria-live": "polite" })));
  const slug = p.accountId.replace(/[^a-z0-9_]/gi, "");
  return h("li", { "data-person": p.name },
    h("span", {}, personName(p.name, p.role, ctx.sideLabel(p.side ?? ""))), " ",
    h("button", { type: "button", class: "reentry", "aria-label": `Link back in for ${p.name}`, onclick: () => issue(ctx.caseID, p, out, "reentry-" + slug) }, "Link back in"), " ",
    h("button", { type: "button", class: "remove", "aria-label": `Remove ${p.name}`, onclick: () => confirmRemove(p, ctx, out) }, "Remove…"),
    out);
}

function confirmRemove(p: Participant, ctx: PeopleContext, out: HTMLElement): void {
  const yes = h("button", {
    type: "button", class: "danger", id: "confirm-remove", onclick: async () => {
      try {
        const c = await reentryAPI.remove(ctx.caseID, p.accountId);
        out.replaceChildren(h("p", { role: "status" }, `${p.name} was removed.`));
        ctx.removed(c);
      } catch (e) { out.replaceChildren(h("p", { class: "error", role: "alert" }, `${p.name} was not removed: ` + errText(e))); }
    },
  }, `Yes, remove ${p.name}`);
  out.replaceChildren(h("div", { role: "alertdialog", "aria-labelledby": "remove-q", class: "confirm" },
    h("p", { id: "remove-q", tabindex: "-1" }, `Remove ${p.name} from this case? They are signed out at once, can no longer read or post anything here, and new messages are locked against them. What they have already read stays with them. To replace them, remove them and invite the new person. This cannot be undone.`),
    h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => out.replaceChildren() }, `Keep ${p.name}`))));
  document.getElementById("remove-q")?.focus(); // not the button: Enter pressed twice must not remove
}

