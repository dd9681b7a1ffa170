// "Email me a link to sign in": a participant on a new phone or computer,
// or whose session ended, asks for a one-time link by email instead of
// waiting for their mediator. The server answers the same for every
// address (it never says whether the address is known), so this page
// says only what was asked and what to look for. It works only for an
// address its participant confirmed while signed in: emailSignInPanel
// (on the case page) asks for the confirmation link, and
// confirmEmailView uses it.
import { call, APIError, plainWords } from "./api";
import type { Account, EmailConfirmationResponse, SignInLinkResponse } from "./wire_gen";
import { h } from "./dom";

/** Why a request for a link was refused, in plain words. */
function linkErrorWords(e: unknown): string {
  if (e instanceof APIError && e.status === 429 && e.problem.detail) return e.problem.detail;
  if (e instanceof APIError && e.status === 400) return "That does not look like an email address. Check it and try again.";
  if (e instanceof TypeError) return "Your request could not be sent: the connection dropped. Check that you are online, then try again.";
  return "We could not send your request: " + plainWords(e) + ".";
}

/**
 * The button that opens the email-link form in main; back() shows what
 * was there before.
 */
export function emailLinkButton(main: HTMLElement, back: () => void, primary = false): HTMLElement {
  return h("button", {
    type: "button", id: "email-link-open", class: primary ? "primary" : "", onclick: () => emailLinkView(main, back),
  }, "Email me a link to sign in");
}

/** The form: an email address, then the same answer whatever it was. */
export function emailLinkView(main: HTMLElement, back: () => void): void {
  const email = h("input", { id: "link-email", type: "email", autocomplete: "email", inputmode: "email", required: true }) as HTMLInputElement;
  const err = h("p", { class: "error", role: "alert" });
  const send = h("button", { class: "primary", type: "submit", id: "email-link-send" }, "Send me the link") as HTMLButtonElement;
  const backButton = () => h("button", { type: "button", id: "email-link-back", onclick: back }, "Back");
  const form = h("form", {
    class: "form", id: "email-link", "aria-labelledby": "email-link-title",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      err.textContent = "";
      send.disabled = true;
      try {
        const r = await call<SignInLinkResponse>("POST", "/api/v1/session/link", { email: email.value.trim() });
        const done = h("section", { class: "form", id: "email-link-sent", "aria-labelledby": "email-link-sent-title" },
          h("h1", { id: "email-link-sent-title", tabindex: "-1" }, "Check your email"),
          h("p", { role: "status" }, r.message),
          h("p", {}, "Open the link on the phone or computer you want to use. It signs you in as yourself. On a phone or computer you have not used for this mediation before, earlier messages and end-to-end encrypted documents cannot be opened until you link it from one you used before (“Your devices”)."),
          h("p", { class: "note" }, "Nothing after a few minutes? Check the address you typed and your spam folder. It works only for an address you confirmed in the app, and not for an address someone else in a mediation also uses. Otherwise, ask your mediator for a link back in."),
          h("div", { class: "row" }, backButton()));
        main.replaceChildren(done);
        (done.querySelector("h1") as HTMLElement).focus();
      } catch (x) {
        err.textContent = linkErrorWords(x);
      } finally {
        send.disabled = false;
      }
    },
  },
  h("h1", { id: "email-link-title" }, "Sign in with a link by email"),
  h("p", {}, "Type the email address you confirmed in Parley. We will send it a link that signs you in. It works once, for 15 minutes."),
  h("label", { for: "link-email" }, "Your email address"), email,
  h("div", { class: "row" }, send, backButton()), err,
  h("p", { class: "note" }, "Mediation staff sign in with their password."));
  main.replaceChildren(form);
  email.focus();
}

/**
 * On a participant's case page: "The email address your mediator has for you: <address>",
 * and a button that mails a link confirming the address; once it is
 * confirmed, what that allows.
 */
