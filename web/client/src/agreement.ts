// The settlement agreement of a case (package agreement on the server).
// A mediator starts it from one of the program's templates, with the case's
// parties and objectives filled in, edits it in a text box and saves
// versions; everyone in the joint room reads every version, sees what
// changed between two versions (a line diff), and comments (a joint-room
// message, end-to-end encrypted like any other, whose body starts
// "[agreement vN] "). Each party and lawyer signs the current version on
// their own device: this browser's device key signs the canonical
// statement of e2ee/agreement.go over the SHA-256 of the text it shows.
// A signature on a version that was replaced is refused, in plain words.
// "Check the signatures" verifies every signature here, in the browser,
// against the text this browser hashed itself and the devices it verified
// in the key directory (each key must be the signer's own device).
import { call, casePath, APIError, plainWords, saysInternal } from "./api";
import type { Agreement, AgreementSignRequest, AgreementSignature, AgreementTemplates, AgreementVersion } from "./wire_gen";
import type { DeviceKeys, Devices } from "./e2ee";
import * as P from "./primitives";
import { b64, hex, unb64 } from "./wire";
import { h, stamp } from "./dom";
import { latest } from "./latest";
import { roleName } from "./names";
import { unconfirmedWords } from "./secure";

const path = (id: string) => casePath(id) + "/agreement";
const agreementAPI = {
  templates: () => call<AgreementTemplates>("GET", "/api/v1/agreement-templates"),
  get: (id: string) => call<Agreement>("GET", path(id)),
  start: (id: string, template: string, outcome: string) => call<Agreement>("POST", path(id), { template, outcome }),
  save: (id: string, base: number, text: string) => call<Agreement>("POST", path(id) + "/versions", { base, text }),
  version: (id: string, v: number) => call<AgreementVersion>("GET", `${path(id)}/versions/${v}`),
  sign: (id: string, req: AgreementSignRequest) => call<Agreement>("POST", path(id) + "/sign", req),
};

/** The comment convention (agreement.CommentBody in Go). */
export const commentBody = (v: number, text: string) => `[agreement v${v}] ${text}`;
/** A comment on a version as the joint room's conversation shows it: "Comment on version 3 of the agreement: …". */
export function commentWords(body: string): string {
  const c = parseComment(body);
  return c ? `Comment on version ${c.v} of the agreement: ${c.text}` : body;
}
export function parseComment(body: string): { v: number; text: string } | null {
  const m = /^\[agreement v([1-9][0-9]*)\] ([\s\S]*)$/.exec(body);
  return m ? { v: Number(m[1]), text: m[2] } : null;
}

/** The canonical statement a device signs (Go's e2ee.AgreementSignature.Statement). */
export function agreementStatement(caseID: string, doc: string, version: number, textSHA: string, outcome: string, account: string, role: string,
  device: string, deviceKey: string, at: number): string {
  return "parley agreement signature v1\n" + [["case", caseID], ["document", doc], ["version", String(version)], ["text-sha256", textSHA],
    ["outcome", outcome], ["account", account], ["role", role], ["device", device], ["device-key", deviceKey], ["at", String(at)]]
    .map(([k, v]) => `${k}: ${v}\n`).join("");
}
const LABEL = "parley/agreement-signature/v1\x00";
const enc = new TextEncoder();
const sha = async (text: string) => hex(await P.sha256(enc.encode(text)));

/** A line diff (longest common subsequence of lines). Texts too long to compare cheaply say so. */
export function lineDiff(a: string, b: string): { op: " " | "-" | "+"; line: string }[] | null {
  const x = a.split("\n"), y = b.split("\n");
  if (x.length * y.length > 4_000_000) return null;
  const n = x.length, m = y.length;
  const L: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = x[i] === y[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const out: { op: " " | "-" | "+"; line: string }[] = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) { out.push({ op: " ", line: x[i] }); i++; j++; }
    else if (L[i + 1][j] >= L[i][j + 1]) out.push({ op: "-", line: x[i++] });
    else out.push({ op: "+", line: y[j++] });
  }
  while (i < n) out.push({ op: "-", line: x[i++] });
  while (j < m) out.push({ op: "+", line: y[j++] });
  return out;
}

export interface AgreementContext {
  caseID: string;
  caseTitle: () => string;
  keys: DeviceKeys;
  /** Sends a comment to the joint room (end-to-end encrypted). */
  comment: (body: string) => Promise<void>;
  /**
   * The room on the screen, in words ("your private caucus"), or "" when it
   * is the joint room: a comment sent from anywhere else asks first, since
   * it goes to the joint room, not to the room being read.
   */
  looking: () => string;
  /** "Visible to: everyone in this mediation: …" for the joint room. */
  visibleTo: () => string;
  /**
   * The case's devices as this browser verified them (SecureCase.refresh:
   * the key directory's log proofs, the first devices it pinned, and who
   * linked which device), fetched again for each check.
   */
  devices: () => Promise<Devices>;
}

const when = (t: string | number) => stamp(t); // with its zone: the signers may be in different ones
/**
 * A signer's role in words, as everyone is named (names.ts): a party by
 * their side's label ("Tenant"), a lawyer as that side's lawyer
 * ("Tenant's lawyer"). The server sends the side's label, not its id.
 */
const roleWords = (s: { role: string; side?: string }) => roleName(s.role, s.side ?? "");
/** A signer as the viewer reads them: "Jordan Blake (Tenant's lawyer)", "Lars Lindqvist (Landlord)", or "You (Tenant)" for their own row. */
const signerWords = (s: { accountId: string; name: string; role: string; side?: string }, me: string) =>
  `${s.accountId === me ? "You" : s.name} (${roleWords(s)})`;

