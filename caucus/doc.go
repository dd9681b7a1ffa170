// Package caucus owns the rooms of a mediation session: which rooms a case
// has (one joint room, one caucus per side, one mediators-only room), who
// is in which, what each person may see of them, and what happens to the
// rooms when the people in a case change.
//
// Rooms are derived from the case record, never stored on their own:
// adding a side or a participant is enough to give them their rooms. A
// mediator may also open rooms of chosen people (cases.DefinedRoom, kept in
// the case record; "room:<id>", or "cross:<id>" when declared cross-side):
// RoomNames and roomOf derive them like the rest, policy keeps each to its
// members (defined-rooms.cedar), and closing one seals its epoch and
// refuses further posts (defined.go). Every
// decision about a room is asked of package policy (room.join, room.post,
// room.history), and a caucus by construction never holds participants of
// two sides: a party or counsel enters only their own side's caucus.
//
// When membership changes (a participant joins, a mediator is added or
// recused) the affected rooms are sealed into a new epoch — so later
// end-to-end encryption can rotate keys, and clients see a membership
// event in the stream — the change is audited, and every open connection
// to the case re-checks its rooms at once: a recused mediator's sockets
// close within a moment.
//
// What caucus must never do: carry message bytes itself (package
// messaging does), read them, or let a room's membership come from anywhere
// but the case record and policy. (For a defined room the clients trust
// only the membership the opening mediator's device signed: a record
// edited afterwards opens the room to nobody's keys. The signed entries
// of a defined room, which the case's statements commit to without naming
// it, are kept in its record and listed to its members only.)
package caucus
