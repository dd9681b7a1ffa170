// Staff accounts in the browser: an administrator's "People" screen
// (disable, enable, reset a password) and, for everyone who signs in with a
// password, "Change password" — also the forced one after a reset. What
// each action does is said before it is done, and confirmed when it ends
// someone's sessions.
import { call, APIError, plainWords } from "./api";
import { ProblemTypeBase, ResetRequestTooOld } from "./wire_gen";
import type { Account, ProblemType, ResetPasswordResponse, SessionResponse } from "./wire_gen";
import { h } from "./dom";

const staffAPI = {
  accounts: () => call<Account[]>("GET", "/api/v1/accounts"),
  disable: (id: string) => call<Account>("POST", `/api/v1/accounts/${encodeURIComponent(id)}/disable`, {}),
  enable: (id: string) => call<Account>("POST", `/api/v1/accounts/${encodeURIComponent(id)}/enable`, {}),
  reset: (id: string) => call<ResetPasswordResponse>("POST", `/api/v1/accounts/${encodeURIComponent(id)}/reset-password`, {}),
  approveReset: (id: string) => call<ResetPasswordResponse>("POST", `/api/v1/accounts/${encodeURIComponent(id)}/reset-password/approve`, {}),
  declineReset: (id: string) => call<Account>("POST", `/api/v1/accounts/${encodeURIComponent(id)}/reset-password/decline`, {}),
  change: (currentPassword: string, newPassword: string) =>
    call<SessionResponse>("POST", "/api/v1/me/password", { currentPassword, newPassword }),
};

const roleWords: Record<string, string> = { admin: "Administrator", mediator: "Mediator", records: "Records staff", participant: "Participant" };

/**
 * Why an administrator may not approve a reset of the password of name, whom
 * they assigned to a case (policy: assigner-cannot-approve-reset-of-assignee),
 * and who approves instead.
 */
function assignerRefusal(name: string): string {
  return `You cannot approve this password reset: you proposed or approved assigning ${name} to a case as its mediator, or your account is tied to an administrator who did (one of you made or reset the other's account). ` +
    `With the temporary password you could sign in as the mediator you chose and read the case. Ask another administrator, who took no part in that assignment, to approve it. You can still decline it.`;
}

// What each account problem means for the person, keyed on the declared
// problem types (wire_gen.ts), so a type the server does not declare is a
// type error here; never the type's own name.
const accountProblemText: Partial<Record<ProblemType, string>> = {
  "account-disabled": "This account is disabled. Ask the program administrator to enable it.",
  "password-change-required": "An administrator reset your password. Choose a new one first.",
  "password-reset-needed": "Your password was chosen by the administrator who made your account, so it no longer lets you in. Ask an administrator to reset it: a second administrator approves the reset and gives you a temporary password, and you then choose your own.",
  "last-admin": "You are the last enabled administrator, so this account cannot be disabled. Enable or create another administrator first.",
  "second-admin-required": "You asked for this password reset, so a different administrator must approve it.",
  "reset-approver-assigned": assignerRefusal("this person"),
  "no-pending-reset": "No password reset of this account is waiting any more: someone approved, declined or withdrew it meanwhile.",
  "password-not-changed": "Your password was not changed: while it was being changed, you were signed out everywhere or your password was reset. Sign in again.",
  "password-changed-sign-in-again": "Your password is changed, but this browser could not be signed in with it. Sign in again with your new password.",
  "rate-limited": "Too many attempts. Wait a few minutes and try again.",
};

