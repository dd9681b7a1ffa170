// Records staff's screens: legal holds, disposition plans, the evaluation
// export and the caseload. They never show a document's name or content, nor
// any room. Administrators see the disposition plans only: policy lets them
// approve and apply plans, not place holds or run exports.
import { renderCaseload } from "./sessions";
import { api, call, APIError, Account, Document, Hold, Listed, Outcome, Plan, PlanItem, staffWords } from "./api";
import { openSignedNote } from "./tlog";
import { itemKey, keptBy, loadActions, renderActions } from "./records-actions";
import { residueCount, residueSection, residueWords, scheduleChangesView } from "./records-sweep";
import { ProblemTypeBase, type ProblemType } from "./wire_gen";
import { h } from "./dom";
import { outcomeUnknown } from "./desk";
import { classInSentence, classWords, stacked, triggerWords } from "./records-words";

const errText = staffWords; // staff only: never a status, an id or the browser's network text
/** Case ids to the program's references (docket or file numbers), from the case list. */
const refs = new Map<string, string>();
/** Staff names, for those allowed to list accounts (administrators); others read "another member of staff". */
const names = new Map<string, string>();
const who = (id: string) => (id === me.id ? "you" : names.get(id) ?? "another member of staff");
const docWords = (cls: string) => `${classWords(cls)} document`;
/** Case ids to the day each case was opened, from the case list or a plan's records: what names a case that has no reference. */
const opened = new Map<string, string>();
/** The end of a case's Parley number (its id, shown whole on the holds tab): enough to tell two cases apart, not to be read as a name. */
const numberEnd = (id: string) => id.slice(-6);
/**
 * A case in words: its reference, else the day it was opened and the end of
 * its Parley number (two cases opened the same day read apart; the holds
 * tab shows the whole number, and finds a case by it).
 */
const caseWords = (id: string, ref?: string) => {
  const r = ref || refs.get(id);
  if (r) return `Case ${r}`;
  const o = opened.get(id);
  return (o ? `Case opened ${o} (no reference)` : "A case with no reference") + `, Parley number ending ${numberEnd(id)}`;
};
/** Learns the day each item's case was opened (administrators cannot list cases; plan records say it). */
const learnOpened = (items: { case: string; opened?: string }[]) => { for (const it of items) if (it.opened && !opened.has(it.case)) opened.set(it.case, day(it.opened)); };
/** Document records to "document 1 of 2" where a case has more than one of a kind in the plan shown (by itemKey). */
const docOrdinal = new Map<string, string>();
let me: Account;
let mainEl: HTMLElement;
const main = () => mainEl;

// --- records staff: legal holds, disposition plans, exports (never content) ---
// Administrators see the disposition plans only: policy lets them approve
// and apply plans, not place holds or run exports.

/** A day as a date input and a file name want it: "2026-12-05" (UTC). */
const isoDay = (t?: string) => (t ? new Date(t).toISOString().slice(0, 10) : "");
/** A day in words, as people read it: "5 December 2026" (the UTC day, as plans and schedules count days). */
const day = (t?: string) => (t ? new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(t)) : "");
/** A moment in the viewer's own time zone, named, to the minute (with seconds: to the second): "5 December 2026 at 14:03 GMT". */
const localTime = (t: string, seconds = false) => new Intl.DateTimeFormat(undefined, {
  day: "numeric", month: "long", year: "numeric", hour: "2-digit", minute: "2-digit", ...(seconds ? { second: "2-digit" } : {}), timeZoneName: "short",
}).format(new Date(t));
/** A plan in words, distinct from the others listed (never its id): when it was made (the viewer's time), by whom, and the day it covers. */
const planWords = (p: { created: string; planner: string; asOf: string }, seconds = false) =>
  `Plan made ${localTime(p.created, seconds)} by ${who(p.planner)}, for records due by ${day(p.asOf)}`;
/** A case the export's k (the smallest group of alike cases) leaves out or blurs, in words: "the only one of its kind" for k = 2. */
function aloneWords(k: number): string {
  return k <= 2 ? "a case that would be the only one of its kind" : `a case that would be one of fewer than ${k} of its kind`;
}

