// Devices in the browser (docs/protocol.md, "Adding a device"): what a
// browser shows about messages it has no keys for. A browser reads only
// what was encrypted for its own device; messages sent before it could
// read a room are shown as one line per run, with the reason and what to
// do, and never counted as new.

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
function h(tag: string, attrs: Attrs = {}, ...kids: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (typeof v === "boolean") { if (v) el.setAttribute(k, ""); }
    else el.setAttribute(k, v);
  }
  for (const kid of kids) if (kid) el.append(kid);
  return el;
}

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
 * readable came between).
 */
export function noteUnreadable(log: HTMLElement, at: number): void {
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
    "If you used another device in this mediation before, they stay readable there. Everything sent from now on reaches this browser.");
}
