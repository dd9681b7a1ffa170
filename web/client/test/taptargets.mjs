// Tap targets on a phone: every control a party uses on the main party
// screens is at least 44 × 44 CSS px at 390 × 844 (WCAG 2.5.5's size; the
// app's own rule for people who take part from a phone). Run by
// web/taptargets_browser_test.go, which makes a case with an invitation
// for party A (Ada Okafor) and a proposed session.
//
// Measured: every visible button, link, input, select, textarea and
// summary. A checkbox or radio counts with its label (the label is what a
// finger presses). Excepted, as WCAG 2.5.8 excepts them: a link inside a
// sentence (its size is the text's), which is a link or a link-styled
// button whose paragraph says more than the link does.
import { passGate } from "./gate.mjs";
import { check, env, log, newPage, run, shots } from "./harness.mjs";

const phone = { width: 390, height: 844 };
const MIN = 44;

/** small lists the visible controls on page smaller than MIN × MIN px. */
async function small(page) {
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
  }, MIN);
}

// Every screen is measured before the script fails, so one run lists every control that is too small.
const tooSmall = [];
async function measure(page, what) {
  const { out, prose, count } = await small(page);
  for (const s of prose) log(`${what}: a link in a sentence, not measured: ${s}`);
  for (const s of out) { log(`${what}: too small: ${s}`); tooSmall.push(`${what}: ${s}`); }
  if (out.length === 0) check(true, `${what}: every visible control (of ${count}) is at least ${MIN}×${MIN} px at phone width`);
}

await run(async () => {
  const A = await newPage("partyA", phone, { isMobile: true, hasTouch: true });
  await A.goto(env("PARLEY_INVITE"));
  await A.waitForSelector("#consent-title");
  await measure(A, "the case's terms");
  await A.check("#terms-read");
  await A.click("#accept-terms");
  await A.waitForSelector("#terms-accepted");
  await measure(A, "the terms accepted");
  await passGate(A);
  await A.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await A.waitForSelector("#rooms-title");
  await measure(A, "the room, first visit");
  // Every room the party has.
  const rooms = await A.locator(".rooms button").count();
  for (let i = 0; i < rooms; i++) {
    await A.locator(".rooms button").nth(i).click();
    await measure(A, `room ${i + 1} of ${rooms}`);
  }
  // Sign out asks first.
  await A.click("#signout");
  await A.waitForSelector("#signout-confirm[open]");
  await measure(A, "the sign-out question");
  await A.click("#signout-yes");
  await A.waitForSelector("#email-link-open, #come-back-title");
  await measure(A, "signed out");
  check(tooSmall.length === 0, `every control on the party's screens is at least ${MIN}×${MIN} px at phone width (${tooSmall.length} are not)`);
});
