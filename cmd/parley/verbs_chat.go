package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
)

// The chat verbs are end-to-end encrypted: text is encrypted and signed on
// this device (keys from `parley keys init`), and only the room's member
// devices can read it. Sending plaintext to the server is not possible.

func init() {
	register("chat", "chat <case> [--room joint|caucus:<side>|mediators|room:<id>|cross:<id>]", chatInteractive)
	register("chat send", "chat send <case> --room ROOM TEXT (or - to read it from standard input) [--wait 30s]", chatSend)
	register("chat read", "chat read <case> --room ROOM [--since EPOCH:OFFSET] [--json]", chatRead)
	register("chat admit", "chat admit <case> [<account> --safety-number N] (mediators: list, or admit once the safety number is checked, a co-mediator the case record lists)", chatAdmit)
}

func inCase(meds []api.Mediator, parts []api.Participant, id string) bool {
	for _, m := range meds {
		if m.AccountID == id {
			return true
		}
	}
	for _, p := range parts {
		if p.AccountID == id {
			return true
		}
	}
	return false
}

// names maps the case's account ids to people's names.
func names(k api.Case) map[string]string {
	out := map[string]string{}
	for _, m := range k.Mediators {
		out[m.AccountID] = m.Name
	}
	for _, p := range k.Participants {
		out[p.AccountID] = p.Name
	}
	return out
}

func parsePos(s string) (api.Position, error) {
	e, o, ok := strings.Cut(s, ":")
	ep, err1 := strconv.ParseInt(e, 10, 64)
	off, err2 := strconv.ParseInt(o, 10, 64)
	if !ok || err1 != nil || err2 != nil || ep < 0 || off < 0 {
		return api.Position{}, fmt.Errorf("%q: want EPOCH:OFFSET, e.g. 3:17", s)
	}
	return api.Position{Epoch: ep, Offset: off}, nil
}

// carryBook is what a chat has read of carries, to tell a carry's real
// proposal and decisions from messages that only say they are. Anyone in
// a room can post a message of the proposal or decline kind (the server
// cannot read the kind): the proposal of a carry id is the first one a
// mediator of the signed membership posted in a caucus (not the room it
// carries to); a decline counts only if posted in that proposal's caucus
// by the author of the message the proposal names (as the server lets
// only them decline).
type carryBook struct {
	accepted map[string]client.SecureEvent      // carry id → its proposal
	conflict map[string]bool                    // carry ids a second, different proposal named
	authors  map[string]map[api.Position]string // room → position → who wrote the message there
}

func newCarryBook() *carryBook {
	return &carryBook{accepted: map[string]client.SecureEvent{}, conflict: map[string]bool{}, authors: map[string]map[api.Position]string{}}
}

// read notes ev; call it for every event, in each room's order.
func (b *carryBook) read(ev client.SecureEvent) {
	if ev.Rejected != nil || ev.Seal != nil || ev.Notice != "" {
		return
	}
	if ev.Kind == e2ee.KindText {
		if b.authors[ev.Room] == nil {
			b.authors[ev.Room] = map[api.Position]string{}
		}
		b.authors[ev.Room][ev.Pos] = ev.From
	}
	if ev.Kind != e2ee.KindCarryProposal || ev.Carry == nil || !b.acceptable(ev) {
		return
	}
	prior, ok := b.accepted[ev.Carry.ID]
	switch {
	case !ok:
		b.accepted[ev.Carry.ID] = ev
	case prior.Room != ev.Room || prior.From != ev.From || prior.Carry.Room != ev.Carry.Room ||
		prior.Carry.Ref != ev.Carry.Ref || prior.Carry.RefHash != ev.Carry.RefHash:
		b.conflict[ev.Carry.ID] = true
	}
}

// acceptable: posted in a caucus, not in the room it carries to, by a
// mediator of the signed membership.
func (b *carryBook) acceptable(ev client.SecureEvent) bool {
	_, caucus := e2ee.CaucusSide(ev.Room)
	return caucus && ev.Carry.Room != ev.Room && ev.FromMediator
}

