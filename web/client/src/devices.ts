// Devices in the browser (docs/protocol.md, "Adding a device"): what a
// browser shows about messages it has no keys for. A browser reads only
// what was encrypted for its own device; messages sent before it could
// read a room are shown as one line per run, with the reason and what to
// do, and never counted as new.

import { call, casePath, APIError, plainWords } from "./api";
import type { Pairing } from "./wire_gen";
import * as E from "./e2ee";
import type { SecureCase } from "./secure";
import { saveShared } from "./store";
import { b64, unb64 } from "./wire";
import { h } from "./dom";

/** Whether a refused payload is one this browser simply has no key for (sent before it could read the room). */
export function isUnreadable(rejected: string | undefined): boolean {
  return !!rejected && /no key for this message/.test(rejected);
}

function dayOf(ms: number): string {
  return new Date(ms).toLocaleDateString([], { day: "numeric", month: "long", year: "numeric" });
}

/**
 * Adds an unreadable message to log: consecutive ones collapse into one
 * line that counts them and explains why (a new row only when something
 * readable came between). counted: this browser already counts for its
 * account (linked, first or admitted), so adding it again cannot help:
 * the words point to the device that was in the room then, if any.
 */
export function noteUnreadable(log: HTMLElement, at: number, counted = false): void {
  let li = log.lastElementChild as HTMLElement | null;
  if (!li || !li.dataset.unreadable) {
    li = h("li", { class: "note unreadable", "data-unreadable": "0", "data-first": String(at) });
    log.append(li);
  }
  const n = Number(li.dataset.unreadable) + 1;
  li.dataset.unreadable = String(n);
  const first = Number(li.dataset.first);
  const when = dayOf(first) === dayOf(at) ? `on ${dayOf(first)}` : `between ${dayOf(first)} and ${dayOf(at)}`;
  li.replaceChildren(
    h("strong", {}, n === 1 ? `1 earlier message can't be shown here` : `${n} earlier messages can't be shown here`),
    ` (sent ${when}). `,
    "They were encrypted for the devices that were in this room then, before this browser had keys for it; nobody, not even the service, can open them for this browser. ",
    counted ? "If another device of yours was in this room then, they can be read there. "
      : "If you used another device in this mediation before, add this browser from it (“Add a device” there) to read them here. ",
    "Everything sent from now on reaches this browser.");
}

// --- adding a device ---


const errText = plainWords; // never a status, an id or the browser's network text
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The safety number both devices show during a pairing (as client.PairingSafetyNumber). */
async function pairingNumber(old: E.DeviceRecord, nw: E.DeviceRecord): Promise<string> {
  return E.formatSafetyNumber(await E.safetyNumber(old.account, [old], nw.account, [nw]));
}

/**
 * Polls a pairing until want says it is ready, for up to ten minutes. again: what to do for a new code, in the words
 * of the device polling (the one showing the code presses "Add a device" again; the new one asks the other for it).
 */
async function poll(id: string, path: string, method: string, want: (p: Pairing) => boolean, again: string): Promise<Pairing> {
  for (let i = 0, missed = 0; i < 1200; i++) {
    let p: Pairing;
    try {
      p = await call<Pairing>(method, `/api/v1/keys/pairings/${encodeURIComponent(id)}${path}`);
      missed = 0;
    } catch (e) {
      // A phone on the move loses a request now and then while its person
      // walks to the other device: keep waiting, unless it lasts a minute.
      const passing = e instanceof TypeError || (e instanceof APIError && e.status >= 500);
      if (!passing || ++missed > 60) throw e;
      await sleep(1000);
      continue;
    }
    if (want(p)) return p;
    if (p.state === "spent" || p.state === "delivered") throw new Error("the code has expired or was used: " + again);
    if (p.state === "cancelled") throw new Error("the pairing was cancelled: " + again);
    await sleep(500);
  }
  throw new Error("nothing happened for ten minutes: " + again);
}

export interface DevicesContext { sc: SecureCase; myName: string; nameOf: (account: string) => string; participants: string[] }

