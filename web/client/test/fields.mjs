// A shared check for the Playwright scripts, standalone (like axe.mjs) so
// scripts that do not use the harness can import it:
//
//   import { fieldsStyled } from "./fields.mjs";
//   const odd = await fieldsStyled(page); // [] when every field is styled
/**
 * fieldsStyled checks that every visible one-line field on page (any input
 * but a checkbox, radio, file or button: text, email, search, date,
 * datetime-local, number…) looks like the app's text field: the same
 * border, corners, padding, colours, font and width as an
 * input[type=text] put beside it. A field type app.css forgot is drawn by
 * the browser's own style (a thin grey inset box, another font size).
 * Returns what differs, one line a field; empty when all is well.
 */
export async function fieldsStyled(page) {
  return page.evaluate(() => {
    const props = ["borderTopWidth", "borderTopStyle", "borderTopColor", "borderTopLeftRadius", "paddingTop", "paddingLeft", "backgroundColor", "color", "fontFamily", "fontSize", "width"];
    const out = [];
    for (const e of document.querySelectorAll("input:not([type=checkbox]):not([type=radio]):not([type=file]):not([type=hidden]):not([type=submit]):not([type=button])")) {
      if (!e.offsetParent) continue;
      const ref = document.createElement("input");
      ref.type = "text";
      e.after(ref);
      const a = getComputedStyle(e), b = getComputedStyle(ref);
      const diff = props.filter((p) => a[p] !== b[p]).map((p) => `${p} ${a[p]} (text field: ${b[p]})`);
      ref.remove();
      if (diff.length) out.push(`input#${e.id}[type=${e.type}]: ${diff.join(", ")}`);
    }
    return out;
  });
}