/** Plain words for an account problem; undefined when it is not one. */
export function accountProblemWords(e: unknown): string | undefined {
  if (!(e instanceof APIError)) return undefined;
  const type = e.problem.type ?? "";
  const t = type.startsWith(ProblemTypeBase) ? type.slice(ProblemTypeBase.length) : "";
  // A request too old to approve is "no-pending-reset" too, with its own sentence.
  if (t === "no-pending-reset" && e.problem.detail === ResetRequestTooOld) return ResetRequestTooOld;
  const words = Object.hasOwn(accountProblemText, t) ? accountProblemText[t as ProblemType] : undefined;
  if (words) return words;
  const field = e.problem.errors?.[0];
  if (field?.field === "currentPassword") return "That is not your current password.";
  if (field?.field === "newPassword") return "The new password " + field.detail.replace(/^must /, "must ") + ".";
  return undefined;
}

/** The sign-in form's message for a failed sign-in. */
export function signInErrorWords(e: unknown): string {
  const w = accountProblemWords(e);
  if (w) return w;
  if (e instanceof APIError && e.status === 401) return "That email and password do not match.";
  const w2 = plainWords(e);
  return w2.charAt(0).toUpperCase() + w2.slice(1) + ".";
}

// The password typed at sign-in, kept in memory only until a forced
// change uses it, so the person is not asked for the temporary one twice.
let signInPassword = "";
export function rememberSignInPassword(pw: string) { signInPassword = pw; }

/**
 * After a session ends on a socket (close 4001, also when a reconnect
 * finds it ended): say why, in words, and whether the way back for this
 * person is a link (a party or lawyer has no password: they come back
 * through a new link from their mediator, or one by email).
 */
export async function sessionEndedWords(participant: boolean): Promise<{ text: string; emailLink: boolean }> {
  try {
    await call<Account>("GET", "/api/v1/me");
    return { text: "Your session ended. Reload the page to carry on.", emailLink: false };
  } catch (e) {
    const w = accountProblemWords(e);
    if (w && e instanceof APIError && e.problem.type === ProblemTypeBase + ("account-disabled" satisfies ProblemType))
      return { text: "Your account has been disabled by the program administrator, so you have been signed out. Ask the program administrator if you think this is a mistake.", emailLink: false };
    if (participant) return { text: "You have been signed out of this mediation on this browser. To come back, ask your mediator for a “link back in”: it brings you back as yourself, with your conversations and documents.", emailLink: true };
    return { text: "You have been signed out (your session ended or your password changed). Sign in again to carry on.", emailLink: false };
  }
}

/** Header links: "People" (administrators) and "Change password" (staff). */
export function staffNav(me: Account): HTMLElement | null {
  if (me.role === "participant") return null;
  return h("nav", { class: "staff-nav", "aria-label": "Your account" },
    me.role === "admin" ? h("a", { href: "/app#people", id: "nav-people", onclick: go("people") }, "People") : null,
    h("a", { href: "/app#password", id: "nav-password", onclick: go("password") }, "Change password"));
}

function go(where: string) {
  return (e: Event) => { e.preventDefault(); location.hash = where; location.reload(); };
}

/** Which staff screen the address asks for, if any. */
export function staffScreen(me: Account): "people" | "password" | "forced" | null {
  if (me.passwordChangeRequired) return "forced";
  if (location.hash === "#password" && me.role !== "participant") return "password";
  if (location.hash === "#people" && me.role === "admin") return "people";
  return null;
}

function field(id: string, label: string, input: HTMLInputElement, hint?: string): HTMLElement[] {
  const out: HTMLElement[] = [h("label", { for: id }, label), input];
  if (hint) {
    input.setAttribute("aria-describedby", id + "-hint");
    out.push(h("p", { class: "note", id: id + "-hint" }, hint));
  }
  return out;
}

