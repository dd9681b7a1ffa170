// An upload follows the room being read. Run by
// web/documents_room_browser_test.go: a node, a mediator (Morgan Reyes), a
// case (Tenant, Landlord) and Ada Okafor (Tenant), who joins here.
import { axeCheck } from "./axe.mjs";
import { ask, check, joinByInvite, newPage, run, shots, signInMediator } from "./harness.mjs";
// Kind starts on "Choose…" (documents.ts): Upload, choosing the first kind offered if none is chosen yet.
const pressUpload = async (page) => {
  if (!(await page.inputValue("#doc-class"))) await page.selectOption("#doc-class", { index: 1 });
  await page.click("#doc-upload");
};

const openRoom = async (page, r) => { await page.locator(`#rooms button[data-room="${r}"]`).click(); await page.locator("#room-title").waitFor(); };
const file = (name) => ({ name, mimeType: "application/pdf", buffer: Buffer.from("%PDF " + name) });
// Where the server holds a document (asked once "Uploaded" shows: the server has answered by then).
const serverAudience = (name) => ask("audience", name);

await run(async () => {
  // Ada joins first (the "Visible to" lines name her).
  const party = await newPage("party", { width: 1280, height: 900 });
  await joinByInvite(party);
  const med = await newPage("med", { width: 1280, height: 900 });
  await signInMediator(med);
  await med.locator("#doc-audience").waitFor();

  // In the joint room a file is chosen: its place is the joint room.
  await openRoom(med, "joint");
  await med.locator("#docs-title", { hasText: "Documents of the Joint room" }).waitFor();
  await med.setInputFiles("#doc-file", file("Offer draft.pdf"));
  check(await med.inputValue("#doc-audience") === "joint", "in the joint room the file's place is the joint room");

  // She decides it is private and opens the Tenant caucus: the file stays
  // chosen, and its place is now the Tenant caucus, said in words.
  await openRoom(med, "caucus:A");
  await med.locator("#docs-title", { hasText: "Documents of the Tenant caucus" }).waitFor();
  check((await med.locator("#doc-file").evaluate((i) => i.files[0]?.name)) === "Offer draft.pdf", "the chosen file is still chosen");
  check(await med.inputValue("#doc-audience") === "caucus:A", "the place follows the room: " + await med.inputValue("#doc-audience"));
  const note = await med.innerText("#doc-audience-note");
  check(note.includes("the Tenant side only") && !note.includes("everyone"), "and the note says who will see it: " + note);
  await pressUpload(med);
  await med.locator("#doc-upload-status", { hasText: "Uploaded “Offer draft.pdf”" }).waitFor();
  check(await med.locator("#doc-upload-confirm").count() === 0, "an upload to the room being read asks nothing");
  check(await serverAudience("Offer draft.pdf") === "caucus:A", "the server holds it in the Tenant caucus, not the joint room");

  // A place other than the room being read is asked about, in words, and
  // nothing is sent before the answer.
  await med.setInputFiles("#doc-file", file("Agenda.pdf"));
  await med.selectOption("#doc-audience", "joint");
  const jointNote = await med.innerText("#doc-audience-note");
  check(jointNote.includes("and anyone who joins the case later (someone invited who has not joined yet, for example)"),
    "for the joint room, the note says people who join later will see it too: " + jointNote);
  // By keyboard, Enter pressed twice: the second lands on the question, not on "Yes, share it" (UX review 379 H1).
  if (!(await med.inputValue("#doc-class"))) await med.selectOption("#doc-class", { index: 1 });
  // The button comes back once the upload before has ended, list read again included (a press before does nothing).
  await med.locator("#doc-upload:not([disabled])").waitFor();
  await med.focus("#doc-upload");
  await med.keyboard.press("Enter");
  const q = med.locator("#doc-upload-ask .confirm");
  await q.waitFor();
  await med.keyboard.press("Enter");
  check(await med.evaluate(() => document.activeElement?.id) === "doc-upload-q" && await q.count() === 1,
    "Enter pressed twice leaves the focus on the question, which stays open: " + await med.evaluate(() => document.activeElement?.id));
  const words = await q.innerText();
  check(words.includes("Share “Agenda.pdf” with everyone in the joint room? You are looking at the Tenant caucus."), "Upload asks, naming who will see it and where she is: " + words.replace(/\n/g, " / "));
  check(!words.includes("caucus:") && !words.includes("doc.") && !words.includes("mediators"), "in plain words, no internal names: " + words);
  check(words.includes("anyone who joins the case later"), "the question, like the note above it, says people who join later will see it: " + words.replace(/\n/g, " / "));
  check(await ask("documents") === "1", "nothing is sent before she answers");
  await axeCheck(med, "the upload question");
  await med.locator("#doc-upload-form").screenshot({ path: `${shots}/documents-upload-ask.png` });
  await med.setViewportSize({ width: 390, height: 844 });
  await med.locator("#doc-upload-form").screenshot({ path: `${shots}/documents-upload-ask-phone.png` });
  await med.setViewportSize({ width: 1280, height: 900 });
  await med.click("#doc-upload-cancel");
  await q.waitFor({ state: "detached" });
  check(await ask("documents") === "1", "Cancel sends nothing");

  // The question is about the room she was in: opening another room takes it away.
  await pressUpload(med);
  await q.waitFor();
  await openRoom(med, "caucus:B");
  await med.locator("#docs-title", { hasText: "Documents of the Landlord caucus" }).waitFor();
  check(await q.count() === 0, "a question asked in another room is gone when the room changes");
  check(await med.inputValue("#doc-audience") === "joint", "a place she picked herself stays picked when the room changes: " + await med.inputValue("#doc-audience"));
  await pressUpload(med);
  await q.waitFor();
  const again = await q.innerText();
  check(again.includes("You are looking at the Landlord caucus."), "and it is asked about again, from the room she is in now: " + again.replace(/\n/g, " / "));
  await med.click("#doc-upload-cancel");
  await q.waitFor({ state: "detached" });
  await openRoom(med, "caucus:A");
  await med.selectOption("#doc-audience", "joint");
  await pressUpload(med);
  await q.locator("#doc-upload-confirm", { hasText: "Yes, share it with everyone in the joint room" }).click();
  await med.locator("#doc-upload-status", { hasText: "Uploaded “Agenda.pdf”" }).waitFor();
  check(await serverAudience("Agenda.pdf") === "joint", "confirmed, it goes to the joint room");

  // From the joint room, a narrower place reaches nobody outside the room
  // being read: a mediator's upload to the mediators only, and a party's
  // to her own caucus (her only place), go without a question.
  await openRoom(med, "joint");
  await med.setInputFiles("#doc-file", file("Notes.pdf"));
  await med.selectOption("#doc-audience", "mediators");
  await pressUpload(med);
  await med.locator("#doc-upload-status", { hasText: "Uploaded “Notes.pdf”" }).waitFor();
  check(await serverAudience("Notes.pdf") === "mediators", "the mediators-only upload from the joint room went without a question");
  await openRoom(party, "joint");
  await party.locator("#doc-audience").waitFor();
  await party.setInputFiles("#doc-file", file("Lease.pdf"));
  await pressUpload(party);
  await party.locator("#doc-upload-status", { hasText: "Uploaded “Lease.pdf”" }).waitFor();
  check(await party.locator("#doc-upload-confirm").count() === 0, "the party was asked nothing");
  check(await serverAudience("Lease.pdf") === "caucus:A", "her upload from the joint room went to her caucus");
});
