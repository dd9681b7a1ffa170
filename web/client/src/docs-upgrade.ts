// Upgrading a case's server-encrypted documents to end-to-end encryption
// from a mediator's browser (migration; docs/security.md, "Documents end
// to end"). The same steps as the CLI's `parley doc upgrade`
// (client/docs_e2ee.go, UpgradeDocument), through the same routes:
//   - each stored server-encrypted version, oldest first, is downloaded
//     as today's download is (the server decrypts its own layer), and its
//     size, version and the plaintext SHA-256 recorded at its upload are
//     checked as it streams in;
//   - it is encrypted on this device exactly as an end-to-end encrypted
//     upload is (uploadE2EE in docs-e2ee-ui.ts: the same stream format, a
//     fresh key bound to the same case, document and version, wrapped for
//     the devices of the document's audience as the signed membership
//     lists them), a slice at a time: the plaintext is never held whole
//     nor written to disk;
//   - the ciphertext replaces the version (POST …/documents/{id}/upgrade);
//     the server then deletes its older copies, its only way back to the
//     plaintext.
// Documents on legal hold keep their stored bytes (the server refuses, as
// for the CLI): they are left as they are and the page says why. A
// failure of one document is said by name and the others go on; the run
// can be stopped between or during documents (a stopped document is left
// as it was). It runs while the page is open.
import { APIError, call, casePath } from "./api";
import type { Document } from "./api";
import { IntegrityError, RelabelledError, Sha256 } from "./docs-e2ee";
import type { DocSession } from "./docs-e2ee";
import { CannotLockYet, shownLabel, signedAudience, uploadE2EE, versionKey } from "./docs-e2ee-ui";
import type { PlainSource, Progress } from "./docs-e2ee-ui";
import * as W from "./wire_gen";
import { h } from "./dom";

/** What the upgrade panel needs from the documents screen (documents.ts). */
export interface UpgradeContext {
  caseID: string;
  e2ee: () => Promise<DocSession>;
  personWords: (account: string) => string;
  /** An audience as a place ("Tenant caucus", "Named people"). */
  place: (audience: string) => string;
  /** List the documents again (after a run). */
  refresh: () => Promise<void>;
}

export interface UpgradePanel {
  /** The case's documents as listed now: recount (not while a run goes on). */
  update(docs: Document[]): void;
}

/** Stopped by the person: not a failure. */
class Stopped extends Error {}

const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;
const list = (xs: string[]) => xs.length <= 1 ? xs.join("") : xs.slice(0, -1).join(", ") + " and " + xs[xs.length - 1];
const hexBytes = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (x) => parseInt(x, 16));
const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * A server-encrypted version's download read as uploadE2EE reads a file:
 * in order, a slice at a time. It checks, as the bytes arrive, that there
 * are exactly size of them and that they hash to the SHA-256 recorded at
 * upload; the check ends with the last slice, before uploadE2EE seals the
 * last segment and sends anything (an IntegrityError otherwise).
 */
class DownloadSource implements PlainSource {
  private pos = 0;
  private buf: Uint8Array = new Uint8Array(0);
  private off = 0;
  private sum = new Sha256();
  constructor(private r: ReadableStreamDefaultReader<Uint8Array>, readonly name: string, readonly type: string,
    readonly size: number, private want: Uint8Array, private stopped: () => boolean) {}

  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> } {
    return { arrayBuffer: () => this.read(start, Math.min(end, this.size)) };
  }

  private async read(start: number, end: number): Promise<ArrayBuffer> {
    if (start !== this.pos) throw new Error("the download is read in order only");
    const out = new Uint8Array(Math.max(0, end - start));
    let o = 0;
    while (o < out.length) {
      if (this.stopped()) throw new Stopped();
      if (this.off === this.buf.length) {
        const { value, done } = await this.r.read();
        if (done) throw new IntegrityError(`the server's copy ended ${this.size - start - o} bytes early`);
        this.buf = value;
        this.off = 0;
      }
      const k = Math.min(out.length - o, this.buf.length - this.off);
      out.set(this.buf.subarray(this.off, this.off + k), o);
      o += k;
      this.off += k;
    }
    this.sum.update(out);
    this.pos = end;
    if (this.pos === this.size) {
      // Nothing past the end, and the plaintext recorded at upload.
      while (this.off === this.buf.length) {
        const { value, done } = await this.r.read();
        if (done) break;
        this.buf = value;
        this.off = 0;
      }
      if (this.off < this.buf.length) { await this.r.cancel(); throw new IntegrityError("the server's copy goes on past its recorded size"); }
      if (!eq(this.sum.digest(), this.want)) throw new IntegrityError("the server's copy is not the one recorded at upload");
    }
    return out.buffer;
  }
}

