// The Parley browser client: sign in (or join by invite), then the case's
// rooms, end-to-end encrypted in this browser, and its documents. Every room
// and document says in words who can read it; each caucus keeps one colour.
import { renderSessions, renderCaseload } from "./sessions";
import { deskView, deskButton } from "./desk";
import { api, APIError, Account, Case, Document, Hold, Listed, Outcome, Plan, PlanItem } from "./api";
import type { ParticipantRole } from "./wire_gen";
import * as E from "./e2ee";
import { registerDevice, SecureCase, SecureEvent } from "./secure";
import { loadOrCreateDevice, markRegistered } from "./store";
import { openSignedNote } from "./tlog";

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
function h(tag: string, attrs: Attrs = {}, ...kids: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== false) el.append(k);
  return el;
}

const $ = (id: string) => document.getElementById(id)!;
const main = () => $("main");
function say(text: string, error = false) {
  main().replaceChildren(h("p", { id: "status", role: "status", class: error ? "error" : "" }, text));
}
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

let me: Account;
let sc: SecureCase;
let c: Case;
let current = "joint";
const logs = new Map<string, HTMLElement>();
const unread = new Map<string, number>();
const roomButtons = new Map<string, HTMLElement>();

// --- who can read what, in words ---

function roomClass(room: string): string {
  if (room === "joint") return "room-joint";
  if (room === "mediators") return "room-mediators";
  const side = E.caucusSide(room);
  const i = c.sides.findIndex((s) => s.id === side);
  return "room-side-" + (i < 0 ? 0 : i % 4);
}

function sideLabel(side?: string): string {
  return c.sides.find((s) => s.id === side)?.label ?? side ?? "";
}

function roomTitle(room: string): string {
  if (room === "joint") return "Joint room";
  if (room === "mediators") return "Mediators only";
  return `${sideLabel(E.caucusSide(room)!)} caucus`;
}

function myself() {
  return c.participants.find((p) => p.accountId === me.id);
}

/** How the viewer should read an account: "you", "your lawyer Jordan Blake", "the mediator Morgan Reyes", … */
function personWords(account: string): string {
  if (account === me.id) return "you";
  const m = c.mediators.find((x) => x.accountId === account);
  if (m) return `the mediator ${m.name}`;
  const p = c.participants.find((x) => x.accountId === account);
  if (!p) return account;
  const mine = myself();
  if (mine && mine.side && p.side === mine.side) {
    if (p.role === "counsel") return `your lawyer ${p.name}`;
    if (mine.role === "counsel" && p.role === "party") return `your client ${p.name}`;
    return `${p.name} (your side)`;
  }
  if (p.role === "observer") return `${p.name} (observer)`;
  return `${p.name} (${sideLabel(p.side)}${p.role === "counsel" ? " lawyer" : ""})`;
}

function membersOf(audience: string): string[] {
  const med = c.mediators.filter((m) => !m.recused).map((m) => m.accountId);
  if (audience === "joint") return [...med, ...c.participants.map((p) => p.accountId)];
  if (audience === "mediators") return med;
  const side = E.caucusSide(audience);
  if (side) return [...med, ...c.participants.filter((p) => p.side === side && p.role !== "observer").map((p) => p.accountId)];
  if (audience.startsWith("user:")) return [...med, ...audience.slice(5).split(",")];
  return med;
}

function visibleTo(audience: string): string {
  const ids = membersOf(audience);
  // You first, then your side, then others, the mediators last.
  const rank = (a: string) => {
    if (a === me.id) return 0;
    if (c.mediators.some((m) => m.accountId === a)) return 3;
    const p = c.participants.find((x) => x.accountId === a);
    return p && myself()?.side && p.side === myself()!.side ? 1 : 2;
  };
  const words = [...new Set(ids)].sort((a, b) => rank(a) - rank(b)).map(personWords);
  const lead = audience === "joint" ? "everyone in this mediation: " : audience.startsWith("caucus:") ? `the ${sideLabel(E.caucusSide(audience)!)} side only: ` : "";
  return "Visible to: " + lead + words.join(", ");
}

function banner(audience: string, what: string): HTMLElement {
  const tag = audience.startsWith("user:") ? "Named people" : roomTitle(audience);
  return h("p", { class: "banner " + (audience.startsWith("user:") ? "room-mediators" : roomClass(audience)), "data-audience": audience },
    h("span", { class: "swatch" }, tag), " ", h("strong", {}, visibleTo(audience)), h("span", { class: "note" }, " — " + what));
}

// --- sign in, join, device ---

async function signIn(): Promise<void> {
  const email = h("input", { id: "email", type: "email", autocomplete: "username", required: true }) as HTMLInputElement;
  const pw = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const err = h("p", { class: "error", role: "alert" });
  return new Promise((resolve) => {
    const form = h("form", {
      class: "form", "aria-labelledby": "signin-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          await api.login(email.value, pw.value);
          resolve();
        } catch (x) {
          err.textContent = x instanceof APIError && x.status === 401 ? "That email and password do not match." : errText(x);
        }
      },
    },
    h("h1", { id: "signin-title" }, "Sign in to Parley"),
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, "Password"), pw,
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Sign in")), err,
    h("p", { class: "note" }, "Invited to a mediation? Open the link your mediator sent you instead."));
    main().replaceChildren(form);
    email.focus();
  });
}

