package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserCarry drives web/client/test/carry.mjs in Chromium: a party
// is welcomed once (keyboard-dismissable, shown again on request); a
// party's caucus message is proposed for the joint room, the party edits
// and approves it, and the mediator's view follows without a reload and
// says it was edited, while the other side reads only the edited text;
// the carried copy the author's browser encrypted names no position or
// payload hash of the caucus original, as side B's counsel's device (a Go
// client) decrypts it ("ask carried"); another carry is declined, and the
// mediator sees that live; the server then holds one consented and one
// declined carry record ("ask carries"); side B's counsel forges, in the
// joint room, a proposal naming the consented carry and then a copy of it
// ("ask forge-proposal", "ask forge-copy"): the genuine copy stays
// consented and edited for the mediator and the author, live and after a
// reload, and the forged copy is shown as not from the author; before the
// second carry is declined, a second party of side A (a Go device) posts
// a decline naming it and a caucus message of their own ("ask
// forge-decline"): the author keeps Approve and Decline and the mediator
// does not see it declined;
// at phone width the audience select fits and the composer is reachable;
// last, an observer's welcome says they read the joint room and do not
// write in it.
func TestBrowserCarry(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// An observer, who opens the case last: their welcome says they read the joint room and do not write in it.
	invO, err := medC.Invite(ctx, k.ID, "observer", "", "Kim Observer", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	// Side B's counsel reads the joint room with a Go device, registered
	// before anyone's browser opens the case.
	invC, err := medC.Invite(ctx, k.ID, "counsel", "B", "Noor Haddad", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	counselC := client.New(n.URL, "")
	cs, err := counselC.Join(ctx, invC.Link)
	if err != nil {
		t.Fatal(err)
	}
	counselDir := t.TempDir()
	if _, err := client.InitDevice(counselDir, cs.Account.ID, e2ee.KEMXWing); err != nil {
		t.Fatal(err)
	}
	counsel, err := counselC.E2EE(counselDir)
	if err != nil {
		t.Fatal(err)
	}
	if err := counsel.Register(ctx); err != nil {
		t.Fatal(err)
	}
	// A second member of side A (Sam Ortiz, a party) with a Go device,
	// registered before the browsers open, posts a decline that is not
	// theirs to post.
	invA2, err := medC.Invite(ctx, k.ID, "party", "A", "Sam Ortiz", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	a2C := client.New(n.URL, "")
	a2s, err := a2C.Join(ctx, invA2.Link)
	if err != nil {
		t.Fatal(err)
	}
	a2Dir := t.TempDir()
	if _, err := client.InitDevice(a2Dir, a2s.Account.ID, e2ee.KEMXWing); err != nil {
		t.Fatal(err)
	}
	a2, err := a2C.E2EE(a2Dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a2.Register(ctx); err != nil {
		t.Fatal(err)
	}
	mediatorID := func() (string, error) {
		k2, err := medC.Case(ctx, k.ID)
		if err != nil || len(k2.Mediators) == 0 {
			return "", fmt.Errorf("the case's mediator: %v", err)
		}
		return k2.Mediators[0].AccountID, nil
	}
	// forge-proposal: side B's counsel posts a joint message, then a
	// "proposal" in the joint room naming the carry id and that message.
	forgeProposal := func(id string) (string, error) {
		pos, hash, err := postEncrypted(ctx, counsel, counselC, k.ID, "joint", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "Our offer stands."})
		if err != nil {
			return "", err
		}
		_, _, err = postEncrypted(ctx, counsel, counselC, k.ID, "joint", &e2ee.Plaintext{Kind: e2ee.KindCarryProposal, CarryID: id, Room: "joint",
			Ref: e2ee.Position{Epoch: pos.Epoch, Offset: pos.Offset}, RefHash: hash})
		return "ok", err
	}
	// forge-copy: side B's counsel posts a "carried copy" naming the carry
	// id, the joint room as its source and the mediator as proposer.
	forgeCopy := func(id string) (string, error) {
		med, err := mediatorID()
		if err != nil {
			return "", err
		}
		_, _, err = postEncrypted(ctx, counsel, counselC, k.ID, "joint", &e2ee.Plaintext{Kind: e2ee.KindCarried, CarryID: id, Room: "joint",
			Proposer: med, Text: "FORGED: the tenant accepts 500."})
		return "ok", err
	}
	// forge-decline: Sam Ortiz (side A) posts a caucus message, then a
	// "decline" naming the carry id and that message of their own.
	forgeDecline := func(id string) (string, error) {
		pos, hash, err := postEncrypted(ctx, a2, a2C, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindText, Text: "I will handle this one."})
		if err != nil {
			return "", err
		}
		_, _, err = postEncrypted(ctx, a2, a2C, k.ID, "caucus:A", &e2ee.Plaintext{Kind: e2ee.KindCarryDeclined, CarryID: id, Room: "joint",
			Ref: e2ee.Position{Epoch: pos.Epoch, Offset: pos.Offset}, RefHash: hash})
		return "ok", err
	}

	// carried opens every payload stored in the joint room with the
	// counsel's device keys and lists what each carried message holds,
	// the fields as encrypted (not as a client would show them).
	carried := func() (string, error) {
		devs, _, err := counsel.CaseDevices(ctx, k.ID)
		if err != nil {
			return "", err
		}
		chain, err := counsel.Statements(ctx, k.ID, devs)
		if err != nil {
			return "", err
		}
		sess := e2ee.NewSession(counsel.Me, k.ID, chain, devs)
		msgs, _, err := n.Messages.Page(ctx, k.ID+"/joint", messaging.Position{}, 1000)
		if err != nil {
			return "", err
		}
		type copyFields struct {
			Text, Room string
			Ref        string
			RefHash    string
		}
		out := []copyFields{}
		for _, m := range msgs {
			if m.From == "" {
				continue
			}
			r, err := sess.Receive("joint", m.Epoch, m.From, m.Body)
			if err != nil {
				return "", fmt.Errorf("counsel B opens %d:%d: %v", m.Epoch, m.Offset, err)
			}
			if r.Plain != nil && r.Plain.Kind == e2ee.KindCarried {
				h := "zero"
				if r.Plain.RefHash != ([32]byte{}) {
					h = fmt.Sprintf("%x", r.Plain.RefHash)
				}
				out = append(out, copyFields{Text: r.Plain.Text, Room: r.Plain.Room,
					Ref: fmt.Sprintf("%d:%d", r.Plain.Ref.Epoch, r.Plain.Ref.Offset), RefHash: h})
			}
		}
		b, err := json.Marshal(out)
		return string(b), err
	}

	// carries reads the case's carry records as the server stores them:
	// each one's state, sorted ("consented", "declined", "proposed").
	carries := func() (string, error) {
		var states []string
		err := n.Meta.List(ctx, "keydir/carries/"+k.ID+"/", func(key string) error {
			var cr keydir.Carry
			if _, err := n.Meta.Get(ctx, key, &cr); err != nil {
				return err
			}
			switch {
			case cr.Consented != nil && cr.Declined != nil:
				states = append(states, "both")
			case cr.Consented != nil:
				states = append(states, "consented")
			case cr.Declined != nil:
				states = append(states, "declined")
			default:
				states = append(states, "proposed")
			}
			return nil
		})
		sort.Strings(states)
		return strings.Join(states, " "), err
	}
	browserScript{
		name: "carry.mjs",
		env: []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password,
			"PARLEY_INVITE_A=" + invA.Link, "PARLEY_INVITE_B=" + invB.Link, "PARLEY_INVITE_O=" + invO.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"carries":        func(string) (string, error) { return carries() },
			"carried":        func(string) (string, error) { return carried() },
			"forge-proposal": forgeProposal,
			"forge-copy":     forgeCopy,
			"forge-decline":  forgeDecline,
		},
		shots: []string{"welcome-party.png", "welcome-party-phone.png", "carry-party.png", "carry-party-phone.png",
			"carry-mediator.png", "carry-mediator-phone.png", "carry-mediator-first-screen-phone.png"},
	}.run(t, n.URL)
}

// postEncrypted encrypts each plaintext with who's device and posts it in
// room through the server, as any member's own client may post whatever
// it likes; it returns the position and payload hash of the last one.
func postEncrypted(ctx context.Context, who *client.E2EE, wc *client.Client, caseID, room string, ps ...*e2ee.Plaintext) (api.Position, [32]byte, error) {
	devs, _, err := who.CaseDevices(ctx, caseID)
	if err != nil {
		return api.Position{}, [32]byte{}, err
	}
	chain, err := who.Statements(ctx, caseID, devs)
	if err != nil {
		return api.Position{}, [32]byte{}, err
	}
	r, ok := chain.Latest().Room(room)
	if !ok {
		return api.Position{}, [32]byte{}, fmt.Errorf("no signed membership for %s", room)
	}
	raw, err := wc.Chat(ctx, caseID, map[string]*api.Position{room: nil})
	if err != nil {
		return api.Position{}, [32]byte{}, err
	}
	defer raw.Close()
	sess := e2ee.NewSession(who.Me, caseID, chain, devs)
	var pos api.Position
	var hash [32]byte
	for _, p := range ps {
		dists, err := sess.Prepare(room, r.Epoch)
		if err != nil {
			return api.Position{}, [32]byte{}, err
		}
		body, err := sess.Encrypt(room, p)
		if err != nil {
			return api.Position{}, [32]byte{}, err
		}
		for _, b := range append(dists, body) {
			m, err := raw.SendFor(ctx, room, ids.New("m"), b, r.Epoch)
			if err != nil {
				return api.Position{}, [32]byte{}, err
			}
			pos = m.Pos()
		}
		hash = e2ee.PayloadHash(body)
	}
	return pos, hash, nil
}
