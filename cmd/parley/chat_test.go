package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/canary"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/policy"
)

// chatStdout runs f and returns what it printed.
func chatStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		var b bytes.Buffer
		b.ReadFrom(r)
		done <- b.Bytes()
	}()
	f()
	os.Stdout = old
	w.Close()
	return string(<-done)
}

// cliUser is a person with a config dir of their own.
type cliUser struct {
	dir string
	c   *client.Client
	id  string
}

// as makes u the CLI's user (config dir and session) and runs args.
func (u cliUser) run(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	t.Setenv("PARLEY_CONFIG_DIR", u.dir)
	if err := saveSession(cliSession{Server: u.c.BaseURL, Token: u.c.Token}); err != nil {
		t.Fatal(err)
	}
	var code int
	out := chatStdout(t, func() {
		if stdin == "" {
			code = run(context.Background(), args)
			return
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		w.WriteString(stdin)
		w.Close()
		old := os.Stdin
		os.Stdin = r
		code = run(context.Background(), args)
		os.Stdin = old
		r.Close()
	})
	return code, out
}

// cliCase makes a mediator (email) with a new case, and join, which
// invites and joins a party on a side, each user with a CLI directory of
// their own.
func cliCase(t *testing.T, n *nodetest.Node, email, title, caseType string, sides []string) (api.Case, cliUser, func(side, name string) cliUser) {
	t.Helper()
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, email)
	k, err := medC.CreateCase(ctx, title, caseType, "", sides)
	if err != nil {
		t.Fatal(err)
	}
	join := func(side, name string) cliUser {
		t.Helper()
		inv, _ := medC.Invite(ctx, k.ID, "party", side, name, "", time.Hour)
		c := client.New(n.URL, "")
		s, err := c.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		return cliUser{t.TempDir(), c, s.Account.ID}
	}
	return k, cliUser{t.TempDir(), medC, medAcct.ID}, join
}