async function start(): Promise<void> {
  let caseID = new URLSearchParams(location.hash.slice(1)).get("case") ?? "";
  if (location.pathname === "/join") {
    const token = location.hash.slice(1);
    history.replaceState(null, "", "/app");
    if (!token) return say("This link has no invitation in it. Please open the full link your mediator sent you.", true);
    say("Checking your invitation…");
    try {
      caseID = (await api.redeem(token)).caseId ?? "";
    } catch (e) {
      return say(e instanceof APIError && e.status === 410
        ? "This invitation has expired or was already used. Please ask your mediator for a new link."
        : "We could not open this invitation (" + errText(e) + ").", true);
    }
    history.replaceState(null, "", "/app#case=" + encodeURIComponent(caseID));
  }
  for (let i = 0; i < 5; i++) {
    try { me = await api.me(); break; } catch (e) {
      if (!(e instanceof APIError && e.status === 401)) throw e;
      await signIn();
    }
  }
  $("who").textContent = me.name;
  const out = $("signout") as HTMLButtonElement;
  out.hidden = false;
  out.onclick = async () => { await api.logout().catch(() => {}); location.href = "/app"; };

  if (me.role === "records" || me.role === "admin") return recordsView();
  if (me.role === "mediator" && location.hash === "#caseload") return caseloadView();
  if (me.role === "mediator" && location.hash.startsWith("#desk")) return deskView(me, main());
  say("Preparing this browser's encryption keys…");
  const dev = await loadOrCreateDevice(me.id);
  if (!dev.registered) {
    await registerDevice(dev.keys);
    await markRegistered(me.id);
  }
  if (!caseID) {
    const list = await api.cases();
    if (list.length === 0 && me.role === "mediator") return deskView(me, main());
    if (list.length === 0) return say("You are not in any case yet.");
    if (list.length > 1) return chooseCase(list, dev.keys);
    caseID = list[0].id;
  }
  await openCase(caseID, dev.keys);
}

function caseloadButton(): HTMLElement | null {
  if (me.role !== "mediator") return null;
  return h("button", { type: "button", id: "open-caseload", onclick: () => { location.hash = "caseload"; location.reload(); } }, "Caseload: open cases and delays");
}

/** A mediator's caseload, each case a button that opens it. */
async function caseloadView(): Promise<void> {
  const box = h("section", { id: "caseload", "aria-labelledby": "caseload-title" });
  main().replaceChildren(h("button", { type: "button", id: "back-to-cases", onclick: () => { location.hash = ""; location.reload(); } }, "← Back to your cases"), box);
  await renderCaseload(box, (id) => { location.hash = "case=" + id; location.reload(); });
}

function chooseCase(list: { id: string; title?: string; relation: string }[], keys: E.DeviceKeys) {
  main().replaceChildren(h("h1", {}, "Your cases"), deskButton(me) ?? "", caseloadButton() ?? "", h("ul", {}, ...list.map((l) =>
    h("li", {}, h("button", { type: "button", onclick: () => { history.replaceState(null, "", "/app#case=" + l.id); void openCase(l.id, keys); } },
      `${l.title ?? l.id} (${l.relation})`)))));
}

// --- records staff: legal holds, disposition plans, exports (never content) ---
// Administrators see the disposition plans only: policy lets them approve
// and apply plans, not place holds or run exports.

const day = (t?: string) => (t ? new Date(t).toISOString().slice(0, 10) : "");
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

async function recordsView(): Promise<void> {
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
  renderPlans(plans);
  if (!records) return;
  exports.append(exportForm());
  void renderCaseload(load);
  holds.append(h("h2", { id: "records-title" }, "Legal holds"),
    h("p", { class: "note" }, "A legal hold stops records from being destroyed, whatever the retention schedule says. Hold a whole case, or one document."));
  const list = await api.cases();
  for (const l of list) holds.append(await caseHolds(l));
}

