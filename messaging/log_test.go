package messaging

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/parley-mediation/parley/api"
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

// TestConcurrentNodesAreGaplessAndOrdered: several nodes on one store and
// broker publish to one room at once (the first to claim it owns it, the
// others forward); the room's segments end with one gapless chain holding
// every message exactly once.
func TestConcurrentNodesAreGaplessAndOrdered(t *testing.T) {
	for name, open := range stores(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			broker := NewMemory()
			const nodes, perNode = 4, 25
			var wg sync.WaitGroup
			svcs := make([]*Service, nodes)
			for n := range nodes {
				svcs[n] = NewService(NewLog(store), broker, Options{})
			}
			for n, svc := range svcs {
				wg.Go(func() {
					for i := range perNode {
						m := Message{ID: fmt.Sprintf("n%d-%d", n, i), From: "u"}
						if _, err := svc.Publish(t.Context(), "c_x/joint", m); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			for _, svc := range svcs {
				svc.Close() // compacts the owner's journal into the segments
			}
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
			if len(batches) >= nodes*perNode {
				t.Fatalf("%d segments for %d messages: compaction did not merge batches", len(batches), nodes*perNode)
			}
			head, err := l.Head(t.Context(), "c_x/joint")
			if err != nil || head != (Position{Epoch: 1, Offset: nodes * perNode}) {
				t.Fatalf("head %+v err %v", head, err)
			}
		})
	}
}

// TestSealsAndPaging: a seal moves the room to the next epoch; paging
// crosses it and starts mid-segment.
func TestSealsAndPaging(t *testing.T) {
	store := stores(t)["dir"](t)
	svc := NewService(NewLog(store), NewMemory(), Options{})
	room := "r/joint"
	pub := func(id string) Message {
		t.Helper()
		m, err := svc.Publish(t.Context(), room, Message{ID: id, From: "u"})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	pub("1")
	if err := svc.Seal(t.Context(), room, `{"change":"mediator.recused"}`); err != nil {
		t.Fatal(err)
	}
	if got := pub("2"); got.Epoch != 2 || got.Offset != 1 {
		t.Fatalf("after the seal a message went to e%d/%d, want e2/1", got.Epoch, got.Offset)
	}
	pub("3")
	pub("4")
	pub("5")
	svc.Close()
	l := NewLog(store)
	msgs, next, err := l.Page(t.Context(), room, Position{}, 2)
	if err != nil || len(msgs) != 2 || msgs[0].ID != "1" || msgs[1].ID != "2" || next != (Position{Epoch: 2, Offset: 1}) {
		t.Fatalf("page: %+v next %+v err %v", msgs, next, err)
	}
	msgs, _, err = l.Page(t.Context(), room, Position{Epoch: 2, Offset: 2}, 2)
	if err != nil || len(msgs) != 2 || msgs[0].ID != "4" || msgs[1].ID != "5" {
		t.Fatalf("mid-segment page: %+v err %v", msgs, err)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"room":"r","epoch":1,"first":1,"msgs":[{"epoch":1,"offset":1,"id":"a","from":"u","at":1,"body":"eA=="}]}`))
	f.Add([]byte(`{"room":"r","epoch":1,"first":3,"seal":{"next":2,"reason":"x"}}`))
	f.Add([]byte(`{"room":"r","epoch":1,"first":1,"msgs":[{"epoch":1,"offset":1,"Offset":1,"id":"a","from":"u","From":"v","at":1,"body":"eA=="}]}`))
	f.Add([]byte(`{"Room":"r","EPOCH":1,"first":1,"msgs":[{"epoch":1,"offset":1,"id":"a","from":"u","at":1,"body":"eA==","extra":[1,{"x":2}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := DecodeBatch(data)
		if err != nil {
			return
		}
		// No parser differential: encoding/json reads what was accepted the
		// same way, and so does it the delivery frame spliced from the
		// messages' JSON as it arrived.
		var v1 Batch
		if err := json.Unmarshal(data, &v1); err != nil {
			t.Fatalf("accepted, but encoding/json refuses it: %v", err)
		}
		got := *b
		got.msgsJSON = nil
		if !reflect.DeepEqual(got, v1) {
			t.Fatalf("decoded %+v, encoding/json gives %+v", got, v1)
		}
		if len(b.Msgs) > 0 {
			var fr api.ServerFrame
			if err := json.Unmarshal(msgsFrame([]byte(`"r"`), "r", b), &fr); err != nil || !reflect.DeepEqual(fr.Msgs, b.Msgs) {
				t.Fatalf("the frame reads %+v (%v), the batch holds %+v", fr.Msgs, err, b.Msgs)
			}
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

// TestOversizedObjectIsRefusedWhole: a stored segment larger than the
// log's read limit is reported as too large, never read in part and
// misreported as a damaged batch (issue #19).
func TestOversizedObjectIsRefusedWhole(t *testing.T) {
	d, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	l := NewLog(d)
	ctx := t.Context()
	b := &Batch{Room: "r_big", Epoch: 1, First: 1, Msgs: []Message{{Epoch: 1, Offset: 1, ID: "m1", From: "u_a", Body: make([]byte, 4096)}}}
	if err := l.appendSegment(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := l.ReadAt(ctx, "r_big", 1, 1); err != nil {
		t.Fatalf("within the limit: %v", err)
	}
	l.maxObject = 1024
	_, err = l.ReadAt(ctx, "r_big", 1, 1)
	if !errors.Is(err, errObjectTooLarge) {
		t.Fatalf("over the limit: got %v, want errObjectTooLarge", err)
	}
}
