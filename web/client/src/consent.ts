// Ground rules and consent: before a party, lawyer or observer goes into a
// case they read its terms (agreement to mediate, confidentiality, ground
// rules) and the mediators' conflict disclosures, and accept / acknowledge
// them. Each acceptance is signed by this browser's device key over the
// canonical consent statement (e2ee/consent.go), which the server checks
// against the key directory before recording it. Mediators get a panel of
// who has and has not accepted, and can edit the case's terms.
import { call, casePath, APIError, staffWords } from "./api";
import type { Case, Disclosure, DocShareAnswer, DocShareRequest, ProblemType, SignedConsentRequest, Terms, TermsView } from "./wire_gen";
import { ProblemTypeBase } from "./wire_gen";
import type { DeviceKeys } from "./e2ee";
import * as P from "./primitives";
import { b64, hex } from "./wire";
import { h, stamp } from "./dom";
import { personName, roleName } from "./names";

const consentAPI = {
  terms: (id: string) => call<TermsView>("GET", casePath(id) + "/terms"),
  setTerms: (id: string, text: string) => call<TermsView>("PUT", casePath(id) + "/terms", { text }),
  accept: (id: string, req: SignedConsentRequest) => call<TermsView>("POST", casePath(id) + "/terms/accept", req),
  ack: (id: string, d: string, req: SignedConsentRequest) => call<Case>("POST", `${casePath(id)}/disclosures/${encodeURIComponent(d)}/ack`, req),
};

/** The canonical statement a device signs (the same bytes as Go's e2ee.Consent.Statement). */
export function consentStatement(kind: string, caseID: string, item: string, textSHA: string, account: string, device: string, at: number): string {
  return "parley consent v1\n" + [["kind", kind], ["case", caseID], ["item", item], ["text-sha256", textSHA], ["account", account],
    ["device", device], ["at", String(at)]].map(([k, v]) => `${k}: ${v}\n`).join("");
}

async function signConsent(keys: DeviceKeys, kind: string, caseID: string, item: string, text: string): Promise<SignedConsentRequest> {
  const enc = new TextEncoder();
  // The hash of the text this browser shows, not the hash the server named.
  const sha = hex(await P.sha256(enc.encode(text)));
  const at = Date.now();
  const st = enc.encode("parley/consent/v1\x00" + consentStatement(kind, caseID, item, sha, keys.account, keys.id, at));
  const sig = await P.ed25519Sign(keys.sig, st);
  return { item, sha256: sha, device: keys.id, signedAt: at, signature: b64(sig) };
}

/** The text a side's answer to a share request signs the hash of (the same bytes as Go's e2ee.ShareConsentText). */
export function shareConsentText(doc: string, request: string, version: number, to: string, allow: boolean): string {
  return `share a side's document\ndocument: ${doc}\nrequest: ${request}\nversion: ${version}\nto: ${to}\nanswer: ${allow ? "allow" : "decline"}\n`;
}

/** This device's signed answer to r (a consent of kind "share" over r's document, id, version and audience as this page shows them). */
export async function signShareAnswer(keys: DeviceKeys, caseID: string, r: DocShareRequest, allow: boolean): Promise<DocShareAnswer> {
  const k = await signConsent(keys, "share", caseID, r.id, shareConsentText(r.doc, r.id, r.version, r.to, allow));
  return { allow, device: k.device, signedAt: k.signedAt, signature: k.signature };
}

const when = (t: string) => stamp(t); // with its zone: the people in a case may be in different ones

// What a refused signed acceptance or acknowledgement means, by the field
// the server named, in words that say what to do (the server's own detail
// describes the field for programs: "your device's id (dv_…)").
const fieldWords: Record<string, string> = {
  signature: "this browser's signature on it could not be checked. Reload the page and try again; if this keeps happening, tell your mediator",
  device: "this browser's signature on it could not be checked. Reload the page and try again; if this keeps happening, tell your mediator",
  signedAt: "the clock on this device is more than 15 minutes wrong. Set the correct date and time on this device, then try again",
  sha256: "the text you read is not the one the server holds now (it may have just changed). Reload the page, read it again, then try again",
  item: "what you read is no longer the current text. Reload the page, read it again, then try again",
  terms: "no more can be recorded in this case. Please tell your mediator",
};