async function caseHolds(l: Listed): Promise<HTMLElement> {
  const box = h("div", { class: "case-holds", "data-case": l.id });
  const caseList = h("ul", { class: "holds" });
  const ul = h("ul", { class: "docs" });
  const reason = h("input", { id: "hold-reason-" + l.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  const authority = h("input", { id: "hold-authority-" + l.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  const out = h("p", { role: "status", class: "note" });
  const refresh = async () => {
    try {
      const hs = (await api.holds(l.id, false)).filter((x) => !x.released);
      caseList.replaceChildren(...hs.map((x) => caseHoldItem(l.id, x, refresh)),
        ...(hs.some((x) => !x.doc) ? [] : [h("li", { class: "note" }, "No hold on the whole case.")]));
    } catch (e) { caseList.replaceChildren(h("li", { class: "error" }, errText(e))); }
  };
  const form = h("form", {
    class: "hold-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        await api.placeHold(l.id, reason.value, authority.value);
        reason.value = authority.value = "";
        out.textContent = "The whole case is now on legal hold.";
        await refresh();
      } catch (x) { out.textContent = "Not placed: " + errText(x); }
    },
  }, h("div", { class: "row" },
    h("div", {}, h("label", { for: reason.id }, "Why (for example: complaint received)"), reason),
    h("div", {}, h("label", { for: authority.id }, "On what authority (court order, rule)"), authority),
    h("button", { type: "submit" }, "Hold the whole case")), out);
  box.append(h("h3", {}, l.title ?? l.id), caseList, form, h("h4", {}, "Documents"), ul);
  await refresh();
  let docs: Document[] = [];
  try { docs = await api.documents(l.id); } catch (e) { ul.append(h("li", { class: "error" }, errText(e))); return box; }
  if (!docs.length) ul.append(h("li", { class: "note" }, "No documents."));
  for (const d of docs) ul.append(recordsItem(l.id, d));
  return box;
}

function caseHoldItem(caseID: string, x: Hold, refresh: () => Promise<void>): HTMLElement {
  const why = h("input", { id: "release-" + x.id, type: "text", required: true, maxlength: "500", autocomplete: "off" }) as HTMLInputElement;
  const out = h("span", { role: "status" });
  return h("li", { "data-hold": x.id },
    h("strong", {}, x.doc ? `Document ${x.doc} on legal hold` : "Whole case on legal hold"), h("span", { class: "note" }, ` since ${day(x.placed)} · why: ${x.reason} · authority: ${x.authority}`),
    h("form", {
      class: "row", onsubmit: async (e: Event) => {
        e.preventDefault();
        try { await api.releaseHold(caseID, x.id, why.value); await refresh(); } catch (err) { out.textContent = "Not released: " + errText(err); }
      },
    }, h("div", {}, h("label", { for: why.id }, "Why release it"), why), h("button", { type: "submit" }, x.doc ? "Release this hold" : "Release the case hold"), out));
}

// --- disposition plans ---

async function renderPlans(sec: HTMLElement): Promise<void> {
  const asOf = h("input", { id: "plan-asof", type: "date", value: day(new Date().toISOString()), required: true }) as HTMLInputElement;
  const out = h("p", { role: "status", class: "note" });
  const list = h("ul", { class: "docs", id: "plan-list" });
  const detail = h("div", { id: "plan-detail" });
  const refresh = async () => {
    try {
      const ps = (await api.plans()).sort((a, b) => b.created.localeCompare(a.created));
      list.replaceChildren(...(ps.length ? ps.map((p) => h("li", { "data-plan": p.id },
        h("button", { type: "button", onclick: () => showPlan(p.id, detail, refresh) }, `Plan of ${day(p.created)} (as of ${day(p.asOf)})`),
        h("span", { class: "note" }, ` ${plural(p.records, "record")} due · ${p.held} held · ${stateWords[p.state] ?? p.state}`))) : [h("li", { class: "note" }, "No plans yet.")]));
    } catch (e) { list.replaceChildren(h("li", { class: "error" }, errText(e))); }
  };
  sec.replaceChildren(h("h2", { id: "plans-title" }, "Disposal of old records"),
    h("p", { class: "note" }, "The retention schedule says how long each kind of record is kept. A plan lists every record whose time is up. One person makes the plan, a second person approves it, and then it can be carried out: the records are destroyed for good and a signed certificate of destruction records what went. Records on legal hold are never destroyed."),
    h("form", {
      id: "plan-form", onsubmit: async (e: Event) => {
        e.preventDefault();
        out.textContent = "Making the plan…";
        try {
          const p = await api.makePlan(asOf.value);
          out.textContent = `Plan made: ${plural(p.records, "record")} due, ${p.held} kept because of a legal hold.`;
          await refresh();
          await showPlan(p.id, detail, refresh);
        } catch (x) { out.textContent = "No plan made: " + errText(x); }
      },
    }, h("div", { class: "row" }, h("div", {}, h("label", { for: "plan-asof" }, "Records due on or before"), asOf), h("button", { type: "submit", class: "primary" }, "Make a plan")), out),
    h("h3", {}, "Plans"), list, detail);
  await refresh();
}

/** Plans and outcomes name holds by id ("hold h_…"): say what each rests on. */
async function holdWords(): Promise<(hs?: string[]) => string> {
  const why = new Map<string, string>();
  try { for (const x of await api.allHolds()) why.set(x.id, `${x.doc ? "document" : "case"} hold: ${x.reason} (${x.authority})`); } catch { /* ids only */ }
  return (hs?: string[]) => (hs ?? []).map((x) => why.get(x.replace(/^hold /, "")) ?? x).join("; ");
}

function itemName(it: PlanItem): string {
  return it.doc ? `Document ${it.doc} version ${it.version}` : "Message history";
}

async function showPlan(id: string, box: HTMLElement, refresh: () => Promise<void>): Promise<void> {
  box.replaceChildren(h("p", { role: "status" }, "Loading the plan…"));
  let p: Plan;
  const items: PlanItem[] = [];
  try {
    p = await api.plan(id);
    for (let n = 0; n < p.pages; n++) items.push(...(await api.planRecords(id, n)));
  } catch (e) { box.replaceChildren(h("p", { class: "error" }, errText(e))); return; }
  const reasons = await holdWords();
  const due = items.filter((i) => !i.held?.length), held = items.filter((i) => i.held?.length);
  const row = (it: PlanItem) => h("tr", {},
    h("td", {}, itemName(it)), h("td", {}, it.case), h("td", {}, it.class),
    h("td", {}, `${day(it.triggerAt)} (${it.trigger})`), h("td", {}, bytes(it.size)));
  const table = (caption: string, rows: PlanItem[], extra?: (it: PlanItem) => HTMLElement) => h("div", { class: "scroll" },
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, ...["Record", "Case", "Class", "Clock started", "Size", ...(extra ? ["Why kept"] : [])].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows.map((it) => { const r = row(it); if (extra) r.append(extra(it)); return r; }))));
  const status = h("p", { id: "plan-status", role: "status", "aria-live": "polite" });
  const actions = h("div", { class: "row" });
  const progress = h("div", { id: "apply-progress" });
  const mine = p.planner === me.id;
  if (p.state === "planned") {
    actions.append(h("button", {
      type: "button", class: "primary", id: "plan-approve",
      onclick: async () => {
        try {
          await api.approvePlan(id);
          status.className = "";
          status.textContent = "Approved. The plan can now be carried out.";
          await refresh();
          await showPlan(id, box, refresh);
        } catch (e) {
          status.className = "error refusal";
          status.textContent = e instanceof APIError && e.status === 403
            ? (mine ? "Not approved: a second person must approve a plan. You made this one, so someone else must approve it." : "Not approved: you are not allowed to approve plans.")
            : "Not approved: " + errText(e);
        }
      },
    }, "Approve this plan"));
    if (mine) actions.append(h("p", { class: "note" }, "A second person must approve a plan; you made this one, so someone else must."));
  } else if (p.state !== "done") {
    actions.append(h("button", { type: "button", class: "primary", id: "plan-apply", onclick: () => applyPlan(p, progress, box, refresh) },
      p.state === "approved" ? "Carry out this plan (destroy the records)" : "Finish carrying out this plan"));
  } else {
    actions.append(h("button", { type: "button", id: "plan-cert", onclick: () => showCertificate(id, progress) }, "Show and check the certificate of destruction"));
  }
  box.replaceChildren(h("section", { class: "plan", "aria-labelledby": "plan-title", "data-plan": id, "data-state": p.state },
    h("h3", { id: "plan-title", tabindex: "-1" }, `Plan ${p.id}`),
    h("p", {}, h("strong", {}, stateWords[p.state] ?? p.state)),
    h("p", { class: "note" }, `Made ${day(p.created)} by ${p.planner === me.id ? "you" : p.planner}, for records due by ${day(p.asOf)}.` +
      (p.approved ? ` Approved ${day(p.approved.at)} by ${p.approved.by === me.id ? "you" : p.approved.by}.` : "")),
    h("p", {}, `${plural(p.records, "record")} to destroy (${bytes(p.bytes)}) in ${plural(p.cases, "case")}; ${p.held} kept because of a legal hold.`),
    due.length ? table("Records to destroy", due) : h("p", { class: "note" }, "No records to destroy."),
    held.length ? table("Records kept (on legal hold)", held, (it) => h("td", {}, reasons(it.held))) : null,
    actions, status, progress));
  (document.getElementById("plan-title") as HTMLElement).focus();
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
  const outcome = (o: Outcome) => (o.result === "destroyed" ? "Destroyed" : `Kept (${reasons(o.held) || "legal hold"})`);
  try {
    for (let i = 0; i < 10000; i++) {
      const pr = await api.applyStep(p.id);
      const done = pr.done ? total : pr.pagesDone + (pr.plan.caseKeysDone ? 1 : 0);
      bar.value = done;
      (pr.items ?? []).forEach((it, j) => rows.append(h("tr", {}, h("td", {}, itemName(it)), h("td", {}, it.case), h("td", {}, pr.outcomes?.[j] ? outcome(pr.outcomes[j]) : ""))));
      words.textContent = pr.done ? "Finished." : pr.step === "page" ? `Destroyed page ${pr.pagesDone} of ${pr.plan.pages}…`
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
    words.textContent = "Stopped: " + errText(e) + ". Nothing is half-destroyed: press the button again to carry on from where it stopped.";
    if (btn) btn.disabled = false;
  }
}

async function showCertificate(id: string, box: HTMLElement): Promise<void> {
  box.replaceChildren(h("p", { role: "status" }, "Checking the certificate…"));
  try {
    const [signed, key] = await Promise.all([api.certificate(id), api.auditKey()]);
    const text = await openSignedNote(signed, key, (d) => new Error("the certificate's signature does not check: " + d));
    const header = "Parley certificate of destruction v1\n";
    if (!text.startsWith(header)) throw new Error("this is not a certificate of destruction");
    const c = JSON.parse(text.slice(header.length));
    box.replaceChildren(h("section", { id: "certificate", "aria-labelledby": "cert-title" },
      h("h4", { id: "cert-title" }, "Certificate of destruction"),
      h("p", { class: "verified", role: "status" }, "✔ Signature verified: this certificate was signed by this server's audit key and has not been changed."),
      h("p", { class: "note" }, `Audit key: ${key}. Compare it with the copy your organisation keeps.`),
      h("p", {}, `${plural(c.records, "record")} destroyed (${bytes(c.bytes)}), ${c.kept.length} kept because of a legal hold. Planned by ${c.planner}, approved by ${c.approver}, completed ${day(c.completed)}.`),
      h("p", { class: "note" }, "Method: " + c.method),
      h("button", { type: "button", onclick: () => saveFile(`certificate-${id}.txt`, new Blob([signed], { type: "text/plain" })) }, "Download the signed certificate")));
  } catch (e) {
    box.replaceChildren(h("p", { class: "error", role: "alert" }, "The certificate could not be checked: " + errText(e)));
  }
}

// --- the evaluation export ---

function exportForm(): HTMLElement {
  const today = new Date();
  const from = h("input", { id: "export-from", type: "date", required: true, value: `${today.getUTCFullYear() - 1}-01-01` }) as HTMLInputElement;
  const to = h("input", { id: "export-to", type: "date", required: true, value: day(new Date(today.getTime() + 86400000).toISOString()) }) as HTMLInputElement;
  const k = h("input", { id: "export-k", type: "number", min: "2", max: "1000", value: "5", required: true, inputmode: "numeric" }) as HTMLInputElement;
  const format = h("select", { id: "export-format" }, h("option", { value: "csv" }, "CSV (spreadsheets)"), h("option", { value: "jsonl" }, "JSON lines")) as HTMLSelectElement;
  const out = h("div", { id: "export-report", role: "status", "aria-live": "polite" });
  return h("form", {
    id: "export-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      out.replaceChildren("Making the export…");
      try {
        const { blob, report } = await api.runExport({ from: from.value, to: to.value, k: Number(k.value), format: format.value });
        saveFile(`parley-evaluation-${from.value}-to-${to.value}.${format.value}`, blob);
        out.replaceChildren(h("p", {}, "The export was downloaded."), h("ul", {},
          h("li", {}, `${report.rows} rows (one per case opened in the dates chosen)`),
          h("li", {}, `${report.suppressed} rows left out so that no case can be picked out (fewer than ${report.k} alike)`),
          h("li", {}, `${report.generalized} values made less precise for the same reason`),
          h("li", {}, `${report.commentsDropped} free-text comments left out`),
          h("li", { class: "note" }, "SHA-256 of the file: " + report.sha256)));
      } catch (x) { out.replaceChildren(h("p", { class: "error" }, "No export: " + errText(x))); }
    },
  }, h("h2", { id: "export-title" }, "Evaluation export"),
  h("p", { class: "note" }, "An anonymous table of cases for evaluating the program: no names, no messages, no documents. Cases that could be recognised are left out or made less precise."),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "export-from" }, "Cases opened from"), from),
    h("div", {}, h("label", { for: "export-to" }, "up to (not including)"), to)),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "export-k" }, "Smallest group of alike cases (k)"), k),
    h("div", {}, h("label", { for: "export-format" }, "File type"), format)),
  h("div", { class: "row" },
    h("button", { type: "submit", class: "primary" }, "Make and download the export"),
    h("button", {
      type: "button", id: "export-dictionary",
      onclick: async () => {
        try { saveFile(`parley-evaluation-dictionary.md`, new Blob([await api.dictionary(Number(k.value), format.value)], { type: "text/markdown" })); } catch (x) { out.replaceChildren(h("p", { class: "error" }, errText(x))); }
      },
    }, "Download the data dictionary")), out);
}

