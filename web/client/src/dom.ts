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
