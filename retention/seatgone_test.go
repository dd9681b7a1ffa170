package retention

import (
	"testing"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// TestSeatIndexOfAHiddenCaseRecordIsNotResidue: a case record hidden
// behind a delete marker, its versions still stored (as destroyPlaces
// leaves it mid-disposal), is not gone: its entries in the index of seats
// by address are not residue, neither when the sweep lists them nor when
// the apply checks one again. Once no version of the record is stored,
// they are.
func TestSeatIndexOfAHiddenCaseRecordIsNotResidue(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, store objstore.Store) {
		e := newEnv(t, store)
		ctx := t.Context()
		tc := e.newCase(t, map[string]vault.Class{})
		if err := e.cases.BackfillSeatIndex(ctx); err != nil {
			t.Fatal(err)
		}
		key := cases.RecordKey(tc.id)
		if err := store.Delete(ctx, key, ""); err != nil { // hidden, as a disposal's first step
			t.Fatal(err)
		}
		l, err := e.ret.orphanedSeats(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(l) != 0 {
			t.Fatalf("%d entries of a case whose record is hidden, not gone, taken for residue: %+v", len(l), l)
		}
		var entry string
		if err := e.ret.newestUnder(ctx, cases.SeatIndexPrefix, func(v objstore.Version) {
			if entry == "" {
				entry = v.Key
			}
		}); err != nil {
			t.Fatal(err)
		}
		if entry == "" {
			t.Fatal("no entry in the index of seats by address")
		}
		if ok, err := e.ret.stillResidue(ctx, residueEntry{Kind: ResidueSeatIndex, Key: entry, Case: tc.id}, "p"); err != nil || ok {
			t.Fatalf("checked again: residue %v, %v", ok, err)
		}
		vs, err := store.Versions(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			if err := store.Delete(ctx, v.Key, v.VersionID); err != nil {
				t.Fatal(err)
			}
		}
		if l, err = e.ret.orphanedSeats(ctx, nil); err != nil || len(l) == 0 {
			t.Fatalf("entries of a case with no stored record: %d residue, %v", len(l), err)
		}
	})
}