function plainError(e: unknown, what: "acceptance" | "acknowledgement"): string {
  if (e instanceof APIError) {
    if (e.status === 409) return what === "acceptance"
      ? "The terms changed while you were reading them. The new version is shown now; please read it and accept it again."
      : "This disclosure changed while you were reading it. Reload the page, read it again, then acknowledge it.";
    if (e.status === 403) return `This browser's key is not registered to you any more, so your ${what} could not be signed. Reload the page to register it again.`;
    if (e.status === 400) {
      const f = e.problem.errors?.[0]?.field ?? "";
      return `Your ${what} was not recorded: ` + (fieldWords[f] ?? "it could not be checked. Reload the page and try again; if this keeps happening, tell your mediator") + ".";
    }
    if (e.status === 429) return `Your ${what} was not recorded: there were too many attempts in a short time. Wait a minute, then try again.`;
    if (e.status >= 500) return "The server could not record this just now. Nothing was recorded; please try again in a moment.";
  }
  if (e instanceof TypeError) return "The server could not be reached. Nothing was recorded; check your connection and try again.";
  return "Something went wrong; nothing was recorded. Please reload the page and try again.";
}

/** Splits terms into paragraphs; a short line without a full stop is a heading. */
function termsText(t: Terms): HTMLElement {
  const box = h("div", { class: "terms-text", id: "terms-text", tabindex: "0", "aria-label": `Terms, version ${t.version}` });
  for (const line of t.text.split(/\n+/)) {
    const s = line.trim();
    if (!s) continue;
    box.append(s.length < 60 && !/[.:;!?]$/.test(s) ? h("h3", {}, s) : h("p", {}, s));
  }
  return box;
}

function mediatorName(c: Case, id: string): string {
  return c.mediators.find((m) => m.accountId === id)?.name ?? "your mediator";
}

/** The disclosures this person has not acknowledged yet (none for those who do not acknowledge: mediators, observers). */
export function openDisclosures(c: Case, me: string): Disclosure[] {
  const p = c.participants.find((x) => x.accountId === me);
  if (!p || p.role === "observer") return [];
  return c.disclosures.filter((d) => !(d.acks ?? []).some((a) => a.accountId === me));
}

/**
 * On entering a case, a party, lawyer or observer reads and accepts the terms
 * and acknowledges each open disclosure before going on. Resolves (with the
 * case as it is now) at once when nothing is open, and always for mediators.
 */
