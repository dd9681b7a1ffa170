// The anonymous check-in on an agreement. The single-use token travels in
// the link's fragment (never sent to the server on its own, so never in a
// log); it is posted once with the answer.
"use strict";

const token = location.hash.slice(1);
history.replaceState(null, "", "/checkin");
const status = document.getElementById("status");
const form = document.getElementById("checkin");

if (!token) {
  status.textContent = "This link has no check-in in it. Please open the full link you were sent.";
} else {
  form.hidden = false;
}

const button = form.querySelector("button[type=submit]");
let sending = false;

// What the page says when the answer did not go: plain words and what to
// do, never a status number or the server's own wording.
function notSent(res) {
  if (res.status === 410) return "This check-in link was already used or has expired.";
  if (res.status === 409) return "This check-in is not open yet. Please use the link on the day your message said.";
  if (res.status === 400 || res.status === 422) {
    return "Your answer was not sent: please choose one answer (and keep the comment under 2000 characters), then press Send again.";
  }
  return "Your answer was not sent: the service is not answering just now; wait a minute and press Send again.";
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  if (sending) return; // a second tap while the first is on its way
  sending = true;
  button.disabled = true;
  status.textContent = "Sending your answer…";
  const data = new FormData(form);
  try {
    let res;
    try {
      res = await fetch("/api/v1/checkins", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token, answer: data.get("answer"), comment: data.get("comment") || "" }),
      });
    } catch {
      status.textContent = "Your answer was not sent: the connection dropped. Check it and press Send again.";
      return;
    }
    if (res.ok) {
      form.hidden = true;
      status.textContent = "Thank you. Your answer was recorded anonymously.";
      return;
    }
    if (res.status === 410) form.hidden = true;
    status.textContent = notSent(res);
  } finally {
    sending = false;
    button.disabled = false;
  }
});