/** planWords for each of ps, to the second where two would read alike to the minute, numbered where even that is alike. */
const planLabels = (ps: { created: string; planner: string; asOf: string }[]): string[] => {
  const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
  const coarse = ps.map((p) => planWords(p));
  const c1 = count(coarse);
  const fine = ps.map((p, i) => (c1.get(coarse[i])! > 1 ? planWords(p, true) : coarse[i]));
  const c2 = count(fine), seen = new Map<string, number>();
  return fine.map((l) => {
    if (c2.get(l)! === 1) return l;
    const n = (seen.get(l) ?? 0) + 1;
    seen.set(l, n);
    return `${l} (${n} of ${c2.get(l)})`;
  });
};
const bytes = (n: number) => (n < 1024 ? `${n} bytes` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`);
const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
const stateWords: Record<string, string> = {
  planned: "Waiting for a second person's approval", approved: "Approved — ready to carry out", applying: "Being carried out (unfinished)",
  certifying: "Records destroyed; certificate being made", done: "Done — certificate of destruction issued",
};

function saveFile(name: string, blob: Blob) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

function tab(id: string, label: string, panel: HTMLElement, tabs: HTMLElement[]): HTMLElement {
  const b = h("button", {
    type: "button", id: "tab-" + id, "aria-controls": "panel-" + id, "aria-pressed": "false",
    onclick: () => {
      for (const t of tabs) {
        t.setAttribute("aria-pressed", String(t === b));
        document.getElementById(t.getAttribute("aria-controls")!)!.hidden = t !== b;
      }
    },
  }, label);
  panel.id = "panel-" + id;
  panel.hidden = true;
  tabs.push(b);
  return b;
}

/** The records screens, in place of main's content, for records staff or an administrator. */
export async function recordsView(who: Account, into: HTMLElement): Promise<void> {
  me = who;
  mainEl = into;
  const records = me.role === "records";
  const tabs: HTMLElement[] = [];
  const plans = h("section", { "aria-labelledby": "plans-title" });
  const holds = h("section", { "aria-labelledby": "records-title" });
  const exports = h("section", { "aria-labelledby": "export-title" });
  const load = h("section", { id: "caseload", "aria-labelledby": "caseload-title" });
  const nav = h("nav", { class: "row tabs", "aria-label": "Records tasks" },
    records ? tab("holds", "Legal holds", holds, tabs) : null,
    tab("plans", "Disposal of old records", plans, tabs),
    records ? tab("exports", "Evaluation export", exports, tabs) : null,
    records ? tab("caseload", "Caseload", load, tabs) : null);
  main().replaceChildren(h("h1", {}, "Records"), h("p", { class: "note" },
    "Records staff see what records exist (sizes, classes and dates), never a document's name or content, and never a room."), ...(records ? [nav] : []),
  ...(records ? [holds, plans, exports, load] : [plans]));
  (tabs[0] as HTMLButtonElement).click();
  try { for (const l of await api.cases()) { if (l.reference) refs.set(l.id, l.reference); opened.set(l.id, day(l.created)); } } catch { /* fewer words */ }
  if (me.role === "admin") try { for (const a of await call<Account[]>("GET", "/api/v1/accounts")) names.set(a.id, a.name); } catch { /* words only */ }
  renderPlans(plans);
  if (!records) return;
  exports.append(exportForm());
  void renderCaseload(load);
  holds.append(h("h2", { id: "records-title" }, "Legal holds"),
    h("p", { class: "note" }, "A legal hold stops records from being destroyed, whatever the retention schedule says. Hold a whole case, or one document."));
  const list = await api.cases();
  const search = h("input", { id: "case-search", type: "search", autocomplete: "off", maxlength: "40", placeholder: "2026-CV-0142" }) as HTMLInputElement;
  const found = h("p", { role: "status", class: "note", id: "case-search-status" });
  const boxes: HTMLElement[] = [];
  let loaded = 0;
  // Run after each case is added as well as on each keystroke: a search typed while cases load is never answered from half the list.
  const filter = () => {
    const q = search.value.trim().toUpperCase();
    let n = 0;
    for (const b of boxes) { const hit = !q || (b.dataset.reference ?? "").includes(q) || (b.dataset.case ?? "").toUpperCase().includes(q); b.hidden = !hit; if (hit) n++; }
    const loading = loaded < list.length ? `Loading cases (${loaded} of ${list.length})…` : "";
    found.textContent = q ? (n ? `${plural(n, "case")} with a reference or Parley number containing “${search.value.trim()}”` + (loading ? ` so far. ${loading}` : ".")
      : loading ? `No case loaded so far has a reference or Parley number containing “${search.value.trim()}”. ${loading}` : `No case has a reference or Parley number containing “${search.value.trim()}”.`) : loading;
  };
  search.addEventListener("input", filter);
  holds.append(h("div", { class: "row" }, h("div", {}, h("label", { for: "case-search" }, "Find a case by its reference (docket or file number) or its Parley number"), search)), found);
  filter();
  // A few cases at a time, each shown in its place in the list as soon as it is ready (a slow one holds up no other).
  const places = list.map(() => h("div", { class: "case-holds-loading" }));
  holds.append(...places);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < list.length; i = next++) {
      const b = await caseHolds(list[i]);
      places[i].replaceWith(b);
      boxes.push(b);
      loaded++;
      filter();
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, list.length) }, worker));
}

async function caseHolds(l: Listed): Promise<HTMLElement> {
  const box = h("div", { class: "case-holds", "data-case": l.id, "data-reference": l.reference ?? "" });

  const caseList = h("ul", { class: "holds" });
  const ul = h("ul", { class: "docs" });
  const reason = h("input", { id: "hold-reason-" + l.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  // As the server takes them (retention MaxReasonLen, MaxAuthorityLen).
  const authority = h("input", { id: "hold-authority-" + l.id, type: "text", required: true, maxlength: "200", autocomplete: "off" }) as HTMLInputElement;
  const out = h("p", { role: "status", class: "note" });
  // The form's title: once the whole case is held, the form adds another hold (another reason or authority).
  const formTitle = h("p", { class: "hold-form-title", id: "hold-form-title-" + l.id }, h("strong", {}, "Hold the whole case"));
  const submit = h("button", { type: "submit" }, "Hold the whole case");
  const refresh = async () => {
    try {
      const hs = (await api.holds(l.id, false)).filter((x) => !x.released);
      const held = hs.some((x) => !x.doc);
      formTitle.firstElementChild!.textContent = held ? "Add another hold on the whole case (another reason or authority)" : "Hold the whole case";
      submit.textContent = held ? "Add this hold" : "Hold the whole case";
      const docs = await api.documents(l.id);
      ul.replaceChildren(...(docs.length ? docs.map((d) => recordsItem(l.id, d, hs, refresh)) : [h("li", { class: "note" }, "No documents.")]));
      caseList.replaceChildren(...hs.map((x) => caseHoldItem(l.id, x, hs, refresh)),
        ...(hs.some((x) => !x.doc) ? [] : [h("li", { class: "note" }, "No hold on the whole case.")]));
    } catch (e) { caseList.replaceChildren(h("li", { class: "error" }, errText(e))); }
  };
  const form = h("form", {
    class: "hold-form", "aria-labelledby": formTitle.id,
    onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        await api.placeHold(l.id, reason.value, authority.value);
        reason.value = authority.value = "";
        out.textContent = "The whole case is now on legal hold.";
        await refresh();
      } catch (x) { out.textContent = "Not placed: " + errText(x); }
    },
  }, formTitle, h("div", { class: "row" },
    h("div", {}, h("label", { for: reason.id }, "Why (for example: complaint received)"), reason),
    h("div", {}, h("label", { for: authority.id }, "On what authority (court order, rule)"), authority),
    submit), out);
  box.append(h("h3", {}, l.reference ? `Case ${l.reference}` : `Case opened ${day(l.created)} (no reference)`), h("p", { class: "note" }, `${l.type} · opened ${day(l.created)} · ${l.closed ? "closed " + day(l.closed) : "open"}`,
    // No reference to quote: Parley's own number for it, secondary, for asking support or the program, with a button to copy it.
    l.reference ? "" : h("span", { class: "ref-number" }, " · Parley number ", h("code", { class: "hash" }, l.id), " ", copyNumber(l.id))),
    caseList, form, h("h4", {}, "Documents"), ul);
  await refresh();
  return box;
}

/** A button that copies a case's Parley number (for a case with no reference to quote), and says whether it did. */
function copyNumber(id: string): HTMLElement {
  const said = h("span", { role: "status", class: "copy-said" });
  const b = h("button", {
    type: "button", class: "copy-number",
    onclick: async () => {
      try { await navigator.clipboard.writeText(id); said.textContent = " Copied."; } catch {
        said.textContent = " Not copied: select the number and copy it (Ctrl+C).";
      }
    },
  }, "Copy the number");
  return h("span", {}, b, said);
}

/** What follows a release when nothing else holds the records (what: "the case's records are", "it is"). */
const dueAgain = (what: string) => `Nothing is destroyed now, but ${what} then kept only as long as the retention schedule says: the next disposal plan lists what is due, and once a second person approves that plan and it is carried out, those records are destroyed for good.`;
/** What follows a release when other holds remain (others: each in words): nothing becomes due. */
const stillHeld = (others: string[]) => `Nothing is destroyed now, and nothing becomes due: other holds still keep these records (${others.join("; ")}). Only once those are released too are they kept only as long as the retention schedule says.`;
/** A hold in words, quoting what it rests on. */
const holdQuote = (x: Hold) => `why: “${x.reason}”, on the authority of “${x.authority}”`;

/**
 * A hold's release, asked for in the page before it is done: it names the
 * hold and what follows (after: the records become due under the schedule
 * again and a plan may then destroy them, or other holds still keep them),
 * and waits for a tick. Cancel leaves the hold in place. A release whose
 * answer is lost (no answer, or the server failed) is looked for among the
 * holds read again — at once, and once more a moment later while the hold
 * is still there — before it is offered again: found released, the holds
 * are drawn again (refresh), as after a release answered.
 */
function releaseConfirm(slot: HTMLElement, id: string, what: string, after: string, reason: string, release: () => Promise<void>, stillHeld: () => Promise<boolean>, refresh: () => Promise<void>): void {
  reason = reason.trim(); // as quoted: the caller releases with this, not with what the box says by the time of the tick
  const tick = h("input", { type: "checkbox", id: id + "-check" }) as HTMLInputElement;
  const yes = h("button", { type: "button", class: "primary danger", id: id + "-yes", disabled: true }, "Yes, release it now") as HTMLButtonElement;
  const out = h("p", { role: "status" });
  tick.addEventListener("change", () => { yes.disabled = !tick.checked; });
  yes.onclick = async () => {
    yes.disabled = true;
    try { await release(); } catch (err) {
      // A refusal does not always mean nothing happened (a release can be recorded and its storage holds left set; a
      // lost answer says nothing): the holds are read again before saying where it stands.
      const lost = outcomeUnknown(err);
      out.className = "error";
      if (lost) out.textContent = "We can't tell yet whether it was released: reading the holds again to see…";
      let held = await stillHeld().catch(() => undefined);
      if (lost && held !== false) {
        await new Promise((r) => setTimeout(r, 1500)); // the release may still be under way
        held = await stillHeld().catch(() => held);
      }
      if (lost && held === false) {
        // Released after all: drawn as after a release answered (the hold leaves the list).
        out.className = "done";
        out.textContent = "Released: the answer was lost on the way, but the holds read again no longer have this one.";
        await refresh().catch(() => undefined);
        return;
      }
      out.textContent = lost ? (held === true ? "Not released: the answer was lost on the way, and the holds read again still have this one. The hold is still in place; you can release it again."
        : "We can't tell whether it was released: the answer was lost on the way, and the holds could not be read again. Reload the page to see.")
        : held === false ? "Released, but not all of it was settled: " + errText(err) + "."
        : held === true ? "Not released: " + errText(err) + ". The hold is still in place."
        : "We can't tell whether it was released (" + errText(err) + "): reload the page to see.";
      yes.disabled = held !== true || !tick.checked;
    }
  };
  slot.replaceChildren(h("div", { class: "confirm release-confirm", id, role: "group", "aria-labelledby": id + "-what" },
    h("p", { id: id + "-what" }, h("strong", {}, `Release ${what}?`),
      ` ${after} ` +
      `Records staff see that it was released; the audit log records that you released it, with your reason: “${reason}”.`),
    // The tick names the hold without its quote again (the question above quotes it).
    h("p", {}, h("label", { for: tick.id, class: "check" }, tick, ` I understand: ${what.replace(/ \(why: .*\)$/, "")} will no longer stop these records from being destroyed`)),
    h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => slot.replaceChildren() }, "Cancel, keep the hold")), out));
  tick.focus();
}

/** One active hold of a case, with its release; hs: every active hold of the case (what still holds once this one goes). */
function caseHoldItem(caseID: string, x: Hold, hs: Hold[], refresh: () => Promise<void>): HTMLElement {
  const why = h("input", { id: "release-" + x.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  const slot = h("div", {});
  const what = (x.doc ? `the legal hold on one document of ${caseWords(caseID)}` : `the legal hold on the whole of ${caseWords(caseID)}`) + ` (${holdQuote(x)})`;
  // What still holds these records once x is released: the case's other holds, and for a document its own other holds.
  const others = hs.filter((o) => o.id !== x.id && (!o.doc || o.doc === x.doc)).map((o) => `${o.doc ? "a hold on the document" : "a hold on the whole case"}, ${holdQuote(o)}`);
  const ownDocs = x.doc ? 0 : new Set(hs.filter((o) => o.doc).map((o) => o.doc)).size;
  const after = others.length ? stillHeld(others)
    : dueAgain(x.doc ? "that document is" : "the case's records are") + (ownDocs ? ` ${ownDocs === 1 ? "One document has a hold of its own: it stays held" : `${ownDocs} documents have holds of their own: they stay held`}.` : "");
  return h("li", { "data-hold": x.id },
    h("strong", {}, x.doc ? "One document on legal hold" : "Whole case on legal hold"), h("span", { class: "note" }, ` since ${day(x.placed)} · why: ${x.reason} · authority: ${x.authority}`),
    h("form", {
      class: "row", onsubmit: (e: Event) => {
        e.preventDefault();
        const r = why.value; // the reason quoted is the reason given
        releaseConfirm(slot, "release-confirm-" + x.id, what, after, r, async () => { await api.releaseHold(caseID, x.id, r); await refresh(); },
          async () => (await api.holds(caseID, false)).some((o) => o.id === x.id), refresh);
      },
    }, h("div", {}, h("label", { for: why.id }, "Why release it"), why), h("button", { type: "submit" }, x.doc ? "Release this hold…" : "Release the case hold…")), slot);
}

// --- disposition plans ---

/** The clerk's own day, "2026-12-05", unless the UTC day (which plans count by) has not reached it yet: never a day the server calls the future. */
function planDay(): string {
  const local = planDayLocal(), utc = isoDay(new Date().toISOString());
  return local < utc ? local : utc;
}
/** The clerk's own day: "2026-12-05". */
function planDayLocal(): string {
  const d = new Date(), pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

async function renderPlans(sec: HTMLElement): Promise<void> {
  const today = planDay();
  const asOf = h("input", { id: "plan-asof", type: "date", value: today, required: true, "aria-describedby": "plan-asof-note" }) as HTMLInputElement;
  const out = h("p", { role: "status", class: "note" });
  const list = h("ul", { class: "docs", id: "plan-list" });
  const detail = h("div", { id: "plan-detail" });
  const refresh = async () => {
    try {
      const ps = (await api.plans()).sort((a, b) => b.created.localeCompare(a.created));
      const labels = planLabels(ps);
      list.replaceChildren(...(ps.length ? ps.map((p, i) => h("li", { "data-plan": p.id },
        h("button", { type: "button", onclick: () => showPlan(p.id, detail, refresh) }, labels[i]),
        h("span", { class: "note" }, ` ${plural(p.records, "record")} due · ${p.held} held · ${stateWords[p.state] ?? p.state}`))) : [h("li", { class: "note" }, "No plans yet.")]));
    } catch (e) { list.replaceChildren(h("li", { class: "error" }, errText(e))); }
  };
  sec.replaceChildren(h("h2", { id: "plans-title" }, "Disposal of old records"),
    h("p", { class: "note" }, "The retention schedule says how long each kind of record is kept. A plan lists every record whose time is up. One person makes the plan, a second person approves it, and then it can be carried out: the records are destroyed for good and a signed certificate of destruction records what went. Records on legal hold are never destroyed."),
    h("form", {
      id: "plan-form", onsubmit: async (e: Event) => {
        e.preventDefault();
        out.textContent = "Making the plan…";
        const utcToday = isoDay(new Date().toISOString());
        if (asOf.value > utcToday) {
          // Plans count days in UTC: ahead of it, the clerk's own today has not begun there yet.
          out.textContent = asOf.value > planDayLocal()
            ? `No plan made: ${day(asOf.value)} is in the future. A plan lists records already due, so make it on that day or later.`
            : `No plan made: plans count days in UTC, where ${day(asOf.value)} has not begun yet. Choose ${day(utcToday)} or earlier, or make it later today.`;
          return;
        }
        try {
          const p = await api.makePlan(asOf.value);
          out.textContent = `Plan made: ${plural(p.records, "record")} due, ${p.held} kept because of a legal hold.`;
          await refresh();
          await showPlan(p.id, detail, refresh);
        } catch (x) {
          // Plain words, as every staff screen says them (a field's refusal — "nothing is due on …" — as the server wrote it; never a policy action's name).
          out.textContent = "No plan made: " + errText(x).replace(/, so no plan was made$/, "") + ".";
        }
      },
    }, h("div", { class: "row" }, h("div", {}, h("label", { for: "plan-asof" }, "Records due on or before"), asOf), h("button", { type: "submit", class: "primary" }, "Make a plan")),
    h("p", { class: "note", id: "plan-asof-note" }, "Today or an earlier day: a plan lists records already due, and a date in the future is refused (no plan is made for it). When nothing is due, no plan is made."), out),
    dueView(), scheduleChangesView(me.id), h("h3", {}, "Plans"), list, detail);
  await refresh();
}

/** What falls due in the next 30 or 90 days, by case reference and class, with holds. */
function dueView(): HTMLElement {
  const days = h("select", { id: "due-days" }, h("option", { value: "30" }, "the next 30 days"), h("option", { value: "90" }, "the next 90 days")) as HTMLSelectElement;
  const out = h("div", { id: "due-report", role: "status", "aria-live": "polite" });
  return h("form", {
    id: "due-form", "aria-labelledby": "due-title",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      out.replaceChildren("Looking ahead…");
      try {
        const r = await api.due(Number(days.value));
        const reasons = await holdWords();
        learnOpened(r.items);
        if (!r.items.length) { out.replaceChildren(h("p", {}, `Nothing falls due by ${day(r.until)}.`)); return; }
        const groups = new Map<string, { ref: string; cls: string; n: number; first: string; size: number; held: Set<string> }>();
        for (const it of r.items) {
          const ref = caseWords(it.case, it.reference).replace(/^Case /, ""), k = ref + "\u0000" + it.class;
          const g = groups.get(k) ?? { ref, cls: it.class, n: 0, first: it.dueAt, size: 0, held: new Set<string>() };
          g.n++; g.size += it.size;
          if (it.held?.length) g.held.add(reasons(it.held));
          groups.set(k, g);
        }
        out.replaceChildren(h("p", {}, `${plural(r.items.length, "record")} fall due by ${day(r.until)}. Nothing is destroyed until a plan is made, approved by a second person and carried out; records on legal hold are kept.`),
          h("div", { class: "scroll" }, stacked(h("table", {}, h("caption", {}, "Falling due"),
            h("thead", {}, h("tr", {}, ...["Case", "Kind of record", "Records", "First due", "Size", "Legal hold"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, ...[...groups.values()].map((g) => h("tr", {}, h("td", {}, g.ref), h("td", {}, classWords(g.cls)), h("td", {}, String(g.n)),
              h("td", {}, day(g.first) + (g.first < r.now ? " (due now)" : "")), h("td", {}, bytes(g.size)), h("td", {}, g.held.size ? "Kept: " + [...g.held].join("; ") : "None"))))))));
      } catch (x) { out.replaceChildren(h("p", { class: "error" }, "Could not look ahead: " + errText(x))); }
    },
  }, h("h3", { id: "due-title" }, "Records due soon"),
  h("div", { class: "row" }, h("div", {}, h("label", { for: "due-days" }, "What falls due in"), days), h("button", { type: "submit" }, "Show records due")),
  // The daily notice (retention/notice.go; parley serve --due-notice-days).
  h("p", { class: "note", id: "due-notice-note" }, "Parley also mails a summary of what falls due to the address of every records staff account, at most once a day and only when something falls due: case references, classes and counts, never what the records hold. It cannot be turned off for one account; the program's operator sets how far ahead it looks, or turns it off."),
  out);
}

/** Plans and outcomes name holds by id ("hold h_…"): say what each rests on. */
async function holdWords(): Promise<(hs?: string[]) => string> {
  const why = new Map<string, string>();
  try { for (const x of await api.allHolds()) why.set(x.id, `${x.doc ? "document" : "case"} hold: ${x.reason} (${x.authority})`); } catch { /* ids only */ }
  return (hs?: string[]) => (hs ?? []).map((x) => why.get(x.replace(/^hold /, "")) ?? x).join("; ");
}

/** What a plan's record that is not a document is, by its class (a case's records of that class, one item). */
const caseClassNames: Record<string, string> = {
  "message-history": "The message history",
  "case-record": "The case record",
  "invites-sessions": "The invitations and scheduled sessions",
  "carries-consents": "The proposals to carry a message, and consents",
  "survey-responses": "The survey answers and check-ins",
  "key-directory": "The key directory's membership statements",
  "statistical-stub": "The statistical summary",
};

function itemName(it: PlanItem): string {
  return it.doc ? `${docWords(it.class)}, version ${it.version}${docOrdinal.get(itemKey(it)) ?? ""}` : caseClassNames[it.class] ?? `The case's ${classInSentence(it.class)} records`;
}