/** Sends an upgraded version's ciphertext to the upgrade route (as the CLI does), with upload progress. */
function sendUpgrade(caseID: string, docID: string, version: number, body: Blob, headers: Record<string, string>,
  signal: AbortSignal, progress: (sent: number, total: number) => void): Promise<Document> {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open("POST", `${casePath(caseID)}/documents/${encodeURIComponent(docID)}/upgrade?version=${version}`);
    x.withCredentials = true;
    x.setRequestHeader("Content-Type", "application/octet-stream");
    for (const [k, v] of Object.entries(headers)) x.setRequestHeader(k, v);
    x.upload.onprogress = (e) => progress(e.loaded, e.lengthComputable ? e.total : body.size);
    const problem = () => { try { return JSON.parse(x.responseText) as Partial<W.Problem>; } catch { return {}; } };
    x.onload = () => {
      if (x.status === 200) {
        try { resolve(JSON.parse(x.responseText) as Document); } catch { reject(new APIError(500, {})); }
      } else reject(new APIError(x.status, problem()));
    };
    x.onerror = () => reject(new APIError(0, {}));
    x.onabort = () => reject(new Stopped());
    signal.addEventListener("abort", () => x.abort(), { once: true });
    x.send(body);
  });
}

/** The versions of d still server-encrypted, oldest first. */
const toUpgrade = (d: Document) => (d.versions ?? []).filter((v) => !v.e2ee && !v.erased).sort((a, b) => a.version - b.version);

/**
 * Upgrades every server-encrypted version of one document, as the CLI's
 * UpgradeDocument does. Resolves with the number of versions upgraded.
 */
async function upgradeDocument(caseID: string, sess: DocSession, listed: Document, signal: AbortSignal,
  progress: (phase: "download" | "upload", done: number, total: number) => void): Promise<number> {
  const d = await call<Document>("GET", `${casePath(caseID)}/documents/${encodeURIComponent(listed.id)}`);
  // The audience the mediator confirmed is the listing's: a document whose
  // audience changed since is left for another run, which asks again.
  if (d.id !== listed.id || d.audience !== listed.audience) throw new AudienceChanged();
  // The audience to wrap for: the one the signed wraps of versions already
  // end-to-end encrypted name, which must be the server's; for a document
  // with none, the server's (which holds its plaintext anyway).
  for (const v of d.versions ?? []) {
    if (!v.e2ee || v.erased) continue;
    const k = await versionKey(caseID, sess, d, v.version); // RelabelledError: the server shows another name than the one bound
    if (!k) throw new Error("this device holds no key for its versions already encrypted end to end");
    k.key.fill(0);
    if (k.audience !== d.audience) throw new IntegrityError("the server describes its audience differently from its signed keys");
  }
  let n = 0;
  for (const v of toUpgrade(d)) {
    if (signal.aborted) throw new Stopped();
    let res: Response;
    try {
      res = await fetch(`${casePath(caseID)}/documents/${encodeURIComponent(d.id)}/content?version=${v.version}`, { credentials: "same-origin", signal });
    } catch {
      if (signal.aborted) throw new Stopped();
      throw new APIError(0, {});
    }
    if (!res.ok || !res.body) throw new APIError(res.status, await res.json().catch(() => ({})) as Partial<W.Problem>);
    const hd = res.headers;
    const digest = /^sha-256=:([A-Za-z0-9+/=]+):$/.exec(hd.get("Repr-Digest") ?? "");
    const want = hexBytes(v.sha256 ?? "");
    if (hd.get(W.DocumentE2EEHeader) === "1" || Number(hd.get(W.DocumentVersionHeader)) !== v.version ||
      Number(hd.get("Content-Length") ?? "-1") !== v.size || !digest || want.length !== 32 ||
      !eq(Uint8Array.from(atob(digest[1]), (c) => c.charCodeAt(0)), want)) {
      await res.body.cancel().catch(() => {});
      throw new IntegrityError("the server sent another version than the one to upgrade");
    }
    const reader = res.body.getReader();
    // Bound into the new wrap exactly as the server keeps them for this
    // version (uploadE2EE with into), as the CLI's UpgradeDocument binds.
    const label = shownLabel(d, v.version);
    const src = new DownloadSource(reader, label.name, label.mediaType, v.size, want, () => signal.aborted);
    const phase: Progress = (p, done, total) => progress(p === "encrypt" ? "download" : p, done, total);
    try {
      await uploadE2EE(caseID, sess, src, d.audience, d.class,
        (body, _q, headers) => sendUpgrade(caseID, d.id, v.version, body, headers, signal, (sent, total) => progress("upload", sent, total)),
        phase, { doc: d.id, version: v.version });
    } finally {
      await reader.cancel().catch(() => {});
    }
    n++;
  }
  return n;
}

