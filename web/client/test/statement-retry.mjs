// A membership statement the server refuses as unavailable (503), in real
// Chromium. Run by web/statement_retry_browser_test.go
// TestBrowserStatementRetry, which makes a mediator, a case and an
// invitation for a party, and answers "ask admitted" (whether the
// latest membership statement the server stores has the party in it).
// The mediator's page is open when the party joins; its POSTs of the
// statement that admits the party are answered 503 twice (the server's
// audit log taking no writes just now), then let through. The page must
// try again by itself, with nobody acting: the party's first message then
// reaches the mediator, neither page shows a raw error, and the server
// stores the statement.
import { passGate } from "./gate.mjs";
import { ask, check, env, newPage, run, signInMediator } from "./harness.mjs";

const REFUSE = 2;
const isStatementPost = (r) => r.method() === "POST" && new URL(r.url()).pathname.endsWith("/e2ee/statements");
const raw = /\b(HTTP|503|ERR_|fetch|storage|unavailable|urn:|problem)\b|[a-z]{1,3}_[a-z2-7]{6,}/i;

await run(async () => {
  const med = await newPage("mediator", { width: 1280, height: 900 });
  await signInMediator(med); // connected: the case's first statement is signed and stored

  // From now on, the mediator's statements are refused twice, then taken.
  let refused = 0, passed = 0;
  await med.route((url) => url.pathname.endsWith("/e2ee/statements"), async (r) => {
    if (!isStatementPost(r.request())) return r.continue();
    if (refused < REFUSE) {
      refused++;
      return r.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "1" },
        body: JSON.stringify({ type: "urn:parley:problem:unavailable", title: "Storage is unavailable; try again shortly", status: 503 }) });
    }
    passed++;
    return r.continue();
  });

  const party = await newPage("party", { width: 1280, height: 900 });
  await party.goto(env("PARLEY_INVITE"));
  await passGate(party);
  await party.locator("#conn", { hasText: "Connected" }).waitFor({ timeout: 60000 });
  await party.locator('#rooms button[data-room="joint"]').click();
  await party.fill("#draft", "Hello, this is Ada: I can do Tuesday mornings");
  await party.click("#room form button[type=submit]");

  // Refused twice, the mediator's page signs again by itself (after about
  // 5 and 10 seconds): the party's message goes, and the mediator reads it.
  await med.locator('#rooms button[data-room="joint"]').click();
  await med.locator("#room ol.log li", { hasText: "I can do Tuesday mornings" }).waitFor({ timeout: 90000 });
  check(refused === REFUSE && passed >= 1, `the mediator's page was refused ${refused} times, then tried again by itself and was taken (${passed})`);
  await party.locator("#room ol.log li", { hasText: "I can do Tuesday mornings" }).first().waitFor({ timeout: 60000 });
  check(true, "the party's message shows as sent on their own page");
  await ask("admitted");
  check(true, "the server stores a membership statement with the party in it");

  // Nobody saw the refusals as errors.
  await med.locator("text=Who can read each room is up to date. Now admitted: Ada Okafor.").waitFor({ timeout: 30000 });
  const medText = await med.innerText("body"), partyText = await party.innerText("body");
  check(!raw.test(medText), "the mediator's page shows no raw error: " + (medText.match(raw) ?? [""])[0]);
  check(!/could not confirm who is in a room/.test(medText), "nor says it could not confirm who is in a room");
  check(!raw.test(partyText), "the party's page shows no raw error: " + (partyText.match(raw) ?? [""])[0]);
  check((await party.locator(".error, [role=alert]").filter({ hasText: /\S/ }).count()) === 0 &&
    (await med.locator(".error, [role=alert]").filter({ hasText: /\S/ }).count()) === 0, "and neither page shows an error");
});