/**
 * The devices panel: on a device that counts, "Add a device" (a code and
 * the safety number to compare); on a new one, entering the code, or
 * waiting for the mediator; for mediators, admitting participants' new
 * devices that no device of theirs linked.
 */
export function renderDevices(el: HTMLElement, d: DevicesContext): void {
  const sc = d.sc;
  el.replaceChildren(h("h2", { id: "devices-title" }, "Your devices"));
  if (!sc.counted()) {
    el.append(newDevicePanel(d));
  } else {
    el.append(admittedNotice(d), addDevicePanel(d));
  }
  // An admission signed by a device that counts for nobody is ignored by every client: a mediator's new browser
  // admits nobody until it is linked.
  if (sc.mediator && sc.counted()) el.append(admitPanel(d));
}

function addDevicePanel(d: DevicesContext): HTMLElement {
  const out = h("div", { id: "pair-out", "aria-live": "polite" });
  const start = h("button", {
    type: "button", id: "pair-start",
    onclick: async () => {
      (start as HTMLButtonElement).disabled = true;
      try {
        const p = await call<Pairing>("POST", "/api/v1/keys/pairings", { device: d.sc.me.id });
        out.replaceChildren(
          // A party or lawyer has no password: they open it with a link (docs: signinlink.ts, reentry.ts).
          h("p", {}, d.sc.mediator
            ? "On your new device, sign in and open this mediation, choose “Link this browser” and enter this code. It works once, for 10 minutes."
            : "On your new device, open this mediation with a link back in from your mediator, or with “Email me a link to sign in” on the sign-in page; then choose “Link this browser” and enter this code. It works once, for 10 minutes."),
          h("p", { class: "pair-code", id: "pair-code" }, p.code ?? ""),
          h("p", { class: "note" }, "Waiting for the new device…"));
        const claimed = await poll(p.id, "", "GET", (x) => x.state === "claimed", "press “Add a device” again here for a new code");
        const rec = await E.decodeDeviceRecord(unb64(claimed.newRecord!));
        if (rec.account !== d.sc.me.account) throw new Error("the device that entered the code is not yours");
        const num = await pairingNumber(d.sc.me.record, rec);
        const status = h("p", { role: "status" });
        const yes = h("button", {
          type: "button", class: "primary", id: "pair-confirm",
          onclick: async () => {
            (yes as HTMLButtonElement).disabled = true;
            let added = false;
            try {
              status.textContent = "Adding the device and handing it the keys to the earlier messages of your mediations…";
              // Every case of the account, not only this one: once linked, the device counts in all of them.
              // A minute kept for sealing and sending it before the pairing expires.
              const { chains, cases, left } = await d.sc.chainsOfAccount(Date.parse(claimed.expires) - 60_000);
              const endorsement = await E.endorse(d.sc.me, rec, "");
              const share = await E.shareKeys(d.sc.me, rec, chains);
              await call<Pairing>("POST", `/api/v1/keys/pairings/${encodeURIComponent(p.id)}/complete`, { endorsement: b64(endorsement), share: b64(share) });
              added = true;
              no.remove();
              // Done with this pairing: another device can be added from here.
              (start as HTMLButtonElement).disabled = false;
              await d.sc.refresh();
              status.textContent = addedWords(cases, left);
            } catch (e) {
              if (added) {
                status.textContent = "Added, but this page could not show it yet: reload the page.";
                return;
              }
              if (e instanceof APIError && e.status === 410) {
                // The pairing is over (expired, or done with its answer lost): trying again cannot help.
                status.textContent = "This pairing has ended, so the device may not have been added. Reload the page to see your devices, and start adding it again if it is not there.";
                no.remove();
                (start as HTMLButtonElement).disabled = false;
                return;
              }
              // The pairing is still claimed: the same device can be added again,
              // from this page (a reload would lose the pairing in progress, so
              // not the generic words, which say to reload).
              const why = e instanceof TypeError ? "the server could not be reached; check your connection"
                : e instanceof APIError && (e.status >= 500 || e.status === 429) ? "the server could not take it just now; wait a moment"
                  : errText(e);
              status.textContent = "Not added yet: " + why + ". Keep this page open: the numbers still match, so press the button again.";
              (yes as HTMLButtonElement).disabled = false;
            }
          },
        }, "The numbers match: add the device");
        const no = h("button", {
          type: "button",
          onclick: async () => {
            (no as HTMLButtonElement).disabled = true;
            (yes as HTMLButtonElement).disabled = true;
            // Ended on the server too, so the new device stops waiting; if that fails, it waits until the code runs out.
            const ended = await call<Pairing>("POST", `/api/v1/keys/pairings/${encodeURIComponent(p.id)}/cancel`).then(() => true, () => false);
            out.replaceChildren(h("p", { role: "status", id: "pair-cancelled" }, cancelledWords(d.sc.mediator, ended)));
            (start as HTMLButtonElement).disabled = false;
          },
        }, "They differ: cancel");
        out.replaceChildren(
          h("p", {}, "Compare this number with the one on your new device. Add it only if they are the same:"),
          h("p", { class: "safety", id: "pair-number" }, num),
          h("div", { class: "row" }, yes, no), status);
      } catch (e) {
        out.replaceChildren(h("p", { class: "error", role: "alert" }, "Nothing was added: " + errText(e) + "."));
        (start as HTMLButtonElement).disabled = false;
      }
    },
  }, "Add a device");
  return h("div", {},
    h("p", { class: "note" }, "Use Parley on another phone or computer too: this device shows a code, the new one enters it, and it receives the keys to what you could read here, in each of your mediations."),
    start, out);
}

