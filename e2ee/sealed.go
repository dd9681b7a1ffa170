package e2ee

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sealed rooms (docs/protocol.md, "Mediator-defined rooms").
//
// A room a mediator opens is its members' business: the case-wide
// membership statement, which every person in the case fetches, must not
// say that it exists or who is in it. So a statement holds, for each
// such room, only a slot named "sealed:<commitment>" with an epoch and no
// members; the commitment is SHA-256 of a room entry (TypeRoomEntry): the
// case, the room's name ("room:<id>" or "cross:<id>", which says whether
// it is cross-side), who is in it, and 32 random bytes, so the slot tells
// someone without the entry nothing but that a slot is there and when its
// epoch moves. The entry is not signed on its own: the mediator's device
// that signs the statement holding the slot signs the commitment, so an
// entry that hashes to it is the one that device made.
//
// The server keeps the entries and gives them only to the room's members
// (policy). A member's client adds them to its verified chain
// ([Chain.AddEntry]) and from then on sees the room in every statement
// from the one that opened it: at that slot's epoch, with the opening
// members less everyone a statement no longer lists (members only ever
// leave a room: someone who leaves the case and comes back is not in it).
//
// Closing is a second entry (kind close) committed by a later slot, in a
// statement signed by a mediator who is in the room then: the room is
// closed end to end from that statement on, and no statement can undo it
// (slots never disappear).
const (
	// TypeRoomEntry is a sealed room's entry.
	TypeRoomEntry = 0x0B
	// MaxRoomEntry bounds a room entry.
	MaxRoomEntry = 16 << 10

	// EntryOpen opens a room with its members; EntryClose closes it.
	EntryOpen  = 1
	EntryClose = 2

	sealedPrefix = "sealed:"
)

// ErrRoomConflict: two different openings under one room's name, each
// committed by a signed slot. Only a device holding the first opening's
// salt can make a second (RoomIDFor), so this is not an accident: the
// client refuses the chain and says so (it never picks one of them).
var ErrRoomConflict = errors.New("two different openings of one room")

func init() { typeNames[TypeRoomEntry] = "room-entry" }

// RoomEntry is what a sealed slot commits to.
type RoomEntry struct {
	Case    string
	Room    string // "room:<id>" or "cross:<id>"
	Kind    uint8  // EntryOpen or EntryClose
	Members []string
	Salt    [32]byte

	Raw []byte
}

func (e *RoomEntry) encode() []byte {
	return newWriter(TypeRoomEntry).str(e.Case).str(e.Room).u8(e.Kind).strs(e.Members).bytes(e.Salt[:]).b
}

// RoomIDFor is the id of the room an opening entry with salt opens: the
// first 128 bits of SHA-256("parley room id\x00" || salt), in hex. The
// opening device chooses the id by choosing the salt, so a device that
// does not hold a room's opening entry cannot make another opening under
// its name, and a server cannot answer a new opening with an existing
// room's id.
func RoomIDFor(salt [32]byte) string {
	h := sha256.Sum256(append([]byte("parley room id\x00"), salt[:]...))
	return hex.EncodeToString(h[:16])
}

// NewRoomOpening makes the entry opening a new room with members (the
// room's name from fresh random salt, RoomIDFor; cross-side or not).
func NewRoomOpening(caseID string, crossSide bool, members []string) (*RoomEntry, error) {
	e := &RoomEntry{Case: caseID, Kind: EntryOpen, Members: slices.Compact(slices.Sorted(slices.Values(members)))}
	rand.Read(e.Salt[:])
	e.Room = DefinedRoomName(RoomIDFor(e.Salt), crossSide)
	e.Raw = e.encode()
	return DecodeRoomEntry(e.Raw)
}

// NewRoomEntry makes the entry that closes room (kind EntryClose, no
// members), with fresh random salt. An opening is NewRoomOpening's (its
// name comes from its salt).
func NewRoomEntry(caseID, room string, kind uint8, members []string) (*RoomEntry, error) {
	if kind == EntryOpen {
		return nil, malformed("an opening entry names its room from its salt (NewRoomOpening)")
	}
	e := &RoomEntry{Case: caseID, Room: room, Kind: kind, Members: slices.Compact(slices.Sorted(slices.Values(members)))}
	if e.Members == nil {
		e.Members = []string{}
	}
	rand.Read(e.Salt[:])
	e.Raw = e.encode()
	if _, err := DecodeRoomEntry(e.Raw); err != nil {
		return nil, err
	}
	return e, nil
}