export async function consentGate(root: HTMLElement, caseID: string, keys: DeviceKeys, c: Case): Promise<Case> {
  const me = keys.account;
  if (!c.participants.some((p) => p.accountId === me)) return c;
  let view = await consentAPI.terms(caseID);
  let kase = c;
  const open = () => (view.mustAccept && !view.mine) || openDisclosures(kase, me).length > 0;
  if (!open()) return c;
  return new Promise<Case>((resolve) => {
    const status = h("p", { id: "consent-status", role: "status", "aria-live": "polite" });
    // The tick on the terms (for their version) survives the gate being
    // drawn again, as acknowledging a disclosure does.
    let tickedFor = 0;
    const draw = () => {
      const termsDone = !view.mustAccept || !!view.mine;
      const pending = openDisclosures(kase, me);
      const observer = kase.participants.find((p) => p.accountId === me)?.role === "observer";
      const termsSec = h("section", { id: "consent-terms", "aria-labelledby": "consent-terms-title" },
        h("h2", { id: "consent-terms-title" }, `The terms of this mediation (version ${view.terms.version})`),
        termsText(view.terms));
      if (termsDone) {
        termsSec.append(h("p", { class: "verified", id: "terms-accepted" }, `You accepted these terms on ${when(view.mine!.recorded)}.`));
      } else {
        const box = h("input", { type: "checkbox", id: "terms-read" }) as HTMLInputElement;
        const btn = h("button", { type: "button", class: "primary", id: "accept-terms", disabled: true, "aria-describedby": "accept-terms-missing" }, "Accept the terms") as HTMLButtonElement;
        // While Accept is off, it says why, next to it.
        const missing = h("p", { class: "note", id: "accept-terms-missing" });
        const ready = () => { btn.disabled = !box.checked; missing.textContent = box.checked ? "" : "Tick “I have read these terms and I accept them” first."; };
        box.checked = tickedFor === view.terms.version;
        ready();
        box.onchange = () => { ready(); tickedFor = box.checked ? view.terms.version : 0; };
        btn.onclick = async () => {
          btn.disabled = true;
          status.textContent = "Signing and recording your acceptance…";
          status.className = "";
          try {
            view = await consentAPI.accept(caseID, await signConsent(keys, "terms", caseID, String(view.terms.version), view.terms.text));
            status.textContent = "Your acceptance is recorded.";
            status.className = "";
          } catch (e) {
            status.textContent = plainError(e, "acceptance");
            status.className = "error";
            view = await consentAPI.terms(caseID).catch(() => view);
          }
          draw();
        };
        termsSec.append(h("div", { class: "confirm" },
          h("p", {}, "Accepting is a record that you read these terms and agree to them. It is signed by this browser, and the mediators and the program's records will see it (with the date and time); the other side does not."),
          h("label", { for: "terms-read" }, box, " I have read these terms and I accept them"),
          h("div", {}, btn), missing));
      }
      const discSec = h("section", { id: "consent-disclosures", "aria-labelledby": "consent-disclosures-title" },
        h("h2", { id: "consent-disclosures-title" }, "What your mediator disclosed"),
        h("p", {}, "A mediator must tell everyone taking part about anything that could affect their neutrality. If it worries you, don't go on yet: phone your mediator or the mediation program. Acknowledging only says you have read it."));
      if (kase.disclosures.length === 0) discSec.append(h("p", {}, "Your mediator has disclosed nothing."));
      const list = h("ul", { class: "docs", id: "disclosure-list" });
      for (const d of kase.disclosures) {
        const mine = (d.acks ?? []).find((a) => a.accountId === me);
        const li = h("li", { "data-disclosure": d.id }, h("p", {}, d.text),
          h("p", { class: "meta" }, `Disclosed by ${mediatorName(kase, d.mediator)} on ${when(d.at)}`));
        if (mine) li.append(h("p", { class: "verified" }, `You acknowledged this on ${when(mine.at)}.`));
        else if (observer) li.append(h("p", { class: "meta" }, "As an observer you are shown this; you do not need to acknowledge it."));
        else {
          const btn = h("button", { type: "button", class: "ack-disclosure" }, "I have read this disclosure") as HTMLButtonElement;
          btn.onclick = async () => {
            btn.disabled = true;
            status.textContent = "Signing and recording your acknowledgement…";
            status.className = "";
            try {
              kase = await consentAPI.ack(caseID, d.id, await signConsent(keys, "disclosure", caseID, d.id, d.text));
              status.textContent = "Your acknowledgement is recorded.";
              status.className = "";
            } catch (e) {
              status.textContent = plainError(e, "acknowledgement");
              status.className = "error";
            }
            draw();
          };
          li.append(h("p", { class: "meta" }, "The mediators and the program's records will see your acknowledgement."), btn);
        }
        list.append(li);
      }
      if (kase.disclosures.length) discSec.append(list);
      const done = termsDone && pending.length === 0;
      const go = h("button", { type: "button", class: "primary", id: "consent-continue", disabled: !done, "aria-describedby": "consent-continue-missing" }, "Go on to your mediation") as HTMLButtonElement;
      // While it is off, what is still to do, next to it.
      const todo = [termsDone ? "" : "accept the terms", pending.length === 0 ? "" : pending.length === 1 ? "acknowledge the disclosure" : `acknowledge the ${pending.length} disclosures`].filter(Boolean);
      const missing = h("p", { class: "note", id: "consent-continue-missing" }, todo.length ? `To go on, first ${todo.join(" and ")} above.` : "");
      go.onclick = () => resolve(kase);
      root.replaceChildren(h("h1", { id: "consent-title" }, "Before you go on"),
        h("p", {}, done
          ? "Thank you. You can go on to your mediation now."
          : "Your mediator asks everyone taking part to read and accept the terms below, and to acknowledge what the mediator disclosed, before the mediation begins."),
        termsSec, discSec, status, h("div", {}, go), missing);
      if (done) go.focus();
    };
    draw();
  });
}