// proposal is the carry id's proposal, if this chat read one and no other
// proposal puts it in doubt.
func (b *carryBook) proposal(id string) (client.SecureEvent, error) {
	if b.conflict[id] {
		return client.SecureEvent{}, fmt.Errorf("two different proposals use carry %s, so this device cannot tell which one is real; ask the mediator to propose it again", id)
	}
	p, ok := b.accepted[id]
	if !ok {
		return client.SecureEvent{}, fmt.Errorf("no carry proposal %s from a mediator seen in this session", id)
	}
	return p, nil
}

// declinedByAuthor says whether a decline comes from the author of the
// message its carry's proposal names, in that proposal's caucus.
func (b *carryBook) declinedByAuthor(ev client.SecureEvent) bool {
	p, err := b.proposal(ev.Carry.ID)
	if err != nil || ev.Room != p.Room {
		return false
	}
	author, ok := b.authors[p.Room][p.Carry.Ref]
	return ok && author == ev.From
}

// describe renders an event as one line for people, after book (nil: no
// carry checks) has read it.
func describe(ev client.SecureEvent, who map[string]string, book *carryBook) string {
	name := func(id string) string {
		if n := who[id]; n != "" {
			return n
		}
		return id
	}
	at := ev.At.Local().Format("15:04")
	pos := fmt.Sprintf("%d:%d", ev.Pos.Epoch, ev.Pos.Offset)
	switch {
	case ev.Notice != "":
		return "* " + ev.Notice
	case ev.Seal != nil:
		return fmt.Sprintf("* %s: who is in the room changed; new keys from epoch %d", ev.Room, ev.Seal.Next)
	case errors.Is(ev.Rejected, e2ee.ErrNoKey):
		return fmt.Sprintf("  %s %s [%s] (a message this device cannot read: it was not a member then)", pos, at, name(ev.From))
	case ev.Rejected != nil:
		return fmt.Sprintf("! %s %s refused a message claiming to be from %s: %v", pos, at, name(ev.From), ev.Rejected)
	case ev.Kind == e2ee.KindCarryProposal && ev.Carry != nil && book != nil && !book.acceptable(ev):
		return fmt.Sprintf("  %s %s %s posted a carry proposal, but only a mediator proposes a carry, in a side's caucus; ignored", pos, at, name(ev.From))
	case ev.Kind == e2ee.KindCarryProposal && ev.Carry != nil && book != nil && book.conflict[ev.Carry.ID]:
		return fmt.Sprintf("  %s %s %s proposes carrying message %d:%d to the %s room, but another, different proposal uses the same carry id (%s): it cannot be approved; ask the mediator to propose it again",
			pos, at, name(ev.From), ev.Carry.Ref.Epoch, ev.Carry.Ref.Offset, ev.Carry.Room, ev.Carry.ID)
	case ev.Kind == e2ee.KindCarryProposal:
		line := fmt.Sprintf("  %s %s %s proposes carrying message %d:%d to the %s room", pos, at, name(ev.From), ev.Carry.Ref.Epoch, ev.Carry.Ref.Offset, ev.Carry.Room)
		if ev.Text != "" {
			line += " (" + ev.Text + ")"
		}
		return line + "; its author approves with /approve " + ev.Carry.ID
	case ev.Kind == e2ee.KindCarryDeclined && ev.Carry != nil && book != nil && !book.declinedByAuthor(ev):
		return fmt.Sprintf("  %s %s %s posted a decline of carry %s that this device cannot confirm comes from the author of the message proposed; ignored", pos, at, name(ev.From), ev.Carry.ID)
	case ev.Kind == e2ee.KindCarryDeclined && ev.Carry != nil:
		p := ev // without a book, the decline's own words
		if book != nil {
			p, _ = book.proposal(ev.Carry.ID)
		}
		return fmt.Sprintf("  %s %s %s declined carrying message %d:%d (carry %s); nothing was carried", pos, at, name(ev.From), p.Carry.Ref.Epoch, p.Carry.Ref.Offset, ev.Carry.ID)
	case ev.Kind == e2ee.KindNotice:
		return fmt.Sprintf("  %s %s NOTICE from %s to every room: %s", pos, at, name(ev.From), ev.Text)
	case ev.Kind == e2ee.KindCarried:
		return fmt.Sprintf("  %s %s %s: %s  [from their %s, carried with their consent, proposed by %s]", pos, at, name(ev.From), ev.Text, ev.Carry.Room, name(ev.Carry.Proposer))
	}
	return fmt.Sprintf("  %s %s %s: %s", pos, at, name(ev.From), ev.Text)
}