// What a refused signature means, by the field the server named, in words
// that say what to do (the server's detail describes the field for
// programs: "an Ed25519 signature in base64 (64 bytes)").
const signFieldWords: Record<string, string> = {
  signature: "this browser's signature could not be checked. Reload the page and sign again; if this keeps happening, tell your mediator",
  device: "this browser's signature could not be checked. Reload the page and sign again; if this keeps happening, tell your mediator",
  signedAt: "the clock on this device is more than 15 minutes wrong. Set the correct date and time on this device, then sign again",
  sha256: "the text this page shows is not the one the server holds now. Reload the page, read the agreement again, then sign if you agree with it",
  version: "the version this page shows is not the current one. Reload the page, read the current version, then sign if you agree with it",
};

/**
 * Whether a failed save, draft or filing may have happened after all: the
 * server stored the text but storage did not confirm it (503
 * upload-unconfirmed), or it failed in a way that does not say how far it
 * got (a 5xx other than a plain 503, where nothing was added).
 */
function mayHaveHappened(e: unknown): boolean {
  if (!(e instanceof APIError)) return false;
  return (e.problem.type ?? "").endsWith(":upload-unconfirmed") || (e.status >= 500 && e.status !== 503);
}

/** unsure: the words for an answer that leaves open whether it happened (mayHaveHappened). */
function plainError(e: unknown, what: string, unsure?: string): string {
  if (unsure && mayHaveHappened(e)) return unsure;
  if (e instanceof APIError) {
    const f = e.problem.errors?.[0];
    if (e.status === 400 && what === "Not signed") {
      return `${what}: ${(f && signFieldWords[f.field]) ?? "this browser's signature could not be checked. Reload the page and sign again; if this keeps happening, tell your mediator"}.`;
    }
    if (e.status === 403) return `${what}: this is not allowed for you here.`;
    if (e.status === 400 && f && !saysInternal(f.detail)) return `${what}: ${f.detail.replace(/\.$/, "")}.`;
    if (e.status >= 500) return `${what}: the server could not do it just now. Please try again in a moment.`;
    if (e.status === 400) return `${what}: please reload the page and try again.`;
    return `${what}: ${plainWords(e)}.`;
  }
  if (e instanceof TypeError) return `${what}: the server could not be reached; check your connection and try again.`;
  return `${what}. Please reload the page and try again.`;
}

/**
 * Why a comment was not sent, or that it may have been: the server not
 * confirming it in time leaves open whether it reached the joint room (the
 * others may read it already), and this browser's own sentences (the room
 * closed, the case closed while sending) are said as they are.
 */
function commentError(e: unknown): string {
  if (e instanceof Error && e.message === unconfirmedWords) {
    return "Parley did not confirm your comment, so it may or may not have reached the joint room. If it does not appear under this version within a minute, send it again.";
  }
  if (e instanceof Error && !(e instanceof APIError) && !(e instanceof TypeError) && e.message && !saysInternal(e.message)) {
    return `Not sent: ${plainWords(e).replace(/\.$/, "")}.`;
  }
  return plainError(e, "Not sent");
}

const comments = new Map<number, { who: string; text: string; at: number }[]>();
let redraw: (() => void) | null = null;
// The cases whose agreement comment is being sent: the page drawn again
// meanwhile keeps its Send button off, so one comment cannot go twice.
const commentSending = new Set<string>();
// When the pointer went down on the agreement's Save button (0: it is not
// down). Let go anywhere, on Save or elsewhere, it is cleared after that
// event's click, if any: a missed click can never leave it set.
let savePressedAt = 0;
let listening = false;
const letGo = () => { if (savePressedAt) setTimeout(() => { savePressedAt = 0; }, 0); };
// What the signatures on the agreement are: a check of them holds until this changes.
const signaturesKey = (ag: Agreement) => JSON.stringify([ag.current.version, ag.signers.map((s) => [s.accountId, s.signed ?? null])]);

/** noteMessage shows a joint-room message that comments on a version under that version. */
export function noteMessage(room: string, body: string | undefined, who: string, at: number): void {
  if (room !== "joint" || !body) return;
  const c = parseComment(body);
  if (!c) return;
  comments.set(c.v, [...(comments.get(c.v) ?? []), { who, text: c.text, at }]);
  redraw?.();
}

