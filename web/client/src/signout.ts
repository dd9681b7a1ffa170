// "Sign out" for a party or lawyer: they have no password, so once signed
// out they need a new link to come back (from their mediator, or by email
// if they confirmed their address), and anything typed and not sent is
// lost. The page asks first, in words naming that, and says how to take a
// break instead. Staff (who sign in again with their password) are not
// asked (app.ts).
//
// A sign-out the server did not take (the connection dropped, or the
// server could not end the session) is not treated as done: the page
// stays, says in plain words that the person is NOT signed out yet and
// that anyone using this browser can open their mediation until they
// are, and offers Sign out again (notSignedOut). The server expires the
// session cookie only once the session has ended (web/handlers_account.go
// logout), so a try that failed can be made again with it.
import { api, APIError } from "./api";
import { h } from "./dom";

/**
 * Ends this browser's session on the server. Resolves to whether it has
 * ended: true when the server took the sign-out, or said there was no
 * valid session to end (401); false when it could not be reached or
 * could not end the session (the reason is kept in the error).
 */
export async function endSession(): Promise<{ ended: true } | { ended: false; error: unknown }> {
  try {
    // Bounded, so a connection that hangs ends as a failed try the person can repeat.
    await api.logout(AbortSignal.timeout(SIGNOUT_TIMEOUT_MS));
    return { ended: true };
  } catch (e) {
    if (e instanceof APIError && e.status === 401) return { ended: true };
    return { ended: false, error: e };
  }
}

/** How long one sign-out request may take before it counts as not reaching the server. */
export const SIGNOUT_TIMEOUT_MS = 15000;

/** How many times a page retries a failed sign-out by itself when the browser says it is back online. */
export const SIGNOUT_AUTO_RETRIES = 3;

/**
 * Each time the browser says it is back online, the page tries at once
 * and, while that fails, again after these delays (ms): a connection that
 * has just come back often carries no request for a moment.
 */
export const SIGNOUT_ONLINE_DELAYS = [0, 3000, 10000];

/** The words for a sign-out the server did not take, naming who can open what until it does. */
export function notSignedOutWords(error: unknown, participant: boolean): string {
  const why = error instanceof APIError
    ? "the server could not sign you out just now. Wait a moment and press Sign out again."
    : "Parley could not reach the server. Check your connection and press Sign out again.";
  return "You are not signed out yet: " + why + " Until then, anyone using this browser can open " + (participant ? "your mediation." : "your account.");
}

/**
 * The page after a sign-out the server did not take, in place of what
 * main showed (the case is not left on screen as if nothing happened):
 * that the person is not signed out yet, and a Sign out button that
 * tries again (retry). When the browser says it is back online, it tries
 * again by itself (SIGNOUT_ONLINE_DELAYS), for at most
 * SIGNOUT_AUTO_RETRIES such events. done runs once the
 * session has ended. forgot: this browser's keys and copies are deleted
 * already (forget.ts), so there is no way back into the case from here;
 * otherwise the person may also go back to their mediation, or for staff
 * to where they were (back).
 */
