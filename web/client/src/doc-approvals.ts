// Asking a side before its own material is shown wider. A document a
// party or lawyer added to their side's caucus leaves the side only once a
// party or lawyer of that side allowed exactly that share (this document
// as it stands — its latest version and every earlier one not erased, each
// named to the side — and this audience), even after a move within the side (to the
// mediators only, to the side's people by name); the server refuses the
// share otherwise (policy/vault.cedar, vault/approval.go). A request names
// the side asked (r.side): a document with both sides' material has one
// request per side. A mediator's
// share that needs it offers "Ask the Tenant side to allow showing …"
// instead of a confirmation; the side's parties and lawyers see the
// request in words, naming the document and who would see it, and allow
// or decline after a confirmation; the mediator's page follows (waiting,
// allowed, declined, expired). A document a mediator added is theirs: no
// request.
import { api, APIError, Document } from "./api";
import type * as W from "./wire_gen";
import type { DeviceKeys } from "./e2ee";
import { signShareAnswer } from "./consent";
import { h, stamp } from "./dom";
import { latest } from "./latest";

export interface ApprovalsContext {
  caseID: string;
  meID: string;
  mediator: boolean;
  c: () => W.Case;
  roomTitle: (room: string) => string;
  personWords: (account: string) => string;
  errText: (e: unknown) => string;
  /** The documents as last listed (for their names). */
  docs: () => Document[];
  /** This browser's device keys: a side's answer is signed with them, as terms and acknowledgements are. */
  keys?: DeviceKeys;
  /**
   * Whether this device may give the side's consent: a device of the
   * account's own chain (its first, or one linked from it), not one a
   * mediator let in (the server refuses its answer). False: the request
   * says so up front instead of offering Allow… and Decline….
   */
  mayConsent?: () => boolean;
}

export interface Approvals {
  /** Fetch the requests; true when they changed since the last load. */
  load(): Promise<boolean>;
  /** Draw the requests box (the side's questions, the mediator's follow-up). */
  render(): void;
  /** A mediator's share that needs the side's approval: the panel that asks (in place of a confirmation). */
  askPanel(d: Document, name: string, to: string, side: string, done: () => void): HTMLElement;
}

function sideName(ctx: ApprovalsContext, side: string): string {
  return ctx.c().sides.find((s) => s.id === side)?.label ?? side;
}

/** Who an audience is, in words for a request: "everyone in the joint room". */
export function audienceWords(ctx: ApprovalsContext, a: string): string {
  if (a === "joint") return "everyone in the joint room";
  if (a === "mediators") return "the mediators only";
  if (a.startsWith("caucus:")) return `the ${sideName(ctx, a.slice(7))} side, in the ${ctx.roomTitle(a)}`;
  if (a.startsWith("user:")) return a.slice(5).split(",").map(ctx.personWords).join(", ");
  return a;
}

/** When, with the zone: a request's deadline is read by a side that may be in another zone than the mediator. */
const dayWords = (iso: string) => stamp(iso);

