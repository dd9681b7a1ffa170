// Two quick schedulings on the mediator's sessions screen, answered out of
// order. Run by web/sessions_order_browser_test.go. After each scheduling
// the screen reads the list of sessions again; the read after the first is
// answered by the server at once but reaches the page only after the
// second scheduling's list is on the screen (a slow network, a loaded
// server). That old list — without the second session — must not put the
// screen back as it was before the second scheduling.
import { check, env, newPage, run, signInMediator } from "./harness.mjs";
import { gate, within } from "./stale-lib.mjs";

const listed = (page) => page.locator("#session-list li.session").count();
/** The answers to page's fetches of a path ending in tail that have reached the page (not the network: the page). */
const arrived = (page, tail) => page.evaluate((t) => performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(t)).length, tail);

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 });
  await signInMediator(med);
  await med.waitForSelector("#session-form");
  check(await listed(med) === 0, "no sessions yet");

  // The list read after the first scheduling: answered by the server now, held on its way to the page.
  const sessions = (u) => new URL(u).pathname.endsWith(`/cases/${env("PARLEY_CASE")}/sessions`);
  const heldAnswered = gate(), release = gate();
  let holding = true, held = null;
  await med.route(sessions, async (r) => {
    if (r.request().method() !== "GET" || !holding) return r.continue();
    holding = false;
    held = r.request();
    const res = await r.fetch();
    heldAnswered.open();
    await release.p;
    return r.fulfill({ response: res });
  });
  await med.fill("#session-start", env("PARLEY_START_1"));
  await med.click("#session-form button[type=submit]");
  await within(heldAnswered.p, 30000, "the list after the first scheduling is asked and answered");

  // The second scheduling, and its list on the screen: both sessions.
  await med.fill("#session-start", env("PARLEY_START_2"));
  await med.click("#session-form button[type=submit]");
  await med.waitForFunction(() => document.querySelectorAll("#session-list li.session").length === 2);
  check(true, "after the second scheduling, both sessions are listed");

  // Now the old list (the first session alone) reaches the page.
  const before = await arrived(med, "/sessions");
  release.open();
  await within((await held.response()).finished(), 30000, "the old list reaches the browser");
  await med.waitForFunction(([t, k]) => performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(t)).length > k, ["/sessions", before]);
  // A few turns of the page's event loop: the answer is read and, were it taken, drawn.
  for (let i = 0; i < 5; i++) await med.evaluate(() => new Promise((r) => setTimeout(r, 0)));
  const n = await listed(med);
  check(n === 2, `the old list does not put the screen back: both sessions are still listed (${n} are)`);
  await med.unroute(sessions);
});
