// The alarm screen: shown instead of the case when a check of its keys
// fails (SecurityStop, secure.ts) — on opening it or at any later check (a
// send, the devices panel, a document). It says what happened in plain
// words, that nothing was sent, and what to do; the technical reason, for
// the program, is behind "Technical details".
import { h, stamp } from "./dom";
import type { SecurityStop } from "./secure";

/**
 * Replaces main's contents with the alarm screen for e. mediator: the
 * person is a mediator of the case (they call the program, not "your
 * mediator"). Shown once: a second stop while it is up changes nothing.
 */
export function showSecurityStop(main: HTMLElement, e: SecurityStop, mediator: boolean): void {
  if (main.querySelector("#security-stop")) return;
  const who = mediator ? "the mediation program" : "your mediator or the mediation program";
  const what = e.what.charAt(0).toUpperCase() + e.what.slice(1) + ".";
  main.replaceChildren(h("section", { id: "security-stop", class: "alarm", "aria-labelledby": "security-stop-title" },
    h("h1", { id: "security-stop-title", tabindex: "-1" }, "Stop: this case is not safe to use on this device right now"),
    h("p", { id: "status", role: "alert", class: "error" },
      "Each time it opens this case, this browser checks that only the people in this mediation can read what you write. That check failed, so this case is closed on this device."),
    h("p", { id: "security-stop-what" }, h("strong", {}, "What happened: "), what),
    h("p", { id: "security-stop-sent" }, h("strong", {}, "Your messages were not sent. "),
      "This page stopped before sending anything: whatever you were writing or sending when this appeared did not leave this device, and nothing more goes from here."),
    h("h2", {}, "What to do now"),
    h("ol", { id: "security-stop-do" },
      h("li", {}, `Phone ${who} and tell them: “My screen says the case was stopped for safety.”`),
      h("li", {}, "Do not write, upload or sign anything in this case on this device until they tell you it is safe again."),
      h("li", {}, "Opening the page again will not change this. You can close it.")),
    h("details", { id: "security-stop-technical" }, h("summary", {}, "Technical details (for the mediation program)"),
      h("p", {}, e.technical),
      h("p", {}, `Shown ${stamp(Date.now(), { seconds: true })}.`))));
  main.querySelector<HTMLElement>("#security-stop-title")?.focus();
}