/** Numbers a plan's documents where a case has more than one of a kind (they would otherwise read alike): " (document 1 of 2)". */
function numberDocs(items: PlanItem[]): void {
  docOrdinal.clear();
  const groups = new Map<string, string[]>();
  for (const it of items) {
    if (!it.doc) continue;
    const g = groups.get(it.case + "\u0000" + it.class) ?? [];
    if (!g.includes(it.doc)) g.push(it.doc);
    groups.set(it.case + "\u0000" + it.class, g);
  }
  for (const it of items) {
    const g = it.doc ? groups.get(it.case + "\u0000" + it.class)! : [];
    if (g.length > 1) docOrdinal.set(itemKey(it), ` (document ${g.indexOf(it.doc!) + 1} of ${g.length})`);
  }
}

/** What a plan destroys, counted: the due records no choice keeps, or (none) its leftovers. */
const countWords = (p: Plan, gone: number) => (gone || !residueCount(p) ? plural(gone, "record") : plural(residueCount(p), "leftover item"));
/** "14 records of 3 cases (…): 12 documents (10 evidence, 2 correspondence), 2 message histories." — gone: the due records no choice keeps. */
function destroyWords(p: Plan, gone: PlanItem[]): string {
  if (!gone.length) {
    if (!p.records) return residueWords(p).trim().replace(/^Also /, "");
    return "no record: every record due in this plan is kept by a choice named below." + residueWords(p);
  }
  const docs = gone.filter((i) => i.doc), byClass = new Map<string, number>();
  for (const d of docs) byClass.set(d.class, (byClass.get(d.class) ?? 0) + 1);
  const parts = [];
  if (docs.length) parts.push(`${plural(docs.length, "document")} (${[...byClass].map(([c, n]) => `${n} ${classInSentence(c)}`).join(", ")})`);
  const hist = gone.filter((i) => !i.doc && i.class === "message-history").length;
  if (hist) parts.push(hist === 1 ? "1 message history" : `${hist} message histories`);
  const recs = gone.filter((i) => !i.doc && i.class === "case-record").length;
  if (recs) parts.push(recs === 1 ? "1 case record" : `${recs} case records`);
  const other = gone.length - docs.length - hist - recs;
  if (other) parts.push(plural(other, "other case record"));
  const ids = [...new Set(gone.map((i) => i.case))];
  const cases = [...new Set(gone.map((i) => caseWords(i.case, i.reference).replace(/^Case /, "")))];
  return `${plural(gone.length, "record")} of ${plural(ids.length, "case")} (${cases.join("; ")}): ${parts.join(", ")}.` + residueWords(p);
}

