package e2ee

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Roles in a membership statement.
const (
	RoleMediator = "mediator"
	RoleParty    = "party"
	RoleCounsel  = "counsel"
	RoleObserver = "observer"
)

// Room names.
const (
	RoomJoint     = "joint"
	RoomMediators = "mediators"
	caucusPrefix  = "caucus:"
)

// Person is someone in a case, as a membership statement lists them.
type Person struct {
	Account string
	Role    string
	Side    string // parties and counsel only
}

// RoomMembers is who may hold a room's keys from Epoch on.
type RoomMembers struct {
	Name    string
	Epoch   int64
	Members []string // account ids
}

// Statement is a membership statement: a mediator's device signs who is in
// the case and in each of its rooms. Statements form a hash chain per case
// (Seq 1, 2, …; Prev is the SHA-256 of the previous statement's encoding).
type Statement struct {
	Case          string
	Seq           uint64
	Prev          [32]byte
	Created       int64
	SignerAccount string
	SignerDevice  string
	People        []Person
	Rooms         []RoomMembers

	Raw []byte
	// LogIndex is where the statement is in the key directory's log, once
	// a client has checked its inclusion proof (-1: not logged, e.g. a
	// statement being signed). Signer devices are checked as of it.
	LogIndex int64

	sig     []byte
	bodyLen int
	// sealed are the sealed rooms whose entries the chain holds, as this
	// statement places them (sealed.go); Rooms holds only their slots.
	sealed []sealedView
}

func (s *Statement) body() []byte {
	return newWriter(TypeStatement).str(s.Case).u64(s.Seq).bytes(s.Prev[:]).i64(s.Created).
		str(s.SignerAccount).str(s.SignerDevice).
		list(len(s.People), func(i int, e *writer) {
			p := s.People[i]
			e.str(p.Account).str(p.Role).str(p.Side)
		}).
		list(len(s.Rooms), func(i int, e *writer) {
			r := s.Rooms[i]
			e.str(r.Name).i64(r.Epoch).strs(r.Members)
		}).b
}

// Sign fills in the signer, checks the statement's rules and signs it with
// d; it returns the encoding to publish.
func (s *Statement) Sign(d *DeviceKeys) ([]byte, error) {
	s.SignerAccount, s.SignerDevice = d.Account, d.ID
	if s.Created == 0 {
		s.Created = time.Now().UnixMilli()
	}
	if err := s.CheckRules(); err != nil {
		return nil, err
	}
	body := s.body()
	if len(body)+4+ed25519.SignatureSize > MaxStatement {
		return nil, fmt.Errorf("e2ee: statement over %d bytes", MaxStatement)
	}
	s.Raw = append(body, d.sign(TypeStatement, body)...)
	s.bodyLen = len(body)
	s.sig = s.Raw[len(s.Raw)-ed25519.SignatureSize:]
	return s.Raw, nil
}

// Hash is SHA-256 of the statement's encoding: the next statement's Prev.
func (s *Statement) Hash() [32]byte { return sha256.Sum256(s.Raw) }

// DecodeStatement parses a statement and checks its rules (not its
// signature or place in the chain: see [Chain.Extend]).
func DecodeStatement(data []byte) (*Statement, error) {
	r := newReader(data, TypeStatement, MaxStatement)
	s := &Statement{LogIndex: -1}
	s.Case = r.id("case")
	s.Seq = r.u64("seq")
	copy(s.Prev[:], r.fixed("prev", 32))
	s.Created = r.i64("created")
	s.SignerAccount = r.id("signer account")
	s.SignerDevice = r.id("signer device")
	r.list("people", func(e *reader) {
		p := Person{Account: e.id("account"), Role: e.id("role"), Side: e.str("side", maxString)}
		s.People = append(s.People, p)
	})
	r.list("rooms", func(e *reader) {
		rm := RoomMembers{Name: e.id("room"), Epoch: e.i64("epoch")}
		rm.Members = e.strs("members", func(m *reader) string { return m.id("member") })
		s.Rooms = append(s.Rooms, rm)
	})
	s.bodyLen = r.off
	s.sig = r.fixed("signature", ed25519.SignatureSize)
	r.end("statement")
	if r.err != nil {
		return nil, r.err
	}
	if err := s.CheckRules(); err != nil {
		return nil, err
	}
	s.Raw = bytes.Clone(data)
	s.sig = s.Raw[s.bodyLen+4:]
	return s, nil
}