export function notSignedOut(main: HTMLElement, o: {
  error: unknown; participant: boolean; forgot: boolean;
  retry: () => Promise<{ ended: true } | { ended: false; error: unknown }>; done: () => void; back?: () => void;
}): void {
  for (const d of document.querySelectorAll<HTMLDialogElement>("dialog[open]")) d.close();
  const words = h("p", { id: "not-signed-out-words", class: "error", role: "alert" }, notSignedOutWords(o.error, o.participant));
  const again = h("button", { type: "button", class: "primary", id: "signout-retry" }, "Sign out") as HTMLButtonElement;
  const status = h("p", { id: "signout-retry-status", role: "status" });
  // stayed: the person chose "Stay signed in and go back"; nothing signs
  // them out after that, even while the page is still reloading.
  let busy = false, auto = 0, chain = false, timer = 0, stayed = false;
  const back = o.back && !o.forgot ? h("button", { type: "button", id: "signout-back" },
    // Staff (a records clerk, an administrator) may have no mediation to go back to.
    o.participant ? "Stay signed in and go back to my mediation" : "Stay signed in and go back") as HTMLButtonElement : undefined;
  // attempt tries once and says whether the session has ended (false
  // too when a try is already under way). again: another try by itself
  // is coming.
  const attempt = async (again_ = false): Promise<boolean> => {
    if (busy || stayed) return false;
    // Stay waits too while a try is under way: the try could still land after it.
    busy = again.disabled = true;
    if (back) back.disabled = true;
    status.textContent = "Signing out…";
    const r = await o.retry();
    busy = again.disabled = false;
    if (back) back.disabled = false;
    if (r.ended) {
      removeEventListener("online", onOnline);
      clearTimeout(timer);
      status.textContent = "You are signed out.";
      o.done();
      return true;
    }
    status.textContent = again_ ? "Still not signed out. Parley will try again in a few seconds." : "Still not signed out.";
    words.textContent = notSignedOutWords(r.error, o.participant);
    // The button was disabled while it had focus (focus fell to the page): back to it.
    if (again.isConnected) again.focus();
    return false;
  };
  // step i of the tries after an online event; it stops once the page
  // is gone (the person went elsewhere) or the session has ended.
  const step = async (i: number) => {
    timer = 0;
    const more = i + 1 < SIGNOUT_ONLINE_DELAYS.length;
    if (stayed || !again.isConnected || await attempt(more) || !more || stayed || !again.isConnected) {
      chain = false;
      return;
    }
    timer = window.setTimeout(() => void step(i + 1), SIGNOUT_ONLINE_DELAYS[i + 1]);
  };
  const onOnline = () => {
    // The person went elsewhere ("Stay signed in and go back"): never sign them out behind their back.
    if (stayed || !again.isConnected) { removeEventListener("online", onOnline); return; }
    if (chain || auto >= SIGNOUT_AUTO_RETRIES) return;
    auto++;
    chain = true;
    void step(0);
  };
  addEventListener("online", onOnline);
  again.onclick = () => void attempt();
  if (back) back.onclick = () => {
    if (busy) return;
    stayed = true;
    clearTimeout(timer);
    removeEventListener("online", onOnline);
    o.back!();
  };
  main.replaceChildren(h("section", { id: "not-signed-out", "aria-labelledby": "not-signed-out-title" },
    h("h1", { id: "not-signed-out-title" }, "You are not signed out yet"),
    words,
    o.forgot ? h("p", {}, "This browser’s keys and its copies of documents are already deleted: it can no longer read your messages. But until you are signed out, someone using this browser can still see your mediation’s names and rooms and open documents kept on the server.") : "",
    h("div", { class: "row" }, again, back ?? ""),
    status));
  again.focus();
}

/** Opens the question; signOut runs only after "Sign out" is pressed in it. */
export function signOutDialog(signOut: () => Promise<void>): void {
  document.getElementById("signout-confirm")?.remove();
  const stay = h("button", { type: "button", class: "primary", id: "signout-stay" }, "Stay signed in") as HTMLButtonElement;
  const go = h("button", { type: "button", id: "signout-yes" }, "Sign out") as HTMLButtonElement;
  const status = h("p", { id: "signout-status", role: "status" });
  const dlg = h("dialog", { id: "signout-confirm", class: "forget", "aria-labelledby": "signout-title", "aria-describedby": "signout-what" },
    h("h2", { id: "signout-title" }, "Sign out?"),
    h("div", { id: "signout-what" },
      h("p", {}, "To come back, ask your mediator for a “link back in”, or get an emailed sign-in link if you confirmed your address."),
      h("p", {}, "To take a break, just close this page — you stay signed in on this device."),
      h("p", { class: "note" }, "Anything you typed and did not send is lost when you sign out.")),
    h("div", { class: "row" }, stay, go),
    status) as HTMLDialogElement;
  stay.onclick = () => dlg.close();
  dlg.addEventListener("close", () => dlg.remove());
  go.onclick = async () => {
    go.disabled = stay.disabled = true;
    dlg.addEventListener("cancel", (e) => e.preventDefault());
    status.textContent = "Signing out…";
    await signOut();
  };
  document.body.append(dlg);
  dlg.showModal();
  stay.focus();
}
