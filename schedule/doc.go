// Package schedule owns the sessions of a case — when, how long, in which
// time zone, which rooms, who is expected — and the mail about them:
// iCalendar (RFC 5545) invitations, updates and cancellations per
// participant, and reminders before each session at the times the program
// sets (48 and 2 hours by default).
//
// Sessions are sealed records under sessions/<case>/<session>, changed with
// optimistic concurrency like cases. Every change is audited with ids only.
// Mediators of the case manage sessions; everyone taking part reads them
// (policy/sessions.cedar).
//
// Mail leaves the confidentiality boundary, so it carries times and links
// only: no case title, no names, no document names. Each participant's
// .ics names the program's sender as ORGANIZER and that participant alone
// as ATTENDEE, so no one learns from it who else is invited.
package schedule
