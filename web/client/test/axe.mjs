// A shared accessibility check for the Playwright scripts: runs axe-core
// (pinned in package.json) on the page as it is now and throws on any
// serious or critical violation, after printing each one (rule, impact,
// help, and the elements). Import it from any script:
//
//   import { axeCheck } from "./axe.mjs";
//   await axeCheck(page, "people screen");
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** Violations of these impacts fail the check. */
export const failingImpacts = ["serious", "critical"];

/**
 * axeCheck runs axe-core on page (optionally only within selector) and
 * returns the violations of lesser impact; it throws if any is serious or
 * critical.
 */
export async function axeCheck(page, what, { selector, log = (s) => process.stdout.write(s + "\n") } = {}) {
  const present = await page.evaluate(() => typeof window.axe !== "undefined");
  // Evaluated through the DevTools protocol: the page's Content Security
  // Policy (script-src 'self') stays as it is in production.
  if (!present) await page.evaluate(axeSource);
  const result = await page.evaluate(async (sel) => {
    const r = await window.axe.run(sel ? document.querySelector(sel) : document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(" ")}: ${n.failureSummary ?? ""}`.replace(/\s+/g, " ")) }));
  }, selector ?? null);
  const bad = result.filter((v) => failingImpacts.includes(v.impact));
  for (const v of result) {
    log(`axe ${what}: ${v.impact} ${v.id} — ${v.help}`);
    for (const n of v.nodes.slice(0, 5)) log(`    ${n}`);
  }
  if (bad.length) throw new Error(`axe: ${bad.length} serious or critical violation(s) on ${what}: ${bad.map((v) => v.id).join(", ")}`);
  log(`ok: axe finds no serious or critical violation on ${what}`);
  return result;
}