// DecodeRoomEntry parses a room entry and checks its form: a defined
// room's name, a known kind, members (sorted, each once) only when it
// opens the room.
func DecodeRoomEntry(data []byte) (*RoomEntry, error) {
	r := newReader(data, TypeRoomEntry, MaxRoomEntry)
	e := &RoomEntry{Case: r.id("case"), Room: r.id("room"), Kind: r.u8("kind")}
	e.Members = r.strs("members", func(m *reader) string { return m.id("member") })
	copy(e.Salt[:], r.fixed("salt", 32))
	r.end("room entry")
	if r.err != nil {
		return nil, r.err
	}
	id, _, ok := DefinedRoom(e.Room)
	if !ok {
		return nil, malformed("room entry for %q, not a room a mediator opens", e.Room)
	}
	if e.Kind == EntryOpen && id != RoomIDFor(e.Salt) {
		return nil, malformed("room entry opens %s, a name its salt does not give (the opening device chooses a room's name)", e.Room)
	}
	switch {
	case e.Kind == EntryOpen && len(e.Members) == 0:
		return nil, malformed("room entry opens %s without members", e.Room)
	case e.Kind == EntryClose && len(e.Members) != 0:
		return nil, malformed("room entry closing %s lists members", e.Room)
	case e.Kind != EntryOpen && e.Kind != EntryClose:
		return nil, malformed("room entry kind %d", e.Kind)
	}
	for i := 1; i < len(e.Members); i++ {
		if e.Members[i-1] >= e.Members[i] {
			return nil, malformed("room entry members not sorted or listed twice")
		}
	}
	if e.Members == nil {
		e.Members = []string{}
	}
	e.Raw = slices.Clone(data)
	return e, nil
}

// Slot is the room name of the statement slot that commits to e:
// "sealed:" and the hex SHA-256 of its encoding.
func (e *RoomEntry) Slot() string {
	h := sha256.Sum256(e.Raw)
	return sealedPrefix + hex.EncodeToString(h[:])
}

// SealedSlot returns the slot a statement holds for e, to sign: epoch 1,
// no members.
func (e *RoomEntry) SealedSlot() RoomMembers {
	return RoomMembers{Name: e.Slot(), Epoch: 1, Members: []string{}}
}

// IsSealedSlot reports whether a statement's room name is a sealed slot.
func IsSealedSlot(name string) bool {
	h, ok := strings.CutPrefix(name, sealedPrefix)
	if !ok || len(h) != 64 {
		return false
	}
	_, err := hex.DecodeString(h)
	return err == nil && strings.ToLower(h) == h
}

// sealedView is a sealed room as a statement holds it for a client that
// has its entry: the room, and the slot it came from.
type sealedView struct {
	RoomMembers
	slot string
}

// sealedRoom is what a chain knows of one sealed room.
type sealedRoom struct {
	name      string
	openSlot  string
	opened    uint64 // seq of the statement that opened it
	closeSlot string
	closed    uint64 // seq of the statement that closed it (0: open)
	entries   [][]byte
}

// firstHolding returns the index of the first statement holding slot.
func (c *Chain) firstHolding(slot string) (int, bool) {
	for i, st := range c.stmts {
		if _, ok := st.rawRoom(slot); ok {
			return i, true
		}
	}
	return 0, false
}

// AddEntry adds a sealed room's entry to the chain (entries from the
// server, for rooms this client's person is in). An opening entry must
// be committed by a slot of a verified statement; the room's name must be
// new to the chain (a name already held is another room: refused); its
// members must all be in the case then, with a mediator among them, no
// observer, and people of one side only unless the name declares it
// cross-side. A closing entry must follow its room's opening and be
// committed in a statement signed by a mediator who is in the room then.
// Adding an entry the chain holds already does nothing. An entry no
// verified statement commits to yet fails with [ErrUnknownStatement].
func (c *Chain) AddEntry(raw []byte) error {
	e, err := DecodeRoomEntry(raw)
	if err != nil {
		return err
	}
	if e.Case != c.Case {
		return errMembership("room entry for case %s, not %s", e.Case, c.Case)
	}
	slot := e.Slot()
	first, ok := c.firstHolding(slot)
	if !ok {
		return fmt.Errorf("%w: no verified statement commits to the entry of %s yet", ErrUnknownStatement, e.Room)
	}
	st := c.stmts[first]
	if c.sealed == nil {
		c.sealed = map[string]*sealedRoom{}
	}
	known := c.sealed[e.Room]
	if e.Kind == EntryClose {
		switch {
		case known == nil:
			return fmt.Errorf("%w: %s is closed before this client knows it was opened", ErrUnknownStatement, e.Room)
		case known.closeSlot == slot:
			return nil
		case known.closeSlot != "":
			return errMembership("room %s is closed twice", e.Room)
		case st.Seq <= known.opened:
			return errMembership("room %s is closed in statement %d, before it opened", e.Room, st.Seq)
		}
		signer, _ := st.Person(st.SignerAccount)
		if signer.Role != RoleMediator || !st.IsMember(e.Room, st.SignerAccount) {
			return errMembership("room %s is closed in statement %d by %s, who is not a mediator in it", e.Room, st.Seq, st.SignerAccount)
		}
		known.closeSlot, known.closed = slot, st.Seq
		known.entries = append(known.entries, e.Raw)
		return nil
	}
	if known != nil && known.openSlot == slot {
		return nil
	}
	conflict := known != nil || c.conflicted[e.Room]
	for _, s := range c.stmts {
		if _, ok := s.rawRoom(e.Room); ok {
			conflict = true
		}
	}
	if conflict {
		// Neither opening is taken: the room is placed by no statement
		// from now on, and the client says so (it never picks one).
		c.dropSealed(e.Room)
		return fmt.Errorf("%w: %w: room %s is opened twice in the chain: a name already held is another room", ErrMembership, ErrRoomConflict, e.Room)
	}
	people := map[string]Person{}
	for _, p := range st.People {
		people[p.Account] = p
	}
	hasMediator := false
	for _, m := range e.Members {
		p, ok := people[m]
		if !ok {
			return errMembership("room %s opens in statement %d with %s, who is not in the case", e.Room, st.Seq, m)
		}
		hasMediator = hasMediator || p.Role == RoleMediator
	}
	if !hasMediator {
		return errMembership("statement %d: room %s opens without a mediator in it", st.Seq, e.Room)
	}
	_, cross, _ := DefinedRoom(e.Room)
	if err := checkDefined(RoomMembers{Name: e.Room, Members: e.Members}, people, cross); err != nil {
		return err
	}
	c.sealed[e.Room] = &sealedRoom{name: e.Room, openSlot: slot, opened: st.Seq, entries: [][]byte{e.Raw}}
	c.sealedOrder = append(c.sealedOrder, e.Room)
	members := e.Members
	for _, s := range c.stmts[first:] {
		members = s.expand(e.Room, slot, members)
	}
	return nil
}