function recordsItem(caseID: string, d: Document): HTMLElement {
  const status = h("span", { role: "status", class: "hold-state" }, d.held ? "On legal hold" : "Not on hold");
  const btn = h("button", {
    type: "button",
    onclick: async () => {
      (btn as HTMLButtonElement).disabled = true;
      try {
        const nd = await api.hold(caseID, d.id, !d.held);
        li.replaceWith(recordsItem(caseID, nd));
      } catch (e) {
        status.textContent = "Not changed: " + errText(e);
        (btn as HTMLButtonElement).disabled = false;
      }
    },
  }, d.held ? "Release the legal hold" : "Place a legal hold");
  const li = h("li", { "data-doc": d.id },
    h("strong", {}, d.name ?? `Document ${d.id}`), h("span", { class: "note" }, ` · ${d.class} · version ${d.version} · ${d.size} bytes · audience ${d.audience}`),
    h("div", { class: "row" }, status, btn));
  return li;
}

// --- the case ---

async function openCase(caseID: string, keys: E.DeviceKeys): Promise<void> {
  say("Opening the case and checking its keys…");
  sc = new SecureCase(caseID, keys);
  sc.onEvent = onEvent;
  sc.onNotice = (t) => notice(t);
  sc.onPresence = (room) => {
    roomButtons.get(room)?.replaceChildren(...roomLabel(room));
    if (room === current) document.getElementById("present")?.replaceWith(presenceLine(room));
  };
  sc.onCase = (nc) => {
    c = nc;
    if (roomButtons.size) {
      renderRooms();
      // Refresh the banner (who can read) without touching the composer.
      const old = document.querySelector("#room > .banner");
      if (old) old.replaceWith(banner(current, "messages are encrypted in the senders' browsers for these people's devices only."));
    }
  };
  sc.onStatus = (s, detail) => {
    const el = $("conn");
    el.textContent = s === "live" ? "Connected — end-to-end encrypted" : s === "reconnecting" ? "Reconnecting…" : s === "closed" ? detail ?? "Disconnected" : "Connecting…";
    el.className = "conn" + (s === "live" ? "" : " bad");
  };
  c = await api.getCase(caseID);
  sc.c = c;
  render();
  await sc.open();
  c = sc.c;
  if (!sc.rooms.includes(current)) current = sc.rooms[0];
  renderRooms();
  switchRoom(current);
  await renderDocuments();
  await renderSessions($("sessions"), {
    caseID, mediator: sc.mediator, rooms: sc.rooms, roomTitle, nameOf: (a) => sc.nameOf(a),
    closed: !!c.closed, agreement: !!c.closed && (c.outcome?.result === "full-agreement" || c.outcome?.result === "partial-agreement"),
  });
}

