// The anonymous feedback survey. The single-use token travels in the link's
// fragment (never sent to the server on its own, so never in a log); it is
// posted once with the answers.
"use strict";

const labels = ["Strongly disagree", "Disagree", "Neutral", "Agree", "Strongly agree"];
const token = location.hash.slice(1);
history.replaceState(null, "", "/survey");
const status = document.getElementById("status");
const form = document.getElementById("survey");

async function load() {
  if (!token) {
    status.textContent = "This link has no survey in it. Please open the full link you were sent.";
    return;
  }
  const res = await fetch("/api/v1/surveys/questions");
  const questions = await res.json();
  const box = document.getElementById("questions");
  for (const q of questions) {
    const fs = document.createElement("fieldset");
    const legend = document.createElement("legend");
    legend.textContent = q.text;
    fs.append(legend);
    labels.forEach((text, i) => {
      const id = q.id + "-" + (i + 1);
      const input = document.createElement("input");
      Object.assign(input, { type: "radio", name: q.id, value: String(i + 1), id, required: true });
      const label = document.createElement("label");
      label.htmlFor = id;
      label.textContent = text;
      // Each choice stays on one line with its button (on a phone the
      // button and its words were split across lines).
      const choice = document.createElement("span");
      choice.className = "choice";
      choice.append(input, label);
      fs.append(choice);
    });
    box.append(fs);
  }
  form.hidden = false;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(form);
  const scores = {};
  for (const [k, v] of data.entries()) {
    if (k !== "comment") scores[k] = Number(v);
  }
  const res = await fetch("/api/v1/surveys/responses", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token, scores, comment: data.get("comment") || "" }),
  });
  if (res.ok) {
    form.hidden = true;
    status.textContent = "Thank you. Your answers were recorded anonymously.";
  } else {
    const p = await res.json();
    status.textContent = p.status === 410
      ? "This survey link was already used or has expired."
      : "Your answers could not be sent (" + p.title + "). Please try again.";
  }
});

load().catch(() => { status.textContent = "Something went wrong. Please reload the page."; });
