package keydir_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
)

// TestUnconfirmedMediatorReadsNoCarry: a co-mediator no seated mediator
// has confirmed reads no carry's record given its id (which caucus it is
// from, who wrote it, whether they consented): refused before the carry
// is looked at, so alike for one that does not exist — 403
// mediator-not-confirmed in words, audited naming the rule. Once a
// statement seats them, the carry is decided as for any mediator (one
// that does not exist: not found).
func TestUnconfirmedMediatorReadsNoCarry(t *testing.T) {
	g := newGateCase(t)
	ctx := context.Background()
	path := "/api/v1/cases/" + g.caseID + "/carries/" + ids.New("cr")
	check := func(stage string) {
		t.Helper()
		err := g.max.Do(ctx, http.MethodGet, path, nil, nil)
		refused(t, stage+": Max reads a carry", err, "mediator-not-confirmed", "confirmed")
		e, err := g.n.Audit.Entry(ctx, g.n.Audit.Size()-1)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "access.denied" || e.Actor != g.maxID || e.Attrs["action"] != "carry.read" || e.Attrs["rule"] != cases.RuleUnconfirmedRecord {
			t.Fatalf("%s: audited as %+v", stage, e)
		}
	}
	check("no statement")
	st, err := g.post(t, g.mia, g.miaDev, nil, g.miaID)
	if err != nil {
		t.Fatal(err)
	}
	g.n.Cases.ForgetSeats(g.caseID)
	check("Mia seated alone")
	if _, err := g.post(t, g.mia, g.miaDev, st, g.miaID, g.maxID); err != nil {
		t.Fatal(err)
	}
	g.n.Cases.ForgetSeats(g.caseID)
	var ce *client.Error
	if err := g.max.Do(ctx, http.MethodGet, path, nil, nil); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Fatalf("the admitted co-mediator reads a carry that does not exist: %v", err)
	}
	if err := g.mia.Do(ctx, http.MethodGet, path, nil, nil); !errors.As(err, &ce) || ce.Status != http.StatusNotFound {
		t.Fatalf("Mia reads a carry that does not exist: %v", err)
	}
}

// TestUnconfirmedMediatorAdmitsNoDevice: a co-mediator no seated mediator
// has confirmed cannot admit a participant's new device (review 376
// LOW-1: before, the server stored and served such an admission, audited
// as made by them; clients would not trust it, but the server must not
// keep it). Refused before the record is read, audited with the rule.
func TestUnconfirmedMediatorAdmitsNoDevice(t *testing.T) {
	g := newGateCase(t)
	ctx := context.Background()
	path := "/api/v1/cases/" + g.caseID + "/e2ee/admissions"
	check := func(stage string) {
		t.Helper()
		err := g.max.Do(ctx, http.MethodPost, path, map[string]string{"record": "AAAA"}, nil)
		refused(t, stage+": Max admits a device", err, "mediator-not-confirmed", "confirmed")
		e, err := g.n.Audit.Entry(ctx, g.n.Audit.Size()-1)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type != "access.denied" || e.Actor != g.maxID || e.Attrs["action"] != "device.admit" || e.Attrs["rule"] != cases.RuleUnconfirmedRecord {
			t.Fatalf("%s: audited as %+v", stage, e)
		}
	}
	check("no statement")
	if _, err := g.post(t, g.mia, g.miaDev, nil, g.miaID); err != nil {
		t.Fatal(err)
	}
	g.n.Cases.ForgetSeats(g.caseID)
	check("Mia seated alone")
}