let noticeEl: HTMLElement;
function notice(text: string) {
  noticeEl.textContent = text;
}

function render() {
  $("case-title").textContent = c.title;
  noticeEl = h("p", { id: "notice", class: "note", role: "status", "aria-live": "polite" });
  main().replaceChildren(
    programNotices(),
    h("div", { class: "layout" },
      h("nav", { "aria-label": "Rooms" }, h("h2", { id: "rooms-title" }, "Rooms"), h("ul", { class: "rooms", id: "rooms" })),
      h("div", { class: "content" },
        h("section", { id: "room", "aria-labelledby": "room-title" }),
        noticeEl,
        h("section", { id: "sessions", "aria-labelledby": "sessions-title" }, h("h2", { id: "sessions-title" }, "Sessions"), h("p", {}, "Loading…")),
        h("section", { id: "documents", "aria-labelledby": "docs-title" }, h("h2", { id: "docs-title" }, "Documents"), h("p", {}, "Loading…"))),
      h("aside", { class: "tools", "aria-label": "Safety numbers and invitations" },
        deskButton(me, c.id) ?? "", caseloadButton() ?? "",
        h("h2", {}, "Safety numbers"), h("div", { id: "safety" }), h("div", { id: "invite" }))));
}

/**
 * The program's notices (a mediator recused, a new mediator assigned), shown
 * to everyone in the case, in the words the server wrote for them.
 */
