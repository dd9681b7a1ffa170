// sendOnce: the one-shot send of the standalone survey and check-in pages.
// The form's answers go to url once: a second tap while the first is on
// its way does nothing, and the page says in plain words what happened and
// what to do — never a status number or the server's own wording.
//
//   form     the form (its submit button is disabled while sending)
//   status   the element that says what is happening (role=status)
//   url      where the answers are posted (JSON)
//   body     () => the JSON body, read from the form when it is sent
//   words    { sending, dropped, thanks, notSent(res) }
"use strict";

function sendOnce(form, status, url, body, words) {
  const button = form.querySelector("button[type=submit]");
  let sending = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (sending) return;
    sending = true;
    button.disabled = true;
    status.textContent = words.sending;
    try {
      let res;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body()),
        });
      } catch {
        status.textContent = words.dropped;
        return;
      }
      if (res.ok) {
        form.hidden = true;
        status.textContent = words.thanks;
        return;
      }
      if (res.status === 410) form.hidden = true; // used or expired: nothing more to send
      status.textContent = words.notSent(res);
    } finally {
      sending = false;
      button.disabled = false;
    }
  });
}