// Person returns the entry of account, if listed.
func (s *Statement) Person(account string) (Person, bool) {
	for _, p := range s.People {
		if p.Account == account {
			return p, true
		}
	}
	return Person{}, false
}

// Room returns a room's entry, if listed — for a sealed room whose entry
// the chain holds, as the statement places it (sealed.go).
func (s *Statement) Room(name string) (RoomMembers, bool) {
	if r, ok := s.rawRoom(name); ok {
		return r, true
	}
	for _, r := range s.sealed {
		if r.Name == name {
			return r.RoomMembers, true
		}
	}
	return RoomMembers{}, false
}

// rawRoom returns a room's entry as signed (sealed slots as slots).
func (s *Statement) rawRoom(name string) (RoomMembers, bool) {
	for _, r := range s.Rooms {
		if r.Name == name {
			return r, true
		}
	}
	return RoomMembers{}, false
}

// AllRooms lists the rooms the statement places: the signed ones (sealed
// slots included, without members) and the sealed rooms whose entries the
// chain holds.
func (s *Statement) AllRooms() []RoomMembers {
	out := slices.Clone(s.Rooms)
	for _, r := range s.sealed {
		out = append(out, r.RoomMembers)
	}
	return out
}

// IsMember reports whether account may hold room's keys under s.
func (s *Statement) IsMember(room, account string) bool {
	r, ok := s.Room(room)
	return ok && slices.Contains(r.Members, account)
}

// CaucusSide returns X for "caucus:X".
func CaucusSide(room string) (string, bool) {
	side, ok := strings.CutPrefix(room, caucusPrefix)
	return side, ok && side != ""
}

// CaucusName is the room name of a side's caucus.
func CaucusName(side string) string { return caucusPrefix + side }

// CheckRules checks what any statement must satisfy on its own:
//   - every person appears once, with a known role; parties and counsel
//     have a side, mediators and observers none; at least one mediator;
//   - every room appears once, is "joint", "mediators", "caucus:<side>" or
//     a mediator-defined room ("room:<id>", "cross:<id>"), and lists only
//     people of the statement, each once;
//   - the mediators room holds mediators only;
//   - a caucus holds mediators and the parties and counsel of its own side
//     only — never anyone of another side, never an observer (the caucus
//     rule);
//   - a mediator-defined room never holds an observer, and holds people of
//     one side only unless its name declares it cross-side ("cross:<id>").
func (s *Statement) CheckRules() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrMembership, fmt.Sprintf(format, a...))
	}
	if s.Case == "" || s.Seq < 1 {
		return bad("no case or sequence number")
	}
	people := map[string]Person{}
	mediators := 0
	for _, p := range s.People {
		if _, dup := people[p.Account]; dup || p.Account == "" {
			return bad("person %q listed twice or without an id", p.Account)
		}
		switch p.Role {
		case RoleMediator, RoleObserver:
			if p.Side != "" {
				return bad("%s %s has a side", p.Role, p.Account)
			}
			if p.Role == RoleMediator {
				mediators++
			}
		case RoleParty, RoleCounsel:
			if p.Side == "" {
				return bad("%s %s has no side", p.Role, p.Account)
			}
		default:
			return bad("person %s has unknown role %q", p.Account, p.Role)
		}
		people[p.Account] = p
	}
	if mediators == 0 {
		return bad("no mediator")
	}
	rooms := map[string]bool{}
	for _, r := range s.Rooms {
		if rooms[r.Name] {
			return bad("room %s listed twice", r.Name)
		}
		rooms[r.Name] = true
		if r.Epoch < 1 {
			return bad("room %s: epoch %d", r.Name, r.Epoch)
		}
		side, isCaucus := CaucusSide(r.Name)
		_, cross, isDefined := DefinedRoom(r.Name)
		if IsSealedSlot(r.Name) {
			if len(r.Members) != 0 {
				return bad("sealed room slot %s lists members", r.Name)
			}
			continue
		}
		if !isCaucus && !isDefined && r.Name != RoomJoint && r.Name != RoomMediators {
			return bad("unknown room %q", r.Name)
		}
		seen := map[string]bool{}
		for _, m := range r.Members {
			p, ok := people[m]
			if !ok || seen[m] {
				return bad("room %s: member %s not in the case or listed twice", r.Name, m)
			}
			seen[m] = true
			switch {
			case r.Name == RoomMediators && p.Role != RoleMediator:
				return bad("room mediators: %s is not a mediator", m)
			case isCaucus && p.Role != RoleMediator && (p.Side != side || p.Role == RoleObserver):
				return bad("caucus rule: %s (%s of side %q) may not be in %s", m, p.Role, p.Side, r.Name)
			}
		}
		if isDefined {
			if err := checkDefined(r, people, cross); err != nil {
				return err
			}
		}
	}
	return nil
}