func TestChatAndKeysVerbs(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "cli-med@example.org", "CLI chat", "family", []string{"A", "B"})
	a, b := join("A", "Avery"), join("B", "Blake")

	// Before keys init, chat refuses (it would have no keys to encrypt with).
	if code, _ := a.run(t, "", "chat", "send", k.ID, "--room", "joint", "hello"); code != 1 {
		t.Fatalf("chat send without keys exited %d", code)
	}
	for _, u := range []cliUser{med, a, b} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 || !strings.Contains(out, "registered") {
			t.Fatalf("keys init: %d %s", code, out)
		}
		fi, err := os.Stat(u.dir + "/device.json")
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("device.json: %v %v", fi.Mode(), err)
		}
	}
	if code, out := b.run(t, "", "keys", "init", "--kem", "x25519"); code != 0 || !strings.Contains(out, "X-Wing") {
		t.Fatalf("keys init again keeps the existing device: %d %s", code, out)
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome to mediation"); code != 0 || !strings.HasPrefix(out, "sent ") {
		t.Fatalf("mediator chat send: %d %q", code, out)
	}
	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", "CANARY-CLI-caucus-text"); code != 0 {
		t.Fatalf("party chat send: %d %q", code, out)
	}
	// The mediator types in the interactive chat; the line is sent.
	code, out := med.run(t, "Tell me more\n/quit\n", "chat", k.ID, "--room", "caucus:A")
	if code != 0 || !strings.Contains(out, "end-to-end encrypted") || !strings.Contains(out, "CANARY-CLI-caucus-text") {
		t.Fatalf("interactive chat: %d %s", code, out)
	}
	code, out = a.run(t, "", "chat", "read", k.ID, "--room", "caucus:A", "--json")
	var lines []chatLine
	if code != 0 || json.Unmarshal([]byte(out), &lines) != nil || len(lines) != 2 ||
		lines[0].Text != "CANARY-CLI-caucus-text" || lines[1].Text != "Tell me more" || lines[1].From != med.id {
		t.Fatalf("chat read --json: %d %s", code, out)
	}
	since := lines[0]
	code, out = a.run(t, "", "chat", "read", k.ID, "--room", "caucus:A", "--since", strings.Join([]string{itoa(since.Epoch), itoa(since.Offset)}, ":"))
	if code != 0 || strings.Contains(out, "CANARY") || !strings.Contains(out, "Tell me more") {
		t.Fatalf("chat read --since: %d %s", code, out)
	}
	if code, out := b.run(t, "", "chat", "read", k.ID, "--room", "joint"); code != 0 || !strings.Contains(out, "Welcome to mediation") {
		t.Fatalf("B reads the joint room: %d %s", code, out)
	}
	if code, _ := b.run(t, "", "chat", "read", k.ID, "--room", "caucus:A"); code != 1 {
		t.Fatalf("B read A's caucus: exit %d", code)
	}
	// Keys: list, and the safety number both sides compare.
	if code, out := a.run(t, "", "keys", "list"); code != 0 || !strings.Contains(out, "(this device)") {
		t.Fatalf("keys list: %d %s", code, out)
	}
	_, fa := a.run(t, "", "keys", "fingerprint", med.id)
	_, fm := med.run(t, "", "keys", "fingerprint", a.id, "--case", k.ID)
	num := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if f := strings.Fields(l); len(f) == 12 {
				return l
			}
		}
		return ""
	}
	if num(fa) == "" || num(fa) != num(fm) {
		t.Fatalf("safety numbers differ:\n%s\n%s", fa, fm)
	}
	// Nothing the CLI sent is readable in the node's store.
	hits, files, err := canary.ScanDir(n.Config.DataDir, []string{"CANARY-CLI-caucus-text", "Tell me more", "Welcome to mediation"})
	if err != nil || files == 0 || len(hits) != 0 {
		t.Fatalf("plaintext in the store (%d files): %v %v", files, hits, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// A party posting in their caucus with `chat send` opens that room only:
// side B, watching the joint room's presence, never sees them appear. (It
// opened every room, so each caucus post showed them in the joint room.)
func TestChatSendOpensOnlyItsRoom(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, medC := n.Staff(t, policy.RoleMediator, "presence-med@example.org")
	k, err := medC.CreateCase(ctx, "CLI presence", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	med := cliUser{t.TempDir(), medC, medAcct.ID}
	join := func(side, name string) cliUser {
		inv, _ := medC.Invite(ctx, k.ID, "party", side, name, "", time.Hour)
		c := client.New(n.URL, "")
		s, err := c.Join(ctx, inv.Link)
		if err != nil {
			t.Fatal(err)
		}
		return cliUser{t.TempDir(), c, s.Account.ID}
	}
	a, b := join("A", "Avery"), join("B", "Blake")
	for _, u := range []cliUser{med, a} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %q", code, out)
	}
	watch, err := b.c.Chat(ctx, k.ID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	// seen waits (bounded) for the joint-room message a `chat send`
	// reported ("sent E:O") and returns whether a presence frame of user
	// came before it.
	seen := func(user, sent string) bool {
		until, err := parsePos(strings.TrimSpace(strings.TrimPrefix(sent, "sent ")))
		if err != nil {
			t.Fatalf("chat send said %q", sent)
		}
		found := false
		deadline := time.After(30 * time.Second)
		for {
			select {
			case ev := <-watch.Events():
				if ev.Presence != nil && ev.Presence.User == user {
					found = true
				}
				if ev.Msg != nil && !ev.Msg.Pos().Before(until) {
					return found
				}
			case <-deadline:
				t.Fatal("side B's chat saw no joint-room message within 30s")
			}
		}
	}

	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", "only for my caucus"); code != 0 {
		t.Fatalf("party chat send: %d %q", code, out)
	}
	// A joint-room message after it: any presence of A's run came first.
	code, mark := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "MARK")
	if code != 0 {
		t.Fatalf("mediator chat send: %d %q", code, mark)
	}
	if seen(a.id, mark) {
		t.Error("side B saw side A's party present in the joint room while they posted in their caucus")
	}
	// The control: posting in the joint room does show them there.
	code, hello := a.run(t, "", "chat", "send", k.ID, "--room", "joint", "hello all")
	if code != 0 {
		t.Fatalf("party joint send: %d %q", code, hello)
	}
	if !seen(a.id, hello) {
		t.Error("side B never saw side A's party in the joint room, even when they posted there: the check above proves nothing")
	}
}

// A co-mediator added with `case add-mediator` reads nothing of A's caucus
// until a mediator admits them with `chat admit`: the mediator's chat
// signs the rooms' new epochs without them, `chat admit <case>` lists
// them, and `chat admit <case> <account>` says what it does and signs
// them in. Until then `case invite` by the co-mediator is refused in one
// line of words.
func TestChatAdmitCoMediator(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "admit-med@example.org", "CLI admit", "family", []string{"A", "B"})
	a := join("A", "Avery")
	coAcct, coC := n.Staff(t, policy.RoleMediator, "admit-co@example.org")
	co := cliUser{t.TempDir(), coC, coAcct.ID}
	for _, u := range []cliUser{med, a, co} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	code, out := med.run(t, "", "case", "add-mediator", k.ID, co.id)
	if code != 0 || !strings.Contains(out, "parley chat admit "+k.ID+" "+co.id) {
		t.Fatalf("case add-mediator: %d %s", code, out)
	}
	// The mediator's next send signs the new epochs, without the newcomer.
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "A co-mediator may join"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", "CANARY-before-admission"); code != 0 {
		t.Fatalf("party chat send: %d %s", code, out)
	}
	if _, out := co.run(t, "", "chat", "read", k.ID, "--room", "caucus:A"); strings.Contains(out, "CANARY-before-admission") {
		t.Fatalf("the co-mediator read A's caucus before any admission: %s", out)
	}
	// Nor does the co-mediator invite anyone meanwhile: one line, in words.
	var code2 int
	said := captureStderr(t, func() {
		code2, _ = co.run(t, "", "case", "invite", k.ID, "--role", "party", "--side", "A", "--name", "Pat Plant")
	})
	if code2 == 0 || strings.Count(strings.TrimSpace(said), "\n") != 0 || !strings.Contains(said, "once a mediator already in this case has confirmed you") {
		t.Fatalf("case invite by the co-mediator nobody admitted: %d %q", code2, said)
	}
	if code, out := med.run(t, "", "chat", "admit", k.ID); code != 0 || !strings.Contains(out, "not admitted") || !strings.Contains(out, co.id) ||
		!strings.Contains(out, "safety number with them:") || !strings.Contains(out, "by phone; if theirs is the same, admit them by typing it") {
		t.Fatalf("chat admit (list): %d %s", code, out)
	}
	// Admitting takes the safety number typed back: none, a wrong one, or
	// a co-mediator with no device yet (so no number) is refused in one
	// line, and nobody is admitted.
	var code3 int
	for _, try := range []struct {
		args []string
		want string
	}{
		{[]string{"chat", "admit", k.ID, co.id}, "--safety-number is required"},
		{[]string{"chat", "admit", k.ID, co.id, "--safety-number", "12345 67890"}, "is not the one you have with"},
	} {
		said := captureStderr(t, func() { code3, _ = med.run(t, "", try.args...) })
		if code3 == 0 || strings.Count(strings.TrimSpace(said), "\n") != 0 || !strings.Contains(said, try.want) {
			t.Fatalf("%v: %d %q", try.args, code3, said)
		}
	}
	noDevAcct, _ := n.Staff(t, policy.RoleMediator, "admit-co2@example.org")
	if code, out := med.run(t, "", "case", "add-mediator", k.ID, noDevAcct.ID); code != 0 {
		t.Fatalf("case add-mediator: %d %s", code, out)
	}
	if code, out := med.run(t, "", "chat", "admit", k.ID); code != 0 || !strings.Contains(out, "no safety number with them yet") {
		t.Fatalf("chat admit (list, a co-mediator with no device): %d %s", code, out)
	}
	said = captureStderr(t, func() {
		code3, _ = med.run(t, "", "chat", "admit", k.ID, noDevAcct.ID, "--safety-number", "12345")
	})
	if code3 == 0 || !strings.Contains(said, "has no safety number with you yet") {
		t.Fatalf("chat admit of a co-mediator with no device: %d %q", code3, said)
	}
	if code, out := med.run(t, "", "case", "recuse", k.ID, "--mediator", noDevAcct.ID, "--reason", "added by mistake"); code != 0 {
		t.Fatalf("case recuse: %d %s", code, out)
	}
	code, out = med.run(t, "", "chat", "admit", k.ID, co.id, "--safety-number", admitNumber(t, med, k.ID, co.id))
	if code != 0 || !strings.Contains(out, "as a mediator: they will read the joint room, every caucus and the case's documents") {
		t.Fatalf("chat admit: %d %s", code, out)
	}
	if code, out := med.run(t, "", "chat", "admit", k.ID); code != 0 || !strings.Contains(out, "no mediator waits") {
		t.Fatalf("chat admit (list after): %d %s", code, out)
	}
	// Named as everywhere else (the side's label), not "(party A)".
	if code, out := co.run(t, "", "case", "invite", k.ID, "--role", "party", "--side", "A", "--name", "Pat Plant"); code != 0 ||
		!strings.Contains(out, "Invitation for Pat Plant (A), valid until ") || !strings.Contains(out, "Send it to them privately") || strings.Contains(out, "party A") {
		t.Fatalf("case invite by the admitted co-mediator: %d %s", code, out)
	}
	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "caucus:A", "CANARY-after-admission"); code != 0 {
		t.Fatalf("party chat send: %d %s", code, out)
	}
	code, out = co.run(t, "", "chat", "read", k.ID, "--room", "caucus:A")
	if code != 0 || !strings.Contains(out, "CANARY-after-admission") || strings.Contains(out, "CANARY-before-admission") {
		t.Fatalf("the admitted co-mediator reads from the admission on: %d %s", code, out)
	}
}

