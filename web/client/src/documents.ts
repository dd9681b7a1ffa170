// The case's documents in the browser: the documents of the room being
// read (or, when asked, every document the person may see), an upload form
// that offers only the audiences policy lets this person upload to (the
// server answers which, GET …/documents/upload-options) with progress, and
// for mediators a share that first says who gains access, invited people
// who have not joined yet included.
//
// Live: the room socket carries no document event (documents are not
// room messages and the vault announces nothing), so the list is polled,
// bounded: one policy-filtered listing every POLL_MS while the page is
// visible, none while it is hidden, one at once when it becomes visible
// again, and slower after a failure. A listing that did not change leaves
// the page alone (a half-filled form or an open confirmation stays).
import { api, Case, Document } from "./api";
import type { ShareResult, UploadAudience, UploadOptions } from "./wire_gen";
import * as W from "./wire_gen";
import type { DocSession } from "./docs-e2ee";
import type { DeviceKeys } from "./e2ee";
import { CannotLockYet, downloadE2EE, forgetDecrypted, relabelledWords, signedAudience, sweepTemporary, unverifiedNameWords, uploadE2EE, verifiedVersion, wrapsForShare } from "./docs-e2ee-ui";
import { pinnable, RelabelledError } from "./docs-e2ee";
import { unb64 } from "./wire";
import { definedRoom } from "./e2ee";
import { downloadPlain } from "./docs-e2ee-ui";
import { newcomerWords, wrapForNewcomers } from "./docs-newcomers";
import { mountUpgrade } from "./docs-upgrade";
import { mountApprovals } from "./doc-approvals";
import { h, stamp } from "./dom";
import { latest } from "./latest";
import { personName } from "./names";

/** How often a visible page asks for the case's documents. */
export const POLL_MS = 5000;
const POLL_AFTER_FAILURE_MS = 30000;
/** A mediator's device looks for devices lacking a document key at least this often (docs-newcomers.ts). */
const NEWCOMERS_MS = 60000;

/** What the documents screen needs from the case screen (app.ts). */
export interface DocsContext {
  caseID: string;
  /** This browser's device keys (a side's answer to a share request is signed with them). */
  keys?: DeviceKeys;
  meID: string;
  mediator: boolean;
  c: () => Case;
  /** The room being read: its documents are listed first. */
  room: () => string;
  roomTitle: (room: string) => string;
  roomClass: (audience: string) => string;
  /** The "Visible to: …" words for an audience, from the case as it is now. */
  visibleTo: (audience: string) => string;
  /** The accounts who can read an audience (the people "Visible to" names). */
  membersOf: (audience: string) => string[];
  /** The coloured banner naming who can read an audience. */
  banner: (audience: string, what: string) => HTMLElement;
  /** How the viewer reads a person ("you", "your lawyer …"). */
  personWords: (account: string) => string;
  errText: (e: unknown) => string;
  /** This device's end-to-end session, its membership chain brought up to date (docs-e2ee-ui.ts); absent: no E2EE documents here. */
  e2ee?: () => Promise<DocSession>;
  /** The session as last verified, without fetching anything (to notice a new statement or device cheaply). */
  verified?: () => DocSession | undefined;
}

export interface DocsScreen {
  /** The person switched rooms (same: the room shown was drawn again): list that room's documents. */
  roomChanged(same: boolean): void;
  /** The case changed (someone joined or left): recompute every "Visible to". */
  caseChanged(): void;
  /** List again now. */
  refresh(): Promise<void>;
}

const classWords: Record<string, string> = {
  evidence: "Evidence", correspondence: "Correspondence", agreement: "Agreement",
  admin: "Administrative", "mediator-notes": "Mediator notes",
};

function sizeWords(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10240 ? 1 : 0)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(1)} GB`;
}

const dateWords = (iso: string) => stamp(iso);

// A refused upload's field (the server's detail describes it for programs:
// "required", "one of agreement, evidence, …") as what the person can do.
const uploadFieldWords: Record<string, string> = {
  name: "its file name cannot be used (it is empty, too long, or has unusual characters). Rename the file on your device and try again",
  class: "choose what kind of document it is from the list, then try again",
  audience: "it cannot be shared there. Choose one of the places offered, then try again",
  mediaType: "Parley could not tell what kind of file it is. Save it as a PDF or a picture and try again",
};

/**
 * An upload that may have been saved after all, or was saved though this
 * page could not read the answer: its words stand alone (not "… was not
 * uploaded"), and say to look before adding it again, so it is not added twice.
 */
export class UploadUnsure extends Error {}

/**
 * Words for an upload whose outcome is not known (the server stored its
 * contents but could not confirm the record, or answered in a way that
 * does not say): it may still appear.
 */
export function unsureWords(name: string): string {
  return `We can't tell yet whether “${name}” was saved. Look at the documents list in a minute before adding it again.`;
}

