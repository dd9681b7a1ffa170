// The sessions, mail and caseload screens in real Chromium. Run by
// web/sessions_browser_test.go, which starts a node sending mail to the
// test Mailpit, seeds a case (and closed cases for the norms, and a
// stalled case) and checks on "ask mail …" that the invitations and the
// update arrived with a valid .ics.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { mkdirSync } from "node:fs";
import { fieldsStyled } from "./fields.mjs";
import { tooSmall } from "./taps.mjs";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const base = env("PARLEY_URL");
const shots = env("PARLEY_SCREENSHOTS");
mkdirSync(shots, { recursive: true });
const T = 30000;
const lines = createInterface({ input: process.stdin });
const answers = [];
const waiters = [];
lines.on("line", (l) => (waiters.length ? waiters.shift()(l) : answers.push(l)));
async function ask(verb, arg = "") {
  process.stdout.write(`ask ${verb} ${arg}\n`);
  const a = answers.length ? answers.shift() : await new Promise((r) => waiters.push(r));
  if (!a.startsWith("ok")) throw new Error(`${verb}: ${a}`);
  return a.slice(3);
}
function log(s) { process.stdout.write(s + "\n"); }
function check(cond, what) {
  if (!cond) throw new Error("expectation failed: " + what);
  log("ok: " + what);
}

