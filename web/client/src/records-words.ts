// Records staff read what kind of record something is in words, never the
// schedule's class codes ("mediator-notes", "case-record") nor its trigger
// codes ("case-closed"): the codes stay in data-* attributes and the API.

/** Each record class in words, as a kind of record ("Mediator's notes"). */
const classNames: Record<string, string> = {
  agreement: "Agreement",
  evidence: "Evidence",
  "mediator-notes": "Mediator's notes",
  correspondence: "Correspondence",
  admin: "Administrative",
  "message-history": "Message history",
  "case-record": "Case record",
  "invites-sessions": "Invitations and sessions",
  "carries-consents": "Carried messages and consents",
  "survey-responses": "Survey answers and check-ins",
  "key-directory": "Key directory statements",
  "statistical-stub": "Statistical summary",
  "participant-account": "Participants' accounts",
  residue: "Leftovers no record class covers",
};

/** A record class in words; an unknown one (a newer server's) as "Other records". */
export function classWords(cls: string): string {
  return classNames[cls] ?? "Other records";
}

/** The same, lower case, inside a sentence ("3 evidence documents", "mediator's notes records"). */
export function classInSentence(cls: string): string {
  const w = classWords(cls);
  return w.charAt(0).toLowerCase() + w.slice(1);
}

/** What started a record's clock, in words. */
const triggerNames: Record<string, string> = {
  "case-closed": "the case closed",
  superseded: "a newer version was stored",
  created: "it was made",
};

export function triggerWords(t: string): string {
  return triggerNames[t] ?? "its clock started";
}

/**
 * Marks a records table to stack at phone width (app.css, table.stack):
 * each row a card, each cell led by its column's name, so no column and
 * no button in it is cut off behind a sideways scroll.
 */
export function stacked(table: HTMLElement): HTMLElement {
  const heads = [...table.querySelectorAll("thead th")].map((t) => t.textContent ?? "");
  for (const tr of table.querySelectorAll("tbody tr")) [...tr.children].forEach((td, i) => td.setAttribute("data-label", heads[i] ?? ""));
  table.classList.add("stack");
  return table;
}