func chatInteractive(ctx context.Context, args []string) error {
	fs := newFlags("chat")
	room := fs.String("room", "joint", "room to talk in: joint, caucus:<side>, mediators, or a room a mediator opened (see `parley room list`)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	caseID := fs.Arg(0)
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, caseID)
	if err != nil {
		return err
	}
	who := names(k)
	s, err := x.OpenSecureChat(ctx, caseID, client.SecureOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	if s.Epoch(*room) == 0 {
		return fmt.Errorf("you are not in room %s of this case", *room)
	}
	fmt.Printf("%s — room %s, end-to-end encrypted (this device: %s). Type a line to send; /quit to leave.\n", k.Title, *room, x.Me.ID)
	if adm, err := x.AdmittedToMe(ctx, caseID); err == nil {
		for _, a := range adm {
			fmt.Printf("* a new device was admitted to your account by %s (device number %s): it reads your rooms from then on and cannot consent for you; if you did not ask for it, tell the program's administration\n",
				who[a.By], e2ee.FormatSafetyNumber(client.DeviceNumber(a.Device)))
		}
	}
	if st := s.Chain().Latest(); st != nil {
		fmt.Printf("* membership signed by %s (statement %d)\n", who[st.SignerAccount], st.Seq)
		if line, ok := definedBanner(st, *room, who); ok {
			fmt.Println("* " + line)
		}
	}
	// What was said before is shown before the person can type: input is
	// taken only once the room's backlog is on the screen (or after a
	// bounded wait, if the connection is too slow to say).
	lines := make(chan string)
	var input <-chan string
	caught := s.CaughtUp()
	backlogWait := time.NewTimer(backlogPatience)
	defer backlogWait.Stop()
	var inputErr error // set before lines closes
	go func() {
		defer close(lines)
		inputErr = scanLines(os.Stdin, lines)
	}()
	book := newCarryBook()
	show := func(ev client.SecureEvent) {
		book.read(ev)
		if ev.Room == *room || ev.Notice != "" || (ev.Kind == e2ee.KindCarryProposal && ev.Rejected == nil) {
			fmt.Println(describe(ev, who, book))
		}
	}
	startInput := func() {
		// Events already queued belong to the backlog: show them first.
		for n := len(s.Events()); n > 0; n-- {
			if ev, ok := <-s.Events(); ok {
				show(ev)
			}
		}
		input, caught = lines, nil
		backlogWait.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-caught:
			startInput()
		case <-backlogWait.C:
			if input == nil {
				startInput()
			}
		case ev, ok := <-s.Events():
			if !ok {
				return errors.New("the connection to the case ended")
			}
			show(ev)
		case line, ok := <-input:
			if !ok {
				return inputErr // nil at the end of the input
			}
			if line == "/quit" {
				return nil
			}
			if err := chatCommand(ctx, s, *room, line, book); err != nil {
				fmt.Fprintf(os.Stderr, "! %s\n", errWords(err))
			}
		}
	}
}

// maxLine bounds one line of interactive chat; a message holds at most
// e2ee.MaxText bytes, which the chat says when a line between the two is
// sent.
const maxLine = 64 << 10

// scanLines sends each line of r to out until r ends (nil) or fails. A
// line over maxLine ends the input with an error rather than as if the
// input had ended.
func scanLines(r io.Reader, out chan<- string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4<<10), maxLine)
	for sc.Scan() {
		out <- sc.Text()
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("a line of input is over %s; a message holds at most %s: send a long text with `parley chat send --room ROOM CASE -`", byteSize(maxLine), byteSize(e2ee.MaxText))
		}
		return fmt.Errorf("read input: %w", err)
	}
	return nil
}

