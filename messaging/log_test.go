package messaging

import (
	"fmt"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
)

func stores(t *testing.T) map[string]func(t *testing.T) objstore.Store {
	return map[string]func(t *testing.T) objstore.Store{
		"dir": func(t *testing.T) objstore.Store {
			d, err := objstore.OpenDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
		"s3": func(t *testing.T) objstore.Store {
			s, err := objstore.OpenS3(t.Context(), testenv.S3(t))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

// TestConcurrentCommitsAreGaplessAndOrdered: several "nodes" (separate Log
// values with their own cached positions) commit to one room at once; the
// store ends with one gapless chain holding every message exactly once.
func TestConcurrentCommitsAreGaplessAndOrdered(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			const nodes, perNode = 4, 25
			var wg sync.WaitGroup
			for n := range nodes {
				wg.Go(func() {
					l := NewLog(store)
					var pos Position
					for i := range perNode {
						m := Message{ID: fmt.Sprintf("n%d-%d", n, i), From: "u"}
						if _, err := l.Commit(t.Context(), "c_x/joint", &pos, []Message{m}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			l := NewLog(store)
			batches, err := l.FollowFrom(t.Context(), "c_x/joint", Position{}, 10*nodes*perNode)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			want := int64(1)
			for _, b := range batches {
				for _, m := range b.Msgs {
					if m.Offset != want {
						t.Fatalf("offset %d where %d expected", m.Offset, want)
					}
					if seen[m.ID] {
						t.Fatalf("message %s stored twice", m.ID)
					}
					seen[m.ID] = true
					want++
				}
			}
			if len(seen) != nodes*perNode {
				t.Fatalf("%d messages stored, want %d", len(seen), nodes*perNode)
			}
			head, err := l.Head(t.Context(), "c_x/joint")
			if err != nil || head != (Position{Epoch: 1, Offset: nodes * perNode}) {
				t.Fatalf("head %+v err %v", head, err)
			}
		})
	}
}

// TestSealFencesStaleWriters: a node that has not heard of a seal and
// commits at the old epoch lands in the new one.
func TestSealFencesStaleWriters(t *testing.T) {
	store := stores(t)["dir"](t)
	a, b := NewLog(store), NewLog(store)
	var pa, pb Position
	if _, err := a.Commit(t.Context(), "r/joint", &pa, []Message{{ID: "1"}}); err != nil {
		t.Fatal(err)
	}
	pb = pa // b knows the same head
	if _, err := a.Seal(t.Context(), "r/joint", &pa, `{"change":"mediator.recused"}`); err != nil {
		t.Fatal(err)
	}
	got, err := b.Commit(t.Context(), "r/joint", &pb, []Message{{ID: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Epoch != 2 || got.First != 1 {
		t.Fatalf("stale writer committed at e%d/%d, want e2/1", got.Epoch, got.First)
	}
	// Paging across the seal returns both messages in order.
	msgs, next, err := a.Page(t.Context(), "r/joint", Position{}, 10)
	if err != nil || len(msgs) != 2 || msgs[0].ID != "1" || msgs[1].ID != "2" || next != (Position{Epoch: 2, Offset: 1}) {
		t.Fatalf("page: %+v next %+v err %v", msgs, next, err)
	}
	// Paging from the middle of a batch.
	var pc Position = Position{Epoch: 2, Offset: 1}
	if _, err := a.Commit(t.Context(), "r/joint", &pc, []Message{{ID: "3"}, {ID: "4"}, {ID: "5"}}); err != nil {
		t.Fatal(err)
	}
	msgs, _, err = a.Page(t.Context(), "r/joint", Position{Epoch: 2, Offset: 2}, 2)
	if err != nil || len(msgs) != 2 || msgs[0].ID != "4" || msgs[1].ID != "5" {
		t.Fatalf("mid-batch page: %+v err %v", msgs, err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"room":"r","epoch":1,"first":1,"msgs":[{"epoch":1,"offset":1,"id":"a","from":"u","at":1,"body":"eA=="}]}`))
	f.Add([]byte(`{"room":"r","epoch":1,"first":3,"seal":{"next":2,"reason":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data)
		if err != nil {
			return
		}
		// Whatever decodes is consistent.
		for i, m := range b.Msgs {
			if m.Offset != b.First+int64(i) || m.Epoch != b.Epoch {
				t.Fatalf("inconsistent batch accepted: %+v", b)
			}
		}
		if b.End().Before(Position{Epoch: b.Epoch, Offset: b.First - 1}) {
			t.Fatalf("batch ends before it starts: %+v", b)
		}
	})
}

func FuzzDecodeClientFrame(f *testing.F) {
	f.Add([]byte(`{"t":"pub","room":"joint","id":"1","body":"eA=="}`))
	f.Add([]byte(`{"t":"sub","room":"caucus:A","from":{"epoch":1,"offset":4}}`))
	f.Add([]byte(`{"t":"unsub","room":"joint"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := DecodeClientFrame(data)
		if err != nil {
			return
		}
		if fr.Room == "" || len(fr.Room) > maxRoomName || len(fr.Body) > MaxBody || len(fr.ID) > MaxClientID {
			t.Fatalf("frame past its limits accepted: %+v", fr)
		}
		if fr.T == "pub" && (fr.ID == "" || len(fr.Body) == 0) {
			t.Fatalf("pub without id or body accepted")
		}
	})
}