function programNotices(): HTMLElement | string {
  const notices = c.notices ?? [];
  if (notices.length === 0) return "";
  return h("section", { id: "program-notices", class: "note", "aria-labelledby": "program-notices-title" },
    h("h2", { id: "program-notices-title" }, "Notices from the mediation program"),
    h("ul", {}, ...notices.map((n) => h("li", { "data-notice": n.kind }, n.text))),
    h("p", {}, "Everyone taking part in this mediation sees these notices. If you have a concern, contact the mediation program."));
}

function renderRooms() {
  const ul = $("rooms");
  ul.replaceChildren();
  for (const room of sc.rooms) {
    const b = h("button", { type: "button", class: roomClass(room), "data-room": room, "aria-current": String(room === current), onclick: () => switchRoom(room) }, ...roomLabel(room));
    roomButtons.set(room, b);
    ul.append(h("li", {}, b));
    logFor(room);
  }
  if (sc.mediator && !document.getElementById("invite-form")) $("invite").replaceChildren(inviteForm());
  const safety = $("safety");
  safety.replaceChildren();
  const people = [...c.mediators.filter((m) => !m.recused).map((m) => m.accountId), ...c.participants.map((p) => p.accountId)].filter((a) => a !== me.id);
  for (const a of people) {
    const out = h("p", { class: "safety", "aria-live": "polite" });
    safety.append(h("div", {}, h("button", {
      type: "button", onclick: async () => {
        try { out.textContent = await sc.safetyNumber(a); } catch (e) { out.textContent = errText(e); }
      },
    }, "Safety number with " + sc.nameOf(a)), out));
  }
}

/** A room button's contents: its name, who is here, and how many new messages. */
function roomLabel(room: string): (Node | string)[] {
  const here = [...(sc.present.get(room) ?? [])].filter((a) => a !== me.id);
  const n = unread.get(room) ?? 0;
  return [roomTitle(room),
    h("span", { class: "here" }, here.length ? ` · ${here.length} here` : ""),
    n > 0 ? h("span", { class: "unread", "aria-label": `${n} new` }, String(n)) : ""];
}

function presenceLine(room: string): HTMLElement {
  const here = [...(sc.present.get(room) ?? [])].filter((a) => a !== me.id).map((a) => sc.nameOf(a));
  return h("p", { class: "note", id: "present" }, here.length ? "Here now: " + here.join(", ") : "Nobody else is here right now.");
}

/** A mediator invites a party, lawyer or observer; the link is shown once (the server keeps only its hash). */
function inviteForm(): HTMLElement {
  const role = h("select", { id: "invite-role" }, ...[["party", "Party"], ["counsel", "Lawyer"], ["observer", "Observer"]].map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
  const side = h("select", { id: "invite-side" }, ...c.sides.map((s) => h("option", { value: s.id }, s.label))) as HTMLSelectElement;
  const name = h("input", { id: "invite-name", type: "text", required: true, autocomplete: "off" }) as HTMLInputElement;
  const email = h("input", { id: "invite-email", type: "email", autocomplete: "off" }) as HTMLInputElement;
  const out = h("div", { "aria-live": "polite" });
  role.onchange = () => { side.disabled = role.value === "observer"; };
  return h("form", {
    id: "invite-form",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      try {
        const inv = await api.invite(sc.caseID, role.value as ParticipantRole, role.value === "observer" ? "" : side.value, name.value, email.value.trim());
        const link = h("input", { id: "invite-link", type: "text", readonly: true, value: inv.link }) as HTMLInputElement;
        const to = email.value.trim();
        out.replaceChildren(h("label", { for: "invite-link" }, `Invitation for ${name.value} (send it privately; it works once)`), link,
          inv.mailed ? h("p", { class: "note", id: "invite-mailed" }, `The link was also sent by email to ${to}. The email has only the link and when it expires.`)
            : to ? h("p", { class: "note", id: "invite-mailed" }, inv.mailWarning ?? "No email went out (mail is not set up here): give the link yourself.") : "");
        name.value = "";
        email.value = "";
        link.select();
      } catch (x) { out.replaceChildren(h("p", { class: "error", role: "alert" }, errText(x))); }
    },
  },
  h("h2", {}, "Invite someone"),
  h("label", { for: "invite-name" }, "Name"), name,
  h("label", { for: "invite-email" }, "Email (optional: we email this invitation link, then session invitations and reminders; mails carry only times and links)"), email,
  h("label", { for: "invite-role" }, "Takes part as"), role,
  h("label", { for: "invite-side" }, "Side"), side,
  h("div", { class: "row" }, h("button", { type: "submit" }, "Make an invitation link")), out);
}

