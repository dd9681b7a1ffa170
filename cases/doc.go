// Package cases owns the mediation case record: its sides, mediators and
// participants, objectives and success criteria, the five stages of the
// process with the time of every transition, mediators' conflict-of-interest
// disclosures with the parties' acknowledgements, recusal, and invitations.
//
// A case's terms (consent.go: agreement to mediate, confidentiality, ground
// rules) start as the program's default; mediators may edit them, and an
// edit once anyone accepted is a new version. Parties, counsel and
// observers accept them with a signature by their registered device
// (checked through DeviceVerifier, the key directory); the case does not
// move to the opening stage until everyone who joined has accepted.
//
// The program (administrators, records staff) changes a case's mediators only
// by proposal (proposals.go): a second, independent person approves, every
// participant is told in the case, and a mediator the program assigns reads
// nothing until the notice period (ReassignmentNotice) has passed.
//
// Every method takes the acting account and asks package policy before doing
// anything; a refusal is audited. Every change lands in the audit log as ids
// and keyed hashes — never the text of an objective or a disclosure.
//
// Cases live as sealed records in the metastore under "cases/<id>" and are
// changed with optimistic concurrency, so mediators on different nodes can
// work on one case at once without locks. An invitation is a record under
// "invites/<keyed token hash>"; an empty marker of the same name under
// "cases/<id>/invites/" lets the case's mediators list the ones not yet
// used (PendingInvites) without any token being stored. Each invitation
// with an address, and each participant, has an entry in the index of
// seats by address ("seat-index/", seatindex.go), written before the
// record, where an emailed sign-in link finds who else has its address.
//
// What cases must never do: carry messages or documents (packages messaging
// and vault do), or decide access itself instead of asking policy.
package cases