/** A failed upload in words: what happened and what the person can do. */
export function uploadErrorWords(status: number, body: string, maxSize: number, retryAfter = 0, name = "the document"): string {
  let p: Partial<W.Problem> = {};
  try { p = JSON.parse(body) as Partial<W.Problem>; } catch { /* not a problem */ }
  if (isUnsure(status, p)) return unsureWords(name);
  if (status === 0) return "The connection was lost during the upload, so nothing was saved. Check your connection and try again.";
  if (status === 413) return `The file is too large: the limit is ${sizeWords(maxSize)}. Nothing was saved.`;
  if (status === 401) return "Your session has ended, so nothing was saved. Sign in again and try once more.";
  if (status === 403 || status === 404) return "You cannot add a document there, so nothing was saved. Choose one of the places offered.";
  if (status === 400) return "The document was not accepted, so nothing was saved: " + (uploadFieldWords[p.errors?.[0]?.field ?? ""] ??
    "this browser could not send it properly. Reload the page and try again; if this keeps happening, tell your mediator") + ".";
  // Storage unavailable (503): refused before anything was added.
  if (status === 503) return "The server could not store the document just now, so nothing was saved. Try again in a minute.";
  if (status === 409 && p.type === W.ProblemTypeBase + ("document-limit" satisfies W.ProblemType)) {
    // The server's detail names the limit ("this case already has 1,000 documents, …").
    const most = /\b(\d[\d,]*) documents\b/.exec(p.detail ?? "")?.[1];
    if (most && (p.detail ?? "").includes("parties and lawyers")) {
      return `This case already holds ${most} documents, the most its parties and lawyers can add (the rest are kept for the mediators), so this one was not added. Ask the mediator to add it for you.`;
    }
    return `This case already holds ${most ? most + " documents, the most one case can hold" : "as many documents as one case can hold"}, so no more can be added. Ask the mediator how else to share this one.`;
  }
  if (status === 409) return "The document was not saved: it changed meanwhile (someone may have added a version just now). Reload the page and try again.";
  if (status === 429) {
    // One person's new documents a day ("you have added 100 new documents to this case in the last day, …").
    const most = /added (\d[\d,]*) new documents/.exec(p.detail ?? "")?.[1];
    if (most) {
      const when = new Date(Date.now() + retryAfter * 1000);
      const at = when.toLocaleString([], { weekday: "long", hour: "2-digit", minute: "2-digit", timeZoneName: "short" });
      return `The document was not saved: you have added ${most} new documents to this case today, the most one person can add in a day. You can add more from ${at}; new versions of documents already here can be added now.`;
    }
    // Uploads in progress at once ("you already have 4 uploads in progress, …").
    const inFlight = /already have (\d+) uploads in progress/.exec(p.detail ?? "")?.[1];
    if (inFlight) return `The document was not saved: you already have ${inFlight} uploads in progress (in this or another window or device), the most one person may have at once. Wait for one to finish, then try again.`;
    return "The document was not saved: there were too many attempts in a short time. Wait a minute and try again.";
  }
  if (status === 408) return "The upload stopped arriving, or arrived too slowly (the connection may have dropped), so nothing was saved. Check your connection and try again.";
  return "The document was not saved. Reload the page and try again.";
}

/**
 * Whether an answer leaves the upload's outcome open: the server stored
 * its contents but storage did not confirm the record (503
 * upload-unconfirmed), or the server failed in a way that does not say
 * how far it got (any other 5xx but a plain 503, where storage refused
 * before anything was added).
 */
function isUnsure(status: number, p: Partial<W.Problem>): boolean {
  if (p.type === W.ProblemTypeBase + ("upload-unconfirmed" satisfies W.ProblemType)) return true;
  return status >= 500 && status !== 503;
}

/**
 * Sends a file as the request body (the vault streams it), reporting
 * progress; resolves with the new document or rejects with words to show.
 */
function sendFile(caseID: string, file: File, audience: string, cls: string, maxSize: number,
  progress: (sent: number, total: number) => void, body: Blob = file, query: Record<string, string> = {}, headers: Record<string, string> = {},
  label: { name: string; mediaType: string } = { name: file.name, mediaType: file.type || "application/octet-stream" }): Promise<Document> {
  return new Promise((resolve, reject) => {
    const q = new URLSearchParams({ audience, class: cls, ...query });
    const x = new XMLHttpRequest();
    x.open("POST", `/api/v1/cases/${encodeURIComponent(caseID)}/documents?${q}`);
    x.withCredentials = true;
    x.setRequestHeader("Content-Type", label.mediaType);
    x.setRequestHeader(W.DocumentNameHeader, encodeURIComponent(label.name));
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : file.size);
    x.onload = () => {
      if (x.status === 201) {
        // Created: the server saved it, whatever became of its answer.
        try { resolve(JSON.parse(x.responseText) as Document); } catch {
          reject(new UploadUnsure(`“${file.name}” was saved, but this page could not read the server's answer. It will appear in the documents list in a minute; there is no need to add it again.`));
        }
      } else {
        const words = uploadErrorWords(x.status, x.responseText, maxSize, Number(x.getResponseHeader("Retry-After")) || 0, file.name);
        let p: Partial<W.Problem> = {};
        try { p = JSON.parse(x.responseText) as Partial<W.Problem>; } catch { /* not a problem */ }
        reject(isUnsure(x.status, p) ? new UploadUnsure(words) : new Error(words));
      }
    };
    x.onerror = () => reject(new Error(uploadErrorWords(0, "", maxSize)));
    x.onabort = () => reject(new Error("The upload was stopped, so nothing was saved."));
    x.send(body);
  });
}

/**
 * Who will see a document added for audience, under the form: the people the room names now and, for the joint
 * room, those who join later (an invitation not yet used names nobody yet, but its person opens the joint room's
 * documents once they join).
 */
function audienceWords(visibleTo: (audience: string) => string, audience: string): string {
  const now = visibleTo(audience);
  return audience === "joint" ? `${now}, and anyone who joins the case later (someone invited who has not joined yet, for example)` : now;
}