export function mountApprovals(box: HTMLElement, ctx: ApprovalsContext): Approvals {
  let reqs: W.DocShareRequest[] = [];
  let print = "";
  let failed = "";
  /** The request whose answer is being confirmed (kept across redraws). */
  let confirming: { id: string; allow: boolean } | null = null;
  let note = "";

  const docName = (id: string) => ctx.docs().find((d) => d.id === id)?.name;
  /** The name the request's latest version has (the request names every version it shows). */
  /** The newest name among the versions the request shows the reader (a version added outside their side comes unnamed). */
  const reqName = (r: W.DocShareRequest, fallback: string) => r.shows.find((v) => v.name)?.name || docName(r.doc) || fallback;
  /** One version in words: its name, or what it is when the reader may not see the name. */
  const versionWords = (v: W.VersionInfo) => v.name ? `“${v.name}”` : "a version added outside your side, which you cannot open";
  /** The earlier versions a share would show too, in words: "“Draft.pdf” (version 1, 5 Dec 2026, 10:29 GMT)". */
  const earlierWords = (r: W.DocShareRequest) =>
    r.shows.slice(1).map((v) => `${versionWords(v)} (version ${v.version}${v.name ? ", " + dayWords(v.created) : ""})`);
  /** Who could open it once allowed, as a sentence ending in "will be able to open <it>." */
  const gainingWords = (r: W.DocShareRequest, it = "it") => {
    const names = r.gaining.map((p) => ctx.personWords(p.accountId));
    const later = r.to === "joint" ? ", and anyone who joins the case later," : "";
    if (names.length) return `${names.join(", ")}${later} will be able to open ${it}.`;
    return r.to === "joint" ? `Nobody else has joined yet; everyone who joins later will be able to open ${it}.` : `Nobody who has joined yet will be able to open ${it}.`;
  };

  /** Why an answer was refused, in words that say what to do. */
  const answerError = (e: unknown) => {
    if (e instanceof APIError && e.status === 403 && /joined this mediation after/.test(e.problem.detail ?? ""))
      return "you joined this mediation after the mediator asked, so someone who was already on your side then must answer it";
    if (e instanceof APIError && e.status === 403 && /device cannot sign for your account/.test(e.problem.detail ?? ""))
      return "this phone or computer cannot give your consent. Answer from a phone or computer you have used before for this mediation, or link this one from it under “Your devices” (one your mediator let in for you cannot give it)";
    if (e instanceof APIError && e.status === 400 && ["signature", "device"].includes(e.problem.errors?.[0]?.field ?? ""))
      return "this browser's signature on it could not be checked. Reload the page and try again; if this keeps happening, tell your mediator";
    if (e instanceof APIError && e.status === 400 && e.problem.errors?.[0]?.field === "signedAt")
      return "the clock on this device is more than 15 minutes wrong. Set the correct date and time on this device, then try again";
    if (e instanceof APIError && e.status === 403)
      return "you can no longer answer this request: you may have left this mediation or your side. Ask your mediator";
    return ctx.errText(e);
  };

  async function answer(r: W.DocShareRequest, allow: boolean) {
    try {
      if (!ctx.keys) throw new Error("this page has no key for this device yet; reload the page and try again");
      await api.answerShare(ctx.caseID, r.doc, r.id, await signShareAnswer(ctx.keys, ctx.caseID, r, allow));
      const name = docName(r.doc) ?? "the document";
      note = allow ? `You allowed the mediator to show “${name}” to ${audienceWords(ctx, r.to)}.` : `You declined: “${name}” stays within your side.`;
      confirming = null;
      await load();
    } catch (e) {
      note = "";
      confirming = null;
      failed = "Your answer was not recorded: " + answerError(e) + ".";
    }
    render();
  }

  /** The side's view of one request: the question, then a deliberate confirmation. */
  function sideItem(r: W.DocShareRequest): HTMLElement | null {
    const name = reqName(r, "a document of your caucus");
    const asker = ctx.personWords(r.requestedBy);
    const to = audienceWords(ctx, r.to);
    const earlier = earlierWords(r);
    // A share moves the whole document: its earlier versions go too.
    const what = earlier.length === 0 ? `“${name}”`
      : `${versionWords(r.shows[0])} and its earlier ${earlier.length === 1 ? "version" : "versions"} ${earlier.join(", ")}`;
    if (r.status !== "pending") {
      const by = r.decidedBy ? ctx.personWords(r.decidedBy) : "";
      const words = r.status === "approved" ? `${by} allowed the mediator to show “${name}” to ${to}.`
        : r.status === "declined" ? `${by} declined showing “${name}” to ${to}; it stays within your side.`
          : `The mediator's request to show “${name}” to ${to} expired unanswered; it stays within your side.`;
      return h("li", { class: "note share-request-done", "data-request": r.id }, words.charAt(0).toUpperCase() + words.slice(1));
    }
    const li = h("li", { class: "share-request", "data-request": r.id },
      h("p", { class: "share-request-words" },
        `${asker.charAt(0).toUpperCase() + asker.slice(1)} asks your side to allow showing “${name}” to ${to}. ` +
        (r.gaining.length ? `If you allow it, ${gainingWords(r)}` : gainingWords(r))),
      earlier.length ? h("div", { class: "share-request-versions" },
        h("p", {}, `This document has ${earlier.length + 1} versions, and allowing it shows every one of them, not only the latest:`),
        h("ul", {}, ...r.shows.map((v, i) => h("li", {}, `${versionWords(v)} — version ${v.version}${i === 0 ? " (the latest)" : ""}${v.name ? ", added " + dayWords(v.created) : ""}`))),
        h("p", { class: "note" }, "If an earlier version should stay within your side, decline, and tell the mediator which version may be shown.")) : "",
      h("p", { class: "note" }, `Until a party or lawyer of your side allows it, it stays within your side. The request expires on ${dayWords(r.expires)}.`));
    if (confirming?.id === r.id) {
      const yes = h("button", { type: "button", class: "primary share-request-yes", onclick: () => void answer(r, confirming!.allow) },
        confirming.allow ? "Yes, allow it" : "Yes, decline");
      li.append(h("div", { class: "confirm", role: "alertdialog", "aria-label": confirming.allow ? "Confirm allowing the share" : "Confirm declining the share", "aria-describedby": "share-request-confirm-" + r.id },
        h("p", { id: "share-request-confirm-" + r.id, tabindex: "-1" }, confirming.allow
          ? `Allow the mediator to show ${what} to ${to}${r.gaining.length ? " — " : ". "}${gainingWords(r, earlier.length ? "every one of them" : "it")} This cannot be undone.`
          : `Decline showing “${name}” to ${to}? It stays within your side; the mediator is told you declined.`),
        h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => { confirming = null; render(); } }, "Cancel"))));
      // The question has the focus, not the button: Enter pressed twice must not answer.
      queueMicrotask(() => document.getElementById("share-request-confirm-" + r.id)?.focus());
    } else if (ctx.mayConsent && !ctx.mayConsent()) {
      // Said before anything is pressed: an answer from here would be refused.
      li.append(h("p", { class: "share-request-elsewhere" }, h("strong", {}, "You cannot answer this on this phone or computer. "),
        "Your consent can only be given from a phone or computer you have used before for this mediation, or one you linked from it under “Your devices” " +
        "(one your mediator let in for you cannot give it). Answer there, or ask someone else on your side to answer."));
    } else {
      li.append(h("div", { class: "row" },
        h("button", { type: "button", class: "share-request-allow", onclick: () => { confirming = { id: r.id, allow: true }; note = ""; render(); } }, "Allow…"),
        h("button", { type: "button", class: "share-request-decline", onclick: () => { confirming = { id: r.id, allow: false }; note = ""; render(); } }, "Decline…")));
    }
    return li;
  }

  /** The mediator's view of one request: what the side answered. */
  function mediatorItem(r: W.DocShareRequest): HTMLElement {
    const name = reqName(r, "a document");
    const side = sideName(ctx, r.side);
    const to = audienceWords(ctx, r.to);
    const by = r.decidedBy ? ctx.personWords(r.decidedBy) : "";
    const shown = ctx.docs().find((d) => d.id === r.doc)?.audience === r.to;
    const words = r.status === "pending" ? `Waiting for the ${side} side to allow showing “${name}” to ${to} (asked ${dayWords(r.requested)}; it expires ${dayWords(r.expires)}).`
      : r.status === "approved" ? (shown ? `“${name}” is shown to ${to}, as ${by} allowed.` : `${by} allowed showing “${name}”${r.shows.length > 1 ? ` (all ${r.shows.length} versions)` : ""} to ${to}: share it with that place now to show it.`)
        : r.status === "declined" ? `${by} declined showing “${name}” to ${to}. It stays within the ${side} side.`
          : `Nobody of the ${side} side answered within a week: the request to show “${name}” to ${to} expired. You can ask again.`;
    return h("li", { class: "share-request-status share-request-" + r.status, "data-request": r.id }, words.charAt(0).toUpperCase() + words.slice(1));
  }

  function render() {
    const mine = ctx.c().participants.find((p) => p.accountId === ctx.meID)?.side;
    const shown = ctx.mediator ? reqs : reqs.filter((r) => r.side === mine);
    if (!shown.length && !failed && !note) { box.replaceChildren(); return; }
    const pending = shown.filter((r) => r.status === "pending").length;
    box.replaceChildren(
      h("h3", { id: "share-requests-title" }, ctx.mediator ? "Asking a side before showing its documents"
        : pending ? `The mediator asks your side's permission (${pending})` : "The mediator's requests to show your documents"),
      failed ? h("p", { class: "error", role: "alert" }, failed) : "",
      note ? h("p", { class: "note", role: "status", id: "share-request-note" }, note) : "",
      h("ul", { class: "share-requests", "aria-labelledby": "share-requests-title" },
        ...shown.slice(0, 10).map((r) => ctx.mediator ? mediatorItem(r) : sideItem(r))));
  }

  // A load asked before an answer (or a request) and answered after it is
  // dropped: it would put the request back as pending and ask again.
  const order = latest();
  async function load(): Promise<boolean> {
    const n = order.ask();
    const next = await api.shareRequests(ctx.caseID);
    if (!order.take(n)) return false;
    const p = JSON.stringify(next.map((r) => [r.id, r.status, r.decidedBy ?? "", r.gaining.map((g) => g.accountId)]));
    failed = "";
    if (p === print) return false;
    print = p;
    reqs = next;
    return true;
  }

  function askPanel(d: Document, name: string, to: string, side: string, done: () => void): HTMLElement {
    const label = sideName(ctx, side);
    const words = audienceWords(ctx, to);
    const out = h("p", { role: "status", class: "note" });
    const btn = h("button", {
      type: "button", class: "primary share-ask",
      onclick: async () => {
        btn.disabled = true;
        try {
          const r = await api.askShare(ctx.caseID, d.id, to);
          out.textContent = r.status === "approved"
            ? `The ${label} side has already allowed it: share it again to show it.`
            : `Asked. The ${label} side's parties and lawyers see the request; this page says when they answer.`;
          btn.remove();
          await load();
          render();
        } catch (e) {
          out.textContent = "";
          out.append(h("span", { class: "error" }, "The request was not sent: " + ctx.errText(e)));
          btn.disabled = false;
        }
      },
    }, `Ask the ${label} side to allow showing “${name}” to ${words}`) as HTMLButtonElement;
    return h("div", { class: "confirm share-needs-approval", role: "alertdialog", "aria-label": "The side must allow this first", "aria-describedby": "share-needs-" + d.id },
      h("p", { id: "share-needs-" + d.id },
        `The ${label} side added “${name}” to their caucus. It can be shown to ${words} only after a party or lawyer of the ${label} side allows it: their words are theirs to share.`),
      h("div", { class: "row" }, btn, h("button", { type: "button", onclick: () => done() }, "Cancel")), out);
  }

  return { load, render, askPanel };
}