export function emailSignInPanel(el: HTMLElement, me: Account, caseID: string): void {
  const title = h("h2", { id: "email-signin-title" }, "Sign in by email link");
  if (!me.email) {
    el.replaceChildren(title, h("p", {}, "Your mediator has no email address for you, so you cannot get a link to sign in by email. Ask your mediator for a link back in when you need one."));
    return;
  }
  if (me.emailConfirmed) {
    el.replaceChildren(title, h("p", { id: "email-signin-on" }, "You can sign in by email link at ", h("strong", {}, me.email), "."),
      h("p", { class: "note" }, "On a new phone or computer, choose “Email me a link to sign in” on the sign-in page."));
    return;
  }
  const out = h("p", { role: "status", id: "email-confirm-out" });
  const send = h("button", {
    type: "button", id: "email-confirm-send",
    onclick: async () => {
      send.disabled = true;
      out.textContent = "";
      out.className = "";
      try {
        const r = await call<EmailConfirmationResponse>("POST", "/api/v1/me/email-confirmation", { caseId: caseID });
        out.textContent = r.message;
      } catch (e) {
        out.className = "error";
        out.textContent = e instanceof APIError && e.status === 429 && e.problem.detail ? e.problem.detail : "We could not send the link: " + plainWords(e) + ".";
      } finally {
        send.disabled = false;
      }
    },
  }, "Send me a link to confirm this address") as HTMLButtonElement;
  el.replaceChildren(title,
    h("p", { id: "email-signin-address" }, "The email address your mediator has for you: ", h("strong", {}, me.email)),
    h("p", {}, "Once you confirm it, on a new phone or computer you can have a link sent to this address to sign in, instead of asking your mediator. To confirm that the address is yours, we send a link to it, which you open in this browser."),
    h("div", { class: "row" }, send), out,
    h("p", { class: "note" }, "Not your address? Tell your mediator."));
}

/** Why a confirmation link did not work, in plain words. */
function confirmErrorWords(e: unknown): string {
  if (e instanceof APIError && e.status === 403) return "This link is for another account. Open it in the browser where you asked for it, signed in as yourself.";
  if (e instanceof APIError && e.status === 410) return "This link has expired or was already used. If your address is not confirmed yet, ask for a new link on your case page.";
  if (e instanceof APIError && e.status === 409 && e.problem.detail === "case is closed") return "Your mediation is closed, so this address can no longer be confirmed for signing in.";
  if (e instanceof APIError && e.status === 409) return "This address can no longer be confirmed: it is not the one your mediator has for you now.";
  return "We could not confirm your address: " + plainWords(e) + ".";
}

/** The page a confirmation link opens (/app#confirm-email=TOKEN), signed in. */
export async function confirmEmailView(main: HTMLElement, token: string): Promise<void> {
  const cont = () => h("p", {}, h("a", { href: "/app", id: "email-confirmed-continue" }, "Continue to your mediation"));
  main.replaceChildren(h("p", { role: "status" }, "Confirming your address…"));
  let box: HTMLElement;
  try {
    const a = await call<Account>("POST", "/api/v1/me/email-confirmation/use", { token });
    box = h("section", { class: "form", id: "email-confirmed", "aria-labelledby": "email-confirmed-title" },
      h("h1", { id: "email-confirmed-title", tabindex: "-1" }, "Your address is confirmed"),
      h("p", {}, "You can now sign in by email link at ", h("strong", {}, a.email ?? ""), "."),
      h("p", {}, "On a new phone or computer, choose “Email me a link to sign in” on the sign-in page. The link works once, for 15 minutes."),
      cont());
  } catch (e) {
    box = h("section", { class: "form", id: "email-confirm-failed", "aria-labelledby": "email-confirmed-title" },
      h("h1", { id: "email-confirmed-title", tabindex: "-1" }, "Your address is not confirmed"),
      h("p", { class: "error", role: "alert" }, confirmErrorWords(e)), cont());
  }
  main.replaceChildren(box);
  (box.querySelector("h1") as HTMLElement).focus();
}
