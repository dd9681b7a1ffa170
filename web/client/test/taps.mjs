// Tap targets, measured: a shared check for the Playwright scripts,
// standalone (like axe.mjs) so scripts that do not use the harness can
// import it. Measured: every visible button, link, input, select,
// textarea and summary; a checkbox or radio counts with its label (the
// label is what a finger presses). Excepted, as WCAG 2.5.8 excepts them:
// a link inside a sentence (its size is the text's), which is a link or a
// link-styled button whose paragraph says more than the link does.
//
//   import { tooSmall } from "./taps.mjs";
//   const { out } = await tooSmall(page); // [] when every control is 44 × 44 px or more
/**
 * tooSmall lists the visible controls on page smaller than min × min CSS
 * px (out), and the links it did not measure because they sit in a
 * sentence (prose); count is how many controls the page has.
 */
export async function tooSmall(page, min = 44) {
  return page.evaluate((min) => {
    const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}${typeof e.className === "string" && e.className ? "." + e.className.trim().split(/\s+/).join(".") : ""} "${(e.innerText || e.value || e.getAttribute("aria-label") || "").trim().slice(0, 30)}"`;
    const visible = (e) => {
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || r.right <= 0 || r.bottom <= 0) return false;
      for (let x = e; x; x = x.parentElement) {
        const st = getComputedStyle(x);
        if (st.visibility === "hidden" || st.display === "none" || st.clipPath === "inset(50%)") return false;
      }
      return true;
    };
    // A link in running prose: its block says more than the link does.
    const inProse = (e) => {
      if (!(e.tagName === "A" && !e.classList.contains("button-link")) && !(e.tagName === "BUTTON" && e.classList.contains("link"))) return false;
      const block = e.closest("p, li, td, dd");
      return !!block && block.innerText.trim().length > e.innerText.trim().length + 3;
    };
    const out = [], prose = [];
    for (const e of document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, summary")) {
      if (!visible(e)) continue;
      if (inProse(e)) { prose.push(name(e)); continue; }
      let r = e.getBoundingClientRect();
      if (e.type === "checkbox" || e.type === "radio") {
        const l = e.closest("label") || (e.id && document.querySelector(`label[for="${e.id}"]`));
        if (l && visible(l)) {
          const lr = l.getBoundingClientRect();
          r = { width: Math.max(r.right, lr.right) - Math.min(r.left, lr.left), height: Math.max(r.bottom, lr.bottom) - Math.min(r.top, lr.top) };
        }
      }
      // Sub-pixel rounding: 43.99 is 44.
      if (r.width + 0.05 < min || r.height + 0.05 < min) out.push(`${name(e)} ${r.width.toFixed(1)}×${r.height.toFixed(1)}`);
    }
    return { out, prose, count: document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, summary").length };
  }, min);
}
