package retention

// The whole-case retention benchmark for BENCHMARKS.md (## Retention):
// dispose of 1,000 closed cases with every record class on the test
// MinIO. Setup is not timed; planning, approval and applying are. Each
// case has a document, message history in two rooms, two invitations
// (one redeemed: a participant account and its sign-in session; one
// not), a disclosure acknowledged, an outcome and three survey answers
// (all through package cases), and, written as their packages store them
// (sealed records or JSON at their keys), a scheduled session, an outbox
// message, a carry and a key-directory statement and device.
//
//	PARLEY_BENCH_CASES=1000 go test -run '^$' -bench 'DisposeWholeCases' -benchtime 1x -timeout 60m ./retention/

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

func BenchmarkDisposeWholeCases(b *testing.B) {
	nCases := envInt("PARLEY_BENCH_CASES", 1000)
	for range b.N {
		b.StopTimer()
		store, err := objstore.OpenS3(b.Context(), testenv.S3(b))
		if err != nil {
			b.Fatal(err)
		}
		e := newEnv(b, store)
		e.ret.pageSize = DefaultPageSize
		e.ret.parallel = envInt("PARLEY_BENCH_PARALLEL", e.ret.parallel)
		ctx := b.Context()
		for _, class := range policy.RecordClasses() {
			if class == policy.ClassStatisticalStub {
				continue
			}
			if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
				b.Fatal(err)
			}
		}
		body := make([]byte, 1024)
		rand.Read(body)
		caseIDs := make([]string, nCases)
		parties := make([]string, nCases)
		errs := make([]error, nCases)
		node := messaging.NewService(e.msgs, messaging.NewMemory(), messaging.Options{})
		workers.Run(nCases, 16, func(i int) {
			caseIDs[i], parties[i], errs[i] = e.benchCase(b, node, body)
		})
		node.Close()
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
		e.clock = e.clock.Add(month)
		b.StartTimer()

		t0 := time.Now()
		p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		planned := time.Since(t0)
		if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		last := t1
		phase := map[string]time.Duration{}
		var mu sync.Mutex
		e.ret.hook = func(step string) error {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			phase[step] += now.Sub(last)
			last = now
			return nil
		}
		pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
		e.ret.hook = nil
		for step, d := range phase {
			b.Logf("until %s: %v", step, d)
		}
		if err != nil || !pr.Done {
			b.Fatal(err)
		}
		applied := time.Since(t1)
		b.StopTimer()
		b.ReportMetric(planned.Seconds(), "plan-s")
		b.ReportMetric(applied.Seconds(), "apply-s")
		b.ReportMetric(float64(nCases)/(planned+applied).Seconds(), "cases/s")
		b.Logf("%d cases, plan of %d records in %d pages: planned in %v, applied in %v", nCases, p.Records, p.Pages, planned, applied)
		signed, err := e.ret.SignedCertificate(ctx, e.records, p.ID)
		if err != nil {
			b.Fatal(err)
		}
		c, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
		if err != nil {
			b.Fatal(err)
		}
		for _, cc := range c.Classes {
			b.Logf("certificate: %s %d records, %d objects", cc.Class, cc.Records, cc.Objects)
			if cc.Class == policy.ClassCaseRecord && cc.Records != nCases {
				b.Fatalf("%d case records destroyed, want %d", cc.Records, nCases)
			}
		}
		for i := range caseIDs {
			if e.versionsOf(b, "cases/"+caseIDs[i]+"/case") != 0 || e.versionsOf(b, "accounts/"+parties[i]) != 0 {
				b.Fatalf("case %s or its party left", caseIDs[i])
			}
		}
		b.StartTimer()
	}
}

// benchCase makes one closed case with every record class.
func (e *env) benchCase(b *testing.B, node *messaging.Service, body []byte) (string, string, error) {
	ctx := b.Context()
	c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Bench v. Mark", Type: "family", SideLabels: []string{"A", "B"}})
	if err != nil {
		return "", "", err
	}
	var party string
	var partyAcct account.Account
	for i, side := range []string{"A", "B", "A"} {
		role := cases.RoleParty
		if i == 2 {
			role = cases.RoleCounsel
		}
		inv, err := e.cases.CreateInvite(ctx, e.mediator, c.ID, cases.NewInvite{Role: role, Side: side, Name: fmt.Sprintf("Person %d", i), Email: fmt.Sprintf("p%d@example.net", i)})
		if err != nil {
			return "", "", err
		}
		j, err := e.cases.Join(ctx, inv.Token)
		if err != nil {
			return "", "", err
		}
		if i == 0 {
			party, partyAcct = j.Account.ID, j.Account
		}
	}
	if _, err := e.cases.CreateInvite(ctx, e.mediator, c.ID, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Never came", Email: "never@example.net"}); err != nil {
		return "", "", err
	}
	if _, err := e.vault.Upload(ctx, e.mediator, c.ID, vault.NewDocument{Name: "d.bin", Audience: vault.Audience{Kind: policy.AudienceMediators},
		Class: vault.ClassMediatorNotes}, bytes.NewReader(body)); err != nil {
		return "", "", err
	}
	for _, room := range []string{"joint", "caucus-A"} {
		if _, err := node.Publish(ctx, c.ID+"/"+room, messaging.Message{ID: "m", From: party, Body: []byte("sealed")}); err != nil {
			return "", "", err
		}
	}
	kc, err := e.cases.Disclose(ctx, e.mediator, c.ID, "I know the employer")
	if err != nil {
		return "", "", err
	}
	if _, err := e.cases.Acknowledge(ctx, partyAcct, c.ID, kc.Disclosures[0].ID); err != nil {
		return "", "", err
	}
	// The records other packages write, at their keys.
	for _, key := range []string{"sessions/" + c.ID + "/s_1", "outbox/cases/" + c.ID + "/m_1", "outbox/due/" + c.ID + "/m_1",
		"keydir/carries/" + c.ID + "/k_1", "followups/plans/" + c.ID} {
		if _, err := e.meta.Create(ctx, key, map[string]string{"caseId": c.ID, "to": "p0@example.net"}); err != nil {
			return "", "", err
		}
	}
	for _, key := range []string{"keydir/statements/" + c.ID + "/00000000000000000001", "keydir/devices/" + party + "/dev1"} {
		if _, err := e.store.Put(ctx, key, strings.NewReader(`{"kind":"x"}`), 12, objstore.PutOptions{}); err != nil {
			return "", "", err
		}
	}
	if _, err := e.cases.SetStage(ctx, e.mediator, c.ID, cases.StageClosure, ""); err != nil {
		return "", "", err
	}
	_, links, err := e.cases.RecordOutcome(ctx, e.mediator, c.ID, cases.FullAgreement, 2, 3)
	if err != nil {
		return "", "", err
	}
	for _, l := range links {
		scores := map[string]int{}
		for _, item := range cases.SurveyItems {
			scores[item] = 4
		}
		if err := e.cases.SubmitSurvey(ctx, l.Token, scores, ""); err != nil {
			return "", "", err
		}
	}
	return c.ID, party, nil
}