/** The document's audience is not the one the mediator confirmed. */
class AudienceChanged extends Error {}

/** Why one document was not upgraded, in words (it stays as it was). */
function failureWords(name: string, e: unknown): string {
  const as = `“${name}” was not upgraded`;
  if (e instanceof RelabelledError) return `${as}: the server shows it under another name (or file type) than the one its uploader's device signed into the keys of its versions already end-to-end encrypted, so this device left it alone. Tell your program's administrator.`;
  if (e instanceof AudienceChanged) return `${as}: who may see it changed after you confirmed, so it was left as it is. Upgrade again to confirm who will be able to read it.`;
  if (e instanceof IntegrityError) return `${as}: the copy the server sent is not exactly the one recorded when it was uploaded, so nothing was changed. Tell your program's administrator.`;
  if (e instanceof APIError) {
    if (e.status === 409 && /hold/i.test(e.problem.detail ?? "")) return `${as}: it is on legal hold, and a held document keeps its stored form until the hold is released. It stays readable as before.`;
    if (e.status === 409) return `${as}: it changed meanwhile (it may have been upgraded from another device). It is listed again below.`;
    if (e.status === 410) return `${as}: it was disposed of under the program's retention rules, so there is nothing left to upgrade.`;
    if (e.status === 403 || e.status === 404) return `${as}: you can no longer change it (it may have been shared elsewhere, disposed of or removed).`;
    if (e.status === 413) return `${as}: it is larger than the server now accepts. It stays readable as before.`;
    if (e.status === 0) return `${as}: the connection was lost. It stays as it was; try again.`;
    return `${as}: the server could not store it just now. It stays as it was; try again in a minute.`;
  }
  if (e instanceof CannotLockYet) {
    return `${as}: this phone or computer can't lock it for everyone who may see it yet, because someone there hasn't finished joining (their phone or computer is not set up in this case yet). It stays as it was; try again once they have joined.`;
  }
  if (e instanceof Error && e.message.startsWith("this device holds no key")) return `${as}: some of its versions are already end-to-end encrypted and this device holds no key for them.`;
  return `${as}: something went wrong on this device. It stays as it was; try again.`;
}

/** The panels with a run going on, by case: a documents screen mounted again (the case left and opened again) shows the same run. */
const runs = new Map<string, { root: HTMLElement; ctx: UpgradeContext; panel: UpgradePanel }>();

/**
 * Mounts the upgrade panel in box: how many of the case's documents this
 * mediator can open are still protected only by the server, a control to
 * upgrade them after a confirmation naming who will be able to read them,
 * and the run's progress in words. A run goes on while the page is open,
 * whichever screen is shown.
 */