/** The longest terms the server keeps, in characters (cases.MaxTermsLen). */
const maxTermsLen = 20000;

/**
 * Why the terms were not saved, as a clause after "Not saved: " (staffWords, with the terms' own field problems and
 * refusals in words: a mediator recused or removed meanwhile is refused by policy, and the server's words for that
 * name the policy action or the case's id).
 */
function termsRefusal(e: unknown): string {
  if (e instanceof APIError) {
    const f = e.problem.errors?.[0];
    if (e.status === 400 && f?.field === "text") {
      if (f.detail === "required") return "the terms are empty; write them first";
      if (f.detail?.startsWith("at most")) return `the terms are too long: at most ${maxTermsLen.toLocaleString("en-GB")} characters`;
      if (f.detail?.startsWith("has no visible")) return "the terms have no letters, digits or symbols";
    }
    if (e.status === 503) return "the service is not answering just now; your text stays here: wait a minute and press Save again";
    if (e.status === 404 || (e.status === 403 && e.problem.type !== ProblemTypeBase + ("account-disabled" satisfies ProblemType))) {
      return "you can no longer change the terms of this case (you may have been recused or removed from it); reload the page to see where it stands";
    }
  }
  return staffWords(e);
}

/** "A", "A and B", "A, B and C". */
const listWords = (xs: string[]) => xs.length <= 1 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];

/** A person's role in the terms table, in words as everyone is named (names.ts): "Tenant", "Tenant's lawyer", "Observer". */
const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * A mediator's panel: who has accepted the case's terms and acknowledged each
 * disclosure, and an editor for the case's terms. Only mediators see it.
 */