/** What the device that showed the code says once the device is added: which mediations it can read from before. */
export function addedWords(cases: number, left: number): string {
  const read = cases === 1 ? "the earlier messages of this mediation" : `the earlier messages of your ${cases} mediations`;
  const rest = left === 0 ? ""
    : ` ${left === 1 ? "One other mediation's keys" : `The keys of ${left} other mediations`} could not be handed over (this device could not check ${left === 1 ? "it" : "them"} in time, or there were more than one device can hand over): there, the new device reads only what is said from now on.`;
  return `Added. Your new device can read ${read}, and everything from now on.${rest} The keys went to it encrypted; the service cannot read them.`;
}

/**
 * What "They differ: cancel" says. Different numbers mean another device than the person's own entered the code (or
 * the server swapped a key): a party tells their mediator; a mediator, whose account nobody else may add devices to,
 * tells the program's administration. ended: the pairing was cancelled on the server too, so the other device stops
 * waiting (otherwise it waits until the code runs out).
 */
export function cancelledWords(mediator: boolean, ended: boolean): string {
  return "Cancelled: nothing was added. " + (mediator
    ? "If the numbers differed, someone else may have entered your code: tell the program's administration (not through Parley), and add no device until they have looked into it."
    : "If the numbers differed, tell your mediator.") +
    (ended ? " The other device is told it was cancelled." : " The other device keeps waiting until its code runs out (10 minutes): you can close Parley there.");
}