// readMessage reads a message's text from r (standard input): at most
// e2ee.MaxText bytes of UTF-8, final line breaks aside. Longer input is
// refused, never cut.
func readMessage(r io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(r, e2ee.MaxText+3)) // room for a final "\r\n"
	if err != nil {
		return "", fmt.Errorf("read the message: %w", err)
	}
	text := strings.TrimRight(string(b), "\r\n")
	if len(b) > e2ee.MaxText+2 || len(text) > e2ee.MaxText {
		return "", fmt.Errorf("the message on standard input is over %s, the most one message holds; nothing was sent", byteSize(e2ee.MaxText))
	}
	if !utf8.ValidString(text) {
		return "", errors.New("the message on standard input is not UTF-8 text; nothing was sent")
	}
	return text, nil
}

// backlogPatience bounds how long interactive chat waits for a room's
// backlog before it takes input anyway.
const backlogPatience = 15 * time.Second

// chatCommand sends a line, or runs /carry and /approve.
func chatCommand(ctx context.Context, s *client.SecureChat, room, line string, book *carryBook) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	switch {
	case strings.TrimSpace(line) == "":
		return nil
	case strings.HasPrefix(line, "/carry "):
		f := strings.Fields(line)
		pos, err := parsePos(f[1])
		if err != nil {
			return err
		}
		id, err := s.ProposeCarry(ctx, room, pos, strings.Join(f[2:], " "))
		if err != nil {
			return err
		}
		fmt.Printf("* proposed carry %s; waiting for its author's consent\n", id)
		return nil
	case strings.HasPrefix(line, "/approve "):
		id := strings.TrimSpace(strings.TrimPrefix(line, "/approve "))
		p, err := book.proposal(id)
		if err != nil {
			return err
		}
		m, err := s.ApproveCarry(ctx, p)
		if err != nil {
			return err
		}
		fmt.Printf("* carried to %s at %d:%d with your consent\n", p.Carry.Room, m.Epoch, m.Offset)
		return nil
	case strings.HasPrefix(line, "/"):
		return errors.New("commands: /carry EPOCH:OFFSET [note] (mediators), /approve CARRY-ID, /quit")
	}
	_, err := s.Send(ctx, room, line)
	return err
}

func chatSend(ctx context.Context, args []string) error {
	fs := newFlags("chat send")
	room := fs.String("room", "", "room: joint, caucus:<side> or mediators")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for a mediator to confirm a room's new membership")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 2 || *room == "" {
		return usagef("expected a case id, --room and the text")
	}
	text := strings.Join(fs.Args()[1:], " ")
	if text == "-" {
		var err error
		if text, err = readMessage(os.Stdin); err != nil {
			return err
		}
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	s, err := x.OpenSecureChat(ctx, fs.Arg(0), client.SecureOptions{Rooms: sendRooms(k, x.Me.Account, *room), StatementWait: *wait})
	if err != nil {
		return err
	}
	defer s.Close()
	m, err := s.Send(ctx, *room, text)
	if err != nil {
		return err
	}
	fmt.Printf("sent %d:%d\n", m.Epoch, m.Offset)
	return nil
}