/** mountAgreement draws the agreement section and keeps it current (a poll while the page is visible). */
export function mountAgreement(el: HTMLElement, ctx: AgreementContext): void {
  el.setAttribute("aria-labelledby", "agreement-title");
  let a: Agreement | null = null;
  let missing = false;
  // The editor is in use while its text box has the focus, while a press on
  // Save has not been let go (a redraw then would take the button away
  // before its click) and while a save is on its way; redraws wait for it.
  // Derived each time, never a flag that a missed event could leave set
  // (a press let go outside the window counts for 10 s at most).
  let saving = false;
  const editing = () => saving || (savePressedAt > 0 && Date.now() - savePressedAt < 10_000) ||
    (document.activeElement instanceof HTMLTextAreaElement && document.activeElement.id === "agreement-edit" && el.contains(document.activeElement));
  if (!listening) {
    listening = true;
    document.addEventListener("pointerup", letGo, true);
    document.addEventListener("pointercancel", letGo, true);
  }
  let shown = 0; // the version being read (0: the current one)
  let readVersion = 0; // the version this person ticked "I have read" for (0: none)
  let confirming = 0; // the version whose "Sign version N?" confirmation is open (0: none)
  // The mediator's open question in the page (save over signatures or a newer version, discard, file), for version
  // askedAt; kept across redraws, and dropped once it no longer applies (another version, the agreement filed).
  let asking: "" | "save" | "discard" | "file" = "";
  let askedAt = 0;
  let filing = false; // the filing is on its way: a redraw meanwhile keeps File off
  let signing = false; // a signature is on its way: a redraw meanwhile keeps Sign off
  let draft = { v: 0, text: "" }; // a comment being written, kept across redraws (a poll, a signature arriving)
  let commentAsk = 0; // the version whose "Post this comment in the joint room?" is open (0: none), kept across redraws
  let edit = { base: 0, text: "" }; // the mediator's unsaved text (made on version base), kept across redraws and a failed save
  let skipped = false; // a redraw skipped while the editor had the focus: the next poll draws it
  let shownText = "";
  // Which two versions are compared (0: the default, the current one and the one before) and what the comparison showed; kept across redraws.
  const compare = { from: 0, to: 0 };
  const diffOut = h("div", { id: "agreement-diff", "aria-live": "polite" });
  // What "Check the signatures" found, kept across redraws while the signatures it checked stay the same.
  const checkOut = h("div", { id: "agreement-check", "aria-live": "polite" });
  let checkedFor = "";
  const status = h("p", { id: "agreement-status", role: "status", "aria-live": "polite" });
  const say = (text: string, error = false) => { status.textContent = text; status.className = error ? "error" : ""; };

  // Every answer about the agreement is numbered: a poll's when it is asked,
  // a write's (draft, save, sign, file) when it arrives, since it holds what
  // the server has after the write. An answer older than the one taken is
  // dropped: a poll asked before a write and answered after it (a slow
  // network, a loaded server) would otherwise put back what was there before
  // the write — "no agreement yet" after the draft, which took the editor
  // away, with the mediator's changes, under her next save.
  const order = latest();
  const take = (got: Agreement, n = order.ask()): boolean => {
    if (!order.take(n)) return false;
    missing = got.state === "none";
    a = missing ? null : got;
    return true;
  };
  /** Reads the agreement; false when a newer answer arrived meanwhile (this one is dropped). */
  const load = async (): Promise<boolean> => {
    const n = order.ask();
    return take(await agreementAPI.get(ctx.caseID), n);
  };
  let drawing = 0; // the draws begun: one that waited (the templates) draws nothing once a newer one began

  async function draw() {
    if (editing()) { skipped = true; return; }
    skipped = false;
    const turn = ++drawing;
    const head = h("h2", { id: "agreement-title" }, "Settlement agreement");
    if (!a) {
      if (!missing) return;
      const parts: (Node | string)[] = [head, h("p", {}, "There is no written agreement in this case yet.")];
      // Only mediators may start one; a party's screen just says so.
      const tmpl = isMediatorView ? await agreementAPI.templates().catch(() => null) : null;
      if (turn !== drawing) return;
      if (!isMediatorView) parts.push(h("p", { class: "note" }, "When the mediator drafts one, it appears here for everyone in the joint room to read, comment on and sign."));
      if (tmpl) {
        const sel = h("select", { id: "agreement-template" }, ...tmpl.templates.map((t) => h("option", { value: t.id }, t.title))) as HTMLSelectElement;
        const kind = h("select", { id: "agreement-outcome" }, h("option", { value: "full-agreement" }, "Settles the whole dispute"),
          h("option", { value: "partial-agreement" }, "Settles part of the dispute")) as HTMLSelectElement;
        const go = h("button", { type: "button", id: "agreement-start", class: "primary" }, "Draft the agreement") as HTMLButtonElement;
        go.onclick = async () => {
          go.disabled = true;
          try { take(await agreementAPI.start(ctx.caseID, sel.value, kind.value)); say("Drafted from the template as version 1. Everyone in the joint room can read it."); }
          catch (e) { say(plainError(e, "Not drafted", "We can't tell yet whether the agreement was drafted. It appears here by itself if it was; wait a minute before drafting it again."), true); go.disabled = false; }
          await draw();
        };
        parts.push(h("label", { for: "agreement-template" }, "Start from the template"), sel,
          h("label", { for: "agreement-outcome" }, "What it settles (recorded as the case's outcome when it is filed)"), kind,
          h("p", { class: "note" }, "The case's parties, their lawyers and its objectives are filled in. The draft is shared with everyone in the joint room: " + ctx.visibleTo().replace(/^Visible to: /, "") + "."),
          h("div", {}, go));
      }
      el.replaceChildren(...parts, status);
      return;
    }
    const ag = a;
    const cur = ag.current.version;
    const v = shown || cur;
    if (v === cur) shownText = ag.current.text ?? "";
    const stateWords = ag.state === "signed" ? "Signed by everyone." : ag.state === "signing" ? "Being signed." : "Not signed by anyone yet.";
    // The picker names the version only (with when it was saved and by whom
    // the closed picker ran past a phone's width and was cut off); the
    // line under it says when the version shown was saved, and by whom.
    const versions = h("select", { id: "agreement-version", "aria-describedby": "agreement-version-saved" }, ...ag.versions.slice().reverse().map((x) =>
      h("option", { value: String(x.version), selected: x.version === v }, `Version ${x.version}${x.version === cur ? " (current)" : ""}`))) as HTMLSelectElement;
    const shownVersion = ag.versions.find((x) => x.version === v);
    const saved = h("p", { class: "note", id: "agreement-version-saved" }, shownVersion ? `Version ${v} was saved ${when(shownVersion.saved)} by ${shownVersion.by}.` : "");
    versions.onchange = async () => {
      const n = Number(versions.value);
      try { shownText = n === cur ? ag.current.text ?? "" : (await agreementAPI.version(ctx.caseID, n)).text ?? ""; shown = n === cur ? 0 : n; }
      catch (e) { say(plainError(e, "Could not open that version"), true); }
      await draw();
      document.getElementById("agreement-version")?.focus();
    };
    const text = h("pre", { class: "agreement-text", id: "agreement-text", tabindex: "0", "aria-label": `Agreement, version ${v}` }, shownText);
    const parts: (Node | string)[] = [head,
      h("p", { class: "banner room-joint" }, h("strong", {}, ctx.visibleTo()), h("span", { class: "note" }, " — every version, every comment and who signed.")),
      h("p", { id: "agreement-state" }, `${ag.title}, version ${cur}. ${stateWords}`),
      h("label", { for: "agreement-version" }, "Read version"), versions, saved];
    if (v !== cur) parts.push(h("p", { class: "note", id: "agreement-old" }, `This is version ${v}; version ${cur} replaced it. Only version ${cur} can be signed.`));
    parts.push(text);

    // What changed between two versions.
    if (ag.versions.length > 1) {
      // The versions chosen survive a redraw; untouched, they follow the current version.
      const has = (n: number) => ag.versions.some((x) => x.version === n);
      const fromV = has(compare.from) ? compare.from : cur - 1, toV = has(compare.to) ? compare.to : cur;
      const from = h("select", { id: "diff-from" }, ...ag.versions.map((x) => h("option", { value: String(x.version), selected: x.version === fromV }, `Version ${x.version}`))) as HTMLSelectElement;
      const to = h("select", { id: "diff-to" }, ...ag.versions.map((x) => h("option", { value: String(x.version), selected: x.version === toV }, `Version ${x.version}`))) as HTMLSelectElement;
      from.onchange = () => { compare.from = Number(from.value); };
      to.onchange = () => { compare.to = Number(to.value); };
      const out = diffOut;
      const show = h("button", { type: "button", id: "diff-show" }, "Show what changed") as HTMLButtonElement;
      show.onclick = async () => {
        try {
          const [x, y] = await Promise.all([agreementAPI.version(ctx.caseID, Number(from.value)), agreementAPI.version(ctx.caseID, Number(to.value))]);
          const d = lineDiff(x.text ?? "", y.text ?? "");
          if (!d) { out.replaceChildren(h("p", {}, "These versions are too long to compare here.")); return; }
          const changed = d.filter((l) => l.op !== " ").length;
          out.replaceChildren(h("p", { class: "note" }, changed ? `Lines removed from version ${x.version} are marked "removed", lines added in version ${y.version} "added".` : "The two versions are the same."),
            h("ol", { class: "diff", "aria-label": `Changes from version ${x.version} to version ${y.version}` }, ...d.filter((l, i) =>
              l.op !== " " || d.slice(Math.max(0, i - 1), i + 2).some((n) => n.op !== " ")).map((l) =>
              h("li", { class: l.op === "+" ? "added" : l.op === "-" ? "removed" : "same" },
                h("span", { class: "visually-hidden" }, l.op === "+" ? "added: " : l.op === "-" ? "removed: " : ""), l.line || " "))));
        } catch (e) { out.replaceChildren(h("p", { class: "error" }, plainError(e, "Could not compare"))); }
      };
      parts.push(h("details", { id: "agreement-compare" }, h("summary", {}, "Compare versions"),
        h("div", { class: "row" }, h("label", { for: "diff-from" }, "From"), from, h("label", { for: "diff-to" }, "to"), to, show), out));
    }

    // Comments on the version shown (joint-room messages).
    const list = comments.get(v) ?? [];
    const note = h("textarea", { id: "agreement-comment", rows: "2", maxlength: "4000" }) as HTMLTextAreaElement;
    // The comment being typed survives a redraw as long as the same version is shown.
    if (draft.v === v) note.value = draft.text;
    note.oninput = () => { draft = { v, text: note.value }; };
    const send = h("button", { type: "button", id: "agreement-comment-send", disabled: commentSending.has(ctx.caseID) }, `Send comment to everyone`) as HTMLButtonElement;
    const noComment = h("p", { class: "error", id: "agreement-comment-missing", role: "alert" });
    send.setAttribute("aria-describedby", "agreement-comment-missing");
    note.addEventListener("input", () => { if (note.value.trim()) noComment.textContent = ""; });
    const post = async () => {
      if (commentSending.has(ctx.caseID)) return; // one comment at a time: a redraw meanwhile must not send it twice
      commentSending.add(ctx.caseID);
      send.disabled = true;
      const text = (draft.v === v ? draft.text : note.value).trim();
      try {
        await ctx.comment(commentBody(v, text));
        if (draft.v === v && draft.text.trim() === text) draft = { v: 0, text: "" };
        // The box on the page now (a redraw while sending drew a new one).
        for (const box of [note, el.querySelector<HTMLTextAreaElement>("#agreement-comment")]) if (box && box.value.trim() === text) box.value = "";
        say("Your comment is in the joint room, encrypted for everyone in it.");
      } catch (e) { say(commentError(e), true); }
      finally {
        commentSending.delete(ctx.caseID);
        send.disabled = false;
        // The button drawn again meanwhile waited for this comment.
        const now = el.querySelector<HTMLButtonElement>("#agreement-comment-send");
        if (now) now.disabled = false;
      }
    };
    send.onclick = async () => {
      if (!note.value.trim()) { noComment.textContent = "Type your comment in the box first: there is nothing to send yet."; note.focus(); return; }
      draft = { v, text: note.value };
      // Read in a caucus (or any room but the joint one), a comment would
      // reach the other side without the person noticing where it goes:
      // asked first, the focus on the question (Enter pressed twice must
      // not post it), as an upload to a wider place is.
      if (ctx.looking()) {
        commentAsk = v;
        await draw();
        document.getElementById("agreement-comment-question")?.focus();
        return;
      }
      await post();
    };
    const looking = ctx.looking();
    const question = commentAsk === v && looking ? h("div", { class: "confirm", role: "alertdialog", id: "agreement-comment-ask", "aria-labelledby": "agreement-comment-question" },
      h("p", { id: "agreement-comment-question", tabindex: "-1" }, h("strong", {}, "Post this comment in the joint room? "),
        `Everyone, including the other side, will read it. You are looking at ${looking}.`),
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", id: "agreement-comment-confirm", onclick: async () => {
          commentAsk = 0;
          const sent = post(); // marked as sending before the redraw, which then draws Send turned off
          await draw();
          document.getElementById("agreement-comment")?.focus();
          await sent;
        } }, "Yes, post it to everyone"),
        h("button", { type: "button", id: "agreement-comment-cancel", onclick: async () => { commentAsk = 0; await draw(); document.getElementById("agreement-comment-send")?.focus(); } }, "Cancel"))) : "";
    parts.push(h("section", { id: "agreement-comments", "aria-labelledby": "agreement-comments-title" },
      h("h3", { id: "agreement-comments-title" }, `Comments on version ${v}`),
      list.length ? h("ul", { class: "docs" }, ...list.map((c) => h("li", {}, h("span", { class: "meta" }, `${when(c.at)} · ${c.who}`), h("br"), c.text)))
        : h("p", {}, "No comments on this version yet."),
      isObserver ? h("p", { class: "note" }, "Observers read the agreement and do not comment.") : h("div", {},
        h("label", { for: "agreement-comment" }, `Your comment on version ${v} (sent to the joint room: everyone in this mediation reads it)`), note, h("div", {}, send), noComment, question)));

    // Who signs.
    parts.push(h("h3", {}, `Who signs version ${cur}`),
      h("ul", { id: "agreement-signers", class: "docs" }, ...ag.signers.map((s) => h("li", { "data-signer": s.name, class: s.signed ? "verified" : "" },
        `${signerWords(s, ctx.keys.account)}: `, s.signed ? `signed ${when(s.signed.signedAt)}` : "not yet"))));
    if ((ag.superseded ?? []).length) parts.push(h("p", { class: "note", id: "agreement-superseded" },
      ag.superseded!.length === 1
        ? `1 signature on an earlier version no longer counts: the text changed after it was signed, so everyone signs version ${cur}.`
        : `${ag.superseded!.length} signatures on earlier versions no longer count: the text changed after they signed, so everyone signs version ${cur}.`));

    // Sign (parties and lawyers), on this device.
    const mine = ag.signers.find((s) => s.accountId === ctx.keys.account);
    if (ag.maySign && mine && !mine.signed && !ag.filed) parts.push(signBox(ag, v, shownText));
    if (mine?.signed) parts.push(h("p", { class: "verified", id: "agreement-mine" }, `You signed version ${cur} on ${when(mine.signed.signedAt)}.`));

    // Check, download, file.
    if (ag.signers.some((s) => s.signed)) {
      const out = checkOut;
      // A check holds only for the signatures it checked: a signature or a version since clears it.
      const key = signaturesKey(ag);
      if (checkedFor !== key) { out.replaceChildren(); checkedFor = ""; }
      const chk = h("button", { type: "button", id: "agreement-verify" }, "Check the signatures") as HTMLButtonElement;
      chk.onclick = async () => {
        let found: HTMLElement;
        try { found = await checkSignatures(ctx.caseID, ag, await ctx.devices()); } catch (e) {
          found = h("p", { id: "agreement-check-summary", class: "error" }, "The signatures could not be checked: this browser could not verify the case's devices. " + plainError(e, "Not checked"));
        }
        if (a && signaturesKey(a) !== key) {
          found = h("p", { id: "agreement-check-summary", class: "note" }, "The signatures changed while they were being checked. Check them again.");
          checkedFor = "";
        } else checkedFor = key;
        out.replaceChildren(found);
      };
      parts.push(h("div", { class: "row" }, chk), out);
    }
    if (ag.state === "signed") {
      parts.push(h("p", {}, h("a", { id: "agreement-pdf", href: path(ctx.caseID) + "/pdf", download: `settlement-agreement-v${cur}.pdf` }, `Download the signed agreement (PDF, version ${cur})`),
        " — it carries the text and every signature."));
    }
    // What staff may need (which device key signed, how to check the PDF
    // outside Parley), out of a party's way.
    const keyed = ag.signers.filter((s) => s.signed);
    if (keyed.length) {
      parts.push(h("details", { id: "agreement-technical" }, h("summary", {}, "Technical details"),
        h("ul", { class: "docs" }, ...keyed.map((s) => h("li", {}, `${s.name} (${roleWords(s)}) signed with the device key ${s.signed!.fingerprint}.`))),
        ag.state === "signed" ? h("p", { class: "note" }, "The signed PDF carries the text and every signature, so anyone can check it with the command “parley agreement verify”.") : ""));
    }

    // The mediator's editor.
    if (ag.mayDraft && !ag.filed) {
      const ta = h("textarea", { id: "agreement-edit", rows: "16" }) as HTMLTextAreaElement;
      // Unsaved changes survive a redraw (a comment or a signature arriving, a failed save).
      ta.value = edit.base ? edit.text : ag.current.text ?? "";
      ta.oninput = () => { edit = { base: edit.base || cur, text: ta.value }; discard.hidden = unsaved.hidden = false; };
      const save = h("button", { type: "button", id: "agreement-save", class: "primary" }, `Save as version ${cur + 1}`) as HTMLButtonElement;
      save.onpointerdown = () => { savePressedAt = Date.now(); };
      const signedBy = ag.signers.filter((s) => s.signed).map((s) => s.name);
      const stale = !!edit.base && edit.base !== cur;
      const doSave = async () => {
        asking = "";
        save.disabled = true;
        saving = true;
        try { take(await agreementAPI.save(ctx.caseID, cur, ta.value)); shown = 0; edit = { base: 0, text: "" }; say(`Saved as version ${cur + 1}. Everyone in the joint room can read it${signedBy.length ? "; everyone signs it again" : ""}.`); }
        catch (e) {
          say(plainError(e, "Not saved", `We can't tell yet whether your text was saved as version ${cur + 1}. Look at the versions under “Read version” in a minute before saving again; your text stays in the editor.`), true);
          save.disabled = false;
        }
        finally { saving = false; }
        await draw();
      };
      save.onclick = async () => {
        savePressedAt = 0;
        // Changes begun on an older version, or a version someone signed, are replaced only after a question in the
        // page that names what goes (the server checks the base too).
        if (stale || signedBy.length) { await ask("save", cur); return; }
        await doSave();
      };
      // Unsaved changes can be dropped, after a confirmation that says what goes.
      const discard = h("button", { type: "button", id: "agreement-discard" }, "Discard my changes") as HTMLButtonElement;
      const unsaved = h("p", { class: "note", id: "agreement-unsaved" }, "Not saved yet: only you see these changes until you save them.");
      discard.hidden = unsaved.hidden = !edit.base;
      discard.onclick = () => ask("discard", cur);
      const doDiscard = async () => {
        asking = "";
        edit = { base: 0, text: "" };
        say("Your unsaved changes were discarded.");
        await draw();
        document.getElementById("agreement-save")?.focus();
      };
      const everyone = ctx.visibleTo().replace(/^Visible to: /, "");
      const question = asking === "save" && askedAt === cur && (stale || signedBy.length) ? askBox("save", `Save your text as version ${cur + 1}?`, [
        stale ? `Version ${cur} was saved since you began your changes on version ${edit.base}. Saving makes version ${cur + 1} from your text, which replaces what version ${cur} changed.` : "",
        signedBy.length ? `${signedBy.join(", ")} signed version ${cur}. ${signedBy.length === 1 ? "That signature" : "Those signatures"} will no longer count: everyone signs version ${cur + 1} again.` : "",
        `Version ${cur + 1} is shared with ${everyone}.`,
      ], `Save as version ${cur + 1}`, doSave)
        : asking === "discard" && askedAt === cur && edit.base ? askBox("discard", "Discard your unsaved changes to the agreement?", [
          `The editor goes back to the text of version ${cur}.`,
          "What you typed is not kept anywhere, and you cannot get it back. Nobody else saw it.",
        ], "Discard my changes", doDiscard, "Keep editing") : null;
      if (question) save.hidden = discard.hidden = true;
      parts.push(h("details", { id: "agreement-editor" }, h("summary", {}, "Edit the agreement"),
        h("label", { for: "agreement-edit" }, `The text of version ${cur}. Saving makes version ${cur + 1}, which everyone in the joint room reads.`),
        stale ? h("p", { class: "error", id: "agreement-edit-stale" }, `Your unsaved changes were made to version ${edit.base}; version ${cur} was saved since. Compare the versions before you save.`) : "", ta,
        unsaved, h("div", {}, save, " ", discard), question ?? ""));
    }
    if (ag.mayDraft && ag.state === "signed" && !ag.filed) {
      const file = h("button", { type: "button", id: "agreement-file", disabled: filing }, "File the signed agreement") as HTMLButtonElement;
      file.onclick = () => ask("file", cur);
      const doFile = async () => {
        if (filing) return;
        asking = "";
        filing = true;
        await draw();
        try { take((await call<{ agreement: Agreement }>("POST", path(ctx.caseID) + "/file", { sessions: 0, hours: 0 })).agreement); say("Filed. The signed PDF is with the case's documents."); }
        catch (e) { say(plainError(e, "Not filed", "We can't tell yet whether the agreement was filed. Wait a minute: this page says so by itself if it was; file it again only if it does not."), true); }
        finally { filing = false; }
        await draw();
      };
      const question = asking === "file" && askedAt === cur ? askBox("file", `File version ${cur} of the agreement, signed by everyone?`, [
        `Its signed PDF becomes one of the case's documents, shared with ${ctx.visibleTo().replace(/^Visible to: /, "")}.`,
        "The agreement can no longer change, and nobody signs it again. This cannot be undone.",
        "When the case is closed, it records the case's outcome.",
      ], `File version ${cur}`, doFile) : null;
      if (question) file.hidden = true;
      parts.push(h("div", {}, file, question ?? ""));
    }
    if (!(ag.mayDraft && !ag.filed) || (asking === "file" && ag.state !== "signed")) asking = "";
    if (ag.filed) parts.push(h("p", { class: "note", id: "agreement-filed" }, "The signed agreement is filed with the case's documents; it no longer changes."));
    const open = el.querySelector("#agreement-editor")?.hasAttribute("open");
    const openTech = el.querySelector("#agreement-technical")?.hasAttribute("open");
    const openCompare = el.querySelector("#agreement-compare")?.hasAttribute("open");
    // The focus stays where it was (the tick on the terms, the Sign button,
    // a picker), and someone typing a comment keeps the cursor where it was.
    const active = document.activeElement;
    const focused = active instanceof HTMLElement && active !== el && el.contains(active) && active.id ? active.id : "";
    const typing = active instanceof HTMLTextAreaElement ? [active.selectionStart, active.selectionEnd] : null;
    el.replaceChildren(...parts, status);
    if (open) el.querySelector("#agreement-editor")?.setAttribute("open", "");
    if (openCompare) el.querySelector("#agreement-compare")?.setAttribute("open", "");
    if (openTech) el.querySelector("#agreement-technical")?.setAttribute("open", "");
    const again = focused ? el.querySelector<HTMLElement>("#" + CSS.escape(focused)) : null;
    if (again) {
      again.focus({ preventScroll: true });
      if (typing && again instanceof HTMLTextAreaElement) again.setSelectionRange(typing[0], typing[1]);
    }
  }

  /**
   * Opens the mediator's question what (for version v) in the page and puts
   * the focus on the question, not on its confirming button: Enter pressed
   * twice must not save, discard or file.
   */
  async function ask(what: "save" | "discard" | "file", v: number): Promise<void> {
    asking = what;
    askedAt = v;
    await draw();
    document.getElementById(`agreement-${what}-question`)?.focus();
  }

  /**
   * A deliberate confirmation in the page (the markup of the signing box's): the question, what it will do and who
   * will see it, a button naming the act and one to go back (the focus returns to the button that asked).
   */
  function askBox(what: "save" | "discard" | "file", question: string, lines: string[], act: string, yes: () => Promise<void>, no = "Cancel"): HTMLElement {
    const back = async () => { asking = ""; await draw(); document.getElementById("agreement-" + what)?.focus(); };
    return h("div", { class: "confirm", role: "alertdialog", id: `agreement-${what}-ask`, "aria-labelledby": `agreement-${what}-question`, "aria-describedby": `agreement-${what}-what` },
      h("p", { id: `agreement-${what}-question`, tabindex: "-1" }, h("strong", {}, question)),
      h("ul", { id: `agreement-${what}-what` }, ...lines.filter((l) => l).map((l) => h("li", {}, l))),
      h("div", { class: "row" },
        h("button", { type: "button", class: what === "discard" ? "danger" : "primary", id: `agreement-${what}-confirm`, onclick: () => void yes() }, act),
        h("button", { type: "button", id: `agreement-${what}-cancel`, onclick: () => void back() }, no)));
  }

  /**
   * The signing box: the text this browser shows, hashed here, signed by
   * this device after a deliberate confirmation in the page that names the
   * version, says who will see it and that it cannot be taken back, and
   * warns (without stopping anyone) when the text still has [blanks].
   */
  function signBox(ag: Agreement, v: number, text: string): HTMLElement {
    const cur = ag.current.version;
    const box = h("input", { type: "checkbox", id: "agreement-read" }) as HTMLInputElement;
    const btn = h("button", { type: "button", id: "agreement-sign", class: "primary", disabled: true, "aria-describedby": "agreement-sign-missing" }, `Sign version ${v}…`) as HTMLButtonElement;
    // While Sign is off, it says why, next to it.
    const missing = h("p", { class: "note", id: "agreement-sign-missing" });
    const ready = () => {
      btn.disabled = !box.checked || signing;
      missing.textContent = signing ? "Your signature is being recorded…" : box.checked ? "" : `Tick “I have read version ${v} and I agree to it” first.`;
    };
    // The tick and an open confirmation survive a redraw (another
    // person's signature arriving) as long as the same version is shown.
    box.checked = readVersion === v;
    ready();
    box.onchange = () => {
      readVersion = box.checked ? v : 0;
      ready();
      if (!box.checked && confirming) { confirming = 0; void draw(); }
    };
    btn.onclick = async () => {
      confirming = v;
      await draw();
      // The question has the focus, not the button: Enter pressed twice must not sign.
      document.getElementById("agreement-sign-question")?.focus();
    };
    const sign = async () => {
      if (signing) return;
      confirming = 0;
      signing = true;
      const yes = document.getElementById("agreement-sign-confirm") as HTMLButtonElement | null;
      if (yes) yes.disabled = true;
      say("Signing on this device and recording your signature…");
      try {
        const textSHA = await sha(text);
        const at = Date.now();
        const role = ag.signers.find((s) => s.accountId === ctx.keys.account)?.role ?? "";
        const st = agreementStatement(ctx.caseID, ag.document, v, textSHA, ag.outcome, ctx.keys.account, role, ctx.keys.id, b64(ctx.keys.record.sigPub), at);
        const sig = await P.ed25519Sign(ctx.keys.sig, enc.encode(LABEL + st));
        take(await agreementAPI.sign(ctx.caseID, { version: v, sha256: textSHA, device: ctx.keys.id, signedAt: at, signature: b64(sig) }));
        say(`You signed version ${v}. Everyone in this mediation sees that you signed.`);
      } catch (e) {
        const type = e instanceof APIError ? (e.problem.type ?? "").replace(/^urn:parley:problem:/, "") : "";
        if (e instanceof APIError && e.status === 409) {
          // A conflict is told apart by its type: only a replaced version
          // means "read the new one".
          if (type === "agreement-superseded") {
            say(`Not signed: version ${v} is no longer the agreement — the mediator saved a new version. Read the new version and sign that one if you agree with it.`, true);
            shown = 0;
          } else if (type === "agreement-filed") {
            say("Not signed: the agreement was already signed by everyone and filed, so there is nothing left to sign.", true);
          } else {
            say(`Not signed: ${plainWords(e)}.`, true);
          }
          await load().catch(() => {});
        } else say(plainError(e, "Not signed"), true);
      } finally {
        signing = false;
      }
      await draw();
    };
    // Blanks left in [square brackets] ("[amount owed, payment plan, dates]"): said, not enforced.
    const blanks = text.match(/\[[^\]\n]{1,200}\]/g) ?? [];
    const asking = confirming === v ? h("div", { class: "confirm", role: "alertdialog", id: "agreement-sign-ask", "aria-labelledby": "agreement-sign-question" },
      h("p", { id: "agreement-sign-question", tabindex: "-1" }, h("strong", {}, `Sign version ${v} of the agreement for “${ctx.caseTitle()}”?`),
        " Everyone, including the other side, will see that you signed. You cannot take a signature back."),
      blanks.length ? h("p", { class: "error", id: "agreement-sign-blanks" }, blanks.length === 1
        ? `This version still has a blank to fill in: “${blanks[0]}”. You can still sign, but ask the mediator first if you are not sure what it means.`
        : `This version still has ${blanks.length} blanks to fill in, such as “${blanks[0]}”. You can still sign, but ask the mediator first if you are not sure what they mean.`) : "",
      h("div", { class: "row" },
        h("button", { type: "button", class: "primary", id: "agreement-sign-confirm", onclick: () => void sign() }, `Sign version ${v}`),
        h("button", { type: "button", id: "agreement-sign-cancel", onclick: async () => { confirming = 0; await draw(); document.getElementById("agreement-sign")?.focus(); } }, "Cancel"))) : null;
    if (asking) btn.hidden = true;
    return h("section", { id: "agreement-sign-box", class: "confirm", "aria-labelledby": "agreement-sign-title" },
      h("h3", { id: "agreement-sign-title" }, `Sign version ${v}`),
      v !== cur ? h("p", { class: "note" }, `You are reading version ${v}; version ${cur} replaced it.`) : "",
      h("p", {}, "Signing records that you agree to this text. It is signed on this device, and everyone in this mediation — the other side too — sees that you signed, and when. A signature cannot be taken back."),
      h("label", { for: "agreement-read" }, box, ` I have read version ${v} and I agree to it`), h("div", {}, btn), missing, asking);
  }

  let isMediatorView = false;
  let isObserver = false;
  redraw = () => { void draw(); };
  const tick = async () => {
    if (document.visibilityState !== "visible" || editing()) return;
    const before = JSON.stringify(a);
    const was = a?.current.version;
    // Dropped (a write's answer arrived meanwhile): that write drew the page and said what it did.
    const fresh = await load().catch(() => false);
    // A new version: what the status said about the old one no longer holds.
    if (fresh && a && was && a.current.version !== was && status.className !== "error") say("");
    if ((fresh && JSON.stringify(a) !== before) || skipped) await draw();
  };
  void (async () => {
    const c = await call<{ mediators: { accountId: string }[]; participants: { accountId: string; role: string }[] }>("GET", casePath(ctx.caseID));
    isMediatorView = c.mediators.some((m) => m.accountId === ctx.keys.account);
    isObserver = c.participants.some((p) => p.accountId === ctx.keys.account && p.role === "observer");
    await load();
    await draw();
    setInterval(() => void tick(), 4000);
  })().catch((e) => { el.replaceChildren(h("h2", { id: "agreement-title" }, "Settlement agreement"), h("p", { class: "error" }, plainError(e, "Could not load the agreement"))); });
}