/** The change-password form; forced after an administrator's reset. */
export function passwordView(box: HTMLElement, me: Account, forced: boolean, done: () => void): void {
  const pw = (id: string, ac: string) => h("input", { id, type: "password", autocomplete: ac, required: true, maxlength: "1024" }) as HTMLInputElement;
  const cur = pw("pw-current", "current-password");
  const next = pw("pw-new", "new-password");
  const again = pw("pw-again", "new-password");
  const out = h("p", { id: "pw-status", role: "status", "aria-live": "polite" });
  const askCurrent = !forced || signInPassword === "";
  const submit = h("button", { class: "primary", type: "submit" }, "Change password") as HTMLButtonElement;
  // One change at a time: a second Enter while the first is on its way would be refused (the first one
  // changed the password it checks) and replace the success with an error. On again only after an error.
  let sending = false;
  const form = h("form", {
    class: "form", "aria-labelledby": "pw-title", id: "password-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (sending) return;
      out.className = "";
      if (next.value !== again.value) {
        out.className = "error";
        out.textContent = "The two new passwords are not the same. Type the new one twice.";
        again.focus();
        return;
      }
      out.textContent = "Changing your password…";
      sending = true;
      submit.disabled = true;
      try {
        await staffAPI.change(askCurrent ? cur.value : signInPassword, next.value);
        signInPassword = "";
        out.textContent = "Your password is changed. Your other sessions (other browsers and computers) have ended; this one carries on.";
        done();
      } catch (x) {
        sending = false;
        submit.disabled = false;
        out.className = "error";
        out.textContent = accountProblemWords(x) ?? signInErrorWords(x);
      }
    },
  },
  h("h1", { id: "pw-title" }, forced ? "Choose a new password" : "Change your password"),
  h("p", { class: "note" }, forced
    ? `${me.name}, an administrator reset your password. Choose your own now: nothing else opens until you do. Only you will know it.`
    : "Only you know your password. Changing it signs you out everywhere else: other browsers and computers."),
  ...(askCurrent ? field("pw-current", forced ? "Temporary password" : "Current password", cur) : []),
  ...field("pw-new", "New password", next, "At least 12 characters. A few unrelated words are easy to remember and hard to guess."),
  ...field("pw-again", "New password again", again),
  h("div", { class: "row" }, submit), out);
  box.replaceChildren(form);
  (askCurrent ? cur : next).focus();
}

/**
 * What an action on a person's row said, shown next to that row (not at the top of a long list, off a
 * phone's screen) and focused. A temporary password stays until its administrator hides it.
 */
type RowNote = { text: string; error?: boolean; temp?: string };

/** What the People rows share: the notes by account, and how to say one. */
type PeopleCtx = {
  me: Account;
  names: Map<string, string>;
  say: (id: string, n: RowNote, reload?: boolean) => Promise<void>;
  dismiss: (id: string) => void;
  signedOut: () => void;
};

