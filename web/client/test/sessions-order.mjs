// Two quick schedulings on the mediator's sessions screen, answered out of
// order. Run by web/sessions_order_browser_test.go. After each scheduling
// the screen reads the list of sessions again; the read after the first is
// answered by the server at once but reaches the page only after the
// second scheduling's list is on the screen (a slow network, a loaded
// server). That old list — without the second session — must not put the
// screen back as it was before the second scheduling. Then a scheduling
// refused (an unknown time zone), its answer held until a session moved
// meanwhile is listed (the form's button stays off while it is sent, even
// in the form drawn again): the refusal is shown above the list, naming the
// session asked for, not in the form drawn again (where nobody would see it).
import { check, env, newPage, run, signInMediator } from "./harness.mjs";
import { gate, within } from "./stale-lib.mjs";

const listed = (page) => page.locator("#session-list li.session").count();
/** The lists of sessions the screen has read, taken or dropped (its data-lists-read). */
const read = (page) => page.evaluate(() => Number(document.getElementById("sessions")?.dataset.listsRead ?? "0"));

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

  // Now the old list (the first session alone) reaches the page: once the
  // screen has read it (taken or dropped), both sessions are still listed.
  const before = await read(med);
  release.open();
  await within((await held.response()).finished(), 30000, "the old list reaches the browser");
  await med.waitForFunction((k) => Number(document.getElementById("sessions")?.dataset.listsRead ?? "0") > k, before, { timeout: 30000 });
  const n = await listed(med);
  check(n === 2, `the old list does not put the screen back: both sessions are still listed (${n} are)`);
  await med.unroute(sessions);

  // A scheduling refused after another one was listed: its refusal is shown
  // above the list (its form was drawn again meanwhile), saying which.
  const adds = (u) => new URL(u).pathname.endsWith(`/cases/${env("PARLEY_CASE")}/sessions`);
  const refusedAnswered = gate(), refusedRelease = gate();
  let holdAdd = true, refusedReq = null;
  await med.route(adds, async (r) => {
    if (r.request().method() !== "POST" || !holdAdd) return r.continue();
    holdAdd = false;
    refusedReq = r.request();
    const res = await r.fetch();
    refusedAnswered.open();
    await refusedRelease.p;
    return r.fulfill({ response: res });
  });
  await med.fill("#session-start", env("PARLEY_START_3"));
  await med.fill("#session-zone", "Atlantis/Nowhere");
  await med.click("#session-form button[type=submit]");
  await within(refusedAnswered.p, 30000, "the scheduling in an unknown time zone is refused");
  // While it is being sent, its button is off: a second click schedules nothing twice.
  check(await med.isDisabled("#session-form button[type=submit]"), "while a scheduling is being sent, the form's button is off");
  // Meanwhile the mediator moves a session: the list, and the form with it, are drawn again (its button still off).
  const first = med.locator("#session-list li.session").first();
  const sid = await first.getAttribute("data-session");
  await first.locator("summary").click();
  await med.fill(`#move-start-${sid}`, env("PARLEY_START_3"));
  await med.fill(`#move-reason-${sid}`, "The room is booked");
  const drawn = await read(med);
  await med.click(`#move-${sid}`);
  await med.waitForFunction((k) => Number(document.getElementById("sessions")?.dataset.listsRead ?? "0") > k, drawn, { timeout: 30000 });
  check(await med.isDisabled("#session-form button[type=submit]"), "the form drawn again while the scheduling is being sent keeps its button off");
  refusedRelease.open();
  await within((await refusedReq.response()).finished(), 30000, "the refusal reaches the browser");
  const note = med.locator("#sessions-refused-1");
  await note.waitFor({ timeout: 30000 });
  const said = (await note.innerText()).replace(/\s+/g, " ");
  check(said.startsWith("Not scheduled:") && said.includes("Nowhere time"), "the refusal is shown above the list, naming the session asked for: " + said);
  await med.waitForFunction(() => !document.querySelector("#session-form button[type=submit]")?.disabled, null, { timeout: 30000 });
  check(true, "answered, the form's button is on again");
  await med.unroute(adds);
});