function logFor(room: string): HTMLElement {
  let l = logs.get(room);
  if (!l) logs.set(room, (l = h("ol", { class: "log", role: "log", "aria-live": "polite", "aria-label": "Messages in " + roomTitle(room), tabindex: "0" })));
  return l;
}

function switchRoom(room: string) {
  current = room;
  unread.set(room, 0);
  for (const [r, b] of roomButtons) {
    b.setAttribute("aria-current", String(r === room));
    b.replaceChildren(...roomLabel(r));
  }
  const sec = $("room");
  const ta = h("textarea", { id: "draft", name: "draft", required: true, maxlength: "40000" }) as HTMLTextAreaElement;
  const err = h("p", { class: "error", role: "alert" });
  const observer = myself()?.role === "observer";
  // A new, empty composer for every room: a draft typed for one room is never kept for another.
  const form = h("form", {
    class: "composer " + roomClass(room),
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const text = ta.value;
      if (!text.trim()) return;
      const btn = form.querySelector("button")!;
      btn.disabled = true;
      err.textContent = "";
      try {
        await sc.send(room, { kind: E.KindText, text });
        if (current === room) ta.value = "";
      } catch (x) {
        err.textContent = "Not sent: " + errText(x);
      } finally {
        btn.disabled = false;
      }
    },
  },
  h("label", { for: "draft" }, `Message to the ${roomTitle(room)}`), ta,
  h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, "Send encrypted")), err);
  ta.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) (form as HTMLFormElement).requestSubmit();
  });
  sec.replaceChildren(
    h("h1", { id: "room-title" }, roomTitle(room)),
    banner(room, "messages are encrypted in the senders' browsers for these people's devices only."),
    presenceLine(room),
    logFor(room),
    observer ? h("p", { class: "note" }, "Observers read the joint room and do not post.") : form);
  const log = logs.get(room)!;
  log.scrollTop = log.scrollHeight;
}

