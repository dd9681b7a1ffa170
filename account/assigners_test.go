package account

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/parley-mediation/parley/internal/hashcost"
)

// RecordAssigners keeps every administrator who assigned the account,
// once each, and refuses (changing nothing) to grow past MaxAssigners
// rather than forget one.
func TestRecordAssignersDeduplicatesAndNeverDrops(t *testing.T) {
	hashcost.UseTestCost()
	svc, _ := newService(t)
	ctx := t.Context()
	m := createAdmin(t, svc, "m@example.org", nil)
	if err := svc.RecordAssigners(ctx, m.ID, "u_a", "u_b", "u_a", ""); err != nil {
		t.Fatal(err)
	}
	if err := svc.RecordAssigners(ctx, m.ID, "u_b", "u_c"); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.AssignedBy, []string{"u_a", "u_b", "u_c"}) {
		t.Fatalf("AssignedBy %v, want u_a u_b u_c", got.AssignedBy)
	}
	for i := len(got.AssignedBy); i < MaxAssigners; i++ {
		if err := svc.RecordAssigners(ctx, m.ID, fmt.Sprintf("u_x%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Already recorded: nothing to add, no refusal at the bound.
	if err := svc.RecordAssigners(ctx, m.ID, "u_a"); err != nil {
		t.Fatalf("recording a known assigner at the bound: %v", err)
	}
	if err := svc.RecordAssigners(ctx, m.ID, "u_a", "u_new"); !errors.Is(err, ErrTooManyAssigners) {
		t.Fatalf("growing past the bound: %v", err)
	}
	got, err = svc.Get(ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.AssignedBy) != MaxAssigners || got.AssignedBy[0] != "u_a" || slices.Contains(got.AssignedBy, "u_new") {
		t.Fatalf("after the refusal: %d assigners, first %q", len(got.AssignedBy), got.AssignedBy[0])
	}
}
