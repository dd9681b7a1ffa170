// Two quick writes on the mediator's desk, answered out of order. Run by
// web/desk_order_browser_test.go. Each answer is given by the server when
// asked but reaches the page only after the next write's result is on the
// screen (a slow network, a loaded server); the old answer must not put
// the screen back as it was before that write.
//   - Two invitations: the invited list read after the first (Ada alone)
//     arrives after the list read after the second (Ada and Lars).
//   - Two objectives: the first's answer (the case with it alone) arrives
//     after the second's (the case with both).
import { base, check, env, newPage, run } from "./harness.mjs";
import { gate, within } from "./stale-lib.mjs";

const flat = (s) => s.replace(/\s+/g, " ");
const caseID = env("PARLEY_CASE");

/**
 * holdNext has the next request of method to a path ending in tail
 * answered by the server at once, and held on its way to the page until
 * release(); answered resolves once the server has answered it.
 */
async function holdNext(page, method, tail) {
  const answered = gate(), released = gate();
  let armed = true, req = null;
  const match = (u) => new URL(u).pathname.endsWith(tail);
  await page.route(match, async (r) => {
    if (r.request().method() !== method || !armed) return r.continue();
    armed = false;
    req = r.request();
    const res = await r.fetch();
    answered.open();
    await released.p;
    return r.fulfill({ response: res });
  });
  return {
    answered: answered.p,
    /** Lets the held answer reach the page and waits until the page has read it. */
    async release(what) {
      const count = () => page.evaluate((t) => performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(t)).length, tail);
      const before = await count();
      released.open();
      await within((await req.response()).finished(), 30000, what + ": the old answer reaches the browser");
      await page.waitForFunction(([t, k]) => performance.getEntriesByType("resource").filter((e) => new URL(e.name).pathname.endsWith(t)).length > k, [tail, before]);
      // A few turns of the page's event loop: the answer is read and, were it taken, drawn.
      for (let i = 0; i < 5; i++) await page.evaluate(() => new Promise((r) => setTimeout(r, 0)));
      await page.unroute(match);
    },
  };
}

await run(async () => {
  const med = await newPage("med", { width: 1280, height: 900 }, { timezoneId: "Europe/London" });
  await med.goto(base + "/app#desk=" + caseID);
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.waitForSelector("#desk-invite");

  // Two invitations.
  const list = await holdNext(med, "GET", `/cases/${caseID}/invites`);
  await med.fill("#desk-invite-name", "Ada Okafor");
  await med.selectOption("#desk-invite-side", "A");
  await med.click("#desk-invite button[type=submit]");
  await within(list.answered, 30000, "the invited list after the first invitation is asked and answered");
  await med.fill("#desk-invite-name", "Lars Lindqvist");
  await med.selectOption("#desk-invite-side", "B");
  await med.click("#desk-invite button[type=submit]");
  await med.waitForSelector(`#desk-pending li:has-text("Lars Lindqvist")`);
  check(flat(await med.innerText("#desk-pending")).includes("Ada Okafor"), "after the second invitation, both are listed");
  await list.release("the invited list");
  const pend = flat(await med.innerText("#desk-pending"));
  check(pend.includes("Ada Okafor (Tenant)") && pend.includes("Lars Lindqvist (Landlord)"),
    "the old invited list does not take the second invitation off the screen: " + pend);

  // Two objectives.
  const first = await holdNext(med, "POST", `/cases/${caseID}/objectives`);
  await med.fill("#desk-objective-text", "Agree what happens to the deposit");
  await med.click("#desk-objective-form button[type=submit]");
  await within(first.answered, 30000, "the first objective is saved");
  await med.fill("#desk-objective-text", "Agree who repairs the boiler");
  await med.click("#desk-objective-form button[type=submit]");
  await med.waitForSelector(`#desk-objective li:has-text("who repairs the boiler")`);
  check(flat(await med.innerText("#desk-objective")).includes("deposit"), "after the second objective, both are listed");
  await first.release("the first objective's answer");
  const objs = flat(await med.innerText("#desk-objective"));
  check(objs.includes("Agree what happens to the deposit") && objs.includes("Agree who repairs the boiler"),
    "the first objective's older answer does not take the second off the screen: " + objs);
});