// chatAdmit is a mediator's explicit admission of a co-mediator: this
// device signs them into the case's membership. A mediator's device never
// does it on its own, since the case record that lists them is the
// server's word. Without an account it lists who waits to be admitted,
// with the safety number to check with each; admitting needs that number
// typed back (--safety-number), as the browser admits only once a number
// is on screen: a co-mediator with no device yet has none, and the first
// device registered under their account would be trusted on first use,
// whoever registered it (review 397 M1).
func chatAdmit(ctx context.Context, args []string) error {
	fs := newFlags("chat admit")
	typed := fs.String("safety-number", "", "the safety number you checked with them by phone (as `chat admit <case>` shows it)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() < 1 || fs.NArg() > 2 {
		return usagef("expected a case id and, to admit them, a mediator's account id")
	}
	caseID := fs.Arg(0)
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	k, err := c.Case(ctx, caseID)
	if err != nil {
		return err
	}
	who := names(k)
	s, err := x.OpenSecureChat(ctx, caseID, client.SecureOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	if fs.NArg() == 1 {
		pending, err := s.PendingMediators(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			fmt.Println("no mediator waits to be admitted")
		}
		for _, m := range pending {
			fmt.Printf("%s (account %s) is listed as a mediator but not admitted\n", m.Name, m.AccountID)
			// The name is the server's word: the safety number is what can
			// be compared out of band.
			if n, err := x.SafetyNumber(ctx, caseID, m.AccountID); err == nil {
				// The command names no digits: typing them back from the
				// call is the check (review 404), not pasting them.
				fmt.Printf("  safety number with them: %s\n  read this number with %s by phone; if theirs is the same, admit them by typing it: parley chat admit %s %s --safety-number 'NUMBER'\n",
					e2ee.FormatSafetyNumber(n), m.Name, caseID, m.AccountID)
			} else {
				fmt.Printf("  no safety number with them yet (%v): ask %s to open the case on their phone or computer, then run parley chat admit %s again\n", err, m.Name, caseID)
			}
		}
		return nil
	}
	account := fs.Arg(1)
	name := who[account]
	if name == "" {
		name = account
	}
	if *typed == "" {
		return fmt.Errorf("--safety-number is required: run parley chat admit %s to see the number, check it with %s by phone, then type it here", caseID, name)
	}
	n, err := x.SafetyNumber(ctx, caseID, account)
	if err != nil {
		return fmt.Errorf("%s has no safety number with you yet (%v): ask them to open the case on their phone or computer, check the number with them, then admit them", name, err)
	}
	if strings.Join(strings.Fields(*typed), "") != n {
		return fmt.Errorf("the safety number you typed is not the one you have with %s now: do not admit them; run parley chat admit %s to see it, and check it with them by phone again", name, caseID)
	}
	if err := s.AdmitMediator(ctx, account); err != nil {
		return err
	}
	fmt.Printf("admits %s as a mediator: they will read the joint room, every caucus and the case's documents\n", name)
	return nil
}

// sendRooms is what `chat send` opens: a party, counsel or observer opens
// only the room they post in, since an open room shows them present there
// to everyone in it (opening every room put a party posting in their
// caucus in the joint room's presence, seen by the other side). An active
// mediator opens every room: their chat signs the membership of all of
// them (which needs each room's current epoch), and mediators are members
// of every room.
func sendRooms(k api.Case, me, room string) []string {
	for _, m := range k.Mediators {
		if m.AccountID == me && m.Recused == nil {
			return nil // every room
		}
	}
	return []string{room}
}

type chatLine struct {
	Room     string    `json:"room"`
	Epoch    int64     `json:"epoch"`
	Offset   int64     `json:"offset"`
	At       time.Time `json:"at"`
	From     string    `json:"from"`
	Device   string    `json:"device,omitempty"`
	Kind     string    `json:"kind,omitempty"`
	Text     string    `json:"text,omitempty"`
	Carry    string    `json:"carry,omitempty"`
	Rejected string    `json:"rejected,omitempty"`
}

var kindNames = map[int]string{e2ee.KindText: "text", e2ee.KindCarryProposal: "carry-proposal", e2ee.KindCarried: "carried", e2ee.KindCarryDeclined: "carry-declined", e2ee.KindNotice: "notice"}

func chatRead(ctx context.Context, args []string) error {
	fs := newFlags("chat read")
	room := fs.String("room", "", "room: joint, caucus:<side> or mediators")
	since := fs.String("since", "", "only messages after EPOCH:OFFSET")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *room == "" {
		return usagef("--room is required")
	}
	var from api.Position
	if *since != "" {
		p, err := parsePos(*since)
		if err != nil {
			return usagef("--since: %v", err)
		}
		from = p
	}
	c, x, err := e2eeClient()
	if err != nil {
		return err
	}
	evs, err := x.ReadRoom(ctx, fs.Arg(0), *room, from)
	if err != nil {
		return err
	}
	if *asJSON {
		out := []chatLine{}
		for _, ev := range evs {
			l := chatLine{Room: ev.Room, Epoch: ev.Pos.Epoch, Offset: ev.Pos.Offset, At: ev.At, From: ev.From, Device: ev.Device,
				Kind: kindNames[ev.Kind], Text: ev.Text}
			if ev.Carry != nil {
				l.Carry = ev.Carry.ID
			}
			if ev.Rejected != nil {
				l.Kind, l.Rejected = "", ev.Rejected.Error()
			}
			out = append(out, l)
		}
		return printJSON(out)
	}
	k, err := c.Case(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	who := names(k)
	book := newCarryBook()
	for _, ev := range evs {
		book.read(ev)
		fmt.Println(describe(ev, who, book))
	}
	return nil
}