function fmtTime(ms: number) {
  return new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function onEvent(ev: SecureEvent) {
  const log = logFor(ev.room);
  const who = ev.from === me.id ? "You" : sc.nameOf(ev.from);
  let li: HTMLElement;
  if (ev.rejected && /no key for this message/.test(ev.rejected)) {
    li = h("li", { class: "note" }, h("span", { class: "meta" }, `${fmtTime(ev.at)} · ${who} · `),
      "A message sent before this browser's keys could read this room: it stays unreadable here by design.");
  } else if (ev.rejected) {
    li = h("li", { class: "rejected" }, h("span", { class: "meta" }, `${fmtTime(ev.at)} · from ${who} · `), "A message that could not be verified was refused (" + ev.rejected + ").");
  } else if (ev.kind === E.KindCarryProposal) {
    const ref = ev.plain!.ref!;
    const orig = sc.seen.get(`${ev.room}|${ref.epoch}|${ref.offset}`);
    const mine = orig?.from === me.id;
    li = h("li", { class: "proposal", "data-carry": ev.plain!.carryID! },
      h("span", { class: "meta" }, `${fmtTime(ev.at)} · ${who}`), h("br"),
      `${who === "You" ? "You propose" : who + " proposes"} carrying ${mine ? "your" : "a"} message${orig ? ` “${orig.text}”` : ""} to the joint room, where everyone in the mediation will see it.`,
      ev.plain!.text ? h("span", { class: "note" }, " Note: " + ev.plain!.text) : null);
    if (mine) {
      const status = h("span", { role: "status" });
      const approve = h("button", {
        type: "button", class: "primary",
        onclick: async () => {
          (approve as HTMLButtonElement).disabled = true;
          try {
            await sc.approveCarry(ev);
            status.textContent = " Carried to the joint room with your consent.";
          } catch (e) {
            status.textContent = " Not carried: " + errText(e);
            (approve as HTMLButtonElement).disabled = false;
          }
        },
      }, "Approve carrying it to the joint room");
      li.append(h("div", { class: "row" }, approve), status);
    }
  } else if (ev.kind === E.KindCarried) {
    const p = ev.plain!;
    li = h("li", { class: "carried " + roomClass(p.room ?? "") },
      h("span", { class: "meta" }, `${fmtTime(ev.at)} · ${who} · carried from the ${roomTitle(p.room ?? "")} with ${ev.from === me.id ? "your" : "their"} consent (proposed by ${sc.nameOf(p.proposer ?? "")})`),
      h("br"), h("span", { class: "text" }, ev.text ?? ""));
  } else {
    li = h("li", { "data-pos": `${ev.pos.epoch}:${ev.pos.offset}` },
      h("span", { class: "meta" }, `${fmtTime(ev.at)} · ${who}`), h("br"), h("span", { class: "text" }, ev.text ?? ""));
    if (sc.mediator && E.caucusSide(ev.room) && ev.from !== me.id && !c.mediators.some((m) => m.accountId === ev.from)) {
      const status = h("span", { role: "status" });
      const b = h("button", {
        type: "button",
        onclick: async () => {
          (b as HTMLButtonElement).disabled = true;
          try {
            await sc.proposeCarry(ev, "");
            status.textContent = ` Proposed. ${sc.nameOf(ev.from)} must approve it on their own device.`;
          } catch (e) {
            status.textContent = " Not proposed: " + errText(e);
            (b as HTMLButtonElement).disabled = false;
          }
        },
      }, "Propose carrying to the joint room");
      li.append(h("div", {}, b, status));
    }
  }
  log.append(li);
  log.scrollTop = log.scrollHeight;
  if (ev.room !== current) {
    unread.set(ev.room, (unread.get(ev.room) ?? 0) + 1);
    roomButtons.get(ev.room)?.replaceChildren(...roomLabel(ev.room));
  }
}

// --- documents ---

function audienceOptions(): [string, string][] {
  const mine = myself();
  const out: [string, string][] = [["joint", "Joint: everyone in the mediation"]];
  for (const s of c.sides) {
    if (sc.mediator || mine?.side === s.id) out.push(["caucus:" + s.id, `${s.label} side only (and the mediators)`]);
  }
  if (sc.mediator) out.push(["mediators", "Mediators only"]);
  return out;
}

async function renderDocuments(): Promise<void> {
  const sec = $("documents");
  let docs: Document[] = [];
  let listErr = "";
  try { docs = await api.documents(sc.caseID); } catch (e) { listErr = errText(e); }
  const list = h("ul", { class: "docs", id: "doc-list" });
  for (const d of docs) list.append(docItem(d));
  const file = h("input", { id: "doc-file", type: "file", required: true }) as HTMLInputElement;
  const aud = h("select", { id: "doc-audience" }, ...audienceOptions().map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
  const cls = h("select", { id: "doc-class" }, ...["evidence", "correspondence", "agreement", "admin"].map((v) => h("option", { value: v }, v))) as HTMLSelectElement;
  const audNote = h("p", { class: "note", "aria-live": "polite" }, visibleTo(aud.value));
  aud.onchange = () => { audNote.textContent = visibleTo(aud.value); };
  const err = h("p", { class: "error", role: "alert" });
  const form = h("form", {
    onsubmit: async (e: Event) => {
      e.preventDefault();
      if (!file.files?.length) return;
      err.textContent = "";
      try {
        await api.upload(sc.caseID, file.files[0], aud.value, cls.value);
        file.value = "";
        await renderDocuments();
      } catch (x) { err.textContent = "Not uploaded: " + errText(x); }
    },
  },
  h("h3", {}, "Upload a document"),
  h("div", { class: "row" },
    h("div", {}, h("label", { for: "doc-file" }, "File"), file),
    h("div", {}, h("label", { for: "doc-audience" }, "Who may see it"), aud),
    h("div", {}, h("label", { for: "doc-class" }, "Kind"), cls),
    h("button", { class: "primary", type: "submit" }, "Upload")),
  audNote, err,
  h("p", { class: "note" }, "Documents are encrypted by the server's vault at rest and released only to the audience shown; they are not end-to-end encrypted."));
  const refresh = h("button", { type: "button", id: "docs-refresh", onclick: () => void renderDocuments() }, "Refresh documents");
  sec.replaceChildren(h("h2", { id: "docs-title" }, "Documents"), refresh, listErr ? h("p", { class: "error" }, listErr) : "",
    docs.length ? list : h("p", { class: "note" }, "No documents shared with you yet."), form);
}

function docItem(d: Document): HTMLElement {
  const name = d.name ?? "(a document you cannot open)";
  const li = h("li", { class: d.audience.startsWith("user:") ? "room-mediators" : roomClass(d.audience), "data-doc": d.id },
    h("strong", {}, name), h("span", { class: "note" }, ` · version ${d.version} · ${d.size} bytes · ${d.class}${d.held ? " · on legal hold" : ""}`),
    banner(d.audience, "this document."),
    d.canDownload ? h("a", { href: api.contentURL(sc.caseID, d.id), download: name }, "Download " + name) : null);
  if (sc.mediator) {
    const sel = h("select", { id: "share-" + d.id }, ...audienceOptions().filter(([v]) => v !== d.audience).map(([v, t]) => h("option", { value: v }, t))) as HTMLSelectElement;
    const out = h("div", { "aria-live": "polite" });
    li.append(h("div", { class: "row" },
      h("div", {}, h("label", { for: "share-" + d.id }, "Share with"), sel),
      h("button", {
        type: "button",
        onclick: async () => {
          try {
            const dry = await api.share(sc.caseID, d.id, sel.value, true);
            const gain = dry.gaining.map((p) => personWords(p.accountId));
            const lose = dry.losing.map((p) => personWords(p.accountId));
            const confirm = h("button", {
              type: "button", class: "primary",
              onclick: async () => {
                try { await api.share(sc.caseID, d.id, sel.value, false); await renderDocuments(); } catch (e) { out.textContent = errText(e); }
              },
            }, "Confirm sharing");
            out.replaceChildren(h("div", { class: "confirm", role: "alertdialog", "aria-label": "Confirm who gains access" },
              h("p", {}, gain.length ? `This widens who can see “${name}”: ${gain.join(", ")} will be able to open it.` : "Nobody new gains access."),
              lose.length ? h("p", {}, `${lose.join(", ")} will lose access.`) : null,
              h("p", {}, visibleTo(sel.value)),
              h("div", { class: "row" }, confirm, h("button", { type: "button", onclick: () => out.replaceChildren() }, "Cancel"))));
            confirm.focus();
          } catch (e) { out.textContent = errText(e); }
        },
      }, "Share…")), out);
  }
  return li;
}

start().catch((e) => say("Something went wrong: " + errText(e) + ". Reload the page to try again.", true));