// TestChatPinRefusalsInWords: when the key directory's answer breaks what
// this device pinned — another first device for someone (e2ee.ErrDeviceFork),
// a revoked device shown working again (ErrRevocationOmitted), more devices
// taken out of use than an account can have (ErrRevocationPinsFull) — the
// CLI says so on one plain line (what happened, that nothing was sent,
// whom to contact), never an account or device id, and the message is not
// sent. The pins are written into the party's config dir as a server that
// changed its answer would leave them.
func TestChatPinRefusalsInWords(t *testing.T) {
	n := nodetest.Embedded(t)
	k, med, join := cliCase(t, n, "pins-med@example.org", "CLI pins", "family", []string{"A", "B"})
	a, b := join("A", "Avery"), join("B", "Blake")
	for _, u := range []cliUser{med, a, b} {
		if code, out := u.run(t, "", "keys", "init"); code != 0 {
			t.Fatalf("keys init: %d %s", code, out)
		}
	}
	if code, out := med.run(t, "", "chat", "send", k.ID, "--room", "joint", "Welcome"); code != 0 {
		t.Fatalf("mediator chat send: %d %s", code, out)
	}
	if code, out := a.run(t, "", "chat", "send", k.ID, "--room", "joint", "Hello"); code != 0 {
		t.Fatalf("party chat send: %d %s", code, out)
	}
	deviceOf := func(u cliUser) string {
		t.Helper()
		code, out := u.run(t, "", "keys", "list", "--json")
		var rows []struct {
			Device string `json:"device"`
			This   bool   `json:"thisDevice"`
		}
		if code != 0 || json.Unmarshal([]byte(out), &rows) != nil {
			t.Fatalf("keys list: %d %s", code, out)
		}
		for _, r := range rows {
			if r.This {
				return r.Device
			}
		}
		t.Fatalf("keys list names no device as this one: %s", out)
		return ""
	}
	medDev, bDev := deviceOf(med), deviceOf(b)
	pin := func(name string, v any) {
		t.Helper()
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(a.dir+"/"+name, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what, canary string, words ...string) {
		t.Helper()
		var code int
		said := captureStderr(t, func() {
			code, _ = a.run(t, "", "chat", "send", k.ID, "--room", "joint", canary)
		})
		if code == 0 || strings.Count(strings.TrimSpace(said), "\n") != 0 {
			t.Fatalf("%s: exit %d, want one line: %q", what, code, said)
		}
		for _, w := range append(words, "Nothing was sent", "program's administration") {
			if !strings.Contains(said, w) {
				t.Errorf("%s: %q does not say %q", what, said, w)
			}
		}
		for _, id := range []string{med.id, a.id, b.id, medDev, bDev, "e2ee:", "d_", "dv_", "u_"} {
			if strings.Contains(said, id) {
				t.Errorf("%s: %q shows %q", what, said, id)
			}
		}
		if _, out := med.run(t, "", "chat", "read", k.ID, "--room", "joint"); strings.Contains(out, canary) {
			t.Errorf("%s: the message was sent anyway: %s", what, out)
		}
	}

	pin("firsts.json", map[string]string{med.id: "d_someotherdevice"})
	refused("another first device", "CANARY-fork", "first device")
	os.Remove(a.dir + "/firsts.json")

	pin("revoked.json", map[string]map[string]int64{med.id: {medDev: 1}})
	refused("a revoked device working again", "CANARY-omitted", "working again")

	full := map[string]int64{}
	for i := range 32 {
		full["d_gone"+strconv.Itoa(i)] = 1
	}
	pin("revoked.json", map[string]map[string]int64{b.id: full})
	if code, out := b.run(t, "", "keys", "revoke", bDev); code != 0 {
		t.Fatalf("B's device revokes itself: %d %s", code, out)
	}
	refused("more devices taken out of use than one person has", "CANARY-full", "more devices taken out of use")
}

// admitNumber is the safety number `chat admit <case>` tells med to check
// with the co-mediator who before admitting them.
func admitNumber(t *testing.T, med cliUser, caseID, who string) string {
	t.Helper()
	code, out := med.run(t, "", "chat", "admit", caseID)
	if code != 0 {
		t.Fatalf("chat admit (list): %d %s", code, out)
	}
	// The number is on the line before the command that names them.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if i > 0 && strings.Contains(l, "parley chat admit "+caseID+" "+who+" --safety-number 'NUMBER'") {
			if n, ok := strings.CutPrefix(strings.TrimSpace(lines[i-1]), "safety number with them: "); ok {
				return n
			}
		}
	}
	t.Fatalf("chat admit (list) shows no number for %s: %s", who, out)
	return ""
}
