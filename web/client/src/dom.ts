// dom.ts — the one element builder every screen uses.

/** An element's attributes: strings, boolean attributes, and "on…" listeners. */
export type Attrs = Record<string, string | boolean | ((e: Event) => void)>;

/**
 * Makes a `tag` element with attrs (a function under "onclick" and the
 * like is added as that event's listener; true sets a boolean attribute,
 * false leaves it out) and the given children (null, undefined, false
 * and "" are left out).
 */
export function h(tag: string, attrs: Attrs = {}, ...kids: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else if (v !== false) el.setAttribute(k, v);
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== false && k !== "") el.append(k);
  return el;
}

/**
 * An instant as people read it, always with its time zone: "6 Dec 2026,
 * 12:18 GMT" (seconds: "…, 12:18:05 GMT"). The people in a case may be in
 * different zones, and what a record keeps (a signature, an acceptance, a
 * deadline) is read and quoted by them all, so a bare clock time would be
 * taken as each reader's own.
 */
export function stamp(t: string | number | Date, o: { seconds?: boolean } = {}): string {
  return new Intl.DateTimeFormat(undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", ...(o.seconds ? { second: "2-digit" } : {}), timeZoneName: "short",
  }).format(new Date(t));
}