export function mountDocuments(sec: HTMLElement, ctx: DocsContext): DocsScreen {
  let docs: Document[] = [];
  let listed = ""; // the last listing's fingerprint
  let listErr = "";
  let showAll = false;
  let options: UploadOptions | null = null;
  let optionsErr = "";
  /** The upload form drawn last: its place follows a new room while a file is chosen (renderForm sets it). */
  let followRoom: ((room: string) => void) | null = null;
  const cards = new Map<string, HTMLElement>();
  const heading = h("h2", { id: "docs-title" }, "Documents");
  const scope = h("div", { class: "docs-scope" });
  const listBox = h("div", { id: "doc-list-box", "aria-live": "polite" });
  const formBox = h("div", { id: "doc-upload-box" });
  const newcomerBox = h("div", { class: "note", id: "doc-newcomers", role: "status" }); // empty: takes no room
  // A mediator's device upgrades server-encrypted documents to end to end (docs-upgrade.ts).
  const upgradeBox = h("div", { id: "doc-upgrade-box" });
  const upgrade = ctx.mediator && ctx.e2ee
    ? mountUpgrade(upgradeBox, { caseID: ctx.caseID, e2ee: ctx.e2ee, personWords: ctx.personWords, place: placeWords, refresh: () => refresh(true) })
    : null;
  // Requests to show a side's caucus documents wider: the side answers, the mediator follows (doc-approvals.ts).
  const requestsBox = h("div", { id: "doc-share-requests", "aria-live": "polite" });
  const approvals = mountApprovals(requestsBox, { caseID: ctx.caseID, meID: ctx.meID, mediator: ctx.mediator, c: ctx.c,
    roomTitle: ctx.roomTitle, personWords: ctx.personWords, errText: ctx.errText, docs: () => docs, keys: ctx.keys,
    mayConsent: () => { const s = ctx.verified?.(); return !s || !ctx.keys || s.dir.ownChain(ctx.keys.account, ctx.keys.id); } });
  sec.replaceChildren(heading, scope, newcomerBox, upgradeBox, requestsBox, listBox, formBox,
    h("p", { class: "note", id: "docs-who" }, "Parley shows every document only to the people named on it, and stores it encrypted. " +
      "Without the extra lock, Parley's service holds the key. With the extra lock, only those people's own phones and computers can open it, not even Parley's staff. This list updates by itself."));
  if (ctx.e2ee) {
    // Decrypted copies handed over are deleted a minute later, at sign-out,
    // or (best effort) when the page goes; what a closed page left is swept
    // here, in any tab (docs-e2ee-ui.ts).
    void sweepTemporary().catch(() => {});
    window.addEventListener("pagehide", () => { void forgetDecrypted(); });
  }

  /** Who this device encrypts for, from the case's signed membership (not the server's case record). */
  async function signedWho(audience: string): Promise<string> {
    const sess = await ctx.e2ee!();
    const who = signedAudience(sess, audience);
    if (!who) return "The extra lock cannot be used for these people yet: the mediator's device has not yet confirmed that they are in this case. Try again later, or leave the extra lock off.";
    // who: from the case's membership as the mediator's device signed it.
    return "With the extra lock, only these people can open it: " + who.map(ctx.personWords).join(", ") + ".";
  }

  const inRoom = (d: Document) => d.audience === ctx.room();
  const cardKey = (d: Document) => `${d.id}|${d.version}|${d.audience}|${d.held}|${d.uploader}|${d.name ?? ""}|${!!d.e2ee}|${d.erasedAt ?? !!d.erased}`;

  function nameOf(account: string): string {
    const c = ctx.c();
    const m = c.mediators.find((x) => x.accountId === account);
    if (m) return account === ctx.meID ? "you" : `the mediator ${m.name}`;
    const p = c.participants.find((x) => x.accountId === account);
    if (p) return ctx.personWords(account);
    return "someone no longer in this case";
  }

  /**
   * A document whose every version was erased under retention: said so,
   * with when, and nothing to open, download or share (its name and
   * content are gone, for everyone, not hidden from this reader).
   */
  function erasedCard(d: Document): HTMLElement {
    const when = d.erasedAt ? ` on ${dateWords(d.erasedAt)}` : "";
    return h("li", { class: (d.audience.startsWith("user:") ? "room-mediators" : ctx.roomClass(d.audience)) + " doc-erased", "data-doc": d.id },
      h("strong", { class: "doc-name" }, `A document erased${when} (its name and content are gone)`),
      h("p", { class: "note doc-meta" },
        `Added on ${dateWords(d.created)} · ${classWords[d.class] ?? d.class} · erased under the program's retention rules: nobody can open it any more` +
        (d.held ? " · on legal hold (kept until released)" : "")),
      ctx.banner(d.audience, "this document."));
  }

  function card(d: Document): HTMLElement {
    if (d.erased) return erasedCard(d);
    const name = d.name ?? "a document you cannot open";
    const li = h("li", { class: d.audience.startsWith("user:") ? "room-mediators" : ctx.roomClass(d.audience), "data-doc": d.id },
      h("strong", { class: "doc-name" }, name),
      h("p", { class: "note doc-meta" },
        h("span", { class: "doc-uploader" }, `Added by ${nameOf(d.uploader)}`),
        ` on ${dateWords(d.created)} · ${classWords[d.class] ?? d.class} · ${sizeWords(d.size)}` +
        (d.version > 1 ? ` · version ${d.version}` : "") + (d.held ? " · on legal hold (kept until released)" : "")),
      ctx.banner(d.audience, "this document."),
      d.canDownload && !d.e2ee ? plainDownload(d, name) : null,
      d.canDownload && d.e2ee ? (ctx.e2ee ? e2eeDownload(d, name) : e2eeNote(ctx.mediator)) : null);
    if (ctx.mediator && options && (!d.e2ee || ctx.e2ee)) li.append(shareControls(d, name));
    return li;
  }

  /** One kind of download button (plainDownload, e2eeDownload): its classes, its words and the step that fetches the file. */
  interface DownloadKind {
    /** Classes of the wrapper, the button, the status line and the error line (the tests find them by these). */
    cls: { wrap: string; btn: string; status: string; err: string };
    /** What the progress bar is doing, for screen readers ("Downloading", "Decrypting"). */
    barVerb: string;
    /** Said when the button is pressed. */
    starting: string;
    /** Gets the file, reporting its progress as a percentage and words; resolves with the words said once it is saved. */
    fetch: (report: (percent: number, words: string) => void) => Promise<{ file: Blob; done: string; keepBar: boolean }>;
    /** Shown above the button, if anything. */
    note?: HTMLElement;
  }

  /**
   * A download button with its progress bar, status and error lines: the
   * file is fetched by kind.fetch and handed to the browser to save only once
   * it all arrived; a refusal is said in words (ctx.errText) and nothing is saved.
   */
  function downloadButton(name: string, kind: DownloadKind): HTMLElement {
    const status = h("p", { class: `note ${kind.cls.status}`, role: "status" });
    const err = h("p", { class: `error ${kind.cls.err}`, role: "alert" });
    const bar = h("progress", { max: "100", value: "0", "aria-label": `${kind.barVerb} ${name}`, hidden: true }) as HTMLProgressElement;
    const btn = h("button", {
      type: "button", class: kind.cls.btn,
      onclick: async () => {
        btn.disabled = true;
        err.textContent = "";
        bar.hidden = false;
        bar.value = 0;
        status.textContent = kind.starting;
        try {
          const got = await kind.fetch((percent, words) => {
            bar.value = percent;
            status.textContent = words;
          });
          const url = URL.createObjectURL(got.file);
          const a = h("a", { href: url, download: name, hidden: true });
          document.body.append(a);
          a.click();
          a.remove();
          setTimeout(() => URL.revokeObjectURL(url), 60000);
          if (got.keepBar) bar.value = 100;
          else bar.hidden = true; // done: the words say so
          status.textContent = got.done;
        } catch (x) {
          bar.hidden = true;
          status.textContent = "";
          err.textContent = x instanceof Error && x.constructor === Error ? x.message : ctx.errText(x);
        } finally {
          btn.disabled = false;
        }
      },
    }, `Download “${name}”`) as HTMLButtonElement;
    return h("div", { class: kind.cls.wrap }, kind.note, btn, bar, status, err);
  }

  // A document the server can read: fetched first (not a bare link), so a
  // refusal — signed out, no longer shared, erased under retention — is
  // said in words and no file holding the server's answer is saved.
  function plainDownload(d: Document, name: string): HTMLElement {
    return downloadButton(name, {
      cls: { wrap: "doc-plain", btn: "doc-download", status: "doc-download-status", err: "doc-download-error" },
      barVerb: "Downloading",
      starting: `Downloading “${name}”…`,
      fetch: async (report) => {
        const file = await downloadPlain(ctx.caseID, d, (done, total) => {
          const pct = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 0;
          report(pct, total > 0 ? `Downloading “${name}”: ${pct}% (${sizeWords(done)} of ${sizeWords(total)})` : `Downloading “${name}”: ${sizeWords(done)}`);
        });
        return { file, done: `Downloaded “${name}”. Your browser is saving it.`, keepBar: false };
      },
    });
  }

  // An end-to-end encrypted document: decrypted and checked on this device,
  // and handed over only once all of it checked out (docs-e2ee-ui.ts).
  function e2eeDownload(d: Document, name: string): HTMLElement {
    return downloadButton(name, {
      cls: { wrap: "doc-e2ee", btn: "doc-e2ee-download", status: "doc-e2ee-status", err: "doc-e2ee-error" },
      barVerb: "Decrypting",
      starting: `Downloading and decrypting “${name}” on this device…`,
      note: h("p", { class: "note" }, "Encrypted on the device of the person who added it: only the devices of the people named above can open it; the server cannot."),
      fetch: async (report) => {
        const got = await downloadE2EE(ctx.caseID, await ctx.e2ee!(), d, (done, total) => {
          const pct = total ? Math.min(100, Math.floor((done / total) * 100)) : 100;
          report(pct, `Decrypting “${name}” on this device: ${pct}% (${sizeWords(done)} of ${sizeWords(total)})`);
        });
        return {
          file: got.file, keepBar: true,
          done: `Version ${got.version} of “${name}” was decrypted on this device and checked: it is exactly version ${got.version} as it was uploaded` +
            (got.nameVerified ? ", under the name its uploader's device signed. Your browser is saving it." : `. Your browser is saving it. ${unverifiedNameWords(name)}`),
        };
      },
    });
  }

  // A document encrypted on a device (end to end): this browser does not
  // open or share it yet, so it says where that can be done instead of
  // offering a download that would save unreadable bytes.
  function e2eeNote(mediator: boolean): HTMLElement {
    return h("p", { class: "note doc-e2ee" },
      "Encrypted on the device of the person who added it: only the devices of the people named above can open it. " +
      "This browser cannot open it yet; open it with the Parley command-line app on a computer set up for this case" +
      (mediator ? ", which is also where it can be shared." : "."));
  }

  function shareControls(d: Document, name: string): HTMLElement {
    const id = "share-" + d.id;
    const targets = (options?.audiences ?? []).map((a) => a.audience).filter((a) => a !== d.audience);
    const sel = h("select", { id }, ...targets.map((a) => h("option", { value: a }, placeWords(a)))) as HTMLSelectElement;
    const out = h("div", { "aria-live": "polite" });
    const ask = async () => {
      let dry: ShareResult;
      try { dry = await api.share(ctx.caseID, d.id, sel.value, true); } catch (e) { out.replaceChildren(h("p", { class: "error" }, ctx.errText(e))); return; }
      const gain = dry.gaining.map((p) => ctx.personWords(p.accountId));
      const lose = dry.losing.map((p) => ctx.personWords(p.accountId));
      const invited = (dry.invited ?? []).map((p) => invitedWords(p));
      // An end-to-end encrypted document: what this device itself checked
      // (the signed key's audience, version, signer and time, and the name
      // and type its uploader's device bound) and who its new keys go to
      // (the signed membership). Size and dates come from the server.
      let checked: HTMLElement | null = null;
      // What this device found wrong, shown above the question; what it checked, behind "Technical details".
      let warned: HTMLElement | null = null;
      if (d.e2ee && ctx.e2ee) {
        try {
          const sess = await ctx.e2ee();
          const v = await verifiedVersion(ctx.caseID, sess, d);
          const to = signedAudience(sess, sel.value);
          const problems = [
            v && !v.nameVerified ? h("p", { class: "share-name" }, unverifiedNameWords(v.name)) : null,
            v ? null : h("p", {}, "This device holds no key for this document, so it cannot share it."),
            to ? null : h("p", {}, "The case's signed membership does not list these people yet, so this device cannot give them the keys."),
          ].filter((x): x is HTMLElement => x !== null);
          warned = problems.length ? h("div", { class: "share-warning error" }, ...problems) : null;
          checked = h("details", { class: "share-technical" }, h("summary", {}, "Technical details"),
            h("div", { class: "share-verified" },
              v && v.nameVerified ? h("p", { class: "share-name" }, `Checked on this device: this is “${v.name}”, the name its uploader's device signed.`) : null,
              v ? h("p", {}, `The keys this device holds for it are for version ${v.version}, signed by ${v.by === ctx.meID ? "your" : ctx.personWords(v.by) + "'s"} device on ${dateWords(new Date(v.signed).toISOString())} for the ${placeWords(v.audience)}. ` +
                "Its size and date come from the server.") : null,
              to ? h("p", {}, "Its keys will go to the devices of these people, as the case's signed membership lists them: " + to.map(ctx.personWords).join(", ") + ".") : null));
        } catch (e) {
          // A document shown under a name its uploader did not give it: no
          // confirmation to press, only what happened.
          out.replaceChildren(h("p", { class: "error share-refused", role: "alert" }, e instanceof RelabelledError ? relabelledWords(e.shownName) : ctx.errText(e)));
          return;
        }
      }
      // A side's own caucus document (its name checked first, when end to end): the side allows this share first
      // (the server refuses it otherwise); the mediator asks instead.
      if (dry.needsApproval && dry.approvalSide) {
        out.replaceChildren(approvals.askPanel(d, name, sel.value, dry.approvalSide, () => out.replaceChildren()));
        (out.querySelector("button.share-ask") as HTMLButtonElement | null)?.focus();
        return;
      }
      // The question names what it does: who will be able to open and
      // download it (the people gaining access, with their side, and
      // those invited who will when they join), and that it cannot be
      // taken back; a share that only narrows says who loses it.
      const widens = gain.length > 0 || invited.length > 0;
      const question = widens
        ? `Show “${name}” to ${listWords([...gain, ...invited])}? They will be able to open and download it. This cannot be undone.`
        : `Show “${name}” only to ${toWords(sel.value)}? Nobody new will be able to open it.`;
      const confirm = h("button", {
        type: "button", class: "primary share-confirm",
        onclick: async () => {
          try {
            // An end-to-end encrypted document is shared by this device: it
            // wraps the keys it holds for the new audience (the server cannot).
            const sess = d.e2ee && ctx.e2ee ? await ctx.e2ee() : undefined;
            const wraps = sess ? await wrapsForShare(ctx.caseID, sess, d, sel.value) : undefined;
            await api.share(ctx.caseID, d.id, sel.value, false, wraps);
            // The new wraps are their versions' newest this device has seen: after a narrowing, the older, wider
            // ones are refused for newcomer passes whatever the server serves again (review 394 M2).
            if (sess && wraps) await sess.wrapPins.save(pinnable(sess.me.id, wraps.map((w) => unb64(w.wrap))));
            out.replaceChildren();
            await refresh(true);
          } catch (e) { out.replaceChildren(h("p", { class: "error" }, e instanceof Error && e.constructor === Error ? e.message : ctx.errText(e))); }
        },
      }, widens ? `Show it to ${toWords(sel.value)}` : `Show it only to ${toWords(sel.value)}`);
      out.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm who gains access", "aria-describedby": "share-words-" + d.id },
        h("div", { id: "share-words-" + d.id },
          warned,
          h("p", { class: "share-question", tabindex: "-1" }, question),
          invited.length ? h("p", { class: "share-invited" }, `${invited.join(", ")} ${invited.length === 1 ? "is" : "are"} invited and not joined yet. They will be able to open it as soon as they join.`) : null,
          lose.length ? h("p", {}, `${listWords(lose)} will no longer be able to open it.`) : null,
          h("p", {}, ctx.visibleTo(sel.value) + ".")),
        checked,
        h("div", { class: "row" }, confirm, h("button", { type: "button", onclick: () => out.replaceChildren() }, "Cancel"))));
      // The question, not the button: Enter pressed twice must not share.
      out.querySelector<HTMLElement>(".share-question")?.focus();
    };
    return h("div", {}, h("div", { class: "row" },
      h("div", {}, h("label", { for: id }, "Share with"), sel),
      h("button", { type: "button", onclick: () => void ask() }, "Share…")), out);
  }

  function invitedWords(p: W.InvitedPerson): string {
    const side = ctx.c().sides.find((s) => s.id === p.side)?.label;
    return personName(p.name, p.role, side);
  }

  /** An audience as a place: "Joint room", "Tenant caucus", "Mediators only" (the "Visible to" line says who). */
  function placeWords(a: string): string {
    if (a.startsWith("user:")) return "Named people";
    return ctx.roomTitle(a);
  }

  function mySide(): string | undefined {
    return ctx.c().participants.find((p) => p.accountId === ctx.meID)?.side;
  }
  function sideOf(a: string): string | undefined {
    return a.startsWith("caucus:") ? a.slice("caucus:".length) : undefined;
  }
  function sideName(side: string): string {
    return ctx.c().sides.find((s) => s.id === side)?.label ?? side;
  }
  /** Who an upload to an audience reaches, in words for a question: "everyone in the joint room". */
  function shareWords(a: string): string {
    if (a === "joint") return "everyone in the joint room";
    if (a === "mediators") return "the mediators only";
    if (a.startsWith("user:")) return "the people named";
    const side = sideOf(a);
    if (side) return side === mySide() ? "your side only, in your caucus" : `the ${sideName(side)} side only, in the ${ctx.roomTitle(a)}`;
    return `the members of “${ctx.roomTitle(a)}”`;
  }
  /** Where an upload goes, for a sentence: "your Tenant caucus", "the Joint room", "the mediators only". */
  function destWords(a: string): string {
    if (a === "mediators") return "the mediators only";
    if (a.startsWith("user:")) return "the people named";
    const side = sideOf(a);
    if (side && side === mySide()) return `your ${ctx.roomTitle(a)}`;
    return definedRoom(a) ? `“${ctx.roomTitle(a)}”` : `the ${ctx.roomTitle(a)}`;
  }
  /**
   * In a room a mediator named, no document can be added to the room itself
   * (documents have no such place): the form says where this one goes
   * instead, and names who outside the room will see it. Empty elsewhere.
   */
  function elsewhereWords(to: string, room: string): string {
    if (!definedRoom(room) || to === room) return "";
    const inRoom = new Set(ctx.membersOf(room));
    const outside = [...new Set(ctx.membersOf(to))].filter((a) => !inRoom.has(a)).map(ctx.personWords);
    const who = outside.length ? `: ${listWords(outside)}, who ${outside.length === 1 ? "is" : "are"} not in this room, will see it too` : "";
    return `Documents can't be added to “${ctx.roomTitle(room)}”. This one will go to ${destWords(to)} instead${who}.`;
  }
  /** Whom a share shows a document to, for its question and button: "the joint room", "the Landlord side". */
  function toWords(a: string): string {
    if (a === "joint") return "the joint room";
    if (a === "mediators") return "the mediators";
    if (a.startsWith("user:")) return "the people named";
    const side = sideOf(a);
    if (side) return side === mySide() ? "your side" : `the ${sideName(side)} side`;
    return `the members of “${ctx.roomTitle(a)}”`;
  }
  /** "A", "A and B", "A, B and C". */
  function listWords(xs: string[]): string {
    return xs.length < 2 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];
  }
  /** The room being read, in words: "your private caucus". */
  function lookingWords(room: string): string {
    if (room === "joint") return "the joint room";
    if (room === "mediators") return "the mediators' room";
    const side = sideOf(room);
    if (side) return side === mySide() ? "your private caucus" : `the ${ctx.roomTitle(room)}`;
    return `“${ctx.roomTitle(room)}”`;
  }

  function renderScope() {
    const room = ctx.room();
    const others = docs.filter((d) => !inRoom(d)).length;
    const choice = (id: string, all: boolean, text: string) => h("button", {
      type: "button", id, "aria-pressed": String(showAll === all), onclick: () => { showAll = all; renderList(); },
    }, text);
    scope.replaceChildren(h("div", { class: "row tabs doc-scope", role: "group", "aria-label": "Which documents to show" },
      choice("doc-scope-room", false, `This room: ${ctx.roomTitle(room)}`),
      choice("doc-scope-all", true, `All documents you can see (${docs.length})`)),
      !showAll && others ? h("p", { class: "note", id: "doc-others" }, `${others} more in other rooms or shared with named people: choose “All documents you can see”.`) : "");
  }

  function renderList() {
    renderScope();
    const room = ctx.room();
    const shown = showAll ? docs : docs.filter(inRoom);
    // A room a mediator named is called by its name in quotes, as its composer calls it ("Message in “Lawyers' talk”"):
    // "the Joint room", "the Tenant caucus", but not "the Ada and the mediator".
    const here = definedRoom(room) ? `“${ctx.roomTitle(room)}”` : `the ${ctx.roomTitle(room)}`;
    heading.textContent = showAll ? "All documents you can see" : `Documents of ${here}`;
    const list = h("ul", { class: "docs", id: "doc-list", "aria-labelledby": "docs-title" });
    const keep = new Map<string, HTMLElement>();
    for (const d of shown) {
      const k = cardKey(d);
      const el = cards.get(k) ?? card(d);
      keep.set(k, el);
      list.append(el);
    }
    for (const [k, el] of keep) cards.set(k, el);
    listBox.replaceChildren(listErr ? h("p", { class: "error" }, listErr) : "",
      shown.length ? list : h("p", { class: "note", id: "doc-none" }, showAll ? "No documents are shared with you yet." : `No documents in ${here} yet.`));
  }

  function renderForm() {
    followRoom = null;
    if (!options) { formBox.replaceChildren(optionsErr ? h("p", { class: "error" }, "The upload form could not be loaded: " + optionsErr) : ""); return; }
    const allowed = options.audiences.filter((a) => a.allowed);
    const refused = options.audiences.filter((a) => !a.allowed);
    if (allowed.length === 0) {
      formBox.replaceChildren(h("h3", {}, "Add a document"), h("p", { class: "note", id: "doc-upload-none" }, "You cannot add documents in this case. If you need to share something, ask your mediator."));
      return;
    }
    const file = h("input", { id: "doc-file", type: "file", required: true, "aria-describedby": "doc-upload-error" }) as HTMLInputElement;
    const pick = allowed.find((a) => a.audience === ctx.room()) ?? allowed[0];
    const aud = h("select", { id: "doc-audience" }, ...allowed.map((a) => h("option", { value: a.audience, selected: a === pick }, placeWords(a.audience)))) as HTMLSelectElement;
    // Kind starts on "Choose…": a party's evidence must not go in as an
    // "Agreement" because that came first. Only a single kind is chosen for them.
    const cls = h("select", { id: "doc-class", "aria-describedby": "doc-upload-error" }) as HTMLSelectElement;
    const fillClasses = () => {
      const a = allowed.find((x) => x.audience === aud.value) as UploadAudience;
      const was = a.classes.length === 1 ? a.classes[0] : cls.value;
      cls.replaceChildren(h("option", { value: "", selected: !a.classes.includes(was), disabled: a.classes.length === 1 }, "Choose…"),
        ...a.classes.map((c) => h("option", { value: c, selected: c === was }, classWords[c] ?? c)));
    };
    fillClasses();
    const audNote = h("p", { class: "note", id: "doc-audience-note", "aria-live": "polite" }, audienceWords(ctx.visibleTo, aud.value));
    // In a room a mediator named: where the document goes instead, above "Visible to".
    const placeNote = h("p", { class: "note", id: "doc-place-note", "aria-live": "polite" });
    const sayPlace = () => { placeNote.textContent = elsewhereWords(aud.value, ctx.room()); placeNote.hidden = !placeNote.textContent; };
    sayPlace();
    const e2ee = h("input", { id: "doc-e2ee", type: "checkbox", "aria-describedby": "doc-e2ee-help doc-e2ee-who" }) as HTMLInputElement;
    const e2eeWho = h("p", { class: "note", id: "doc-e2ee-who", "aria-live": "polite" });
    const showWho = async () => {
      if (!e2ee.checked || !ctx.e2ee) { e2eeWho.textContent = ""; return; }
      const want = aud.value;
      const words = await signedWho(want).catch(() => "This device could not check the case's signed membership just now.");
      if (aud.value === want && e2ee.checked) e2eeWho.textContent = words;
    };
    e2ee.onchange = () => void showWho();
    file.addEventListener("change", () => { if (file.files?.length) { file.removeAttribute("aria-invalid"); if (err.dataset.file) { err.textContent = ""; delete err.dataset.file; } } });
    cls.onchange = () => { if (cls.value) { cls.removeAttribute("aria-invalid"); if (err.dataset.kind) { err.textContent = ""; delete err.dataset.kind; } } };
    // chosen: the person picked the place themselves (until the next upload).
    let chosen = false;
    aud.onchange = () => { chosen = true; ask.replaceChildren(); sayPlace(); audNote.textContent = audienceWords(ctx.visibleTo, aud.value); fillClasses(); void showWho(); };
    file.onchange = () => ask.replaceChildren();
    // The room changed while a file is chosen: the form is kept (the file
    // stays) but its place follows the room when the room is one this
    // person may upload to, unless they picked the place themselves; a
    // question asked about the old room is gone.
    followRoom = (room: string) => {
      ask.replaceChildren();
      if (!chosen && allowed.some((a) => a.audience === room) && aud.value !== room) {
        aud.value = room;
        audNote.textContent = audienceWords(ctx.visibleTo, aud.value);
        fillClasses();
        void showWho();
      }
      sayPlace();
    };
    const bar = h("progress", { id: "doc-progress", max: "100", value: "0", "aria-label": "Upload progress", hidden: true }) as HTMLProgressElement;
    const status = h("p", { id: "doc-upload-status", role: "status", class: "note" });
    const err = h("p", { class: "error", role: "alert", id: "doc-upload-error" });
    const submit = h("button", { class: "primary", type: "submit", id: "doc-upload" }, "Upload") as HTMLButtonElement;
    // An upload that reaches people outside the room being read asks
    // first, in words: a file chosen in a caucus must not go to another
    // room's people unless the person means it.
    const ask = h("div", { id: "doc-upload-ask", "aria-live": "polite" });
    const upload = async (f: File) => {
      ask.replaceChildren();
      err.textContent = "";
      if (f.size > options!.maxSize) { err.textContent = uploadErrorWords(413, "", options!.maxSize); return; }
      // What was chosen when Upload was pressed: the room changing meanwhile
      // moves the form's place, never this upload's.
      const to = aud.value, kind = cls.value;
      submit.disabled = true;
      bar.hidden = false;
      bar.value = 0;
      const where = placeWords(to);
      try {
        const uploading = (sent: number, total: number) => {
          const pct = total ? Math.floor((sent / total) * 100) : 0;
          bar.value = pct;
          status.textContent = `Uploading “${f.name}”: ${pct}% (${sizeWords(sent)} of ${sizeWords(total)})`;
        };
        const d = e2ee.checked && ctx.e2ee
          ? await uploadE2EE(ctx.caseID, await ctx.e2ee(), f, to, kind,
            (body, q, hd, label) => sendFile(ctx.caseID, f, to, kind, options!.maxSize, uploading, body, q, hd, label),
            (phase, done, total) => {
              if (phase === "upload") return uploading(done, total);
              const pct = total ? Math.floor((done / total) * 100) : 100;
              bar.value = pct;
              status.textContent = `Encrypting “${f.name}” on this device: ${pct}%`;
            })
          : await sendFile(ctx.caseID, f, to, kind, options!.maxSize, uploading);
        bar.value = 100;
        status.textContent = d.e2ee
          ? `Uploaded “${d.name ?? f.name}” (${where}). ${await signedWho(d.audience)}`
          : `Uploaded “${d.name ?? f.name}” (${where}). ${audienceWords(ctx.visibleTo, d.audience)}.`;
        file.value = "";
        chosen = false;
        await refresh(true);
      } catch (x) {
        bar.hidden = true;
        status.textContent = "";
        if (x instanceof UploadUnsure) {
          // It may be there (or is): the form keeps the file, and the list is asked again now.
          err.textContent = x.message;
          void refresh(true).catch(() => {});
          return;
        }
        err.textContent = `“${f.name}” was not uploaded. ` + (x instanceof Error && (x.constructor === Error || x instanceof CannotLockYet) ? x.message : ((w) => w.charAt(0).toUpperCase() + w.slice(1))(ctx.errText(x)) + ".");
      } finally {
        submit.disabled = false;
      }
    };
    const form = h("form", {
      id: "doc-upload-form", class: "doc-upload", "aria-labelledby": "doc-upload-title",
      // The page says what is missing, in words (a phone may show no
      // bubble for a required field, and then the button did nothing).
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const f = file.files?.[0];
        if (submit.disabled) return;
        if (!f) {
          ask.replaceChildren();
          err.textContent = "Choose the file to add first (under “File”), then press Upload. Nothing was sent.";
          err.dataset.file = "1";
          file.setAttribute("aria-invalid", "true");
          file.focus();
          return;
        }
        if (!cls.value) {
          // Said here, before anything is sent or asked.
          ask.replaceChildren();
          err.textContent = `Choose what kind of document “${f.name}” is under “Kind”, then press Upload again. Nothing was sent.`;
          err.dataset.kind = "1";
          cls.setAttribute("aria-invalid", "true");
          cls.focus();
          return;
        }
        const to = aud.value, room = ctx.room();
        // Everyone an upload from the joint room can reach is in the joint
        // room, and the case's mediators are in the joint room, every
        // caucus and the mediators' room (not in a defined room, which is
        // its members' only): only a place that reaches people outside the
        // room being read is asked about (from a caucus to the joint room
        // or another caucus, from a defined room to anywhere else).
        const narrower = room === "joint" || (to === "mediators" && (room === "mediators" || room.startsWith("caucus:")));
        if (to === room || narrower) { void upload(f); return; }
        const yes = h("button", {
          type: "button", class: "primary", id: "doc-upload-confirm",
          onclick: () => {
            // Asked about this file, this place and this room: anything changed since asks again.
            if (file.files?.[0] !== f || aud.value !== to || ctx.room() !== room || !cls.value) { ask.replaceChildren(); return; }
            void upload(f);
          },
        }, `Yes, share it with ${shareWords(to)}`);
        const no = h("button", { type: "button", id: "doc-upload-cancel", onclick: () => { ask.replaceChildren(); submit.focus(); } }, "Cancel");
        ask.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm who will see it", "aria-describedby": "doc-upload-ask-words" },
          h("div", { id: "doc-upload-ask-words" },
            h("p", { id: "doc-upload-q", tabindex: "-1" }, `Share “${f.name}” with ${shareWords(to)}? You are looking at ${lookingWords(room)}.`),
            h("p", {}, audienceWords(ctx.visibleTo, to) + ".")),
          h("div", { class: "row" }, yes, no)));
        document.getElementById("doc-upload-q")?.focus(); // not the button: Enter pressed twice must not share
      },
    },
    h("h3", { id: "doc-upload-title" }, "Add a document"),
    // Top to bottom, in the page and in focus order alike: the file, where
    // it goes and who will see it, how it is encrypted, then Upload; the
    // question about a wider place and the progress follow the button.
    h("div", { class: "row" },
      h("div", {}, h("label", { for: "doc-file" }, "File"), file),
      h("div", {}, h("label", { for: "doc-audience" }, "Who may see it"), aud),
      h("div", {}, h("label", { for: "doc-class" }, "Kind"), cls)),
    placeNote,
    audNote,
    ctx.e2ee ? h("div", { class: "doc-e2ee-choice" }, h("label", { class: "check" }, e2ee, "Extra lock (optional)"),
      h("p", { class: "note", id: "doc-e2ee-help" }, "Only the people listed above can open this file — not even Parley's staff. " +
        "People who join later can open it only after a mediator next opens Parley. If unsure, leave this off.")) : "",
    ctx.e2ee ? e2eeWho : "",
    h("div", { class: "row" }, submit),
    ask,
    bar, status, err,
    refused.length ? h("p", { class: "note", id: "doc-upload-missing" },
      `Not offered: ${refused.map((a) => placeWords(a.audience)).join(", ")}. ${refused[0].why ?? ""}`) : "");
    formBox.replaceChildren(form);
  }

  // A mediator's device gives the keys it holds to devices of each
  // document's signed audience that lack one (docs-newcomers.ts). A pass
  // runs when what it depends on changed since the last one that finished:
  // the latest verified membership statement, the active devices of the
  // people it lists, or the listing. The check is on the session as last
  // verified (no fetch) at every poll, so a statement signed after a pass
  // read the chain (a join signs one right after the case changes) gets
  // its own pass; and a pass runs at least every NEWCOMERS_MS anyway (it
  // fetches the directory again: a member's new device changes no case
  // record). One pass at a time.
  let newcomersDone = "", newcomersAt = 0, newcomersRunning = false;
  function newcomersPrint(s: DocSession | undefined): string {
    const st = s?.chain.latest();
    if (!s || !st) return "";
    const devs = st.people.flatMap((p) => s.dir.active(p.account).map((d) => d.id)).sort();
    return JSON.stringify([st.seq, devs, listed]);
  }
  async function giveNewcomers(): Promise<void> {
    if (!ctx.mediator || !ctx.e2ee || newcomersRunning) return;
    if (ctx.verified && newcomersDone && newcomersPrint(ctx.verified()) === newcomersDone && Date.now() - newcomersAt < NEWCOMERS_MS) return;
    newcomersRunning = true;
    try {
      const sess = await ctx.e2ee();
      const print = newcomersPrint(sess);
      const words = newcomerWords(await wrapForNewcomers(ctx.caseID, sess, await api.documents(ctx.caseID)), ctx.personWords);
      if (words) newcomerBox.textContent = words;
      else if (newcomerBox.classList.contains("error")) newcomerBox.textContent = "";
      newcomerBox.classList.remove("error");
      newcomersDone = print;
      newcomersAt = Date.now();
    } catch (e) {
      newcomerBox.classList.add("error");
      newcomerBox.textContent = "This device could not give new devices the keys to documents just now; it will try again by itself: " + ctx.errText(e);
    } finally {
      newcomersRunning = false;
    }
  }

  // Renders only when the listing (or its failure) changed: re-inserting the
  // same cards would take the keyboard focus away every few seconds.
  // A listing asked before another one that was already taken is dropped:
  // a poll asked before an upload or a share and answered after the list
  // read once it was done would put back the list from before it (the
  // document just added gone, or shown as still only in its old place).
  const order = latest();
  async function refresh(force = false): Promise<void> {
    const n = order.ask();
    let next: Document[];
    try {
      next = await api.documents(ctx.caseID);
    } catch (e) {
      if (!order.take(n)) throw e; // a newer listing was taken: it is what the list shows
      const was = listErr;
      listErr = "The list could not be brought up to date: " + ctx.errText(e);
      if (force || was !== listErr) renderList();
      throw e;
    }
    const print = JSON.stringify(next.map(cardKey));
    // The share requests follow the listing (their words name its documents).
    const asked = await approvals.load().catch(() => false);
    if (!order.take(n)) {
      if (asked) approvals.render(); // the requests are numbered on their own: these are the latest
      return;
    }
    if (asked || force || print !== listed) { docs = next; approvals.render(); }
    if (!force && print === listed && !listErr) return;
    listErr = "";
    listed = print;
    docs = next;
    const live = new Set(docs.map(cardKey));
    for (const k of [...cards.keys()]) if (!live.has(k)) cards.delete(k);
    renderList();
    upgrade?.update(docs);
  }

  // The bounded poll: only while the page is visible, slower after a failure.
  let timer = 0;
  const schedule = (ms: number) => { clearTimeout(timer); timer = window.setTimeout(tick, ms); };
  const tick = () => {
    if (document.visibilityState !== "visible") return; // visibilitychange restarts it
    refresh().then(() => { schedule(POLL_MS); void giveNewcomers(); }, () => schedule(POLL_AFTER_FAILURE_MS));
  };
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") tick(); else clearTimeout(timer); });

  void (async () => {
    try { options = await api.uploadOptions(ctx.caseID); } catch (e) { optionsErr = ctx.errText(e); }
    renderForm();
    await refresh(true).catch(() => {});
    schedule(POLL_MS);
    void giveNewcomers();
  })();

  return {
    roomChanged(same: boolean) {
      renderList();
      // The form follows the room (its audience first); with a file chosen
      // only its place does (the file stays); the same room drawn again
      // leaves it as it is.
      if (same) return;
      if ((document.getElementById("doc-file") as HTMLInputElement | null)?.files?.length) followRoom?.(ctx.room());
      else renderForm();
    },
    caseChanged() {
      void giveNewcomers();
      cards.clear();
      renderList();
      const note = document.getElementById("doc-audience-note");
      const aud = document.getElementById("doc-audience") as HTMLSelectElement | null;
      if (note && aud) note.textContent = audienceWords(ctx.visibleTo, aud.value);
      const place = document.getElementById("doc-place-note");
      if (place && aud) { place.textContent = elsewhereWords(aud.value, ctx.room()); place.hidden = !place.textContent; }
    },
    refresh: () => refresh(true).catch(() => {}),
  };
}
