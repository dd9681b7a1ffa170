package keydir_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/keydir"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/tlogverify"
)

func status(err error) int {
	var ae *client.Error
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

func TestDirectoryRoutesAndPolicy(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := context.Background()
	medAcct, med := n.Staff(t, policy.RoleMediator, "med@example.org")
	_, outsider := n.Staff(t, policy.RoleMediator, "other@example.org")
	k, err := med.CreateCase(ctx, "Keys", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	inv, _ := med.Invite(ctx, k.ID, "party", "A", "Avery", "", time.Hour)
	party := client.New(n.URL, "")
	ps, err := party.Join(ctx, inv.Link)
	if err != nil {
		t.Fatal(err)
	}

	// A device is registered for the signed-in account only.
	medDev, _ := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	var p keydir.Proven
	err = party.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: medDev.Record().Raw}, &p)
	if status(err) != http.StatusForbidden {
		t.Fatalf("registering someone else's device: %v", err)
	}
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: medDev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}
	v, err := tlogverify.Verify(&p, keydir.View{})
	if err != nil || len(v.Devices) != 1 || v.Devices[0].ID != medDev.ID {
		t.Fatalf("registration answer: %v", err)
	}
	// Registering the same record again is idempotent; a tampered one is refused.
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: medDev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}
	bad := append([]byte{}, medDev.Record().Raw...)
	bad[len(bad)-1] ^= 1
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: bad}, &p); status(err) != http.StatusBadRequest {
		t.Fatalf("tampered record: %v", err)
	}
	partyDev, _ := e2ee.NewDeviceKeys(ps.Account.ID, e2ee.KEMX25519, time.Now())
	if err := party.Do(ctx, http.MethodPost, "/api/v1/keys/devices", api.RecordRequest{Record: partyDev.Record().Raw}, &p); err != nil {
		t.Fatal(err)
	}

	// The people of the case see its devices, checked against the log;
	// nobody else does.
	var cp keydir.Proven
	if err := party.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.ID+"/devices?since="+fmt.Sprint(v.Checkpoint.Size), nil, &cp); err != nil {
		t.Fatal(err)
	}
	cv, err := tlogverify.Verify(&cp, v.View)
	if err != nil || len(cv.Devices) != 2 {
		t.Fatalf("case devices: %+v %v", cv, err)
	}
	// An outsider is told the case is not found, as for one that does not exist.
	if err := outsider.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.ID+"/devices", nil, &cp); status(err) != http.StatusNotFound {
		t.Fatalf("outsider listed the case's devices: %v", err)
	}
	if err := outsider.Do(ctx, http.MethodGet, "/api/v1/cases/"+k.ID+"/e2ee/statements", nil, &cp); status(err) != http.StatusNotFound {
		t.Fatalf("outsider listed the case's statements: %v", err)
	}
	// A client that has seen a bigger log than the server shows is told so.
	if err := party.Do(ctx, http.MethodGet, "/api/v1/keys/devices?since=1000", nil, &cp); status(err) != http.StatusConflict {
		t.Fatalf("since beyond the log: %v", err)
	}

	// Statements: only the case's mediators, signed by their own active
	// device, following the chain.
	st := e2ee.StatementFor(k.ID, []e2ee.Person{{Account: medAcct.ID, Role: e2ee.RoleMediator}, {Account: ps.Account.ID, Role: e2ee.RoleParty, Side: "A"}},
		[]string{"A", "B"}, map[string]int64{"joint": 2, "caucus:A": 2, "caucus:B": 1, "mediators": 1})
	st.Seq = 2 // wrong: the chain starts at 1
	raw, err := st.Sign(medDev)
	if err != nil {
		t.Fatal(err)
	}
	post := func(c *client.Client, raw []byte) error {
		return c.Do(ctx, http.MethodPost, "/api/v1/cases/"+k.ID+"/e2ee/statements", api.RecordRequest{Record: raw}, &cp)
	}
	if err := post(med, raw); status(err) != http.StatusConflict {
		t.Fatalf("statement out of sequence: %v", err)
	}
	st.Seq = 1
	raw, _ = st.Sign(medDev)
	if err := post(party, raw); status(err) != http.StatusForbidden {
		t.Fatalf("party posted a statement: %v", err)
	}
	if err := post(outsider, raw); status(err) != http.StatusNotFound {
		t.Fatalf("outsider posted a statement: %v", err)
	}
	unregistered, _ := e2ee.NewDeviceKeys(medAcct.ID, e2ee.KEMXWing, time.Now())
	raw2, _ := st.Sign(unregistered)
	if err := post(med, raw2); status(err) != http.StatusForbidden {
		t.Fatalf("statement signed by an unregistered device: %v", err)
	}
	raw, _ = st.Sign(medDev)
	if err := post(med, raw); err != nil {
		t.Fatal(err)
	}
	if err := post(med, raw); status(err) != http.StatusConflict {
		t.Fatalf("the same seq twice: %v", err)
	}
	cp = keydir.Proven{} // decode into a fresh answer
	if err := party.Do(ctx, http.MethodGet, fmt.Sprintf("/api/v1/cases/%s/e2ee/statements?since=%d", k.ID, cv.View.Size()), nil, &cp); err != nil {
		t.Fatal(err)
	}
	sv, err := tlogverify.Verify(&cp, cv.View)
	if err != nil || len(sv.Statements) != 1 || sv.Statements[0].LogIndex < 0 {
		t.Fatalf("statements: %v", err)
	}
	dir, _ := cv.Directory(nil)
	chain := e2ee.NewChain(k.ID)
	if err := chain.Extend(sv.Statements[0], dir); err != nil {
		t.Fatal(err)
	}

	// Revocation: signed by one of the account's devices, for its own devices.
	if err := party.Do(ctx, http.MethodPost, "/api/v1/keys/revocations", api.RecordRequest{Record: medDev.Revoke(partyDev.ID, time.Now())}, &cp); status(err) != http.StatusForbidden {
		t.Fatalf("revoking another account's device: %v", err)
	}
	if err := med.Do(ctx, http.MethodPost, "/api/v1/keys/revocations", api.RecordRequest{Record: medDev.Revoke(medDev.ID, time.Now())}, &cp); err != nil {
		t.Fatal(err)
	}
	cp = keydir.Proven{}
	if err := med.Do(ctx, http.MethodGet, "/api/v1/keys/devices", nil, &cp); err != nil {
		t.Fatal(err)
	}
	mv, err := tlogverify.Verify(&cp, keydir.View{})
	if err != nil || len(mv.Revocations) != 1 {
		t.Fatalf("after revocation: %v", err)
	}
	d, err := mv.Directory(nil)
	if err != nil || len(d.Active(medAcct.ID)) != 0 || !d.Revoked(medAcct.ID, medDev.ID) {
		t.Fatalf("directory after revocation: %v", err)
	}
	// A revoked device signs no more statements.
	st.Seq, st.Prev = 2, sv.Statements[0].Hash()
	raw, _ = st.Sign(medDev)
	if err := post(med, raw); status(err) != http.StatusForbidden {
		t.Fatalf("statement by a revoked device: %v", err)
	}
	// The key directory's log verifies on its own, as the audit log does.
	if _, err := n.KeyDir.Log().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}