export function mountUpgrade(box: HTMLElement, ctx: UpgradeContext): UpgradePanel {
  const live = runs.get(ctx.caseID);
  if (live) {
    live.ctx = ctx;
    box.replaceChildren(live.root);
    return live.panel;
  }
  const root = h("div", { class: "doc-upgrade" });
  box.replaceChildren(root);
  const me = { root, ctx, panel: null as unknown as UpgradePanel };
  let docs: Document[] = [];
  let running: AbortController | null = null;
  const summary = h("div", { id: "doc-upgrade-summary" });
  const confirmBox = h("div", {});
  const status = h("p", { id: "doc-upgrade-status", role: "status", "aria-live": "polite", class: "note" });
  const bar = h("progress", { id: "doc-upgrade-progress", max: "100", value: "0", "aria-label": "Progress of the document being upgraded", hidden: true }) as HTMLProgressElement;
  const failures = h("ul", { id: "doc-upgrade-failures", class: "error", "aria-live": "polite" });
  const stop = h("button", { type: "button", id: "doc-upgrade-stop", hidden: true, onclick: () => running?.abort() }, "Stop upgrading") as HTMLButtonElement;
  root.replaceChildren(summary, confirmBox, status, bar, stop, failures);

  const candidates = () => docs.filter((d) => d.canDownload && !d.e2ee);

  function render() {
    if (running) return;
    const all = candidates();
    if (all.length === 0) { summary.replaceChildren(); return; }
    const held = all.filter((d) => d.held);
    const free = all.length - held.length;
    summary.replaceChildren(
      h("h3", { id: "doc-upgrade-title" }, "Documents the server can still read"),
      h("p", { id: "doc-upgrade-count" }, `${plural(all.length, "document is", "documents are")} not yet end-to-end encrypted: the server's vault protects ${all.length === 1 ? "it" : "them"}, and the server can read ${all.length === 1 ? "it" : "them"}.`),
      held.length ? h("p", { class: "note", id: "doc-upgrade-held" },
        `${held.length === all.length ? (held.length === 1 ? "It is" : "They are") : plural(held.length, "of them is", "of them are")} on legal hold: a held document keeps its stored form until the hold is released, so ${held.length === 1 ? "it is" : "they are"} not upgraded now (${list(held.map((d) => `“${d.name ?? "a document"}”`))}).`) : "",
      free ? h("button", { type: "button", id: "doc-upgrade", onclick: () => void ask() }, free === all.length ? `Encrypt ${free === 1 ? "it" : `these ${free}`} end to end…` : `Encrypt the ${free === 1 ? "one" : free} not on hold end to end…`) : "");
  }

  async function ask() {
    const chosen = candidates().filter((d) => !d.held);
    if (!chosen.length) return;
    let sess: DocSession;
    try { sess = await me.ctx.e2ee(); } catch { confirmBox.replaceChildren(h("p", { class: "error", role: "alert" }, "This device could not check the case's signed membership just now. Try again in a minute.")); return; }
    // Who will be able to read each group afterwards: the audience's
    // members as the case's signed membership lists them.
    const byAudience = new Map<string, Document[]>();
    for (const d of chosen) byAudience.set(d.audience, [...(byAudience.get(d.audience) ?? []), d]);
    const groups = [...byAudience].map(([aud, ds]) => {
      const who = signedAudience(sess, aud);
      const names = list(ds.map((d) => `“${d.name ?? "a document"}”`));
      return h("li", {}, `${names} (${me.ctx.place(aud)}): ` + (who
        ? `afterwards only the devices of ${list(who.map(me.ctx.personWords))} can open ${ds.length === 1 ? "it" : "them"}, as the case's signed membership lists them.`
        : "the case's signed membership does not list these people yet, so this device cannot encrypt for them now; these stay as they are."));
    });
    const them = chosen.length === 1 ? "it" : "them";
    const go = h("button", { type: "button", class: "primary", id: "doc-upgrade-confirm", onclick: () => { confirmBox.replaceChildren(); void runAll(chosen); } },
      `Encrypt ${plural(chosen.length, "document")} end to end`) as HTMLButtonElement;
    confirmBox.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm the upgrade to end-to-end encryption", "aria-describedby": "doc-upgrade-words" },
      h("div", { id: "doc-upgrade-words" },
        h("p", { id: "doc-upgrade-q", tabindex: "-1" }, h("strong", {}, `This device will download ${chosen.length === 1 ? "this document" : `these ${chosen.length} documents`}, encrypt ${chosen.length === 1 ? "it" : "each"} here and store ${chosen.length === 1 ? "it" : "them"} in place of the server's copies.`)),
        h("ul", { class: "doc-upgrade-who" }, ...groups),
        h("p", {}, `Afterwards the server can no longer read ${them}: it deletes the copies it could read. Someone named there who has no device set up for this case yet cannot open ${them} until a device that holds the keys gives them one. This cannot be undone.`),
        h("p", { class: "note" }, "Keep this page open while it runs (other screens of the case can be used). You can stop at any time: what is done stays done, and the rest stays as it was.")),
      h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => confirmBox.replaceChildren() }, "Cancel"))));
    document.getElementById("doc-upgrade-q")?.focus(); // not the button: Enter pressed twice must not encrypt
  }

  async function runAll(chosen: Document[]) {
    const ctl = new AbortController();
    running = ctl;
    runs.set(me.ctx.caseID, me);
    failures.replaceChildren();
    status.textContent = "";
    stop.hidden = false;
    bar.hidden = false;
    summary.querySelector<HTMLButtonElement>("#doc-upgrade")?.setAttribute("disabled", "");
    let done = 0, failed = 0;
    try {
      const sess = await me.ctx.e2ee();
      for (const [i, d] of chosen.entries()) {
        if (ctl.signal.aborted) break;
        const name = d.name ?? "a document";
        status.textContent = `Upgrading ${i + 1} of ${chosen.length}: ${name}`;
        bar.value = 0;
        bar.setAttribute("aria-valuetext", `${name}: starting`);
        try {
          await upgradeDocument(me.ctx.caseID, sess, d, ctl.signal, (phase, n, total) => {
            // Reading and encrypting are one pass (half the bar); sending the other half.
            const pct = Math.floor(((phase === "upload" ? 50 : 0) + (total ? (n / total) * 50 : 50)));
            bar.value = pct;
            bar.setAttribute("aria-valuetext", `${name}: ${phase === "upload" ? "sending" : "encrypting"}, ${pct}%`);
          });
          done++;
        } catch (e) {
          if (e instanceof Stopped || ctl.signal.aborted) break;
          if (e instanceof APIError && e.status === 401) {
            failures.append(h("li", {}, "Your session has ended, so the upgrade stopped. Sign in again to upgrade the rest."));
            break;
          }
          console.warn("upgrade refused:", e instanceof Error ? e.message : e); // the technical reason, for the browser's console
          failures.append(h("li", {}, failureWords(name, e)));
          failed++;
        }
      }
    } catch {
      failures.append(h("li", {}, "This device could not check the case's signed membership just now, so nothing was upgraded. Try again in a minute."));
    } finally {
      running = null;
      stop.hidden = true;
      bar.hidden = true;
      const left = chosen.length - done - failed;
      status.textContent = (ctl.signal.aborted ? "Stopped. " : "") +
        (done ? `${plural(done, "document was", "documents were")} encrypted end to end: only the devices of the people named on ${done === 1 ? "it" : "each"} can open ${done === 1 ? "it" : "them"} now, not the server.`
          : "No document was encrypted end to end.") +
        (failed ? ` ${plural(failed, "document was", "documents were")} not upgraded (see below).` : "") +
        (left > 0 ? ` ${plural(left, "document was", "documents were")} left as ${left === 1 ? "it was" : "they were"}.` : "");
      runs.delete(me.ctx.caseID);
      await me.ctx.refresh().catch(() => {});
      render();
    }
  }

  me.panel = {
    update(next: Document[]) {
      docs = next;
      render();
    },
  };
  return me.panel;
}
