package retention

import (
	"bytes"
	"context"
	"testing"

	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

func TestUploadDuringDisposalRefused(t *testing.T) {
	t.Parallel()
	e, _, tc := outboxWorld(t)
	ctx := t.Context()
	p := e.planClosed(t, tc)
	reached := false
	var upErr error
	e.ret.hook = func(step string) error {
		if step == "case-journal" && !reached { // the case is fenced by now
			reached = true
			_, upErr = e.vault.Upload(context.Background(), e.mediator, tc.id, vault.NewDocument{Name: "late.pdf", MediaType: "application/pdf",
				Audience: vault.Audience{Kind: policy.AudienceJoint}, Class: vault.ClassEvidence}, bytes.NewReader(content("late")))
		}
		return nil
	}
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	t.Logf("upload err=%v; doc.key.destroyed=%d; objects left: %v", upErr, e.entriesOf(t, "doc.key.destroyed", tc.id), e.objectsOf(t, tc.id))
	if upErr == nil {
		t.Fatal("a document was accepted into a case being disposed of")
	}
}
