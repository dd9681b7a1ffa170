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
  if (!res.ok) throw new Error("questions: " + res.status);
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

// What the page says when the answers did not go: plain words and what to
// do, never a status number or the server's own wording.
function notSent(res) {
  if (res.status === 410) return "This survey link was already used or has expired.";
  if (res.status === 400 || res.status === 422) {
    return "Your answers were not sent: please answer every question (and keep the comment under 2000 characters), then press Send again.";
  }
  return "Your answers were not sent: the service is not answering just now; wait a minute and press Send again.";
}

sendOnce(form, status, "/api/v1/surveys/responses", () => {
  const data = new FormData(form);
  const scores = {};
  for (const [k, v] of data.entries()) {
    if (k !== "comment") scores[k] = Number(v);
  }
  return { token, scores, comment: data.get("comment") || "" };
}, {
  sending: "Sending your answers…",
  dropped: "Your answers were not sent: the connection dropped. Check it and press Send again.",
  thanks: "Thank you. Your answers were recorded anonymously.",
  notSent,
});

load().catch(() => { status.textContent = "The survey could not be loaded: the connection dropped or the service is not answering. Please reload the page in a minute."; });