const browser = await chromium.launch({
  executablePath: env("PARLEY_CHROMIUM"), headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const problems = [];
async function newPage(name, viewport, timezoneId) {
  const ctx = await browser.newContext({ viewport, timezoneId, locale: "en-GB" });
  const page = await ctx.newPage();
  page.setDefaultTimeout(T);
  page.on("pageerror", (e) => problems.push(`${name}: page error: ${e.message}`));
  page.on("request", (r) => { if (!r.url().startsWith(base + "/")) problems.push(`${name}: third-party request to ${r.url()}`); });
  page.on("response", (r) => { if (r.status() >= 400) log(`${name}: HTTP ${r.status()} ${r.request().method()} ${r.url()}`); });
  return page;
}

try {
  // A party joins on a phone, in New York.
  const party = await newPage("party", { width: 390, height: 844 }, "America/New_York");
  await party.goto(env("PARLEY_INVITE_A"));
  // First the case's terms (web/client/src/consent.ts).
  await party.check("#terms-read");
  await party.click("#accept-terms");
  await party.click("#consent-continue");
  await party.waitForSelector("#sessions-title");
  await party.waitForSelector("text=No sessions are scheduled yet.");
  check(true, "the party sees that no session is scheduled");

  // The mediator, in Berlin, opens the caseload: the stalled case is flagged.
  const med = await newPage("med", { width: 1280, height: 900 }, "Europe/Berlin");
  await med.goto(base + "/app");
  await med.fill("#email", env("PARLEY_MEDIATOR_EMAIL"));
  await med.fill("#password", env("PARLEY_PASSWORD"));
  await med.click("button[type=submit]");
  await med.click("#open-caseload");
  await med.waitForSelector("#caseload-table");
  const stalled = med.locator("tr.stalled");
  check(await stalled.count() === 1, "one case is flagged as stalled");
  const row = await stalled.innerText();
  check(row.includes(env("PARLEY_STALLED_TITLE")) && row.includes("longer than usual") && row.includes("within 9 days"), "the flag names the program's norm: " + row.replace(/\s+/g, " "));
  check(await med.locator("#norms-table tbody tr").count() >= 1, "the norms are shown");
  await med.screenshot({ path: shots + "/caseload.png", fullPage: true });

  // Open the fresh case from the caseload and schedule a session.
  await med.click(`tr[data-case="${env("PARLEY_CASE")}"] button`);
  await med.waitForSelector("#session-form");
  check(await med.inputValue("#session-zone") === "Europe/Berlin", "the zone defaults to the mediator's own");
  // The time (datetime-local), the zone and the length look like every other field of the app.
  const odd = await fieldsStyled(med);
  for (const o of odd) log("styled unlike a text field: " + o);
  check(odd.length === 0, "every field of the session form looks like the app's text field");
  await med.fill("#session-start", "2020-01-01T10:00");
  await med.click("#session-form button[type=submit]");
  await med.waitForSelector("#session-form .error:has-text('Not scheduled')");
  check((await med.innerText("#session-form .error")).includes("past"), "a past time is refused in plain words");
  // A time the clocks pass twice (New York, the first Sunday of November next year, 01:30) is refused in the server's words.
  const fallBack = (() => { const y = new Date().getFullYear() + 1; for (let d = 1; d <= 7; d++) if (new Date(Date.UTC(y, 10, d)).getUTCDay() === 0) return `${y}-11-0${d}T01:30`; })();
  await med.fill("#session-zone", "America/New_York");
  await med.fill("#session-start", fallBack);
  await med.click("#session-form button[type=submit]");
  await med.waitForSelector("#session-form .error:has-text('happens twice')");
  const twice = await med.innerText("#session-form .error");
  check(twice.includes("Not scheduled") && twice.includes("that time happens twice in America/New_York on that day (the clocks go back): choose another time"),
    "a time the clocks pass twice is refused in the server's plain words: " + twice);
  await med.fill("#session-zone", "Europe/Berlin");
  await med.fill("#session-start", env("PARLEY_START"));
  await med.fill("#session-minutes", "90");
  // The server's warning after scheduling (here added to its real answer, as when some mail could not be queued)
  // is shown in the page above the list, never in a browser alert; the next change (the move below) clears it.
  const adds = (u) => u.pathname.endsWith("/sessions");
  let posted = 0;
  const warning = "The session is saved, but some of its mail could not be queued. Check the mail list and resend.";
  await med.route(adds, async (r) => {
    if (r.request().method() !== "POST") return r.continue();
    posted++;
    const res = await r.fetch();
    await r.fulfill({ response: res, json: { ...(await res.json()), mailWarning: warning } });
  });
  let alerted = "";
  const onAlert = (d) => { alerted = d.message(); void d.dismiss(); };
  med.on("dialog", onAlert);
  // A double click schedules one session: the button is off while the first is sent.
  await med.dblclick("#session-form button[type=submit]");
  await med.waitForSelector("#session-list li");
  await med.locator("#sessions-mail-warning").waitFor();
  check(posted === 1 && await med.locator("#session-list li").count() === 1, `a double click on “Schedule and send invitations” schedules one session, not two (${posted} sent)`);
  med.off("dialog", onAlert);
  await med.unroute(adds);
  check(!alerted && await med.innerText("#sessions-mail-warning") === warning,
    "a mail warning after scheduling is shown in the page, not in a browser alert: " + (alerted || await med.innerText("#sessions-mail-warning")));
  const li = await med.innerText("#session-list li");
  check(li.includes("your time (Berlin)") && li.includes("90 minutes"), "the session is listed in the mediator's time: " + li.replace(/\s+/g, " "));
  await ask("mail", "invitation");

  // Move it: the parties get an update with the same UID. The mediator
  // has begun scheduling another session meanwhile; the list drawn again
  // after the move keeps what she filled in.
  await med.fill("#session-start", env("PARLEY_START"));
  await med.fill("#session-zone", "Europe/Paris");
  await med.fill("#session-minutes", "60");
  const caucus = med.locator("#session-form input[name=session-room]:not([value=joint])").first();
  await caucus.check();
  const caucusRoom = await caucus.getAttribute("value");
  const sid = await med.getAttribute("#session-list li", "data-session");
  await med.click(`li[data-session="${sid}"] summary`);
  await med.fill(`#move-start-${sid}`, env("PARLEY_MOVED"));
  await med.fill(`#move-reason-${sid}`, "The landlord's lawyer is in court that day");
  await med.click(`#move-${sid}`);
  await med.waitForSelector("text=Moved ");
  check(await med.locator("#sessions-mail-warning").count() === 1 && await med.innerText("#sessions-mail-warning") === warning,
    "a move with all its mail queued does not take away the earlier scheduling's warning: it stays until dismissed");
  await med.click("#sessions-notes .sessions-note-dismiss");
  check(await med.locator("#sessions-mail-warning").count() === 0, "dismissed, the warning goes");
  const rooms = await med.$$eval("#session-form input[name=session-room]:checked", (is) => is.map((i) => i.value));
  check(await med.inputValue("#session-start") === env("PARLEY_START") && await med.inputValue("#session-zone") === "Europe/Paris" &&
    await med.inputValue("#session-minutes") === "60" && rooms.join(",") === `joint,${caucusRoom}`,
    "the form being filled in survives another session being moved: " + rooms.join(","));
  // She changes her mind: the form as it was, for the screenshot.
  await med.fill("#session-start", "");
  await med.fill("#session-zone", "Europe/Berlin");
  await med.fill("#session-minutes", "90");
  await med.uncheck(`#session-form input[value="${caucusRoom}"]`);
  await ask("mail", "update");
  await med.click("#mail-refresh");
  await med.waitForSelector("#mail-table tr[data-state=sent]");
  const states = await med.$$eval("#mail-table tbody tr", (rs) => rs.map((r) => r.getAttribute("data-state")));
  check(states.filter((s) => s === "sent").length >= 4, "the mail list shows the invitations and updates as sent: " + states.join(","));
  // A time with its zone ("Thursday 10 December 2026 at 12:30 CET"), as the session above it says "your time (Berlin)".
  const zoned = /\b\d{1,2}:\d{2} (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2}(:\d{2})?)?\b/;
  const goesOut = (await med.$$eval("#mail-table tbody tr td:last-child", (ts) => ts.map((t) => t.innerText))).filter((t) => t.startsWith("Goes out"));
  check(goesOut.length > 0 && goesOut.every((t) => zoned.test(t)), "when each reminder goes out is said with its time zone: " + goesOut.join(" | "));
  await med.locator("#sessions").screenshot({ path: shots + "/mediator-sessions.png" });

  // The party sees the moved session in New York time.
  await party.reload();
  await party.waitForSelector("#session-list li");
  const pl = await party.innerText("#session-list li");
  check(pl.includes("your time (New York)") && pl.includes("in Berlin, where it was scheduled") && !/America\/|Europe\/|_/.test(pl),
    "the party sees it in their own zone, named as a place (not “America/New_York”): " + pl.replace(/\s+/g, " "));
  check(!pl.includes("court"), "the party does not see the mediator's reason");
  check(await party.locator("#session-form").count() === 0 && await party.locator("#mail-table").count() === 0, "the party can neither schedule nor read the outbox");
  await party.locator("#sessions").scrollIntoViewIfNeeded();
  await party.screenshot({ path: shots + "/party-sessions-phone.png", fullPage: false });

  // The case closes with an agreement: the mediator sets check-ins.
  await ask("close", "agreement");
  await med.reload();
  await med.waitForSelector("#followup-form");
  // Closing cancelled the session still to come: everyone invited was sent the cancellation (asked above), and
  // the list says so in words, with why for the mediator, and no way left to move it.
  const closedLi = (await med.innerText(`li[data-session="${sid}"]`)).replace(/\s+/g, " ");
  check(closedLi.startsWith("Cancelled: ") && closedLi.includes(": the case was closed") && await med.locator(`#move-${sid}`).count() === 0,
    "closing the case cancelled its session still to come, said in words: " + closedLi);
  await party.reload();
  await party.waitForSelector("#session-list li");
  const partyClosed = (await party.innerText("#session-list li")).replace(/\s+/g, " ");
  check(partyClosed.startsWith("Cancelled: ") && !partyClosed.includes("case was closed"), "the party sees the session cancelled (not the mediators' reason): " + partyClosed);
  const fuText = await med.innerText("#followup-form");
  check(fuText.includes("Each party and lawyer gets a short email") && fuText.includes("anonymous"), "the form says who gets a check-in and what they see");
  await med.locator("#followups").screenshot({ path: shots + "/mediator-followups-form.png" });
  // Check-ins are set once, for good: a confirmation names the days, their dates and who gets them.
  const focused = () => med.evaluate(() => document.activeElement?.id ?? "");
  // Asked by the keyboard, a second Enter lands on the question, not on the button that sets them for good.
  await med.focus("#followup-ask");
  await med.keyboard.press("Enter");
  await med.waitForSelector("#followup-box [role=alertdialog]");
  await med.keyboard.press("Enter");
  check(await med.locator("#followup-table").count() === 0 && await med.locator("#followup-box [role=alertdialog]").count() === 1 && await focused() === "followup-q",
    "Enter pressed twice sets nothing: focus is on the question, not on the button that sets the check-ins (" + await focused() + ")");
  const fq = (await med.innerText("#followup-box [role=alertdialog]")).replace(/\s+/g, " ");
  check(/Send check-ins 30 days \([^)]+\) and 90 days \([^)]+\) after closing for “Okafor v\. Lindqvist — deposit”\?/.test(fq) && fq.includes("Ada Okafor") && fq.includes("Lars Lindqvist") &&
    fq.includes("anonymous") && fq.includes("only once"), "the check-ins' confirmation names the days, their dates and who gets them: " + fq);
  check(await med.locator("#followup-table").count() === 0, "asking sets nothing yet");
  await med.click("#followup-back");
  check(await med.locator("#followup-box [role=alertdialog]").count() === 0 && await focused() === "followup-ask", "going back sets nothing and puts focus back on the form's button");
  await med.click("#followup-ask");
  await med.waitForSelector("#followup-box [role=alertdialog]");
  await med.locator("#followups").screenshot({ path: shots + "/mediator-followups-confirm.png" });
  const wide = med.viewportSize();
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#followup-box").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/mediator-followups-confirm-phone.png" });
  await med.setViewportSize(wide);
  await med.click("#followup-confirm");
  await med.waitForSelector("#followup-table");
  const fuRows = await med.$$eval("#followup-table tbody tr", (rs) => rs.map((r) => r.getAttribute("data-days") + ":" + r.innerText.replace(/\s+/g, " ")));
  check(fuRows.length === 2 && fuRows[0].startsWith("30:") && fuRows[1].startsWith("90:") && fuRows.every((r) => r.includes("Goes out") && r.includes("0 of 2")),
    "the check-ins at 30 and 90 days are listed, not yet sent, none answered: " + fuRows.join(" | "));
  check(fuRows.every((r) => /Goes out [^|]*\d{1,2}:\d{2} (UTC|GMT|[A-Z]{2,5})([+-]\d{1,2})?\b/.test(r)), "when each check-in goes out is said with its time zone: " + fuRows.join(" | "));
  // Both parties have an address: their links are emailed to them and not shown to the mediator.
  const fuLinks = (await med.innerText("#followup-links")).replace(/\s+/g, " ");
  check(/Emailed to them/.test(fuLinks) && fuLinks.includes("Ada Okafor") && fuLinks.includes("Lars Lindqvist") && !(await med.content()).includes("/checkin#"),
    "the mediator is told both parties' check-in links are emailed to them, and is shown no link: " + fuLinks);
  await ask("followups", "30,90");
  await med.reload();
  await med.waitForSelector("#followup-table");
  check(await med.locator("#followup-form").count() === 0, "once set, the form is gone");
  check(await med.locator("#session-form").count() === 0, "a closed case offers no new session");
  // Thirty days on, the check-in mail arrives; a party answers it.
  const link = await ask("checkin", "30");
  const answerer = await newPage("answerer", { width: 390, height: 844 }, "America/New_York");
  await answerer.goto(link);
  await answerer.waitForSelector("#checkin:not([hidden])");
  // On the phone, every control of the check-in page is at least 44 × 44 px (a radio counts with its label).
  const small = (await tooSmall(answerer)).out;
  for (const o of small) log("check-in page, too small: " + o);
  check(small.length === 0, "every control of the check-in page is at least 44 × 44 px at phone width");
  // Its one action looks like the app's main action (filled blue), not a grey browser default.
  const sendLook = await answerer.$eval("#checkin button[type=submit]", (b) => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color].join(" / "));
  check(sendLook === "rgb(11, 87, 208) / rgb(255, 255, 255)", "the check-in's Send button is shown as the main action: " + sendLook);
  await answerer.check("#a-partly");
  await answerer.fill("#comment", "The deposit came back late");
  // A phone that loses its connection, or a gateway that answers with a
  // page of its own, is told in plain words what to do, and the answer can
  // be sent again; the button is off while the answer is on its way, so a
  // double tap cannot put "already used" over the thank-you.
  const checkins = (u) => u.pathname === "/api/v1/checkins";
  await answerer.route(checkins, (r) => r.abort("internetdisconnected"));
  await answerer.click("#checkin button[type=submit]");
  const offline = await answerer.locator("#status", { hasText: "not sent" }).innerText();
  check(offline === "Your answer was not sent: the connection dropped. Check it and press Send again.", "offline, the check-in page says so in words: " + offline);
  check(await answerer.isEnabled("#checkin button[type=submit]"), "and the answer can be sent again");
  await answerer.unroute(checkins);
  await answerer.route(checkins, (r) => r.fulfill({ status: 502, contentType: "text/html", body: "<html>Bad Gateway</html>" }));
  await answerer.click("#checkin button[type=submit]");
  const down = await answerer.locator("#status", { hasText: "not answering" }).innerText();
  check(down.includes("wait a minute and press Send again") && !/\d{3}|Bad Gateway|\(/.test(down), "a gateway's error page is told in words, no status number or title: " + down);
  await answerer.unroute(checkins);
  let release;
  const held = new Promise((res) => { release = res; });
  await answerer.route(checkins, async (r) => { await held; await r.continue(); });
  await answerer.click("#checkin button[type=submit]");
  await answerer.waitForSelector("#checkin button[type=submit]:disabled");
  check(true, "the button is off while the answer is on its way");
  release();
  await answerer.waitForSelector("#status:has-text('recorded anonymously')");
  await answerer.unroute(checkins);
  check(true, "the party answered the check-in on /checkin");
  await med.click("#followup-refresh");
  await med.waitForSelector("#followup-table tr[data-days='30'] td:has-text('1 of 2')");
  const r30 = (await med.innerText("#followup-table tr[data-days='30']")).replace(/\s+/g, " ");
  check(r30.includes("2 of 2 emailed") && !r30.includes("late"), "the mediator sees the check-in went out and one answer, counted only: " + r30);
  await med.locator("#followups").screenshot({ path: shots + "/mediator-followups.png" });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#followups").scrollIntoViewIfNeeded();
  await med.screenshot({ path: shots + "/mediator-followups-phone.png" });

  check(problems.length === 0, "no page errors or third-party requests: " + problems.join("; "));
  await browser.close();
  log("PASS");
  process.exit(0);
} catch (e) {
  log("FAIL: " + (e.stack || e));
  await browser.close().catch(() => {});
  process.exit(1);
}
