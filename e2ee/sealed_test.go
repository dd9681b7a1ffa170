package e2ee

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// signNext signs the next statement of w's chain for people at epoch 1
// with signer, carrying the sealed slots of the latest one and adding
// extra, and returns its encoding (the chain extended with it).
func signNext(t *testing.T, w *world, signer *DeviceKeys, people []Person, extra ...RoomMembers) []byte {
	t.Helper()
	w.genesis(t, signer, people, epochs(1))
	st := w.next(people, epochs(1))
	st.Rooms = append(st.Rooms, CarryDefined(w.chain.Latest(), people, map[string]int64{})...)
	st.Rooms = append(st.Rooms, extra...)
	raw, err := st.Sign(signer)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeStatement(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}
	return raw
}

// chainOf verifies raws into a new chain (what another client sees),
// after the first statement genesis signed if there is one.
func chainOf(t *testing.T, w *world, raws [][]byte) *Chain {
	t.Helper()
	c := NewChain(w.caseID)
	if w.first != nil {
		raws = append([][]byte{w.first}, raws...)
	}
	for _, raw := range raws {
		dec, err := DecodeStatement(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Extend(dec, w.dir); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// names maps the tests' short room names ("room:r1") to the names the
// opening entries took from their salt (RoomIDFor); the tests run one at
// a time.
var names = map[string]string{}

// name is the room a test calls room (its opening entry's name).
func name(room string) string {
	if n, ok := names[room]; ok {
		return n
	}
	return room
}

// entry makes an entry of the room a test calls room: an opening names
// it from its salt (and the test's later uses of room mean that name).
func entry(t *testing.T, room string, kind uint8, members ...string) *RoomEntry {
	t.Helper()
	if kind == EntryOpen {
		e, err := NewRoomOpening("c_case", strings.HasPrefix(room, "cross:"), members)
		if err != nil {
			t.Fatal(err)
		}
		names[room] = e.Room
		return e
	}
	e, err := NewRoomEntry("c_case", name(room), kind, members)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestSealedRoomHidden: a room opened as a sealed slot is in the signed
// statement only as a commitment: the statement's bytes hold neither the
// room's name nor a member list for it, and a chain without the entry
// knows no such room. A member's chain with the entry places the room
// with its people, and they talk in it; a case member without the entry
// cannot send in it or read it.
func TestSealedRoomHidden(t *testing.T) {
	w := newWorld(t)
	people := w.people()
	s1 := signNext(t, w, w.med, people)
	open := entry(t, "room:r1", EntryOpen, "u_partya", "u_med")
	s2 := signNext(t, w, w.med, people, open.SealedSlot())
	if bytes.Contains(s2, []byte("r1")) || bytes.Contains(s2, []byte("room:")) {
		t.Fatal("the statement names the room")
	}
	st, _ := DecodeStatement(s2)
	for _, r := range st.Rooms {
		if IsSealedSlot(r.Name) && len(r.Members) != 0 {
			t.Fatalf("slot %s lists %v", r.Name, r.Members)
		}
	}
	outsider := chainOf(t, w, [][]byte{s1, s2})
	if _, ok := outsider.Latest().Room(name("room:r1")); ok {
		t.Fatal("a chain without the entry places the room")
	}
	member := chainOf(t, w, [][]byte{s1, s2})
	if err := member.AddEntry(open.Raw); err != nil {
		t.Fatal(err)
	}
	if r, ok := member.Latest().Room(name("room:r1")); !ok || !slices.Equal(r.Members, []string{"u_med", "u_partya"}) || r.Epoch != 1 {
		t.Fatalf("the member's chain places the room as %+v %v", r, ok)
	}
	if err := member.AddEntry(open.Raw); err != nil {
		t.Fatalf("adding an entry twice: %v", err)
	}
	posts := send(t, NewSession(w.a1, w.caseID, member, w.dir), name("room:r1"), 1, "just between us")
	if texts, errs := deliver(NewSession(w.med, w.caseID, member, w.dir), name("room:r1"), 1, posts); !slices.Equal(texts, []string{"just between us"}) {
		t.Fatalf("mediator: %v %v", texts, errs)
	}
	if texts, _ := deliver(NewSession(w.counselA, w.caseID, outsider, w.dir), name("room:r1"), 1, posts); len(texts) != 0 {
		t.Fatalf("A's counsel read %v", texts)
	}
	if _, err := NewSession(w.counselA, w.caseID, outsider, w.dir).Prepare(name("room:r1"), 1); !errors.Is(err, ErrNoStatement) {
		t.Fatalf("A's counsel prepared to send in the room: %v", err)
	}
}

// TestSealedRoomEntryRefused: the server holds the entries and hands them
// out, so it tries what it can: an entry with a member added or flipped
// to cross-side (no statement commits to it), an entry of another case, a
// new room reusing an existing room's name, a room without a mediator,
// with an observer, or mixing sides without the cross-side name (signed
// by a mediator's device that was shown the wrong people).
func TestSealedRoomEntryRefused(t *testing.T) {
	w := newWorld(t)
	people := definedPeople(w)
	open := entry(t, "room:r1", EntryOpen, "u_med", "u_partya")
	signNext(t, w, w.med, people, open.SealedSlot())
	if err := w.chain.AddEntry(open.Raw); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		entry *RoomEntry
		sign  bool // committed in a statement a mediator's device signed
		want  error
		says  string
	}{
		{"a member added", forged(open.Room, open.Salt, "u_med", "u_partya", "u_counsela"), false, ErrUnknownStatement, "no verified statement"},
		{"flipped to cross-side", forged("cross:"+strings.TrimPrefix(open.Room, "room:"), open.Salt, "u_med", "u_partya", "u_partyb"), false, ErrUnknownStatement, "no verified statement"},
		{"the name of an existing room", forged(open.Room, open.Salt, "u_med", "u_partya", "u_counsela"), true, ErrRoomConflict, "opened twice"},
		{"a name its salt does not give", forged(open.Room, [32]byte{1}, "u_med", "u_partya", "u_counsela"), true, ErrMalformed, "salt does not give"},
		{"no mediator", entry(t, "room:r2", EntryOpen, "u_partya", "u_counsela"), true, ErrMembership, "without a mediator"},
		{"an observer", entry(t, "room:r3", EntryOpen, "u_med", "u_obs"), true, ErrMembership, "observer"},
		{"two sides, not declared", entry(t, "room:r4", EntryOpen, "u_med", "u_counsela", "u_counselb"), true, ErrMembership, "not declared cross-side"},
		{"someone not in the case", entry(t, "room:r5", EntryOpen, "u_med", "u_stranger"), true, ErrMembership, "not in the case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := w.chain.Clone()
			if tc.sign {
				next := w.next(people, epochs(1))
				next.Rooms = append(next.Rooms, CarryDefined(c.Latest(), people, nil)...)
				next.Rooms = append(next.Rooms, tc.entry.SealedSlot())
				raw, err := next.Sign(w.med)
				if err != nil {
					t.Fatal(err)
				}
				dec, _ := DecodeStatement(raw)
				if err := c.Extend(dec, w.dir); err != nil {
					t.Fatal(err)
				}
			}
			err := c.AddEntry(tc.entry.Raw)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want %v saying %q", err, tc.want, tc.says)
			}
			if r, ok := c.Latest().Room(name("room:r1")); errors.Is(tc.want, ErrRoomConflict) && ok {
				t.Fatalf("a room opened twice is still placed, with %v", r.Members)
			} else if !errors.Is(tc.want, ErrRoomConflict) && !slices.Equal(r.Members, []string{"u_med", "u_partya"}) {
				t.Fatalf("room:r1 now holds %v", r.Members)
			}
		})
	}
	other, err := NewRoomOpening("c_other", false, []string{"u_med"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.chain.AddEntry(other.Raw); !errors.Is(err, ErrMembership) {
		t.Fatalf("an entry of another case: %v", err)
	}
}

// forged is an opening entry of room with salt and members as the
// caller gives them, whatever the rules (what a server or a device
// trying to open a room under someone else's name could make).
func forged(room string, salt [32]byte, members ...string) *RoomEntry {
	e := &RoomEntry{Case: "c_case", Room: room, Kind: EntryOpen, Members: slices.Sorted(slices.Values(members)), Salt: salt}
	e.Raw = e.encode()
	return e
}

// TestSealedRoomNotSwapped (review F1): mediator 1 opens a room with
// party A; later another mediator's device, which does not hold that
// room's entry, signs a second opening under the same name with A's
// counsel in it (the server answered its new room with the old id).
// Whichever order the server lists the two entries in, and with or
// without the entry A's client held, A's chain never places the counsel
// in the room: an opening whose name its salt does not give is refused,
// and two openings of one name (only someone holding the first one's
// salt could make the second) make AddEntries fail with ErrRoomConflict.
func TestSealedRoomNotSwapped(t *testing.T) {
	w := newWorld(t)
	people := w.people()
	s1 := signNext(t, w, w.med, people)
	first := entry(t, "room:r1", EntryOpen, "u_med", "u_partya")
	s2 := signNext(t, w, w.med, people, first.SealedSlot())
	var salt [32]byte
	salt[0] = 7 // the second device's own salt: it does not know the first one's
	swap := forged(first.Room, salt, "u_med2", "u_partya", "u_counsela")
	s3 := signNext(t, w, w.m2, people, swap.SealedSlot())
	twin := forged(first.Room, first.Salt, "u_med2", "u_partya", "u_counsela") // by someone holding the first entry
	s4 := signNext(t, w, w.m2, people, twin.SealedSlot())
	for _, tc := range []struct {
		name         string
		held, listed [][]byte
		wantConflict bool
	}{
		{"fresh client, the server lists the swap first", nil, [][]byte{swap.Raw, first.Raw}, false},
		{"the client held the first entry", [][]byte{first.Raw}, [][]byte{swap.Raw}, false},
		{"a twin under the same salt", nil, [][]byte{twin.Raw, first.Raw}, true},
		{"a twin, the first entry held", [][]byte{first.Raw}, [][]byte{twin.Raw}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := chainOf(t, w, [][]byte{s1, s2, s3, s4})
			errHeld := c.AddEntries(tc.held)
			err := c.AddEntries(tc.listed)
			if got := errors.Is(err, ErrRoomConflict) || errors.Is(errHeld, ErrRoomConflict); got != tc.wantConflict {
				t.Fatalf("conflict reported %v (%v / %v), want %v", got, errHeld, err, tc.wantConflict)
			}
			if r, ok := c.Latest().Room(first.Room); ok && slices.Contains(r.Members, "u_counsela") {
				t.Fatalf("the room now holds %v", r.Members)
			}
		})
	}
}

// TestSealedRoomMembersOnlyLeave: someone who leaves the case leaves the
// room in the next statement, and coming back into the case does not
// bring them back into it; every later statement carries the slot.
func TestSealedRoomMembersOnlyLeave(t *testing.T) {
	w := newWorld(t)
	people := w.people()
	open := entry(t, "room:r1", EntryOpen, "u_med", "u_partya", "u_counsela")
	signNext(t, w, w.med, people, open.SealedSlot())
	if err := w.chain.AddEntry(open.Raw); err != nil {
		t.Fatal(err)
	}
	without := slices.DeleteFunc(slices.Clone(people), func(p Person) bool { return p.Account == "u_counsela" })
	signNext(t, w, w.m2, without) // signed by a mediator not in the room: the slot is carried blind
	signNext(t, w, w.med, people) // the counsel is back in the case
	// Statement 1 is the first (u_med alone as mediator); 2 admits u_med2.
	for seq, want := range map[uint64][]string{2: {"u_med", "u_partya", "u_counsela"}, 3: {"u_med", "u_partya"}, 4: {"u_med", "u_partya"}} {
		st, _ := w.chain.Get(seq)
		r, ok := st.Room(name("room:r1"))
		slices.Sort(want)
		if !ok || !slices.Equal(r.Members, want) {
			t.Fatalf("statement %d places the room with %v, want %v", seq, r.Members, want)
		}
	}
	posts := send(t, w.session(w.a1), name("room:r1"), 1, "after the counsel left")
	if texts, _ := deliver(w.session(w.counselA), name("room:r1"), 1, posts); len(texts) != 0 {
		t.Fatalf("the counsel, back in the case, read %v", texts)
	}
}

// TestSealedRoomClose: a mediator in the room closes it with a signed
// closing entry: nobody's client sends in it any more or takes a key
// distributed after, and no later statement reopens it. A closing signed
// by a mediator who is not in the room is refused.
func TestSealedRoomClose(t *testing.T) {
	w := newWorld(t)
	people := w.people()
	open := entry(t, "room:r1", EntryOpen, "u_med", "u_partya")
	signNext(t, w, w.med, people, open.SealedSlot())
	if err := w.chain.AddEntry(open.Raw); err != nil {
		t.Fatal(err)
	}
	before := send(t, w.session(w.a1), name("room:r1"), 1, "before closing")

	byOutsider := w.chain.Clone()
	closing := entry(t, "room:r1", EntryClose)
	st := w.next(people, epochs(1))
	st.Rooms = append(st.Rooms, CarryDefined(byOutsider.Latest(), people, nil)...)
	st.Rooms = append(st.Rooms, closing.SealedSlot())
	raw, err := st.Sign(w.m2)
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := DecodeStatement(raw)
	if err := byOutsider.Extend(dec, w.dir); err != nil {
		t.Fatal(err)
	}
	if err := byOutsider.AddEntry(closing.Raw); !errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), "not a mediator in it") {
		t.Fatalf("a closing by a mediator outside the room: %v", err)
	}

	closing = entry(t, "room:r1", EntryClose)
	signNext(t, w, w.med, people, closing.SealedSlot())
	if err := w.chain.AddEntry(closing.Raw); err != nil {
		t.Fatal(err)
	}
	signNext(t, w, w.m2, people)                                     // a later statement carries both slots
	if seq, ok := w.chain.Closed(name("room:r1")); !ok || seq != 3 { // 1 is the first statement, 2 admits u_med2 and opens
		t.Fatalf("closed: %d %v", seq, ok)
	}
	if _, err := w.session(w.a1).Prepare(name("room:r1"), 1); !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("sending in a closed room: %v", err)
	}
	if texts, errs := deliver(w.session(w.med), name("room:r1"), 1, before); !slices.Equal(texts, []string{"before closing"}) {
		t.Fatalf("what was said before closing: %v %v", texts, errs)
	}
	// A key distributed under a statement from the closing on is refused.
	sc := NewSenderChain(ChainContext{Case: w.caseID, Room: name("room:r1"), Epoch: 1, StatementSeq: 4, Account: "u_partya", Device: w.a1.ID})
	dists, err := sc.KeyDist(w.a1, []*DeviceRecord{w.med.Record()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.session(w.med).Receive(name("room:r1"), 1, "u_partya", dists[0]); !errors.Is(err, ErrRoomClosed) {
		t.Fatalf("a key distributed after closing: %v", err)
	}
}

// TestRoomEntryForm: a room entry is a defined room's, members only when
// it opens one, sorted and each once.
func TestRoomEntryForm(t *testing.T) {
	for _, tc := range []struct {
		room    string
		kind    uint8
		members []string
	}{
		{"caucus:A", EntryOpen, []string{"u_med"}},
		{"room:r1", EntryOpen, []string{"u_med"}},
		{name("room:r1"), EntryClose, []string{"u_med"}},
		{name("room:r1"), 3, []string{"u_med"}},
	} {
		if _, err := NewRoomEntry("c_case", tc.room, tc.kind, tc.members); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s kind %d %v: %v", tc.room, tc.kind, tc.members, err)
		}
	}
	e := entry(t, "room:r1", EntryOpen, "u_partya", "u_med", "u_med")
	if !slices.Equal(e.Members, []string{"u_med", "u_partya"}) || !IsSealedSlot(e.Slot()) || IsSealedSlot("sealed:"+strings.Repeat("A", 64)) {
		t.Fatalf("entry %+v slot %s", e, e.Slot())
	}
	if _, err := NewRoomOpening("c_case", false, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("an opening without members: %v", err)
	}
	unsorted := (&RoomEntry{Case: "c_case", Room: e.Room, Kind: EntryOpen, Members: []string{"u_partya", "u_med"}, Salt: e.Salt}).encode()
	if _, err := DecodeRoomEntry(unsorted); !errors.Is(err, ErrMalformed) {
		t.Fatalf("unsorted members: %v", err)
	}
}
