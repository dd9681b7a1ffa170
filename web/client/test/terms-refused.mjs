// What a mediator reads when the case's terms are not saved, in real Chromium. Run by
// web/terms_refused_browser_test.go, which makes a case (no one has joined yet) and answers "ask recuse" (the
// mediator recuses herself through the API, as from another browser).
import { ask, check, log, newPage, run, shots, signInMediator } from "./harness.mjs";

// Never shown: ids, wire room names, policy action names (api.ts saysInternal), field names, a doubled full stop.
const internal = /\b[a-z]{1,4}_[a-z2-7]{6,}|\bcaucus:|(?<![@\w.])(?:account|agreement|audit|case|caseload|doc|evaluation|hold|mail|retention|room|session)\.[a-z]|\bHTTP\b|\btext:|\brequired\b|\.\./;
const status = "#terms-edit-status";

await run(async () => {
  const med = await newPage("med");
  // The mediator's socket goes through this route: while hold is set, nothing the server sends reaches the page,
  // nor does its closing, as on a connection slow to tell the page the case is closed to it.
  let hold = false;
  await med.routeWebSocket(/\/ws$/, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => { if (!hold) ws.send(m); });
    server.onClose((code, reason) => { if (!hold) ws.close({ code, reason }); });
  });
  await signInMediator(med);
  await med.locator("#consent-panel summary", { hasText: "Edit the terms" }).click();
  check(await med.getAttribute("#terms-edit", "maxlength") === "20000", "the terms box takes at most the 20,000 characters the server keeps");

  const refused = async (what, want) => {
    await med.locator(`${status}.error`).waitFor({ timeout: 30000 });
    const said = await med.innerText(status);
    log(`${what}: ${said}`);
    check(!internal.test(said), `${what}: plain words (${said.match(internal)?.[0] ?? ""})`);
    check(said === want, `${what}: ${said}`);
  };
  const saveWith = async (text) => {
    await med.evaluate(() => { const s = document.getElementById("terms-edit-status"); s.textContent = ""; s.className = ""; });
    // Set as a program would: the box's maxlength stops only typing and pasting.
    await med.evaluate((t) => { document.getElementById("terms-edit").value = t; }, text);
    await med.click("#terms-save");
  };

  // 1. Too long, and empty: the field's problem in words, not the server's "text: at most 20000 characters of text".
  await saveWith("x".repeat(20001));
  await refused("terms too long", "Not saved: the terms are too long: at most 20,000 characters.");
  await saveWith("   \n  ");
  await refused("empty terms", "Not saved: the terms are empty; write them first.");

  // 2. The store does not answer (the server's own 503 answer): no doubled full stop, and the text stays.
  const terms = (u) => u.pathname.endsWith("/terms");
  await med.route(terms, (r) => r.request().method() === "PUT"
    ? r.fulfill({ status: 503, contentType: "application/problem+json", headers: { "Retry-After": "5" },
      body: JSON.stringify({ type: "urn:parley:problem:unavailable", title: "Storage is unavailable; try again shortly", status: 503, detail: "The request was not acknowledged; try it again shortly." }) })
    : r.continue());
  await saveWith("Agreement to mediate. One person speaks at a time.");
  await refused("store not answering", "Not saved: the service is not answering just now; your text stays here: wait a minute and press Save again.");
  check(await med.inputValue("#terms-edit") === "Agreement to mediate. One person speaks at a time.", "the terms stay in the box");
  await med.unroute(terms);

  // 3. The mediator is recused meanwhile (review M3: the page said "Not saved: case.terms_set.").
  hold = true;
  await ask("recuse");
  await saveWith("Agreement to mediate. One person speaks at a time.");
  await refused("recused meanwhile", "Not saved: you can no longer change the terms of this case (you may have been recused or removed from it); reload the page to see where it stands.");
  await med.locator("#consent-panel").screenshot({ path: `${shots}/terms-refused.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  const wide = await med.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= 392, `the refusal fits a phone (${wide}px wide)`);
  await med.locator("#consent-panel").screenshot({ path: `${shots}/terms-refused-phone.png` });
});
