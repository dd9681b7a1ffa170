package retention

import (
	"context"
	"errors"
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// TestPostAfterKeepCheckDoesNotSurvive: a case with no message when
// retention looked for what keeps it (after its fence) has a message
// stored meanwhile — a post on a connection that had not heard of the
// fence yet, compacted into the room's segments after retention's
// listing. The disposal, certified, leaves no stored version of it (on
// MinIO, versioned: every version is counted).
func TestPostAfterKeepCheckDoesNotSurvive(t *testing.T) {
	t.Parallel()
	store, err := objstore.OpenS3(t.Context(), testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ctx := t.Context()
	for _, class := range policy.CaseClasses() {
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: 30}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := e.cases.Create(ctx, e.mediator, cases.NewCase{Title: "Quiet v. Late", Type: "workplace", SideLabels: []string{"Employee", "Employer"}})
	if err != nil {
		t.Fatal(err)
	}
	tc := &testCase{id: c.ID}
	p := e.planClosed(t, tc)
	posted := false
	e.ret.hook = func(step string) error {
		if step == "case-journal" && !posted { // fenced, and found nothing that keeps it
			posted = true
			node := messaging.NewService(e.msgs, messaging.NewMemory(), messaging.Options{})
			_, err := node.Publish(context.Background(), c.ID+"/joint", messaging.Message{ID: "late", From: e.mediator.ID, Body: []byte("sealed")})
			node.Close() // compacts the journal into the room's segments
			if err != nil {
				t.Errorf("late post: %v", err)
			}
		}
		return nil
	}
	pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil)
	if err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	if !posted {
		t.Fatal("the apply never reached the case journal")
	}
	var left []string
	if err := store.VersionsUnder(ctx, caucus.HistoryPrefix(c.ID), func(v objstore.Version) error {
		left = append(left, v.Key+"@"+v.VersionID)
		return nil
	}); err != nil && !errors.Is(err, objstore.ErrNotFound) {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("a case certified destroyed keeps message history stored after retention's listing: %v", left)
	}
	if _, err := e.cases.Load(ctx, c.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("the case record after its disposal: %v", err)
	}
}
