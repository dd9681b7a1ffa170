// Actions besides destroy, on a disposition plan awaiting approval: for each
// record, records staff choose to destroy it (the default), review it (keep
// it until a date, with a reason), keep it permanently (on an authority), or
// transfer its whole case to an archive or a court (a bundle only the
// recipient's age key opens, then destroyed). Every choice asks a
// deliberate confirmation naming what will happen. Once the plan is carried
// out, the transfer bundles download here. Like the rest of the records
// screens, nothing here shows a document's name or content.
import { call, APIError, Account, Plan, PlanItem, staffWords } from "./api";
import type { ChooseAction, DisposalAction, PlanActions, Transfer } from "./wire_gen";
import { h } from "./dom";
import { stacked } from "./records-words";

const errText = staffWords; // staff only: never a status, an id or the browser's network text
/** A day as a date input wants it (UTC), and in words: "5 December 2026". */
const isoDay = (t?: string) => (t ? new Date(t).toISOString().slice(0, 10) : "");
const day = (t?: string) => (t ? new Intl.DateTimeFormat(undefined, { day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(new Date(t)) : "");
const plan = (id: string) => "/api/v1/retention/plans/" + encodeURIComponent(id);

/** The key the server gives a record among a plan's actions. */
export function itemKey(it: PlanItem): string {
  return it.doc ? `${it.case}/${it.doc}@${it.version}` : `${it.case}/${it.class}`;
}

/** What the screen needs from records.ts. */
export interface ActionsContext {
  me: Account;
  caseWords: (id: string, ref?: string) => string;
  itemName: (it: PlanItem) => string;
  /** Show the plan again (after a choice). */
  reload: () => Promise<void>;
}

/** The action chosen for a record: its own, else its case's transfer, else destroy. */
export function actionOf(pa: PlanActions, it: PlanItem): DisposalAction | undefined {
  return pa.actions[itemKey(it)] ?? pa.actions[it.case];
}

function actionWords(a: DisposalAction | undefined): string {
  if (!a || a.kind === "destroy") return "Destroy as planned";
  if (a.kind === "review") return `Review: keep until ${day(a.until)} (${a.reason})`;
  if (a.kind === "keep") return `Keep permanently (${a.authority})`;
  return `Transfer the case to ${a.recipientName} (sealed for the key ${a.recipient}), then destroy`;
}

/** A transfer in words, its recipient's key whole and wrapping (a phone). */
function transferNode(a: DisposalAction, tail: string): (Node | string)[] {
  return [`Transfer the case to ${a.recipientName}, sealed for the key `, h("code", { class: "hash recipient-key" }, a.recipient ?? ""), tail];
}

/**
 * The case-level transfers a plan's choices hold, whatever its records'
 * own choices: apply bundles the whole case for each, so the page shows
 * each one, even when every due record of the case has a choice of its own.
 */
function caseTransfers(pa: PlanActions): [string, DisposalAction][] {
  return Object.entries(pa.actions).filter(([k, a]) => !k.includes("/") && a.kind === "transfer").sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
}

/**
 * loadActions lists the plan's chosen actions, or says in words why they
 * could not be loaded. The page approves the plan with the listing's
 * actionsDigest: exactly what renderActions showed.
 */
export async function loadActions(p: Plan): Promise<PlanActions | string> {
  try {
    return await call<PlanActions>("GET", plan(p.id) + "/actions");
  } catch (e) {
    return "The chosen actions could not be loaded: " + errText(e);
  }
}

/**
 * renderActions fills into with the plan's chosen actions (loadActions') and,
 * while the plan awaits approval and the user is records staff, a way to
 * change them per record; once carried out, the transfer bundles to download.
 */
export function renderActions(into: HTMLElement, p: Plan, pa: PlanActions | string, due: PlanItem[], ctx: ActionsContext): void {
  if (typeof pa === "string") {
    into.replaceChildren(h("p", { class: "error" }, pa));
    return;
  }
  const canChoose = p.state === "planned" && ctx.me.role === "records";
  const chosen = due.filter((it) => { const a = actionOf(pa, it); return a && a.kind !== "destroy"; });
  const transfers = caseTransfers(pa);
  const caseOf = (id: string) => { const it = due.find((x) => x.case === id); return ctx.caseWords(id, it?.reference); };
  const editor = h("div", { id: "action-editor" });
  const rows = due.map((it) => h("tr", { "data-record": itemKey(it) },
    h("td", {}, ctx.itemName(it)), h("td", {}, ctx.caseWords(it.case, it.reference)),
    h("td", { class: "action-words" }, ...cellWords(pa, it)),
    canChoose ? h("td", {}, h("button", {
      type: "button", class: "choose-action", "aria-label": `Choose what happens to: ${ctx.itemName(it)}, ${ctx.caseWords(it.case, it.reference)}`,
      onclick: () => openEditor(editor, p, it, actionOf(pa, it), ctx),
    }, "Choose…")) : null));
  const bundles = pa.transfers.filter((t) => t.sha256);
  into.replaceChildren(h("section", { id: "plan-actions-section", "aria-labelledby": "plan-actions-title" },
    h("h4", { id: "plan-actions-title" }, "What happens to each record"),
    h("p", { class: "note" }, canChoose
      ? "Every record is destroyed unless you choose otherwise: review it (keep it until a date), keep it permanently, or transfer its case to an archive or a court first. Your choices are seen by records staff and the person who approves the plan; the certificate says what was kept and until when, and shows a reason or an authority only as a fingerprint. You cannot approve this plan yourself once you have chosen."
      : "Records staff choose these before the plan is approved; the certificate records them."),
    h("p", { id: "plan-actions-summary" }, chosen.length
      ? `${chosen.length} of ${due.length} records are not simply destroyed: ${[...new Set(chosen.map((it) => actionWords(actionOf(pa, it)).split(":")[0].split(" (")[0]))].join("; ")}.`
      : transfers.length ? "No record is kept: each is destroyed, after the transfer below." : "Every record in this plan is destroyed; no other action was chosen."),
    // Every case transfer the approval covers, named with its key, even
    // where the case's records have choices of their own.
    transfers.length ? h("div", { id: "plan-transfers" }, h("p", {}, `${transfers.length === 1 ? "One case is" : `${transfers.length} cases are`} transferred whole (its documents shared with everyone in the case, its outcome and its audit record; never caucus documents or mediator notes) before its records are dealt with:`),
      h("ul", {}, ...transfers.map(([c, a]) => h("li", { "data-case": c }, `${caseOf(c)}: `, ...transferNode(a, ".")))),
      p.state === "planned" ? h("p", { class: "note" }, "Check each key with the recipient before approving: only that key opens the bundle.") : null) : null,
    h("div", { class: "scroll" }, stacked(h("table", { id: "plan-actions-table" }, h("caption", {}, "Action per record"),
      h("thead", {}, h("tr", {}, ...["Record", "Case", "What happens", ...(canChoose ? ["Change"] : [])].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, ...rows)))),
    editor,
    bundles.length ? transferList(p, bundles, ctx) : null));
  // The approval's confirmation names the other actions too.
  const what = document.getElementById("plan-confirm-what");
  // Each case transfer is named there, with its key, whatever its records' own choices.
  const own = chosen.filter((it) => actionOf(pa, it)?.kind !== "transfer");
  if (what && (own.length || transfers.length)) what.append(" ", h("strong", { id: "plan-confirm-actions" },
    own.length ? `Kept, not destroyed: ${own.map((it) => `${ctx.itemName(it)} of ${ctx.caseWords(it.case, it.reference)} — ${actionWords(actionOf(pa, it))}`).join("; ")}.` : "",
    ...transfers.flatMap(([c, a]) => [` ${caseOf(c)}: `, ...transferNode(a, ".")])));
}

/** The due records a plan's choices keep from destruction (a review or a permanent keep); a transfer destroys after sealing. */
export function keptBy(pa: PlanActions | string, due: PlanItem[]): PlanItem[] {
  if (typeof pa === "string") return [];
  return due.filter((it) => { const k = actionOf(pa, it)?.kind; return k === "review" || k === "keep"; });
}

/** A record's action in the table; a record with a choice of its own in a transferred case says the transfer too. */
function cellWords(pa: PlanActions, it: PlanItem): (Node | string)[] {
  const a = actionOf(pa, it), t = pa.actions[it.case];
  if (a?.kind === "transfer") return transferNode(a, ", then destroy");
  if (t?.kind !== "transfer") return [actionWords(a)];
  return [actionWords(a), ". The whole case is transferred too: ", ...transferNode(t, ".")];
}

function transferList(p: Plan, ts: Transfer[], ctx: ActionsContext): HTMLElement {
  const status = h("p", { id: "transfer-status", role: "status", "aria-live": "polite" });
  return h("section", { id: "transfers", "aria-labelledby": "transfers-title" },
    h("h4", { id: "transfers-title" }, "Transfer bundles"),
    h("p", { class: "note" }, "Each bundle is sealed so that only the recipient's key opens it: not Parley, not records staff. Hand it to the recipient with its SHA-256, which the certificate also records. Downloading is recorded in the audit log."),
    h("ul", {}, ...ts.map((t) => h("li", {},
      `${ctx.caseWords(t.case, t.reference)} for ${t.recipientName}: ${t.documents.length} joint document${t.documents.length === 1 ? "" : "s"}, ${t.withheld} withheld (caucus, named people, mediators only), ${t.auditEntries} audit entries with proofs. SHA-256 `, h("code", { class: "hash" }, (t.sha256 ?? "").replace(/^sha256:/, "")), ". ",
      h("button", {
        type: "button", class: "transfer-download", "data-case": t.case,
        onclick: async () => {
          try {
            const res = await fetch(plan(p.id) + "/transfers/" + encodeURIComponent(t.case), { credentials: "same-origin" });
            if (!res.ok) throw new Error(res.status === 403 ? "you are not allowed to download transfer bundles" : "the service is not answering properly just now; wait a minute and try again");
            const blob = await res.blob();
            const sum = Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", await blob.arrayBuffer()))).map((b) => b.toString(16).padStart(2, "0")).join("");
            if ("sha256:" + sum !== t.sha256) throw new Error("the download does not match the recorded SHA-256; it was not saved");
            const url = URL.createObjectURL(blob);
            const a = h("a", { href: url, download: `transfer-${t.reference || "case-without-reference"}.age`, hidden: true });
            document.body.append(a);
            a.click();
            a.remove();
            setTimeout(() => URL.revokeObjectURL(url), 60000);
            status.className = "";
            status.textContent = `Downloaded the bundle for ${t.recipientName}; it matches the certificate's SHA-256.`;
          } catch (e) { status.className = "error"; status.textContent = "Not downloaded: " + errText(e); }
        },
      }, `Download the bundle for ${t.recipientName}`)))),
    status);
}

function openEditor(box: HTMLElement, p: Plan, it: PlanItem, current: DisposalAction | undefined, ctx: ActionsContext): void {
  const name = `${ctx.itemName(it)} of ${ctx.caseWords(it.case, it.reference)}`;
  const radio = (value: string, label: string) => {
    const r = h("input", { type: "radio", name: "action-kind", id: "action-" + value, value }) as HTMLInputElement;
    if ((current?.kind ?? "destroy") === value) r.checked = true;
    return h("div", {}, h("label", { for: "action-" + value, class: "check" }, r, " " + label));
  };
  const until = h("input", { id: "action-until", type: "date", value: current?.until ? isoDay(current.until) : "" }) as HTMLInputElement;
  const reason = h("input", { id: "action-reason", type: "text", maxlength: "500", value: current?.reason ?? "" }) as HTMLInputElement;
  const authority = h("input", { id: "action-authority", type: "text", maxlength: "500", value: current?.authority ?? "" }) as HTMLInputElement;
  const recipientName = h("input", { id: "action-recipient-name", type: "text", maxlength: "200", value: current?.recipientName ?? "" }) as HTMLInputElement;
  const recipient = h("input", { id: "action-recipient", type: "text", maxlength: "200", spellcheck: "false", autocomplete: "off", value: current?.recipient ?? "" }) as HTMLInputElement;
  const fields: Record<string, HTMLElement> = {
    review: h("div", { class: "action-fields" },
      h("div", {}, h("label", { for: "action-until" }, "Keep it until"), until),
      h("div", {}, h("label", { for: "action-reason" }, "Reason (on the plan, for records staff; the certificate shows only a fingerprint of it)"), reason)),
    keep: h("div", { class: "action-fields" },
      h("div", {}, h("label", { for: "action-authority" }, "Authority: the court order, statute or program rule"), authority)),
    transfer: h("div", { class: "action-fields" },
      h("div", {}, h("label", { for: "action-recipient-name" }, "Who receives it (an archive, a court)"), recipientName),
      h("div", {}, h("label", { for: "action-recipient" }, "The recipient's age public key (starts with age1)"), recipient)),
  };
  const confirmBox = h("input", { type: "checkbox", id: "action-confirm" }) as HTMLInputElement;
  const confirmWords = h("span", { id: "action-confirm-words" });
  const save = h("button", { type: "submit", class: "primary", id: "action-save", disabled: true, "aria-describedby": "action-save-missing" }, "Save this choice") as HTMLButtonElement;
  // While Save is off, it says why, next to it.
  const saveMissing = h("p", { class: "note", id: "action-save-missing" }, "Tick the “I understand” box above first.");
  const sync = () => { saveMissing.textContent = save.disabled && !confirmBox.checked ? "Tick the “I understand” box above first." : ""; };
  const status = h("p", { id: "action-status", role: "status", "aria-live": "polite" });
  const kind = () => (box.querySelector("input[name=action-kind]:checked") as HTMLInputElement | null)?.value ?? "destroy";
  const describe = () => {
    const k = kind();
    for (const [name, el] of Object.entries(fields)) el.hidden = name !== k;
    confirmWords.textContent =
      k === "review" ? ` I understand: ${name} will not be destroyed; it is kept until ${until.value || "the date above"} and planned again after that.`
      : k === "keep" ? ` I understand: ${name} will never be destroyed by a plan; it is kept permanently on the authority above.`
      : k === "transfer" ? ` I understand: the whole of ${ctx.caseWords(it.case, it.reference)} — its documents shared with everyone in the case, its outcome and its audit record — is sealed for ${recipientName.value || "the recipient"} (caucus documents and mediator notes are never included), and then its planned records are destroyed. This cannot be undone once the plan is carried out.`
      : ` I understand: ${name} will be destroyed as planned, once a second person approves and the plan is carried out.`;
    confirmBox.checked = false;
    save.disabled = true;
    sync();
    status.textContent = "";
  };
  confirmBox.addEventListener("change", () => { save.disabled = !confirmBox.checked; sync(); });
  const form = h("form", {
    id: "action-form", "aria-labelledby": "action-title",
    onsubmit: async (e: Event) => {
      e.preventDefault();
      const k = kind();
      const req: ChooseAction = { case: it.case, kind: k };
      // A transfer is the case's; dropping one names the case alone.
      if (k !== "transfer" && !(k === "destroy" && current?.kind === "transfer")) { if (it.doc) { req.doc = it.doc; req.version = it.version; } else req.class = it.class; }
      if (k === "review") {
        if (!until.value || !reason.value.trim()) { status.className = "error"; status.textContent = "Give the date to keep it until and the reason."; return; }
        req.until = new Date(until.value + "T00:00:00Z").toISOString();
        req.reason = reason.value;
      } else if (k === "keep") {
        if (!authority.value.trim()) { status.className = "error"; status.textContent = "Name the authority that keeps it."; return; }
        req.authority = authority.value;
      } else if (k === "transfer") {
        if (!recipientName.value.trim() || !recipient.value.trim()) { status.className = "error"; status.textContent = "Name who receives it and paste their age public key."; return; }
        req.recipient = recipient.value.trim();
        req.recipientName = recipientName.value;
      }
      save.disabled = true;
      try {
        await call<PlanActions>("POST", plan(p.id) + "/actions", req);
        await ctx.reload();
        const s = document.getElementById("plan-actions-summary");
        if (s) s.prepend(h("span", { role: "status" }, "Saved. "));
      } catch (x) {
        status.className = "error";
        // A field the server refused is named by what it wants ("the recipient's age public key…").
        status.textContent = "Not saved: " + (x instanceof APIError && x.status === 400 && x.problem.errors?.length ? "check " : "") + errText(x);
        save.disabled = !confirmBox.checked;
        sync();
      }
    },
  },
  h("h5", { id: "action-title", tabindex: "-1" }, `What happens to ${name}`),
  h("fieldset", {}, h("legend", {}, "Choose one"),
    radio("destroy", "Destroy as planned"),
    radio("review", "Review: keep it longer, until a date"),
    radio("keep", "Keep it permanently"),
    radio("transfer", "Transfer the whole case to an archive or a court, then destroy it")),
  ...Object.values(fields),
  h("p", {}, h("label", { for: "action-confirm", class: "check" }, confirmBox, confirmWords)),
  h("div", { class: "row" }, save, h("button", { type: "button", onclick: () => box.replaceChildren() }, "Cancel")),
  saveMissing, status);
  form.addEventListener("change", (e) => { if ((e.target as HTMLElement).getAttribute("name") === "action-kind") describe(); });
  for (const el of [until, reason, authority, recipientName, recipient]) el.addEventListener("input", () => { const c = confirmBox.checked; describe(); confirmBox.checked = c; save.disabled = !c; sync(); });
  box.replaceChildren(form);
  describe();
  (document.getElementById("action-title") as HTMLElement).focus();
}