func errMembership(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMembership, fmt.Sprintf(format, a...))
}

// StatementFor builds the statement a mediator signs for the current state
// of a case: people as given, each room's members derived from the rule
// (joint: everyone; caucus:X: mediators and side X; mediators: mediators),
// at the given epochs (one per room name; rooms without an epoch are left
// out).
func StatementFor(caseID string, people []Person, sides []string, epochs map[string]int64) *Statement {
	s := &Statement{Case: caseID, People: slices.Clone(people), LogIndex: -1}
	slices.SortFunc(s.People, func(a, b Person) int { return strings.Compare(a.Account, b.Account) })
	add := func(name string, in func(p Person) bool) {
		e, ok := epochs[name]
		if !ok {
			return
		}
		r := RoomMembers{Name: name, Epoch: e, Members: []string{}}
		for _, p := range s.People {
			if in(p) {
				r.Members = append(r.Members, p.Account)
			}
		}
		s.Rooms = append(s.Rooms, r)
	}
	add(RoomJoint, func(Person) bool { return true })
	for _, side := range sides {
		add(CaucusName(side), func(p Person) bool {
			return p.Role == RoleMediator || p.Side == side && (p.Role == RoleParty || p.Role == RoleCounsel)
		})
	}
	add(RoomMediators, func(p Person) bool { return p.Role == RoleMediator })
	return s
}

// Directory answers with verified device records (from the key
// directory's log, inclusion proofs checked).
type Directory interface {
	// Device returns device id of account if it was registered and not
	// revoked before log index at; at < 0 means now.
	Device(account, id string, at int64) (*DeviceRecord, bool)
	// Active lists the devices of account not revoked now.
	Active(account string) []*DeviceRecord
}

// Chain is a verified chain of membership statements for one case.
type Chain struct {
	Case  string
	stmts []*Statement
	// sticky remembers every account's role and side across the chain:
	// nobody changes side or role.
	sticky map[string]Person
	// sealed are the sealed rooms whose entries were added (sealed.go),
	// by room name, in the order they were added.
	sealed      map[string]*sealedRoom
	sealedOrder []string
	// conflicted are the room names opened twice (ErrRoomConflict): no
	// statement places them any more and no entry brings them back.
	conflicted map[string]bool
}

// NewChain starts an empty chain for a case.
func NewChain(caseID string) *Chain { return &Chain{Case: caseID, sticky: map[string]Person{}} }

// Latest is the newest verified statement, or nil.
func (c *Chain) Latest() *Statement {
	if len(c.stmts) == 0 {
		return nil
	}
	return c.stmts[len(c.stmts)-1]
}

// Get returns statement seq, if verified.
func (c *Chain) Get(seq uint64) (*Statement, bool) {
	if seq < 1 || seq > uint64(len(c.stmts)) {
		return nil, false
	}
	return c.stmts[seq-1], true
}

// Len is the number of verified statements.
func (c *Chain) Len() int { return len(c.stmts) }

