// "Sign out" for a party or lawyer: they have no password, so once signed
// out they need a new link to come back (from their mediator, or by email
// if they confirmed their address), and anything typed and not sent is
// lost. The page asks first, in words naming that, and says how to take a
// break instead. Staff (who sign in again with their password) are not
// asked (app.ts).
import { h } from "./dom";

/** Opens the question; signOut runs only after "Sign out" is pressed in it. */
export function signOutDialog(signOut: () => Promise<void>): void {
  document.getElementById("signout-confirm")?.remove();
  const stay = h("button", { type: "button", class: "primary", id: "signout-stay" }, "Stay signed in") as HTMLButtonElement;
  const go = h("button", { type: "button", id: "signout-yes" }, "Sign out") as HTMLButtonElement;
  const status = h("p", { id: "signout-status", role: "status" });
  const dlg = h("dialog", { id: "signout-confirm", class: "forget", "aria-labelledby": "signout-title", "aria-describedby": "signout-what" },
    h("h2", { id: "signout-title" }, "Sign out?"),
    h("div", { id: "signout-what" },
      h("p", {}, "To come back you will need a new link from your mediator, or an emailed sign-in link if you confirmed your address."),
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