/** How a device key is shown (Go's agreement.Fingerprint): the first 16 bytes of its SHA-256, hex, in groups of four. */
export async function keyFingerprint(key: Uint8Array): Promise<string> {
  return (hex(await P.sha256(key)).slice(0, 32).match(/.{4}/g) ?? []).join(" ");
}

/**
 * Why one signature does not sign this version for this signer, or "" when
 * it does. Nothing the server says is taken on its word: the statement is
 * rebuilt from the row's account, the current version and the hash this
 * browser computed; the key must be that account's registered device as
 * this browser verified the key directory, counting by the account's own
 * chain (its first device, or linked from one: what the server requires of
 * a consent), not merely a key the server names.
 */
export async function signatureProblem(caseID: string, ag: Agreement, textSHA: string, account: string, role: string, g: AgreementSignature, dir: Devices): Promise<string> {
  const version = ag.current.version;
  if (g.accountId !== account) return "the signature is another person's";
  if (g.version !== version) return `the signature is on version ${g.version}, not ${version}`;
  if (g.sha256 !== textSHA) return "the signature is on another text";
  const rec = dir.record(account, g.device);
  if (!rec || !dir.ownChain(account, g.device)) return "the signing key is not one of their own registered devices";
  if (b64(rec.sigPub) !== g.deviceKey) return "the signing key is not their registered device's key";
  const st = agreementStatement(caseID, ag.document, version, textSHA, ag.outcome, account, role, rec.id, b64(rec.sigPub), g.signedAt);
  if (!await P.ed25519Verify(rec.sigPub, enc.encode(LABEL + st), unb64(g.signature))) return "the signature does not verify";
  return "";
}