export async function renderConsentPanel(el: HTMLElement, caseID: string, c: Case, saved = ""): Promise<void> {
  el.setAttribute("aria-labelledby", "consent-panel-title");
  let view: TermsView;
  try { view = await consentAPI.terms(caseID); } catch { el.replaceChildren(h("h2", { id: "consent-panel-title" }, "Terms and disclosures"), h("p", { class: "error" }, "Could not load who has accepted the terms. Reload the page to try again.")); return; }
  const side = (id?: string) => c.sides.find((s) => s.id === id)?.label ?? "";
  const people = view.people ?? [];
  // Who has not accepted, built here from each person's role and side (the server's "missing" is words for programs).
  const waiting = people.filter((p) => !p.accepted).map((p) =>
    personName(p.name, p.role, side(p.side)));
  const rows = people.map((p) => h("tr", { "data-person": p.accountId },
    h("td", {}, p.name), h("td", {}, capital(roleName(p.role, side(p.side)))),
    h("td", { class: p.accepted ? "verified" : "" }, p.accepted ? `Accepted ${when(p.accepted.recorded)}` : "Not yet")));
  const table = people.length
    ? h("table", { id: "terms-table" }, h("caption", {}, `Who has accepted version ${view.terms.version} of the terms`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Person"), h("th", { scope: "col" }, "Role"), h("th", { scope: "col" }, "Terms"))), h("tbody", {}, ...rows))
    : h("p", {}, "Nobody has joined yet; everyone who joins is asked to accept the terms.");
  const summary = h("p", { id: "terms-summary", class: view.complete ? "verified" : "note" }, view.complete
    ? (people.length ? "Everyone has accepted the terms: the opening session can start." : "")
    : `The opening session waits until ${waiting.length === 1 ? "this person accepts" : "these people accept"} the terms: ${listWords(waiting)}.`);
  const parties = c.participants.filter((p) => p.role !== "observer");
  const disc = h("ul", { class: "docs", id: "disclosure-acks" }, ...c.disclosures.map((d) => {
    const acked = parties.filter((p) => (d.acks ?? []).some((a) => a.accountId === p.accountId)).map((p) => p.name);
    const not = parties.filter((p) => !(d.acks ?? []).some((a) => a.accountId === p.accountId)).map((p) => p.name);
    return h("li", { "data-disclosure": d.id }, h("p", {}, d.text),
      h("p", { class: "meta" }, `Acknowledged by: ${acked.join(", ") || "nobody yet"}. Not yet: ${not.join(", ") || "nobody"}.`));
  }));
  const ta = h("textarea", { id: "terms-edit", rows: "8", maxlength: String(maxTermsLen) }) as HTMLTextAreaElement;
  ta.value = view.terms.text;
  const msg = h("p", { id: "terms-edit-status", role: "status", "aria-live": "polite" }, saved);
  const save = h("button", { type: "button", id: "terms-save" }, "Save the terms") as HTMLButtonElement;
  const ask = h("div", { id: "terms-save-box" });
  const doSave = async () => {
    ask.replaceChildren();
    save.hidden = false;
    save.disabled = true;
    try {
      const v = await consentAPI.setTerms(caseID, ta.value);
      await renderConsentPanel(el, caseID, c, `Saved as version ${v.terms.version}. Every party, lawyer and observer of this case is asked to accept it before the opening session.`);
      el.querySelector("details")?.setAttribute("open", "");
    } catch (e) {
      msg.textContent = "Not saved: " + termsRefusal(e) + ".";
      msg.className = "error";
      save.disabled = false;
    }
  };
  // Terms someone accepted are replaced only after a question in the page naming whose acceptance stops counting.
  save.onclick = async () => {
    const accepted = people.filter((p) => p.accepted).map((p) => personName(p.name, p.role, side(p.side)));
    if (!accepted.length) { await doSave(); return; }
    const v = view.terms.version;
    const yes = h("button", { type: "button", class: "primary", id: "terms-save-confirm", onclick: () => void doSave() }, `Save as version ${v + 1}`);
    const no = h("button", { type: "button", id: "terms-save-cancel", onclick: () => { ask.replaceChildren(); save.hidden = false; save.focus(); } }, "Cancel");
    ask.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-labelledby": "terms-save-q", "aria-describedby": "terms-save-what" },
      h("p", { id: "terms-save-q", tabindex: "-1" }, h("strong", {}, `Save the terms as version ${v + 1}?`)),
      h("ul", { id: "terms-save-what" },
        h("li", {}, `${listWords(accepted)} already accepted version ${v}. ${accepted.length === 1 ? "That acceptance no longer counts" : "Those acceptances no longer count"}: everyone must accept version ${v + 1} before the opening session.`),
        h("li", {}, "Every party, lawyer and observer of this case is shown the new terms and asked to accept them.")),
      h("div", { class: "row" }, yes, no)));
    save.hidden = true;
    document.getElementById("terms-save-q")?.focus(); // not the button: Enter pressed twice must not save
  };
  el.replaceChildren(h("h2", { id: "consent-panel-title" }, "Terms and disclosures"),
    h("p", { class: "note" }, "Only the mediators of this case see this list. Each acceptance is signed by the person's own device."),
    table, summary,
    h("h3", {}, "Disclosures"),
    c.disclosures.length ? disc : h("p", {}, "No disclosures yet."),
    h("details", {}, h("summary", {}, "Edit the terms"),
      h("label", { for: "terms-edit" }, `Terms of this case (version ${view.terms.version}). Saved terms are shown to every party, lawyer and observer of this case.`),
      ta, h("div", {}, save), ask, msg));
}
