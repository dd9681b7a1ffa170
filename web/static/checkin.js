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

sendOnce(form, status, "/api/v1/checkins", () => {
  const data = new FormData(form);
  return { token, answer: data.get("answer"), comment: data.get("comment") || "" };
}, {
  sending: "Sending your answer…",
  dropped: "Your answer was not sent: the connection dropped. Check it and press Send again.",
  thanks: "Thank you. Your answer was recorded anonymously.",
  notSent,
});