/** Checks every signature on the current version here, against the text this browser hashes itself and the devices it verified. */
async function checkSignatures(caseID: string, ag: Agreement, dir: Devices): Promise<HTMLElement> {
  const text = ag.current.text ?? "";
  const mine = await sha(text);
  const rows: HTMLElement[] = [];
  // The device key each signature checked out with, for staff (behind "Technical details").
  const keys: HTMLElement[] = [];
  let all = true;
  for (const s of ag.signers) {
    const g: AgreementSignature | undefined = s.signed;
    if (!g) { rows.push(h("li", {}, `${s.name} (${roleWords(s)}): has not signed version ${ag.current.version} yet.`)); all = false; continue; }
    const why = await signatureProblem(caseID, ag, mine, s.accountId, s.role, g, dir);
    if (why) all = false;
    else keys.push(h("li", {}, `${s.name} (${roleWords(s)}): device key ${await keyFingerprint(unb64(g.deviceKey))}`));
    rows.push(h("li", { class: why ? "error" : "verified", "data-checked": s.name },
      !why ? `${s.name} (${roleWords(s)}) signed this text on ${when(g.signedAt)} with their own device: the signature checks out.`
        : `${s.name}'s signature does NOT check out: ${why}. Tell the mediator.`));
  }
  return h("div", {}, h("p", { id: "agreement-check-summary", class: all ? "verified" : "note" }, all
    ? `Every signature on version ${ag.current.version} checks out, here in your browser, against the text you see and each person's own devices.`
    : "Not every signature is there, or one does not check out:"), h("ul", { class: "docs" }, ...rows),
    keys.length ? h("details", { class: "agreement-check-technical" }, h("summary", {}, "Technical details of this check"),
      h("p", { class: "note" }, "The device keys the signatures checked out with:"), h("ul", { class: "docs" }, ...keys)) : "");
}