// Extend verifies next against the chain and appends it:
//   - same case, Seq one more than the latest (1 for the first), Prev the
//     latest's hash (zeros for the first);
//   - signed by a device (from dir) of SignerAccount, who is a mediator in
//     the latest statement (for the first: in the statement itself — the
//     genesis is trusted on first use and pinned by clients);
//   - the first statement names no mediator but its signer ([checkGenesis]);
//   - its own rules hold ([Statement.CheckRules]);
//   - nobody's role or side differs from any earlier statement;
//   - no room disappears and no room's epoch goes backwards;
//   - a mediator-defined room opens with a mediator in it and never gains
//     a member afterwards.
func (c *Chain) Extend(next *Statement, dir Directory) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: statement %d: %s", ErrMembership, next.Seq, fmt.Sprintf(format, a...))
	}
	if next.Case != c.Case {
		return bad("for case %s, not %s", next.Case, c.Case)
	}
	prev := c.Latest()
	switch {
	case prev == nil && (next.Seq != 1 || next.Prev != [32]byte{}):
		return bad("the chain must start at 1")
	case prev != nil && (next.Seq != prev.Seq+1 || next.Prev != prev.Hash()):
		return bad("does not follow statement %d", prev.Seq)
	}
	if err := next.CheckRules(); err != nil {
		return err
	}
	authority := prev
	if authority == nil {
		authority = next
	}
	if p, ok := authority.Person(next.SignerAccount); !ok || p.Role != RoleMediator {
		return bad("signed by %s, who is not a mediator of the case", next.SignerAccount)
	}
	if prev == nil {
		if err := checkGenesis(next); err != nil {
			return err
		}
	}
	dev, ok := dir.Device(next.SignerAccount, next.SignerDevice, next.LogIndex)
	if !ok {
		return fmt.Errorf("%w: statement %d signer %s/%s", ErrUnknownDevice, next.Seq, next.SignerAccount, next.SignerDevice)
	}
	if dev.Account != next.SignerAccount {
		return bad("signer device belongs to another account")
	}
	if err := dev.verify(TypeStatement, next.Raw[:next.bodyLen], next.sig); err != nil {
		return bad("%v", err)
	}
	for _, p := range next.People {
		if was, ok := c.sticky[p.Account]; ok && (was.Role != p.Role || was.Side != p.Side) {
			return bad("%s was %s %q and is now %s %q: nobody changes role or side", p.Account, was.Role, was.Side, p.Role, p.Side)
		}
	}
	if prev != nil {
		for _, r := range prev.Rooms {
			nr, ok := next.Room(r.Name)
			if !ok {
				return bad("room %s disappeared", r.Name)
			}
			if nr.Epoch < r.Epoch {
				return bad("room %s went back from epoch %d to %d", r.Name, r.Epoch, nr.Epoch)
			}
		}
	}
	if err := checkDefinedChain(prev, next); err != nil {
		return err
	}
	for _, p := range next.People {
		c.sticky[p.Account] = p
	}
	next.sealed = nil
	c.expandNext(prev, next)
	c.stmts = append(c.stmts, next)
	return nil
}

// ForEpoch returns the newest statement that places room at epoch, if any.
// A sender may only distribute keys for an epoch a mediator has signed.
func (c *Chain) ForEpoch(room string, epoch int64) (*Statement, bool) {
	for i := len(c.stmts) - 1; i >= 0; i-- {
		r, ok := c.stmts[i].Room(room)
		if ok && r.Epoch == epoch {
			return c.stmts[i], true
		}
		if ok && r.Epoch < epoch {
			break
		}
	}
	return nil, false
}

// VerifySignature checks that rec, the signer's device, signed s (the
// server's check on upload; clients verify the whole chain with Extend).
func (s *Statement) VerifySignature(rec *DeviceRecord) error {
	if rec.Account != s.SignerAccount || rec.ID != s.SignerDevice {
		return fmt.Errorf("%w: statement names another signer", ErrBadSignature)
	}
	return rec.verify(TypeStatement, s.Raw[:s.bodyLen], s.sig)
}

// Clone returns a copy of the chain that can be extended on its own (to
// check a statement before publishing it).
func (c *Chain) Clone() *Chain {
	n := &Chain{Case: c.Case, stmts: slices.Clone(c.stmts), sticky: make(map[string]Person, len(c.sticky)),
		sealed: make(map[string]*sealedRoom, len(c.sealed)), sealedOrder: slices.Clone(c.sealedOrder)}
	for k, v := range c.sticky {
		n.sticky[k] = v
	}
	for k, v := range c.sealed {
		r := *v
		r.entries = slices.Clone(v.entries)
		n.sealed[k] = &r
	}
	for k, v := range c.conflicted {
		if n.conflicted == nil {
			n.conflicted = map[string]bool{}
		}
		n.conflicted[k] = v
	}
	// Each statement is copied with its own sealed views: AddEntry adds
	// views to (and a conflict drops them from) this chain's statements
	// only, never the original's.
	for i, st := range n.stmts {
		cp := *st
		cp.sealed = slices.Clone(st.sealed)
		n.stmts[i] = &cp
	}
	return n
}
