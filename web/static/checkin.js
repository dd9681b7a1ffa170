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

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const data = new FormData(form);
  try {
    const res = await fetch("/api/v1/checkins", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ token, answer: data.get("answer"), comment: data.get("comment") || "" }),
    });
    if (res.ok) {
      form.hidden = true;
      status.textContent = "Thank you. Your answer was recorded anonymously.";
      return;
    }
    const p = await res.json();
    if (p.status === 410) {
      status.textContent = "This check-in link was already used or has expired.";
    } else if (p.status === 409) {
      status.textContent = "This check-in is not open yet. Please use the link on the day your message said.";
    } else {
      status.textContent = "Your answer could not be sent (" + p.title + "). Please try again.";
    }
  } catch {
    status.textContent = "Your answer could not be sent. Check your connection and try again.";
  }
});
