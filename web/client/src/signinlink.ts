// "Email me a link to sign in": a party or lawyer on a new phone or
// computer, or whose session ended, asks for a one-time link by email
// instead of waiting for their mediator. The server answers the same for
// every address (it never says whether the address is known), so this
// page says only what was asked and what to look for.
import { call, APIError, plainWords } from "./api";
import type { SignInLinkResponse } from "./wire_gen";
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
          h("p", {}, "Open the link on the phone or computer you want to use. It signs you in as yourself, with everything you could see before."),
          h("p", { class: "note" }, "Nothing after a few minutes? Check the address you typed and your spam folder, or ask your mediator for a link back in."),
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
  h("p", {}, "Type the email address your mediator has for you. We will send you a link that signs you in. It works once, for 15 minutes."),
  h("label", { for: "link-email" }, "Your email address"), email,
  h("div", { class: "row" }, send, backButton()), err,
  h("p", { class: "note" }, "Mediation staff sign in with their password."));
  main.replaceChildren(form);
  email.focus();
}