function newDevicePanel(d: DevicesContext): HTMLElement {
  const code = h("input", { id: "pair-code-input", type: "text", autocomplete: "off", autocapitalize: "characters", maxlength: "12", required: true }) as HTMLInputElement;
  const out = h("div", { id: "pair-out", "aria-live": "polite" });
  const form = h("form", {
    id: "pair-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const btn = form.querySelector("button") as HTMLButtonElement;
      btn.disabled = true;
      try {
        const p = await call<Pairing>("POST", "/api/v1/keys/pairings/claim", { code: code.value, record: b64(d.sc.me.record.raw) });
        await d.sc.refresh();
        const old = d.sc.sess.dir.device(d.sc.me.account, p.oldDevice, -1);
        if (!old) throw new Error("the device that showed the code is not one of yours");
        out.replaceChildren(
          h("p", {}, "Compare this number with the one on your other device, and confirm there if they are the same:"),
          h("p", { class: "safety", id: "pair-number" }, await pairingNumber(old, d.sc.me.record)),
          h("p", { class: "note" }, "Waiting for you to confirm on your other device…"));
        const done = await poll(p.id, "/collect", "POST", (x) => !!x.share, "on your other device, press “Add a device” again for a new code, and enter it here");
        const chains = await E.openKeyShare(unb64(done.share!), d.sc.me, old);
        await saveShared(d.sc.me.account, chains);
        out.replaceChildren(h("p", { role: "status" }, "This browser is added. Opening the mediation again with your earlier messages…"));
        location.reload();
      } catch (x) {
        out.replaceChildren(h("p", { class: "error", role: "alert" }, "This browser was not linked: " + errText(x) + "."));
        btn.disabled = false;
      }
    },
  },
  h("label", { for: "pair-code-input" }, "Code shown on your other device"), code,
  h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, "Link this browser")));
  // A mediator's new browser counts only when linked from their own device: clients ignore a mediator's admission
  // onto a mediator's account (docs/protocol.md, "Adding a device"), so there is nobody to ask to admit it.
  if (d.sc.mediator) {
    return h("div", { id: "new-device" },
      h("p", { role: "status" }, h("strong", {}, "This browser is new to your account. "),
        "Nobody sends it messages, and it cannot confirm who is in your mediations, until you link it from a device you already use for them."),
      h("p", {}, "On that device, open any of your mediations, choose “Add a device” and enter the code it shows here. This browser then reads the earlier messages of all your mediations:"), form, out,
      h("p", { class: "note" }, "No other device (lost phone, cleared browser)? Nobody else can add a mediator's browser, not even a co-mediator: tell the program's administration. Messages sent to your old device can't be shown here."));
  }
  return h("div", { id: "new-device" },
    h("p", { role: "status" }, h("strong", {}, "This browser is new to your account. "),
      "Nobody sends it messages until you link it from a device you already use here, or your mediator admits it."),
    h("p", {}, "Have your other device? On it, choose “Add a device” and enter the code it shows:"), form, out,
    h("p", { class: "note" }, "No other device (lost phone, cleared browser)? Ask your mediator to admit this browser. Messages from before then were sent to your old device and can't be shown here; everything after reaches this browser. A browser your mediator lets in can't say yes when your mediator asks to show your words or your documents to the other side: only a device you linked yourself can."),
    ownNumber(d));
}

/** This browser's own device number, which the mediator compares by phone before admitting it. */
function ownNumber(d: DevicesContext): HTMLElement {
  const num = h("p", { class: "safety", id: "device-number" }, "…");
  void E.fingerprint(d.sc.me.account, [d.sc.me.record]).then((n) => { num.textContent = E.formatSafetyNumber(n); });
  return h("div", {},
    h("p", {}, "This browser's device number. If your mediator admits it, they will call you and ask you to read it out:"), num);
}

/**
 * A device that counts here tells its person about devices a mediator
 * admitted to their account (each time the case opens): if they did not
 * ask for it, someone else reads their rooms from then on.
 */
function admittedNotice(d: DevicesContext): HTMLElement {
  const box = h("div", { id: "admitted-notice" });
  for (const { rec, by } of d.sc.sess.dir.admitted(d.sc.me.account)) {
    if (rec.id === d.sc.me.id) continue;
    const num = h("span", { class: "safety" }, "");
    void E.fingerprint(rec.account, [rec]).then((n) => { num.textContent = E.formatSafetyNumber(n); });
    box.append(h("p", { role: "status", class: "warning" },
      h("strong", {}, `A new device was admitted to your account by ${d.nameOf(by)}. `),
      "It receives what is said in your rooms from then on (not earlier messages), and every document you may see, earlier ones included. It cannot accept, approve or consent for you. Its device number: ", num,
      ". If you did not ask for this, tell the program's administration (not only the mediator) before you write anything more here."));
  }
  return box;
}

let admitCheck: Promise<void> | null = null;

/**
 * For mediators: looks again for participants' new devices waiting to be
 * admitted and redraws that list (the rest of the devices panel, such as a
 * pairing in progress, stays as it is). Called when someone comes or goes
 * in the case's rooms: a participant who lost their device shows up from
 * the new one.
 */
export function refreshAdmissions(d: DevicesContext): Promise<void> {
  if (!d.sc.mediator || !document.getElementById("admit")) return Promise.resolve();
  admitCheck ??= (async () => {
    try {
      await d.sc.refresh();
      document.getElementById("admit")?.replaceWith(admitPanel(d));
    } finally { admitCheck = null; }
  })();
  return admitCheck;
}

