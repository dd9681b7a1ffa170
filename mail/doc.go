// Package mail sends the server's mail — session invitations and their
// updates, reminders, survey requests, follow-ups and records staff's
// notice of what falls due — through an outbox in the object store.
//
// Each message is one create-only record under outbox/cases/<case>/<id>,
// whose id is stable (derived by the caller from what the message is for),
// so enqueuing the same message twice stores it once. A small marker under
// outbox/due/ lists the messages still to be sent and when each is due at
// the earliest (moved on after the message's record when a retry puts it
// off, never before), so a pass reads only the markers and the messages
// whose time has come. Enqueue writes the marker, a fresh version even
// over an old one, before the message; a marker whose message is missing
// and whose newest version a node has seen unchanged for 10 minutes, by
// its own clock (nodes' clocks are never compared), is tidied, looking
// for the message again before deleting only the marker's versions it
// listed, so an Enqueue of the same id meanwhile keeps a live marker
// (dropOrphan). Once a message is final its record's
// older versions, which hold the body that finish cleared, are deleted,
// never the newest, and then its marker with every stored version
// (retire, dropDue), the newest last; those of messages made final by an
// earlier release, which kept them, go in the sender loop's background
// sweep (sweepOlder, a bounded pass a minute). Every node runs a sender loop; to send a message a node first
// claims it with a conditional write (If-Match on the record's ETag), so of
// two nodes only one wins, and only then talks to the SMTP server.
//
// Delivery is at most once. A claimed message whose sender crashed or lost
// the store before recording the outcome is never sent again automatically:
// after the claim's lease it is marked "uncertain" and shown to the
// mediator as "may not have been delivered — resend?". Failures that are
// certain not to have delivered (the server refused the connection, the
// sender, the recipient or the data) are retried with exponential backoff,
// and after the last attempt marked "failed" with the server's answer.
//
// A mail server is outside the confidentiality boundary: messages carry
// times and links only, and records staff's daily notice of what falls
// due (KindDueNotice, kept under NoticeOutbox) case references and counts
// (docs/security.md).
package mail