/** An administrator's list of staff accounts: disable, enable, reset. */
export async function peopleView(box: HTMLElement, me: Account): Promise<void> {
  const status = h("p", { id: "people-status", role: "status", "aria-live": "polite" });
  const list = h("div", { id: "people-list" });
  box.replaceChildren(h("section", { "aria-labelledby": "people-title" },
    h("h1", { id: "people-title" }, "People"),
    h("p", { class: "note" }, "Staff accounts of this program. Disabling an account signs its holder out at once, everywhere, and keeps them out until you enable it again. Resetting an administrator's password gives you a temporary one to pass on. A mediator's or records clerk's password takes two administrators: one asks for the reset (the person is signed out at once), a second approves it and alone gets the temporary password to pass on. A new mediator's or records clerk's account starts with no password in the same way: a second administrator approves its first one here. Either way the person must choose their own at their next sign-in. An older account whose password was chosen by the administrator who made it says so: nobody can sign in as it until its password is reset this way. Every change is recorded in the audit log with your name. Parties and lawyers have no account here: their mediator manages who takes part in a case."),
    status, list));
  // The last message, for one row at a time; temporary passwords, for each row until hidden.
  const notes = new Map<string, RowNote>(), temps = new Map<string, RowNote>();
  const noteEls = new Map<string, HTMLElement>();
  const fill = (id: string, el: HTMLElement) => fillNote(el, notes.get(id), temps.get(id), () => ctx.dismiss(id));
  const paint = (id: string) => { const el = noteEls.get(id); if (el) fill(id, el); };
  const show = (id: string) => {
    const el = noteEls.get(id);
    if (!el || !(notes.has(id) || temps.has(id))) return;
    el.scrollIntoView({ block: "nearest" });
    el.focus();
  };
  const refresh = async () => {
    let accounts: Account[];
    try { accounts = await staffAPI.accounts(); } catch (e) {
      status.className = "error";
      status.textContent = "The list of people could not be loaded. " + (e instanceof TypeError ? "Check your connection." : "Try again shortly.");
      return;
    }
    status.className = "";
    status.textContent = "";
    const staff = accounts.filter((a) => a.role !== "participant").sort((a, b) => a.name.localeCompare(b.name));
    ctx.names = new Map(accounts.map((a) => [a.id, a.name]));
    noteEls.clear();
    const rows = staff.flatMap((a) => {
      const note = h("div", { class: "row-note", tabindex: "-1" });
      noteEls.set(a.id, note);
      fill(a.id, note);
      return [personRow(a, ctx), h("tr", { class: "note-row" }, h("td", { colspan: "5" }, note))];
    });
    list.replaceChildren(h("table", { class: "people" },
      h("caption", { class: "note" }, `${staff.length} staff accounts`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Email"), h("th", { scope: "col" }, "Role"),
        h("th", { scope: "col" }, "State"), h("th", { scope: "col" }, "Actions"))),
      h("tbody", {}, ...rows)));
  };
  const ctx: PeopleCtx = {
    me, names: new Map(),
    say: async (id, n, reload = true) => {
      // One message at a time; a temporary password not hidden yet stays.
      for (const other of [...notes.keys()]) { notes.delete(other); paint(other); }
      if (n.temp !== undefined) temps.set(id, n); else notes.set(id, n);
      paint(id);
      show(id);
      if (!reload) return;
      await refresh();
      show(id);
    },
    dismiss: (id) => { temps.delete(id); paint(id); noteEls.get(id)?.closest("tr")?.previousElementSibling?.querySelector<HTMLElement>("button")?.focus(); },
    signedOut: () => {
      // Disabling your own account ends your session too: nothing here works any more.
      document.querySelector(".staff-nav")?.remove();
      document.getElementById("signout")?.setAttribute("hidden", "");
      const title = h("h1", { id: "signed-out-title", tabindex: "-1" }, "You are signed out");
      box.replaceChildren(h("section", { id: "signed-out-self", "aria-labelledby": "signed-out-title" }, title,
        h("p", {}, "You disabled your own account, so you have been signed out everywhere, on this browser too. Signing in is refused until another administrator enables your account again."),
        h("p", {}, h("a", { href: "/app" }, "Go to the sign-in page"))));
      title.focus();
    },
  };
  await refresh();
}

/**
 * Draws a row's note into el (empty when there is none): the last message, and a temporary password not
 * hidden yet, with Copy and Done.
 */
function fillNote(el: HTMLElement, n: RowNote | undefined, t: RowNote | undefined, dismiss: () => void): void {
  el.className = "row-note" + (n?.error && !t ? " error" : "");
  if (!n && !t) { el.replaceChildren(); el.removeAttribute("role"); return; }
  el.setAttribute("role", n?.error ? "alert" : "status");
  const said = n ? h("p", n.error ? { class: "error" } : {}, n.text) : "";
  if (!t) { el.replaceChildren(said); return; }
  const temp = t.temp ?? "";
  const copied = h("span", { class: "note", role: "status" });
  el.replaceChildren(said, h("p", {}, t.text),
    h("p", {}, "Temporary password (shown only now, only to you): ", h("code", { class: "temp-password" }, temp)),
    h("p", {}, "Give it to them in person or by phone. At their next sign-in they must choose their own before anything else. It stays here until you hide it."),
    h("div", { class: "row" },
      h("button", { type: "button", class: "temp-copy", onclick: async () => {
        let ok = false;
        try { await navigator.clipboard.writeText(temp); ok = true; } catch { /* not allowed here */ }
        copied.textContent = ok ? "Copied." : "Select the password and copy it.";
      } }, "Copy the password"),
      h("button", { type: "button", class: "temp-done", onclick: dismiss }, "Done — hide the password"), copied));
}