/** The device whose admission question is open (kept when the panel is drawn again, as when someone comes and goes). */
let admitAsking = "";

function admitPanel(d: DevicesContext): HTMLElement {
  const box = h("div", { id: "admit" });
  const dir = d.sc.sess.dir;
  const closers: (() => void)[] = []; // one question open at a time
  for (const a of d.participants) {
    for (const rec of dir.pending(a)) {
      const status = h("span", { role: "status" });
      const num = h("span", { class: "safety" }, "…");
      const fingerprintShown = E.fingerprint(rec.account, [rec]).then((n) => { num.textContent = E.formatSafetyNumber(n); });
      const working = dir.active(a).length;
      const name = d.nameOf(a);
      const ask = h("div", {});
      const admit = async (yes: HTMLButtonElement) => {
        yes.disabled = true;
        try {
          const end = await E.endorse(d.sc.me, rec, d.sc.caseID);
          await call("POST", casePath(d.sc.caseID) + "/e2ee/admissions", { record: b64(end) });
          admitAsking = "";
          ask.replaceChildren();
          await d.sc.refresh();
          status.textContent = ` Admitted. ${name}'s new device reads what is said from now on.`;
        } catch (e) {
          status.textContent = " Not admitted: " + errText(e);
          yes.disabled = false;
        }
      };
      // A deliberate question in the page, naming what admitting does and who is told.
      const close = () => { ask.replaceChildren(); b.hidden = false; };
      closers.push(close);
      const open = () => {
        for (const c of closers) c();
        admitAsking = rec.id;
        status.textContent = "";
        const yes = h("button", { type: "button", class: "primary", id: "admit-confirm" }, `Admit ${name}'s new device`) as HTMLButtonElement;
        yes.onclick = () => void admit(yes);
        const no = h("button", { type: "button", id: "admit-cancel", onclick: () => { admitAsking = ""; close(); b.focus(); } }, "Cancel");
        ask.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "admit-q", "aria-describedby": "admit-what" },
          h("p", { id: "admit-q" }, h("strong", {}, `Admit this new device of ${name}?`)),
          h("ul", { id: "admit-what" },
            working > 0 ? h("li", {}, h("strong", {}, `${name} still has ${working === 1 ? "a device" : working + " devices"} that works in this mediation: `),
              `they have not lost every device, and can add this one themselves (“Add a device”).`) : "",
            h("li", {}, `Do this only if you phoned ${name} on a number you already have and they read you the same number from their new device: `, h("strong", { class: "safety" }, num.textContent ?? "")),
            h("li", {}, `It will receive everything said in ${name}'s rooms from now on (not earlier messages), and every document ${name} may see, earlier ones included, but cannot give consent for them.`),
            h("li", {}, `${name}'s other devices will be told.`)),
          h("div", { class: "row" }, yes, no)));
        b.hidden = true;
        return no; // focused, not Admit: Enter pressed twice must not admit
      };
      const b = h("button", { type: "button", onclick: async () => { await fingerprintShown; open().focus(); } }, `Admit this new device of ${name}`) as HTMLButtonElement;
      if (admitAsking === rec.id) void fingerprintShown.then(() => open());
      box.append(h("p", {}, `${d.nameOf(a)} has a new device no other device of theirs added. Its device number is `, num,
        `. Call ${d.nameOf(a)} (on a number you already have) and ask them to read you the number their new device shows; admit it only if the two match.`,
        working > 0 ? h("strong", {}, ` ${d.nameOf(a)} still has a device that works here, so they can add this one themselves.`) : null,
        h("br"), b, status, ask));
    }
  }
  if (!box.childElementCount) {
    const again = h("button", { type: "button", id: "admit-check", onclick: () => { (again as HTMLButtonElement).disabled = true; void refreshAdmissions(d).catch(() => { (again as HTMLButtonElement).disabled = false; }); } }, "Check again");
    box.append(h("p", { class: "note" }, "No new devices are waiting to be admitted. A participant's new device shows here when they open the case on it. ", again));
  }
  return box;
}