/** showPlan shows a plan, its records and its chosen actions; notice, if given, is said in its status line (why it is shown again). */
async function showPlan(id: string, box: HTMLElement, refresh: () => Promise<void>, notice?: string): Promise<void> {
  box.replaceChildren(h("p", { role: "status" }, "Loading the plan…"));
  let p: Plan;
  const items: PlanItem[] = [];
  try {
    p = await api.plan(id);
    for (let n = 0; n < p.pages; n++) items.push(...(await api.planRecords(id, n)));
  } catch (e) { box.replaceChildren(h("p", { class: "error" }, errText(e))); return; }
  learnOpened(items);
  numberDocs(items);
  // The actions shown are the ones approved: approving sends back their digest.
  const pa = await loadActions(p);
  const reasons = await holdWords();
  const due = items.filter((i) => !i.held?.length), held = items.filter((i) => i.held?.length);
  // What approving or carrying out destroys: the due records that no review or permanent keep holds back.
  const kept = new Set(keptBy(pa, due)), gone = due.filter((i) => !kept.has(i));
  const row = (it: PlanItem) => h("tr", {},
    h("td", {}, itemName(it)), h("td", {}, caseWords(it.case, it.reference)), h("td", {}, classWords(it.class)),
    h("td", {}, `${day(it.triggerAt)} (when ${triggerWords(it.trigger)})`), h("td", {}, bytes(it.size)));
  const table = (caption: string, rows: PlanItem[], extra?: (it: PlanItem) => HTMLElement) => h("div", { class: "scroll" },
    stacked(h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...["Record", "Case", "Kind of record", "Clock started", "Size", ...(extra ? ["Why kept"] : [])].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows.map((it) => { const r = row(it); if (extra) r.append(extra(it)); return r; })))));
  const status = h("p", { id: "plan-status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "row" });
  const progress = h("div", { id: "apply-progress" });
  const mine = p.planner === me.id;
  const confirmSlot = h("div", {});
  const confirm = (verb: string, button: HTMLElement) => {
    const box = h("input", { type: "checkbox", id: "plan-confirm" }) as HTMLInputElement;
    (button as HTMLButtonElement).disabled = true;
    const missing = h("p", { class: "note", id: "plan-confirm-missing" }, "Tick the box above first, once you have checked the list.");
    button.setAttribute("aria-describedby", "plan-confirm-missing");
    box.addEventListener("change", () => { (button as HTMLButtonElement).disabled = !box.checked; missing.textContent = box.checked ? "" : "Tick the box above first, once you have checked the list."; });
    return h("div", { class: "confirm", id: "plan-confirm-box", role: "group", "aria-labelledby": "plan-confirm-what" },
      h("p", { id: "plan-confirm-what" }, h("strong", {}, `${verb} ${destroyWords(p, gone)}`), " This cannot be undone."),
      h("p", {}, h("label", { for: "plan-confirm", class: "check" }, box, ` I have checked the list above: ${verb.toLowerCase()} ${gone.length === 1 ? "this record" : `these ${countWords(p, gone.length)}`} of this plan`)),
      h("p", {}, button), missing);
  };
  if (p.state === "planned" || p.state === "approved") {
    actions.append(h("button", {
      type: "button", id: "plan-discard",
      onclick: async () => {
        try {
          await api.discardPlan(id);
          await refresh();
          box.replaceChildren(h("p", { role: "status" }, `The plan made ${day(p.created)} was discarded: nothing was destroyed, and it is no longer listed. The audit log records who discarded it.`));
        } catch (e) { status.className = "error"; status.textContent = "Not discarded: " + errText(e); }
      },
    }, "Discard this plan (destroys nothing)"));
  }
  if (p.state === "planned") {
    confirmSlot.append(confirm("Approve destroying", h("button", {
      type: "button", class: "primary", id: "plan-approve",
      onclick: async () => {
        const seen = typeof pa === "string" ? undefined : pa.actionsDigest;
        if (!seen) {
          status.className = "error refusal";
          status.textContent = "Not approved: what happens to each record could not be loaded, so it cannot be approved unseen. Reload the page and try again.";
          return;
        }
        try {
          await api.approvePlan(id, seen);
          status.className = "";
          status.textContent = "Approved. The plan can now be carried out.";
          await refresh();
          await showPlan(id, box, refresh);
        } catch (e) {
          if (e instanceof APIError && e.problem.type === ProblemTypeBase + ("choices-changed" satisfies ProblemType)) {
            await showPlan(id, box, refresh, "Not approved: while you were looking, another records clerk changed what happens to some of this plan's records. " +
              "They are shown again below as they are now. Check them, then approve again if you agree.");
            return;
          }
          status.className = "error refusal";
          status.textContent = e instanceof APIError && e.status === 403
            ? (mine ? "Not approved: a second person must approve a plan. You made this one, so someone else must approve it." : "Not approved: you are not allowed to approve plans.")
            : "Not approved: " + errText(e);
        }
      },
    }, `Approve destroying ${countWords(p, gone.length)}`)));
    if (mine) actions.append(h("p", { class: "note" }, "A second person must approve a plan; you made this one, so someone else must."));
  } else if (p.state !== "done") {
    const go = h("button", { type: "button", class: "primary danger", id: "plan-apply", onclick: () => applyPlan(p, progress, box, refresh) },
      p.state === "approved" ? `Destroy ${countWords(p, gone.length)} now` : "Finish carrying out this plan");
    if (p.state === "approved") confirmSlot.append(confirm("Destroy", go)); else actions.append(go);
  } else {
    actions.append(h("button", { type: "button", id: "plan-cert", onclick: () => showCertificate(id, progress) }, "Show and check the certificate of destruction"));
  }
  box.replaceChildren(h("section", { class: "plan", "aria-labelledby": "plan-title", "data-plan": id, "data-state": p.state },
    h("h3", { id: "plan-title", tabindex: "-1" }, planWords(p)),
    h("p", {}, h("strong", {}, stateWords[p.state] ?? p.state)),
    h("p", { class: "note" }, `Made ${day(p.created)} by ${who(p.planner)}, for records due by ${day(p.asOf)}.` +
      (p.approved ? ` Approved ${day(p.approved.at)} by ${who(p.approved.by)}.` : "")),
    h("p", {}, kept.size
      ? `${plural(p.records, "record")} due (${bytes(p.bytes)}) in ${plural(p.cases, "case")}: ${gone.length} to destroy, ${kept.size} kept by a choice below; ${p.held} kept because of a legal hold.`
      : `${plural(p.records, "record")} to destroy (${bytes(p.bytes)}) in ${plural(p.cases, "case")}; ${p.held} kept because of a legal hold.`),
    due.length ? table(kept.size ? "Records due (what happens to each is below)" : "Records to destroy", due) : h("p", { class: "note" }, "No records to destroy."),
    ...due.filter((i) => i.paused).map((i) => h("p", { class: "note", "data-paused": i.case },
      `${caseWords(i.case, i.reference)}: an earlier plan began destroying this case and stopped on ${day(i.paused)}, because the storage refused to delete a record under a legal hold. What was left has been kept. ` +
      (p.state === "done" ? "This plan has since been carried out: its certificate says what was destroyed." : "Carrying out this plan finishes destroying it."))),
    held.length ? table("Records kept (on legal hold)", held, (it) => h("td", {}, reasons(it.held))) : null,
    residueSection(p),
    h("div", { id: "plan-actions-box" }), confirmSlot, actions, status, progress));
  (document.getElementById("plan-title") as HTMLElement).focus();
  if (due.length) renderActions(document.getElementById("plan-actions-box")!, p, pa, due, { me, caseWords, itemName, reload: () => showPlan(id, box, refresh) }); // records-actions.ts
  if (notice) { status.className = "error refusal"; status.textContent = notice; }
}

async function applyPlan(p: Plan, box: HTMLElement, planBox: HTMLElement, refresh: () => Promise<void>): Promise<void> {
  const btn = document.getElementById("plan-apply") as HTMLButtonElement | null;
  if (btn) btn.disabled = true;
  const total = p.pages + 2; // the pages, the case keys, the certificate
  const bar = h("progress", { id: "apply-bar", max: String(total), value: "0", "aria-label": "Carrying out the plan" }) as HTMLProgressElement;
  const words = h("p", { role: "status", "aria-live": "polite" }, "Starting…");
  const rows = h("tbody", {});
  box.replaceChildren(h("label", { for: "apply-bar" }, "Progress"), bar, words,
    h("div", { class: "scroll" }, h("table", { id: "apply-outcomes" }, h("caption", {}, "What happened to each record"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Record"), h("th", { scope: "col" }, "Case"), h("th", { scope: "col" }, "Outcome"))), rows)));
  const reasons = await holdWords();
  const outcome = (o: Outcome) => (o.result === "destroyed" ? "Destroyed" : o.result === "missing" ? `Missing, not destroyed: ${o.missing ?? "the record was not there"}` : o.kept && !o.held?.length ? `Kept: ${o.kept}`
    : o.held?.includes("storage hold") ? "Kept: the storage refused to delete it (it is under a legal hold there)" : `Kept (${reasons(o.held) || "legal hold"})`);
  try {
    for (let i = 0; i < 10000; i++) {
      const pr = await api.applyStep(p.id);
      const done = pr.done ? total : pr.pagesDone + (pr.plan.caseKeysDone ? 1 : 0);
      bar.value = done;
      learnOpened(pr.items ?? []);
      (pr.items ?? []).forEach((it, j) => rows.append(h("tr", {}, h("td", {}, itemName(it)), h("td", {}, caseWords(it.case, it.reference)), h("td", {}, pr.outcomes?.[j] ? outcome(pr.outcomes[j]) : ""))));
      words.textContent = pr.done ? "Finished." : pr.step === "transfers" ? "Sealed the transfer bundles…" : pr.step === "page" ? `Destroyed page ${pr.pagesDone} of ${pr.plan.pages}…`
        : pr.step === "case-keys" ? "Destroying the keys of cases with nothing left…" : "Making the certificate…";
      if (pr.done) break;
    }
    const kept = [...box.childNodes];
    await refresh();
    await showPlan(p.id, planBox, refresh);
    // Keep the run's progress and each record's outcome under the finished plan.
    const cert = h("div", {});
    document.getElementById("apply-progress")!.replaceChildren(...kept, cert);
    await showCertificate(p.id, cert);
  } catch (e) {
    words.className = "error";
    // A conflict's own words say what to do first (another plan's disposal of the case to finish): the advice follows them.
    words.textContent = "Stopped: " + errText(e) + (e instanceof APIError && e.status === 409
      ? ". Nothing is half-destroyed: once that is done, press the button again to carry this plan on from where it stopped."
      : ". Nothing is half-destroyed: press the button again to carry on from where it stopped.");
    if (btn) btn.disabled = false;
  }
}

async function showCertificate(id: string, box: HTMLElement): Promise<void> {
  box.replaceChildren(h("p", { role: "status" }, "Checking the certificate…"));
  try {
    const [signed, key] = await Promise.all([api.certificate(id), api.auditKey()]);
    // Why the signature fails (d) is for the administrator's tools, not for these words.
    const text = await openSignedNote(signed, key, () => new Error("its signature does not match this server's audit key"));
    const header = "Parley certificate of destruction v1\n";
    if (!text.startsWith(header)) throw new Error("this is not a certificate of destruction");
    const c = JSON.parse(text.slice(header.length));
    box.replaceChildren(h("section", { id: "certificate", "aria-labelledby": "cert-title" },
      h("h4", { id: "cert-title" }, "Certificate of destruction"),
      h("p", { class: "verified", role: "status" }, "✔ Signature verified: this certificate was signed by this server's audit key and has not been changed."),
      h("p", { class: "note" }, "Audit key: ", h("code", { class: "hash" }, key), ". Compare it with the copy your organisation keeps."),
      h("p", {}, `${plural(c.records, "record")} destroyed (${bytes(c.bytes)}), ${c.kept.filter((r: { action?: string }) => !r.action).length} kept because of a legal hold or while other records of their case remain${c.kept.some((r: { action?: string }) => r.action) ? `, ${c.kept.filter((r: { action?: string }) => r.action).length} kept by a review or a permanent keep` : ""}${c.transfers?.length ? `, ${c.transfers.length} case${c.transfers.length === 1 ? "" : "s"} transferred first` : ""}. Planned by ${who(c.planner)}, approved by ${who(c.approver)}, completed ${day(c.completed)}.`),
      c.missing?.length ? h("p", { id: "cert-missing" }, `${plural(c.missing.length, "case record")} missing when the plan reached ${c.missing.length === 1 ? "it" : "them"}: no retention plan destroyed ${c.missing.length === 1 ? "it" : "them"}, so ${c.missing.length === 1 ? "it is" : "they are"} not certified as destroyed (${c.missing.map((r: { case: string; reference?: string }) => caseWords(r.case, r.reference).replace(/^Case /, "")).join("; ")}).`) : null,
      h("p", {}, "Cases: " + [...new Set([...c.destroyed, ...c.kept, ...(c.missing ?? [])].map((r: { case: string; reference?: string }) => caseWords(r.case, r.reference).replace(/^Case /, "")))].join("; ")),
      h("p", { class: "note" }, "Method: " + c.method),
      h("button", { type: "button", onclick: () => saveFile(`certificate-of-destruction-${isoDay(c.completed)}.txt`, new Blob([signed], { type: "text/plain" })) }, "Download the signed certificate")));
  } catch (e) {
    box.replaceChildren(h("p", { class: "error", role: "alert" }, `The certificate could not be checked (${errText(e)}). Do not rely on it, and do not hand it on; tell your administrator.`));
  }
}

// --- the evaluation export ---

/** A month as a month <select> and a year <select> (every browser draws these; not all draw type="month"), read as numbers. */
function monthPicker(id: string, legend: string, year: number, month: number): { el: HTMLElement; value: () => { y: number; m: number } } {
  const now = new Date().getFullYear();
  const names = Array.from({ length: 12 }, (_, i) => new Date(Date.UTC(2000, i, 1)).toLocaleDateString(undefined, { month: "long", timeZone: "UTC" }));
  const m = h("select", { id: id + "-month" }, ...names.map((n, i) => h("option", { value: String(i + 1), selected: i + 1 === month }, n))) as HTMLSelectElement;
  // Cases are opened in Parley: none before 2000.
  const y = h("select", { id: id + "-year" }, ...Array.from({ length: now - 1999 }, (_, i) => now - i).map((n) => h("option", { value: String(n), selected: n === year }, String(n)))) as HTMLSelectElement;
  const el = h("fieldset", { id, class: "month-picker" }, h("legend", {}, legend),
    h("label", { for: m.id }, "Month"), m, h("label", { for: y.id }, "Year"), y);
  return { el, value: () => ({ y: Number(y.value), m: Number(m.value) }) };
}

function exportForm(): HTMLElement {
  // Whole months only (the server refuses any other range): the table's opening period is a month, and two
  // exports a day apart would single out the cases opened that day. "through" is the last month included.
  const today = new Date();
  const from = monthPicker("export-from", "Cases opened from", today.getFullYear() - 1, 1);
  const to = monthPicker("export-to", "through (the last month included)", today.getFullYear(), today.getMonth() + 1);
  const two = (n: number) => String(n).padStart(2, "0");
  /** "YYYY-MM-01" for a month, as the server takes it. */
  const firstDay = (y: number, m: number) => `${y}-${two(m)}-01`;
  const k = h("input", { id: "export-k", type: "number", min: "2", max: "1000", value: "5", required: true, inputmode: "numeric" }) as HTMLInputElement;
  const format = h("select", { id: "export-format" }, h("option", { value: "csv" }, "CSV (spreadsheets)"), h("option", { value: "jsonl" }, "JSON lines")) as HTMLSelectElement;
  const out = h("div", { id: "export-report", role: "status", "aria-live": "polite" });
  const confirmSlot = h("div", {});
  const longMonth = (y: number, m: number) => new Date(Date.UTC(y, m - 1, 1)).toLocaleDateString(undefined, { month: "long", year: "numeric", timeZone: "UTC" });
  /** The settings as confirmed: what runs is what was asked, whatever the form says by then. */
  type Settings = { from: { y: number; m: number }; to: { y: number; m: number }; k: number; format: string };
  const run = async (c: Settings) => {
    out.replaceChildren("Making the export…");
    try {
      // "to" is the first day of the month after the last one included.
      const { blob, report } = await api.runExport({ from: firstDay(c.from.y, c.from.m), to: firstDay(c.to.m === 12 ? c.to.y + 1 : c.to.y, c.to.m === 12 ? 1 : c.to.m + 1), k: c.k, format: c.format });
      saveFile(`parley-evaluation-${c.from.y}-${two(c.from.m)}-through-${c.to.y}-${two(c.to.m)}.${c.format}`, blob);
      out.replaceChildren(h("p", {}, "The export was downloaded."), h("ul", {},
        h("li", {}, `${report.rows} rows (one per case opened in the months chosen)`),
        h("li", {}, `${report.suppressed} rows left out so that no case can be picked out (each was ${aloneWords(report.k)})`),
        h("li", {}, `${report.generalized} values made less precise for the same reason`),
        h("li", {}, `${report.commentsDropped} free-text comments left out`),
        h("li", { class: "note" }, "SHA-256 of the file: " + report.sha256)));
    } catch (x) { out.replaceChildren(h("p", { class: "error" }, "No export: " + errText(x) + ". Nothing was downloaded.")); }
  };
  // The file leaves Parley for good once downloaded: say what it holds and who can read it, and wait for a tick.
  const ask = () => {
    const c: Settings = { from: from.value(), to: to.value(), k: Number(k.value), format: format.value };
    if (c.to.y * 12 + c.to.m < c.from.y * 12 + c.from.m) {
      out.replaceChildren(h("p", { class: "error", role: "alert" }, "The last month comes before the first: choose a last month that is the same as the first or later."));
      return;
    }
    const tick = h("input", { type: "checkbox", id: "export-confirm-check" }) as HTMLInputElement;
    const yes = h("button", { type: "button", class: "primary", id: "export-confirm-yes", disabled: true }, "Download the export") as HTMLButtonElement;
    tick.addEventListener("change", () => { yes.disabled = !tick.checked; });
    yes.onclick = () => { confirmSlot.replaceChildren(); void run(c); };
    confirmSlot.replaceChildren(h("div", { class: "confirm", id: "export-confirm", role: "group", "aria-labelledby": "export-confirm-what" },
      h("p", { id: "export-confirm-what" }, h("strong", {}, `Download an anonymous table of the cases opened from ${longMonth(c.from.y, c.from.m)} through ${longMonth(c.to.y, c.to.m)}?`),
        ` One row per case: no names, messages or documents; ${aloneWords(c.k)} is left out or made less precise. ` +
        "Once downloaded, the file is out of Parley's hands: anyone you give it to can read it, and it cannot be called back. The audit log records that you made it, with the file's SHA-256."),
      h("p", {}, h("label", { for: tick.id, class: "check" }, tick, " I understand: once downloaded, this file is out of Parley's hands")),
      h("div", { class: "row" }, yes, h("button", { type: "button", onclick: () => confirmSlot.replaceChildren() }, "Cancel"))));
    tick.focus();
  };
  // A setting changed after asking closes the question (not the question's own tick): what is confirmed is what runs.
  const settingChanged = (e: Event) => { if (!confirmSlot.contains(e.target as Node)) confirmSlot.replaceChildren(); };
  return h("form", {
    id: "export-form",
    oninput: settingChanged,
    onchange: settingChanged,
    onsubmit: (e: Event) => { e.preventDefault(); out.replaceChildren(); ask(); },
  }, h("h2", { id: "export-title" }, "Evaluation export"),
  h("p", { class: "note" }, "An anonymous table of cases for evaluating the program: no names, no messages, no documents. Cases that could be recognised are left out or made less precise."),
  h("div", { class: "row" }, from.el, to.el),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "export-k" }, "Smallest group of alike cases (k)"), k),
    h("div", {}, h("label", { for: "export-format" }, "File type"), format)),
  h("div", { class: "row" },
    h("button", { type: "submit", class: "primary" }, "Make and download the export…"),
    h("button", {
      type: "button", id: "export-dictionary",
      onclick: async () => {
        try { saveFile(`parley-evaluation-dictionary.md`, new Blob([await api.dictionary(Number(k.value), format.value)], { type: "text/markdown" })); } catch (x) { out.replaceChildren(h("p", { class: "error" }, errText(x))); }
      },
    }, "Download the data dictionary")), confirmSlot, out);
}

/** One document for records staff: its class, size and hold, never its name. Held by the
 * case's hold or by its own (reason and authority); a hold of its own is placed and
 * released with a reason like any other. */
function recordsItem(caseID: string, d: Document, holds: Hold[], refresh: () => Promise<void>): HTMLElement {
  const caseHold = holds.find((x) => !x.doc);
  const own = holds.filter((x) => x.doc === d.id);
  const words = [
    ...(caseHold ? [`Held by the case hold: ${caseHold.reason} (${caseHold.authority})`] : []),
    ...own.map((x) => `Held on its own: ${x.reason} (${x.authority})`),
    ...(d.held && !own.length ? ["On legal hold (placed before holds had reasons)"] : []),
  ];
  const status = h("span", { role: "status", class: "hold-state" }, words.length ? words.join(" · ") : "Not on hold");
  const out = h("span", { role: "status" });
  const slot = h("div", {});
  const reason = h("input", { id: "doc-reason-" + d.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  const authority = h("input", { id: "doc-authority-" + d.id, type: "text", required: true, maxlength: "200", autocomplete: "off" }) as HTMLInputElement;
  const releasing = own.length > 0 || d.held;
  const form = h("form", {
    class: "row doc-hold-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (releasing) {
        const r = reason.value; // the reason quoted is the reason given
        const caseHolds = holds.filter((x) => !x.doc).map((x) => `a hold on the whole case, ${holdQuote(x)}`);
        releaseConfirm(slot, "release-confirm-" + d.id, `the legal hold of its own on this ${docWords(d.class).toLowerCase()} (version ${d.version}) of ${caseWords(caseID)}` +
          (own.length ? ` (${own.map(holdQuote).join("; ")})` : ""),
          caseHolds.length ? stillHeld(caseHolds) : dueAgain("it is"), r,
          async () => { await api.holdDocument(caseID, d.id, false, r, ""); await refresh(); },
          async () => (await api.holds(caseID, false)).some((o) => o.doc === d.id) || (await api.documents(caseID)).some((o) => o.id === d.id && o.held), refresh);
        return;
      }
      try {
        await api.holdDocument(caseID, d.id, true, reason.value, authority.value);
        await refresh();
      } catch (x) { out.textContent = "Not changed: " + errText(x); }
    },
  }, h("div", {}, h("label", { for: reason.id }, releasing ? "Why release this document's own hold" : "Why hold this document"), reason),
  releasing ? null : h("div", {}, h("label", { for: authority.id }, "On what authority"), authority),
  h("button", { type: "submit" }, releasing ? "Release this document's hold…" : "Place a legal hold on this document"), out);
  // Who sees a document hold (documents.ts marks a held document for everyone who sees it listed).
  const seen = releasing ? null : h("p", { class: "note doc-hold-who" }, "Who will see this: the people in the case who see this document listed (the parties of its room and the mediators) see that it is on legal hold, never why. Records staff and administrators see the reason and the authority.");
  return h("li", { "data-doc": d.id, "data-held": String(words.length > 0) },
    h("strong", {}, docWords(d.class)), h("span", { class: "note" }, ` · version ${d.version} · ${bytes(d.size)} (records staff never see its name)`),
    h("div", {}, status), form, seen, slot);
}
