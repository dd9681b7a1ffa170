// Records staff: residue in a disposition plan (what no record class
// covers, by kind and count, never names) and schedule changes that
// shorten a period, which a second person approves here.
import { call, APIError, staffWords } from "./api";
import type { Plan, ScheduleChange } from "./wire_gen";
import { h } from "./dom";
import { classWords } from "./records-words";

/** Plain words for each kind of residue. */
const kindWords: Record<string, string> = {
  "orphaned-ciphertext": "encrypted files of no document (an upload that never finished, or a case already gone)",
  "abandoned-upload": "key records of uploads that never finished",
  "expired-session": "expired or signed-out sign-ins",
  "expired-invite": "invitation links that expired unused",
  "stale-email-index": "email look-up entries of participants no longer on the server",
  "orphaned-seat-index": "sign-in look-up entries of cases no longer on the server",
  "spent-journal": "working notes of disposals already certified",
};
const kinds = Object.keys(kindWords);

/** How many residue objects a plan destroys. */
export function residueCount(p: Plan): number {
  return Object.values(p.residue ?? {}).reduce((a, b) => a + b, 0);
}

/** Words for the plan's residue, for its confirmation ("" when none). */
export function residueWords(p: Plan): string {
  const n = residueCount(p);
  return n ? ` Also ${n} leftover item${n === 1 ? "" : "s"} no record class covers (${kinds.filter((k) => p.residue?.[k]).map((k) => `${p.residue![k]} ${kindWords[k]}`).join("; ")}).` : "";
}

/** The plan's residue as a table of counts, or null. */
export function residueSection(p: Plan): HTMLElement | null {
  if (!residueCount(p)) return null;
  return h("div", { class: "scroll", id: "plan-residue" },
    h("table", {}, h("caption", {}, "Leftovers no record class covers (kept 30 days by default after they became leftovers; counts only)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "What"), h("th", { scope: "col" }, "How many"))),
      h("tbody", {}, ...kinds.filter((k) => p.residue?.[k]).map((k) => h("tr", {}, h("td", {}, kindWords[k]), h("td", {}, String(p.residue![k])))))));
}

const period = (days: number) => (days > 0 && days % 365 === 0 ? `${days / 365} year${days === 365 ? "" : "s"}` : `${days} day${days === 1 ? "" : "s"}`);
const trig: Record<string, string> = { "case-closed": "the case closes", "superseded": "a newer version is stored", "created": "it is made" };

/** Proposed schedule changes that shorten a period, with an approval behind a deliberate confirmation. */
export function scheduleChangesView(meID: string): HTMLElement {
  const sec = h("section", { id: "schedule-changes", "aria-labelledby": "schedule-changes-title" });
  const render = async () => {
    let l: ScheduleChange[];
    try { l = (await call<ScheduleChange[]>("GET", "/api/v1/retention/schedule/changes")).filter((c) => c.state === "pending"); } catch { sec.replaceChildren(); return; }
    if (!l.length) { sec.replaceChildren(); return; }
    sec.replaceChildren(h("h3", { id: "schedule-changes-title" }, "Schedule changes waiting for approval"),
      h("p", { class: "note" }, "A change that shortens how long records are kept makes them due sooner, some at once. It is in force only once a second person approves it. Only records staff and administrators see this."),
      h("ul", { class: "docs" }, ...l.map((c) => item(c))));
  };
  const item = (c: ScheduleChange) => {
    const what = `Records of the kind “${classWords(c.rule.class)}” kept ${period(c.rule.days)} after ${trig[c.rule.trigger] ?? c.rule.trigger}, instead of ${period(c.was.days)} after ${trig[c.was.trigger] ?? c.was.trigger}`;
    const status = h("p", { role: "status", "aria-live": "polite" });
    const li = h("li", { "data-change": c.id }, h("p", {}, h("strong", {}, what + "."),
      c.proposedBy === meID ? " You proposed it, so someone else must approve it." : ""),
      // The server's warning names the schedule's codes ("0d", "created"): the same warning, in words.
      ...(c.warnings?.length ? [h("p", { class: "note" }, "Note: " + (c.rule.days === 0
        ? `a period of 0 days makes these records due as soon as ${trig[c.rule.trigger] ?? "their clock starts"}: the next plan lists them at once.`
        : `a period of ${period(c.rule.days)} is very short: these records fall due ${period(c.rule.days)} after ${trig[c.rule.trigger] ?? "their clock starts"}.`))] : []));
    if (c.proposedBy !== meID) {
      const id = `change-confirm-${c.id}`;
      const box = h("input", { type: "checkbox", id }) as HTMLInputElement;
      const go = h("button", {
        type: "button", class: "primary danger", disabled: true,
        onclick: async () => {
          try {
            await call<ScheduleChange>("POST", `/api/v1/retention/schedule/changes/${encodeURIComponent(c.id)}/approve`);
            await render();
            const done = h("p", { role: "status", id: "schedule-change-done" }, `Approved: ${what}. The next plan lists what this makes due.`);
            sec.append(done);
          } catch (e) {
            status.className = "error";
            status.textContent = e instanceof APIError && e.status === 409
              ? "Not approved: the rule for this class changed after this was proposed, so it was withdrawn. Ask for it to be proposed again."
              : e instanceof APIError && e.status === 403 ? "Not approved: you may not approve this change." : "Not approved: " + staffWords(e) + ".";
          }
        },
      }, "Approve this shorter period") as HTMLButtonElement;
      const missing = h("p", { class: "note", id: `${id}-missing` }, "Tick the “I understand” box first.");
      go.setAttribute("aria-describedby", `${id}-missing`);
      box.addEventListener("change", () => { go.disabled = !box.checked; missing.textContent = box.checked ? "" : "Tick the “I understand” box first."; });
      li.append(h("p", {}, h("label", { for: id, class: "check" }, box, ` I understand: records of the kind “${classWords(c.rule.class)}” become due sooner, and the next plan may destroy some at once`)), h("p", {}, go), missing);
    }
    li.append(status);
    return li;
  };
  void render();
  return sec;
}