const resetNeededWords = "Must ask for a password reset before signing in: the password was chosen by the administrator who made this account";
const resetNeededWhy = "The password was chosen by the administrator who made this account, so it no longer lets anyone sign in: a password reset is needed.";

/** Plain words for a refused or lost action on People: a lost answer may have happened. */
function failWords(e: unknown, lostToo = "", name = ""): string {
  // An assigner refused a reset of their assignee's password: name the mediator.
  if (name && e instanceof APIError && e.problem.type === ProblemTypeBase + ("reset-approver-assigned" satisfies ProblemType)) return assignerRefusal(name);
  const w = accountProblemWords(e);
  if (w) return w;
  // No answer (the connection dropped), or a proxy's word that the server's answer was lost: it may have happened.
  if (!(e instanceof APIError) || e.status === 502 || e.status === 504) return "We can't tell whether it went through: reload the page to see." + lostToo;
  return "That did not work. Try again shortly.";
}

function personRow(a: Account, ctx: PeopleCtx): HTMLElement {
  const { me, names } = ctx;
  const actions = h("div", { class: "actions" });
  const pending = a.pendingReset;
  const requester = pending ? (pending.requestedBy === me.id ? "you" : names.get(pending.requestedBy) ?? "another administrator") : "";
  // A new mediator's or records clerk's account has no password until a
  // second administrator approves its creator's request: its first one.
  const first = !!a.noPassword;
  // An account from before first passwords were approved whose password
  // is still its creator's: sign-in refuses it until a reset (the server
  // says so with the rule sign-in applies).
  const resetNeeded = !!a.passwordResetNeeded;
  // A request older than a week can no longer be approved (the server
  // refuses it): it is shown as such, to be asked for again or cleared.
  // The server says so by its own clock (the rule approval applies), not
  // this device's, which may be off.
  const stale = !!pending?.stale;
  const state = a.disabled ? "Disabled"
    : stale && first ? `New account, no password yet: the request for its first password (asked for by ${requester}) is more than a week old and can no longer be approved`
    : stale ? `Password reset asked for by ${requester} more than a week ago: too old to approve`
    : pending && first ? `New account, no password yet: waiting for a second administrator to approve the first password (asked for by ${requester})`
    : pending ? `Password reset asked for by ${requester}, waiting for a second administrator`
    : first ? "No password yet: nobody can sign in until a password reset is asked for and approved"
    : a.passwordChangeRequired ? "Must choose a new password"
    : resetNeeded ? resetNeededWords : "Active";
  // Disabled or a reset already asked for: the reason a reset is needed
  // still shows, under the state.
  const why = resetNeeded && (a.disabled || pending) ? h("p", { class: "note reset-needed" }, resetNeededWhy) : null;
  const who = a.id === me.id ? `${a.name} (you)` : a.name;
  // One request at a time for a person: the row's buttons are off while one is on its way (a second
  // press's refusal would else replace the first one's success), on again only if it fails.
  const busy = (on: boolean) => actions.querySelectorAll("button").forEach((b) => { b.disabled = on; });
  const act = async (request: () => Promise<RowNote | null>, lostToo = "") => {
    busy(true);
    let n: RowNote | null;
    try { n = await request(); } catch (e) {
      busy(false);
      await ctx.say(a.id, { text: failWords(e, lostToo, a.name), error: true }, false);
      return;
    }
    if (n) await ctx.say(a.id, n);
  };
  // A deliberate question in the row, naming what the action does: the question's first sentence labels it,
  // the rest describes it. Cancel or Escape closes it and gives the focus back to the button that opened it.
  const confirmThen = (opener: HTMLButtonElement, question: string, yes: string, request: () => Promise<RowNote | null>, lostToo = "") => {
    // One question at a time for a person: a second press (or another
    // action) replaces the open one rather than stacking a second box.
    actions.querySelectorAll(".confirm").forEach((b) => b.remove());
    const cut = question.indexOf("? ");
    const q = cut < 0 ? question : question.slice(0, cut + 1), rest = cut < 0 ? "" : question.slice(cut + 2);
    const qid = `confirm-q-${a.id}`, wid = `confirm-what-${a.id}`;
    const close = () => { box.remove(); opener.focus(); };
    const box = h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": qid, ...(rest ? { "aria-describedby": wid } : {}),
      onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === "Escape") { e.preventDefault(); close(); } } },
      h("p", { class: "confirm-q", tabindex: "-1" }, h("strong", { id: qid }, q), rest ? " " : "", rest ? h("span", { id: wid }, rest) : ""),
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", onclick: async () => { box.remove(); await act(request, lostToo); } }, yes),
        h("button", { type: "button", onclick: close }, "Cancel")));
    actions.append(box);
    (box.querySelector(".confirm-q") as HTMLElement).focus(); // not the button: Enter pressed twice must not act
  };
  const button = (act: string, label: string, onclick: (b: HTMLButtonElement) => void) => {
    const b = h("button", { type: "button", "data-act": act }, label) as HTMLButtonElement;
    b.onclick = () => onclick(b);
    return b;
  };
  if (a.disabled) {
    actions.append(button("enable", `Enable ${a.name}`, (b) => confirmThen(b,
      `Enable ${a.name}? They can sign in again at once.${a.role === "mediator" ? " Invitations and links back in that they made, not used yet and not expired, work again in the cases where they are still a mediator." : ""} This is recorded in the audit log with your name.`,
      `Yes, enable ${a.name}`, async () => { await staffAPI.enable(a.id); return { text: `${a.name} is enabled again and can sign in.` }; })));
  } else {
    actions.append(button("disable", `Disable ${a.name}`, (b) => confirmThen(b,
      `Disable ${who}? ${a.id === me.id ? "You" : a.name} will be signed out at once on every computer, open conversations will close, and signing in will be refused until the account is enabled again.${a.role === "mediator" ? " Invitations and links back in that they made and that were not used yet stop working meanwhile." : ""}`,
      `Yes, disable ${a.name}`, async () => {
        await staffAPI.disable(a.id);
        if (a.id === me.id) { ctx.signedOut(); return null; } // your own session ended with it
        return { text: `${a.name} is disabled and has been signed out everywhere.` };
      })));
  }
  const temporary = (r: ResetPasswordResponse): RowNote =>
    ({ text: first ? `${a.name}'s first password is made.` : `${a.name}'s password was reset.`, temp: r.temporaryPassword ?? "" });
  // An approval whose answer was lost may have made a password nobody saw: say what to do then.
  const lostTemp = ` If it shows the ${first ? "first password" : "reset"} approved, nobody has the temporary password: ask for a new reset.`;
  const twoAdmins = a.role === "mediator" || a.role === "records";
  const unchanged = first ? "The account still has no password: nobody can sign in as it." : "Their password is unchanged.";
  const decline = async (words: string) => { await staffAPI.declineReset(a.id); return { text: words }; };
  if (pending && stale) {
    const what = first ? `the request for ${a.name}'s first password` : `the password reset of ${a.name}`;
    if (twoAdmins && a.id !== me.id) {
      actions.append(button("reset", first ? `Ask again for ${a.name}'s first password` : `Ask again to reset ${a.name}'s password`, (b) => confirmThen(b,
        `Ask again for ${first ? `${a.name}'s first password` : `a reset of ${a.name}'s password`}? The old request, more than a week old, is replaced by yours.${first ? "" : ` ${a.name} is signed out everywhere at once.`} A second administrator then approves it and gets a temporary password to give them. Your request is recorded in the audit log with your name.`,
        "Yes, ask again", async () => {
          await staffAPI.reset(a.id);
          return { text: `Asked again: ${first ? `${a.name}'s first password` : `the password reset of ${a.name}`} is waiting for a second administrator to approve it.` };
        })));
    }
    actions.append(button("decline-reset", `Clear ${what}`, () => void act(() => decline(`You cleared ${what}. ${unchanged}`))));
  } else if (pending && first && pending.requestedBy === me.id) {
    actions.append(button("withdraw-reset", `Withdraw the request for ${a.name}'s first password`,
      () => void act(() => decline(`You withdrew the request for ${a.name}'s first password. ${unchanged}`))));
  } else if (pending && first) {
    actions.append(button("approve-reset", `Approve the first password of ${a.name}`, (b) => confirmThen(b,
      `Approve the first password of ${a.name}'s new account, asked for by ${requester}? A temporary password is made and shown only to you, only now: you give it to them in person or by phone, and at their first sign-in they choose their own. You become someone who could have signed in as them, and your approval is recorded in the audit log with your name.`,
      "Yes, approve and show me the temporary password", async () => temporary(await staffAPI.approveReset(a.id)), lostTemp)),
    button("decline-reset", `Decline the first password of ${a.name}`, () => void act(() => decline(`You declined the first password of ${a.name}. ${unchanged}`))));
  } else if (pending && pending.requestedBy === me.id) {
    actions.append(button("withdraw-reset", `Withdraw the password reset of ${a.name}`,
      () => void act(() => decline(`You withdrew the password reset of ${a.name}. ${unchanged}`))));
  } else if (pending) {
    actions.append(button("approve-reset", `Approve the password reset of ${a.name}`, (b) => confirmThen(b,
      `Approve the password reset of ${a.name}, asked for by ${requester}? ${a.name}'s current password stops working at once. A temporary password is made and shown only to you, only now: you give it to them in person or by phone. You become someone who could have signed in as them, and your approval is recorded in the audit log with your name.`,
      "Yes, approve and show me the temporary password", async () => temporary(await staffAPI.approveReset(a.id)), lostTemp)),
    button("decline-reset", `Decline the password reset of ${a.name}`, () => void act(() => decline(`You declined the password reset of ${a.name}. Their password is unchanged.`))));
  } else if (a.id !== me.id && twoAdmins) {
    actions.append(button("reset", `Reset ${a.name}'s password`, (b) => confirmThen(b,
      `Ask for a reset of ${a.name}'s password? ${a.name} is signed out everywhere at once. Their password does not change until a second administrator approves; that administrator, not you, then gets a temporary password to give them. Your request is recorded in the audit log with your name.`,
      "Yes, ask for the reset", async () => {
        await staffAPI.reset(a.id);
        return { text: `${a.name} is signed out. The password reset is waiting for a second administrator to approve it.` };
      })));
  } else if (a.id !== me.id) {
    actions.append(button("reset", `Reset ${a.name}'s password`, (b) => confirmThen(b,
      `Reset ${a.name}'s password? Their current password stops working and they are signed out everywhere. You get a temporary password to give them in person or by phone; you become someone who could have signed in as them, and this is recorded.`,
      "Yes, reset the password", async () => temporary(await staffAPI.reset(a.id)), lostTemp)));
  }
  return h("tr", { "data-email": a.email ?? "", class: a.disabled ? "disabled" : "" },
    h("th", { scope: "row" }, who), h("td", { class: "long-value" }, a.email ?? ""), h("td", {}, roleWords[a.role] ?? a.role), h("td", (first || resetNeeded) && !a.disabled ? { class: "state-long" } : {}, state, why), h("td", {}, actions));
}