// dropSealed forgets sealed room name: no statement places it any more,
// and AddEntry refuses every later opening of it.
func (c *Chain) dropSealed(name string) {
	if c.conflicted == nil {
		c.conflicted = map[string]bool{}
	}
	c.conflicted[name] = true
	delete(c.sealed, name)
	c.sealedOrder = slices.DeleteFunc(c.sealedOrder, func(n string) bool { return n == name })
	for _, s := range c.stmts {
		s.sealed = slices.DeleteFunc(slices.Clone(s.sealed), func(v sealedView) bool { return v.Name == name })
	}
}

// expand adds the view of sealed room name (slot) to s, with the members
// of the statement before it who are still in the case, and returns them.
func (s *Statement) expand(name, slot string, before []string) []string {
	r, _ := s.rawRoom(slot)
	members := []string{}
	for _, m := range before {
		if _, ok := s.Person(m); ok {
			members = append(members, m)
		}
	}
	s.sealed = append(s.sealed, sealedView{RoomMembers: RoomMembers{Name: name, Epoch: r.Epoch, Members: members}, slot: slot})
	return members
}

// expandNext adds every sealed room the chain knows to next (just
// verified): its members are the previous statement's, less anyone next
// no longer lists.
func (c *Chain) expandNext(prev, next *Statement) {
	if prev == nil {
		return
	}
	for _, name := range c.sealedOrder {
		r := c.sealed[name]
		before, _ := prev.Room(name)
		next.expand(name, r.openSlot, before.Members)
	}
}

// Closed reports whether room was closed by a signed closing, and in
// which statement.
func (c *Chain) Closed(room string) (uint64, bool) {
	if r := c.sealed[room]; r != nil && r.closed != 0 {
		return r.closed, true
	}
	return 0, false
}

// Entries returns the entries the chain holds, openings first: a client
// adds them to the chain it verifies next, so a server that leaves one
// out then (a closing, say) cannot undo what this client saw.
func (c *Chain) Entries() [][]byte {
	var opens, closes [][]byte
	for _, name := range c.sealedOrder {
		r := c.sealed[name]
		opens = append(opens, r.entries[0])
		closes = append(closes, r.entries[1:]...)
	}
	return append(opens, closes...)
}

// AddEntries adds entries in order (openings before closings) and returns
// the first [ErrRoomConflict] if any, else the first error other than one
// no verified statement commits to yet (those wait for a later chain);
// the others are still added. A client adds the entries it held before
// the server's, in a call of their own, so what it saw takes precedence.
func (c *Chain) AddEntries(entries [][]byte) error {
	var first, conflict error
	kind := func(raw []byte) uint8 {
		if e, err := DecodeRoomEntry(raw); err == nil {
			return e.Kind
		}
		return 0
	}
	for _, pass := range []uint8{EntryOpen, EntryClose, 0} {
		for _, raw := range entries {
			if kind(raw) != pass {
				continue
			}
			err := c.AddEntry(raw)
			if errors.Is(err, ErrRoomConflict) && conflict == nil {
				conflict = err
			}
			if err != nil && !errors.Is(err, ErrUnknownStatement) && first == nil {
				first = err
			}
		}
	}
	if conflict != nil {
		return conflict
	}
	return first
}

// Sealed reports whether room is a sealed room this chain holds the
// opening entry of.
func (c *Chain) Sealed(room string) bool { return c.sealed[room] != nil }
