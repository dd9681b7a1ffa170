package server_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// TestFenceStopsPostsOnOpenSocketsAtOnce: a WebSocket allowed to post in
// a room before retention fenced its case (cases.BeginDisposal, on another
// node) stops taking posts as soon as the fence is announced — not at its
// fallback check a minute later — and says why. Two nodes on MinIO and
// Redis: the fence is set on node B, the socket is on node A.
func TestFenceStopsPostsOnOpenSocketsAtOnce(t *testing.T) {
	ctx := context.Background()
	b, p, ch := fenceWorld(t)
	if _, err := b.Cases.BeginDisposal(ctx, p.caseID, "p_test"); err != nil {
		t.Fatal(err)
	}
	// The announcement travels through Redis: poll (bounded) well under
	// the connection's fallback check (a minute).
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := ch.Send(sctx, "joint", fmt.Sprint("after-", i), []byte("x"))
		cancel()
		if err != nil {
			if !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "being disposed of") {
				t.Fatalf("post after the fence refused with %v, want a refusal saying the case is being disposed of", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d posts taken within 10 s of the fence: the open socket was not told", i+1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The connection stays (reading is still allowed).
	if _, err := ch.Send(ctx, "joint", "again", []byte("x")); err == nil || !strings.Contains(err.Error(), "being disposed of") {
		t.Fatalf("a second post after the fence: %v", err)
	}
}

// TestFenceStopsPostsOnSocketsThatMissedTheAnnouncement: a WebSocket that
// never hears the fence's announcement (caucus DisposalBegun lost: Redis
// flushed, the publish failed) stops taking posts within a few seconds —
// its node checks the case for a fence itself (web fencewatch.go) — not
// at its fallback check about a minute later, when a post acknowledged
// meanwhile would have been destroyed with the case. Two nodes on MinIO
// and Redis: the fence is set on node B with its announcement dropped,
// the socket is on node A.
func TestFenceStopsPostsOnSocketsThatMissedTheAnnouncement(t *testing.T) {
	ctx := context.Background()
	b, p, ch := fenceWorld(t)
	// The announcement is lost: node B fences the case and tells no one.
	b.Cases.OnDisposal = nil
	fenced := time.Now()
	if _, err := b.Cases.BeginDisposal(ctx, p.caseID, "p_test"); err != nil {
		t.Fatal(err)
	}
	// Bounded poll, well under the connection's fallback check (54–66 s).
	deadline := fenced.Add(8 * time.Second)
	for i := 0; ; i++ {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := ch.Send(sctx, "joint", fmt.Sprint("after-", i), []byte("x"))
		cancel()
		if err != nil {
			if !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "being disposed of") {
				t.Fatalf("post after the fence refused with %v, want a refusal saying the case is being disposed of", err)
			}
			t.Logf("first post refused %v after the fence, %d taken before", time.Since(fenced).Round(time.Millisecond), i)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d posts taken within 8 s of an unannounced fence: the socket's node did not see it", i+1)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := ch.Send(ctx, "joint", "again", []byte("x")); err == nil || !strings.Contains(err.Error(), "being disposed of") {
		t.Fatalf("a second post after the fence: %v", err)
	}
}

// fenceWorld starts two nodes on MinIO and Redis (a and b), seeds a case
// on a and opens party A's socket on a, subscribed to the joint room, with
// one post taken (the connection's right to post is decided and cached
// then); it returns node b, the case's people and the socket.
func fenceWorld(t *testing.T) (*nodetest.Node, people, *client.Chat) {
	t.Helper()
	cfg := nodetest.Scale(t)
	a, b := nodetest.Start(t, cfg), nodetest.Start(t, cfg)
	ctx := context.Background()
	p := seedCase(t, a, a.URL, a.URL)
	ch, err := client.New(a.URL, p.partyA.Token).Chat(ctx, p.caseID, map[string]*messaging.Position{"joint": nil})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	if _, err := ch.Send(ctx, "joint", "before", []byte("x")); err != nil {
		t.Fatalf("post before the fence: %v", err)
	}
	return b, p, ch
}
