// Package floor runs the controls of a case's rooms that a mediator uses
// to structure a session: a room's timer (its end time, shown to its
// members as a countdown), the floor of a room (which side's turn it is to
// speak, until when) and raised hands (a participant asking for the
// mediator from a room they are in).
//
// Everything is keyed by case id and room name, so it applies to any room
// package caucus resolves for the case. The state of a case is one
// metastore record in the object store (cases/<case>/floor), purged with
// the case; a Redis flush loses nothing. Every change is decided by policy
// (room.control, room.raise_hand with room.join, case.hands_read), audited
// with ids and times only before it is written (a change the log does
// not take is not made), and announced on the case's broker topic
// (caucus.CaseTopic) with a payload that says "floor changed in this
// room"; each open connection whose person may join that room then sends
// them the view they may see (Pushed), if it changed.
//
// What the server learns here is metadata, never content: who asked for
// the mediator in which room and when, the timers, and whose turn it was.
// Broadcast notices are ordinary end-to-end encrypted messages, one per
// room, posted by the mediator's client; they never pass through here.
// A message sent out of turn is not held: every client marks it from the
// server's time on the message and the turns kept here.
//
// What floor must never do: carry or read message bytes, decide access
// itself, or keep state anywhere but its record.
package floor
