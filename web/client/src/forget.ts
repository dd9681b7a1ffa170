// Signing out on a shared computer: what this browser keeps of Parley, and
// how it is all removed ("Sign out and forget this browser").
//
// Kept for this origin: IndexedDB "parley" (the device keys, the pins —
// log key, checkpoints, membership statements, sealed rooms' entries with
// their members, each account's first device — and chain keys another
// device handed over), decrypted documents' temporary files in the origin
// private file system (OPFS, parley-tmp), and in localStorage who last used
// the browser and which welcomes were seen. Forgetting signs out and
// deletes the person's own share of it (all of it when nobody else's keys
// are here: on a family computer the other side may use Parley too).
//
// It does not revoke the device in the key directory: clients refuse a
// document-key wrap whose wrapping device is revoked now, however long
// before the revocation it was made (e2ee.Session.OpenDocKey, the
// browser's openDocKey: Devices.device(…, -1)), so a revocation would
// leave the others unable to open the end-to-end documents this browser
// wrapped. Senders keep sealing chain keys to the device; its private
// keys exist nowhere once deleted here (docs/security.md, "What a browser
// keeps after sign-out").
import { sweepAllTemporary } from "./docs-e2ee-ui";
import { forgetAccount } from "./store";
import { h } from "./dom";

/** Deletes one IndexedDB database, waiting at most ms for other connections to close. */
function dropDatabase(name: string, ms = 5000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = req.onerror = () => { clearTimeout(t); resolve(); };
  });
}

/**
 * Deletes what Parley keeps in this browser for this origin: account's
 * keys, pins and chain keys (the whole IndexedDB database when nobody
 * else's are in it: a family computer may hold the other side's too),
 * every OPFS entry (decrypted temporary files), sessionStorage, and
 * localStorage (all of it when nobody else's keys stay; else account's
 * own entries and who used the browser last).
 */
export async function forgetThisBrowser(account: string): Promise<void> {
  await sweepAllTemporary();
  try {
    const root = await navigator.storage?.getDirectory?.();
    if (root) {
      const names: string[] = [];
      for await (const n of (root as unknown as { keys(): AsyncIterable<string> }).keys()) names.push(n);
      for (const n of names) await root.removeEntry(n, { recursive: true }).catch(() => {});
    }
  } catch { /* no OPFS */ }
  let others = false;
  try { others = await forgetAccount(account); } catch { /* no database, or it could not be opened */ }
  try {
    const listed = (await indexedDB.databases?.()) ?? [];
    await Promise.all(listed.map((d) => d.name ?? "").filter((n) => n && (n !== "parley" || !others)).map((n) => dropDatabase(n)));
  } catch { /* the list is not offered: the one Parley makes is handled above */ }
  try {
    if (others) {
      for (const k of Object.keys(localStorage)) if (k.endsWith(":" + account) || k === "parley-last-role") localStorage.removeItem(k);
    } else localStorage.clear();
  } catch { /* private mode */ }
  try { sessionStorage.clear(); } catch { /* private mode */ }
}

/**
 * The confirmation of "Sign out and forget this browser", in plain words:
 * first, in bold, what cannot be undone (the earlier messages are gone
 * from this browser for good; from everywhere when it is the person's only
 * linked device), then what it does, who still sees what, and how to come
 * back. others is how many other devices of theirs are linked to the case
 * (null: not known, no case open). confirm runs when the person chooses to
 * go ahead.
 */
export function forgetDialog(confirm: (status: (text: string) => void) => Promise<void>, others: number | null = null): HTMLDialogElement {
  const lost = "After this, your earlier messages cannot be brought back on this browser";
  const first = others === 0 ? `${lost}. This is the only phone or computer linked to your mediation, so you will not be able to read them anywhere.`
    // Another linked device may itself have been forgotten (forgetting revokes nothing): said as a condition.
    : others ? `${lost}. Only another phone or computer you linked to your mediation, if you still use it, can show them.`
      : `${lost}.`;
  const status = h("p", { id: "forget-status", role: "status" });
  const go = h("button", { type: "button", class: "danger", id: "forget-confirm" }, "Forget this browser and sign out") as HTMLButtonElement;
  const keep = h("button", { type: "button", id: "forget-cancel" }, "Keep this browser") as HTMLButtonElement;
  const dlg = h("dialog", { id: "forget", class: "forget", "aria-labelledby": "forget-title" },
    h("h2", { id: "forget-title" }, "Sign out and forget this browser?"),
    h("p", { id: "forget-lost" }, h("strong", {}, first)),
    h("p", {}, "Choose this if other people use this computer or phone too. Parley will:"),
    h("ul", {},
      h("li", {}, "sign you out;"),
      h("li", {}, "delete from this browser the keys that let it read your mediation, and any copies of documents it opened. Anyone else who uses Parley in this browser keeps their own keys.")),
    h("p", {}, "Afterwards, this browser cannot read your mediation — not even the messages you read here before.",
      " Nothing is deleted from the mediation itself: your mediator and the others in it still see everything as before."),
    h("h3", {}, "Coming back"),
    h("p", {}, "To come back, ask your mediator for a “link back in”. Then:"),
    h("ul", {},
      h("li", {}, "If you also use Parley on another phone or computer, what it can read stays readable there. To read your earlier messages on this browser again, add this browser from there with “Add a device”."),
      h("li", {}, "If this is the only phone or computer you have used for your mediation, you cannot read your earlier messages again, anywhere. Your mediator can let this browser in again: it will show what is said from then on, but it cannot say yes when your mediator asks to show your words or your documents to the other side.")),
    h("div", { class: "row" }, keep, go),
    status) as HTMLDialogElement;
  keep.onclick = () => dlg.close();
  dlg.addEventListener("close", () => dlg.remove());
  go.onclick = async () => {
    go.disabled = keep.disabled = true;
    dlg.addEventListener("cancel", (e) => e.preventDefault());
    await confirm((t) => { status.textContent = t; });
  };
  return dlg;
}
