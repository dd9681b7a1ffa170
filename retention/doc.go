// Package retention keeps records only as long as the program's schedule
// says, and then destroys them for good, with a signed certificate to show
// for it.
//
// # What it owns
//
//   - The retention schedule (schedule.go): for every record class — the
//     vault's document classes, the message history of a case's rooms,
//     the case's other records (invites and sessions, carries and
//     consents, survey responses, key-directory statements, the case
//     record itself) and the statistical stub — a trigger (case closed, document superseded, created) and a period.
//     It is data, versioned (every version is kept under
//     retention/schedules/), and every change is audited. Until records
//     staff set one, policy.DefaultSchedule applies. Which rule applies to
//     a record and when it falls due is decided by package policy, purely.
//     A change that shortens a period or changes a trigger is only
//     proposed (schedule_approval.go) and is in force once a second
//     person, independent of the proposer, approves it; lengthening is in force at once; a zero or
//     very short period is answered with a warning.
//   - The sweep (sweep.go): every plan also finds residue — what no
//     class covers: ciphertext and version records of no known document
//     version (by age: 24 hours, so an upload in progress is never
//     taken), expired or signed-out sign-in sessions, invitations
//     expired unused, certified plans' journals — lists it by kind and
//     count, and its apply destroys it (every stored version) before the
//     case keys, checking each again first; nothing of a held case is
//     residue. Its own class, residue, sets the period.
//   - Legal holds (holds.go): placed and released, with a reason and an
//     authority (the court order, the complaint), on a case or on one
//     document. A hold takes effect twice: in the records, which disposal
//     reads again right before any key or message batch is destroyed,
//     and as the object store's legal hold on every stored version of
//     what it covers (for a case hold, set before the vault's record of
//     it and again after, so a disposal that read no hold either meets
//     the storage hold or is found to have overtaken the placement,
//     which then says so: hold.place.overtaken) — and
//     of the hold's own record and, for a case hold, the case record
//     (holdRecords) — so the bucket itself refuses to delete it, and a
//     disposal already past its hold check pauses there. A release clears
//     the storage holds only when no other hold covers the same records,
//     and looks again afterwards, setting them again (audited as
//     hold.restored) for a hold placed meanwhile, and clearing them again
//     if that hold was released in between (clearUncovered).
//   - Disposition (plan.go, apply.go). A plan, drawn up as of a date, lists
//     every record due with its class, trigger date and size, and every
//     record that would be due but is held, with the hold. A second person
//     (records or admin) approves it: never the planner or whoever chose
//     its actions, nor an account tied to theirs by creation lineage, nor
//     one whose lineage is unknown (Cedar forbids; Approve reads the
//     planner's and choosers' accounts for their lineages).
//     Applying it runs, page by page, the vault's cryptographic erase
//     (NIST SP 800-88): first each version's data key, then every stored
//     version of its ciphertext and of its record, then — once nothing of
//     the case remains and its case record is destroyed — the case key;
//     and the message history's every
//     stored batch. Every step is idempotent and checks the one before, so
//     an apply stopped anywhere (a crash, Ctrl-C) leaves nothing readable
//     that was meant to be gone, and running it again finishes the job.
//     The case classes (caseclasses.go) are deleted in every stored
//     version; a case record goes last, once nothing else of its case is
//     stored, after its statistical stub (cases.Stub) is stored, and
//     takes its participants' accounts with it when it is the last case
//     they belong to. Each case's disposal is journaled under the plan
//     before anything is deleted, so a rerun certifies the same counts.
//     A case record that goes is first fenced (cases.BeginDisposal: the
//     case takes no more changes, no upload, new version, post, key
//     directory statement or admission — cases.RefuseAdditions, 410 — and
//     the fence is announced, so open connections on every node stop
//     taking posts at once; its fence marker, cases/fencemarks.go, is
//     how a node whose connections missed that finds it, and goes with
//     the case record, every version, after it) and the audit events
//     pending in it
//     appended; only then does retention look for documents, messages or
//     keeps that keep the case (lifting the fence if one does: an upload
//     or a key-directory record checks the fence again once visible and
//     is taken back if it finds it). Before the record is deleted the
//     case's room history is ended (messaging.EndHistory) and whatever
//     its rooms hold deleted (endRooms): a post stored after the keep
//     check does not outlive the disposal. Nothing is destroyed while an event is pending, and whatever
//     pends in a case or carry record a deletion removes is appended
//     first (auditListed), so disposal never loses an audit entry. The
//     records are deleted hidden (destroyPlaces): a delete marker over the
//     case record and each carry first, so no older, unfenced version is
//     ever current and no change can land in them; every key's newest
//     version last; then its places listed again and what appeared
//     meanwhile deleted too (at most 4 rounds, else the apply stops, to
//     be resumed). The participants' accounts that go with it are
//     deleted the same way, every record of theirs hidden first, so a
//     stopped disposal never leaves an older account or session version
//     (before a revocation or sign-out) current. A case-record item that
//     ends held or kept — a hold placed after a run that stopped past the
//     fence, a keep — has its fence lifted (cases.EndDisposal). A fence
//     names its plan: only it lifts or pauses it; another plan leaves the
//     case to it (cases.ErrDisposalUnderWay: the outcome kept, saying
//     so), and a journal decided under a fence lifted since is decided
//     again. A case record gone when a plan reaches it counts destroyed
//     only if the audit log shows a plan's disposal of it completed
//     (goneCases); else its outcome is missing (OutcomeMissing: not
//     destroyed by Parley), and the certificate lists it apart. A storage
//     hold met while deleting (the markers taken back, the hidden records
//     deleted only after the others, so what was not deleted stays as it
//     was) pauses the disposal: the fence is replaced by
//     Case.DisposalPaused (cases.PauseDisposal, audited first as
//     retention.case.paused; the case's journal in the plan deleted
//     first, so a rerun of the plan decides again), the item is held, and
//     the next plan lists the case record with Paused and, once the hold
//     is released, looks again and finishes (the pause stays until then,
//     through a plan that keeps the case).
//   - Actions besides destroy (actions.go, transfer.go): before approval,
//     records staff may choose to review a record (keep it until a date,
//     with a reason), keep it permanently (with an authority), or transfer
//     its case — an age-encrypted bundle of its joint documents (never a
//     caucus document or mediator notes: policy decides), its outcome and
//     an audit excerpt with inclusion proofs, made before anything of the
//     case is destroyed — and then destroy it. Whoever chose does not
//     approve. Transfer is the one place retention reads content: it
//     streams the documents policy allows into a bundle only the
//     recipient can open.
//   - Certificates of destruction (certificate.go): what was destroyed (ids,
//     classes, keyed content hashes, sizes), under which schedule and plan,
//     who planned and approved it and when, as a signed note (the audit
//     log's Ed25519 key, golang.org/x/mod/sumdb/note), stored once per plan
//     in the object store and linked from the audit log by its hash.
//
// Every access decision is asked of package policy (retention.cedar): the
// schedule, plans and certificates are for records staff and
// administrators, holds for records staff. None of them ever reads
// content, and nothing here gives them a way to.
//
// # What it must never do
//
// Read, decrypt or return content, names or media types (but for a
// transfer's bundle, sealed to its recipient); put anything but
// ids, classes, enums, counts, sizes, dates and keyed hashes in a plan, a
// certificate or an audit entry; delete a ciphertext before its key, or
// any key of something under hold; approve a plan for its own planner, a
// chooser, or an account tied to theirs; or
// decide access itself instead of asking policy.
package retention
