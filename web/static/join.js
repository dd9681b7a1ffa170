// Redeems the invite token carried in the link's fragment (never sent to the
// server by the browser on its own, so it stays out of every log), then shows
// the case the participant joined. The session arrives as an HttpOnly cookie.
"use strict";

const stageTitles = {
  preparation: "Preparation and case assessment",
  opening: "Opening session and ground rules",
  issues: "Issue identification and exploration",
  negotiation: "Negotiation and issue resolution",
  closure: "Closure and follow-up",
};

function say(text) {
  document.getElementById("status").textContent = text;
}

async function join() {
  const token = location.hash.slice(1);
  history.replaceState(null, "", "/join");
  if (!token) {
    say("This link has no invitation in it. Please open the full link your mediator sent you.");
    return;
  }
  const res = await fetch("/api/v1/invites/redeem", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token }),
  });
  const body = await res.json();
  if (!res.ok) {
    say(body.status === 410
      ? "This invitation has expired or was already used. Please ask your mediator for a new link."
      : "We could not open this invitation (" + body.title + ").");
    return;
  }
  const caseRes = await fetch("/api/v1/cases/" + encodeURIComponent(body.caseId));
  const c = await caseRes.json();
  const me = c.participants.find((p) => p.accountId === body.account.id);
  const side = me && me.side ? c.sides.find((s) => s.id === me.side) : null;
  document.getElementById("case-title").textContent = c.title;
  document.getElementById("role").textContent =
    (me ? me.role : "participant") + (side ? " for " + side.label : "");
  document.getElementById("stage").textContent = stageTitles[c.stage] || c.stage;
  const people = document.getElementById("people");
  for (const m of c.mediators.filter((m) => !m.recused)) {
    const li = document.createElement("li");
    li.textContent = m.name + " (mediator)";
    people.append(li);
  }
  for (const p of c.participants) {
    const li = document.createElement("li");
    const ps = p.side ? c.sides.find((s) => s.id === p.side) : null;
    li.textContent = p.name + " (" + p.role + (ps ? ", " + ps.label : "") + ")";
    people.append(li);
  }
  say("You are in. Your mediator will open the session.");
  document.getElementById("case").hidden = false;
}

join().catch(() => say("Something went wrong. Please reload the page or ask your mediator for help."));
