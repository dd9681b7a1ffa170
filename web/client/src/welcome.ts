// A first-time participant's welcome: what the joint room and their
// caucus are, who sees what, that messages are end-to-end encrypted, and
// how to ask the mediator. Shown once per account in this browser, until
// dismissed; a button in the page's tools shows it again.

type Attrs = Record<string, string | boolean | ((e: Event) => void)>;
type H = (tag: string, attrs?: Attrs, ...kids: (Node | string | null | undefined | false)[]) => HTMLElement;

export interface WelcomeContext {
  h: H;
  account: string;
  /** The mediators' names. */
  mediators: string[];
  /** The person's role: party, counsel or observer. */
  role: string;
  /** The caucus room of the person's side ("" for an observer), and its title, e.g. "Tenant caucus". */
  caucus: string;
  caucusTitle: string;
  /** Who can read a room, in words. */
  visibleTo: (room: string) => string;
  /** Opens a room in the page. */
  openRoom: (room: string) => void;
}

const key = (account: string) => "parley:welcomed:" + account;

/** Whether this account has dismissed the welcome in this browser. */
export function welcomed(account: string): boolean {
  try { return localStorage.getItem(key(account)) === "1"; } catch { return false; }
}

/**
 * Shows the welcome at the top of into when this account has not
 * dismissed it in this browser (or always, with force). Focus moves to its
 * heading so a screen reader reads it first; "Got it" puts it away for good.
 */
export function showWelcome(into: HTMLElement, w: WelcomeContext, force = false): void {
  if (!force && welcomed(w.account)) return;
  document.getElementById("welcome")?.remove();
  const { h } = w;
  const med = w.mediators.length ? w.mediators.join(" and ") : "your mediator";
  const close = () => {
    try { localStorage.setItem(key(w.account), "1"); } catch { /* private mode: shown again next time */ }
    sec.remove();
    document.getElementById("room-title")?.focus();
  };
  // Who reads a room, on a line of its own as every room and document says it ("Visible to: …").
  // Each line names its room (data-room), so it is said again when people join (redrawWelcome).
  const who = (room: string) => h("span", { class: "note welcome-who", "data-room": room }, w.visibleTo(room) + ".");
  const title = h("h2", { id: "welcome-title", tabindex: "-1" }, "Welcome to your mediation");
  const observer = w.role === "observer";
  const items: (HTMLElement | null)[] = [
    h("li", {}, h("strong", {}, "The joint room"), observer ? " is where everyone meets. You read what is written there." : " is where everyone meets. What you write there, all of them can read.", who("joint")),
    w.caucus ? h("li", {}, h("strong", {}, `Your caucus (${w.caucusTitle})`), ` is private to your side. The other side never sees it; use it to talk to ${med} privately.`, who(w.caucus)) : null,
    h("li", {}, h("strong", {}, "End-to-end encrypted: "), observer ? "messages are locked in the writer's browser and opened only in the browsers of the people listed above. The people running Parley cannot read them. Each room says at the top who can read it." : "your messages are locked in this browser and opened only in the browsers of the people listed above. The people running Parley cannot read them. Each room says at the top who can read it."),
    // A message leaves the caucus only with its author's consent; a document the side added, with the consent of one
    // of the side (a party or a lawyer: either can allow it); a document a mediator added to the caucus is the
    // mediator's, and needs nobody's (vault/approval.go).
    w.caucus ? h("li", {}, h("strong", {}, "What you write stays in your caucus unless you agree. "), `${med} may ask to carry something you wrote to the joint room. You decide: you can edit the words first, approve, or decline.`) : null,
    h("li", {}, h("strong", {}, "Documents"), " are stored encrypted by the service and shown only to the people named under each one."),
    w.caucus ? h("li", {}, h("strong", {}, "Documents in your caucus: "), `a document you or your ${w.role === "counsel" ? "client" : "lawyer"} added to your caucus is shown to others only if one of you allows it (either of you can). Documents the mediator adds to your caucus are the mediator's, and the mediator may show them to others.`) : null,
    // An observer reads the joint room and cannot post in it.
    observer ? h("li", {}, h("strong", {}, "You read the joint room; "), "you do not write in it. To ask the mediator something, ask at the session or contact the mediation program.")
      : h("li", {}, h("strong", {}, "To ask the mediator something, "), w.caucus ? `write in your caucus: only your side and ${med} will read it.` : `write in the joint room, or ask ${med} at the session.`),
  ];
  // A party or lawyer with a caucus is offered it first, as the main action: the private room is where they ask the
  // mediator anything, and a first message typed in the joint room (where the page opens) reaches the other side.
  // "Got it" stays in the room on the screen.
  const go = w.caucus ? h("button", { type: "button", class: "primary", id: "welcome-caucus", onclick: () => { close(); w.openRoom(w.caucus); } }, `Go to your caucus`) : null;
  const sec = h("section", { id: "welcome", class: "welcome", "aria-labelledby": "welcome-title" },
    title,
    h("ul", {}, ...items),
    h("div", { class: "row" }, go, h("button", { type: "button", class: go ? "" : "primary", id: "welcome-dismiss", onclick: close }, go ? "Got it, stay here" : "Got it"),
      h("span", { class: "note" }, "You can read this again from “About this mediation”.")));
  sec.addEventListener("keydown", (e) => { if ((e as KeyboardEvent).key === "Escape") close(); });
  into.prepend(sec);
  title.focus();
}

/**
 * Says again who reads each room on the welcome shown (if any): the case
 * changed (someone joined, or left), and the lines said when it opened
 * would name too few, or too many.
 */
export function redrawWelcome(visibleTo: (room: string) => string): void {
  for (const line of document.querySelectorAll<HTMLElement>("#welcome .welcome-who[data-room]")) {
    const words = visibleTo(line.dataset.room!) + ".";
    if (line.textContent !== words) line.textContent = words;
  }
}
