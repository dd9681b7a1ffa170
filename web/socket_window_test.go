package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/ratelimit"
)

// TestPostAfterRecusalHeardWhileCheckerBusy: the checker's round for an
// earlier announcement re-caches "post" and then blocks (Floor, a store
// read). The recusal is announced and heard meanwhile; a post sent
// afterwards must be decided afresh and refused. Before (review 235), the
// answers went in doubt only when the checker reached its re-check, so
// the post was taken on the answer cached before the recusal and stored
// in the joint room.
func TestPostAfterRecusalHeardWhileCheckerBusy(t *testing.T) {
	ctx := t.Context()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	meta, _ := metastore.New(dir, key)
	seed := sha256.Sum256([]byte("x"))
	signer, _ := audit.NewSigner("test/audit", ed25519.NewKeyFromSeed(seed[:]))
	alog, _ := audit.Open(ctx, dir, signer)
	pol, _ := policy.New()
	cs := cases.NewService(meta, account.NewService(meta, ratelimit.NewMemory()), pol, alog)
	bus := messaging.NewMemory()
	svc := messaging.NewService(messaging.NewLog(dir), bus, messaging.Options{})
	t.Cleanup(svc.Close)
	rooms := caucus.NewService(cs, pol, svc, bus, alog)

	med := account.Account{ID: ids.New("u"), Name: "Mia", Role: policy.RoleMediator}
	c, err := cs.Create(ctx, med, cases.NewCase{Title: "W", Type: "tenancy", SideLabels: []string{"T", "L"}})
	if err != nil {
		t.Fatal(err)
	}
	var floorArmed atomic.Bool
	floorIn := make(chan struct{}, 4)
	floorRelease := make(chan struct{})
	ws := optionsSocket(t, svc, socketOptions{User: med.ID, Auth: rooms.Authorizer(med, c.ID), Watch: caucus.CaseTopic(c.ID),
		Floor: func(ctx context.Context, _ floorCall) []byte {
			if floorArmed.Load() {
				floorIn <- struct{}{}
				select {
				case <-floorRelease:
				case <-ctx.Done():
				}
			}
			return nil
		}})
	t.Cleanup(func() {
		select {
		case <-floorRelease:
		default:
			close(floorRelease)
		}
	})
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: caucus.JointName})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameSubscribed })
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: "m-0", Body: []byte("x")})
	nextFrame(t, ws, func(f api.ServerFrame) bool { return f.Type == api.FrameAck && f.ID == "m-0" })

	// An unrelated change: the checker re-checks, then reads the floor (held).
	floorArmed.Store(true)
	if err := svc.Announce(ctx, caucus.CaseTopic(c.ID), []byte(`{"change":"room.opened","account":"`+med.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-floorIn:
	case <-time.After(10 * time.Second):
		t.Fatal("checker never reached Floor")
	}
	// Recused and announced while the checker is in its Floor read.
	if _, err := cs.Recuse(ctx, med, c.ID, "", "conflict"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Announce(ctx, caucus.CaseTopic(c.ID), []byte(`{"change":"mediator.recused","account":"`+med.ID+`"}`)); err != nil {
		t.Fatal(err)
	}
	// The socket has heard of it (in-process broker delivers synchronously).
	sendFrame(t, ws, api.ClientFrame{Type: api.FramePub, Room: caucus.JointName, ID: "m-1", Body: []byte("after recusal")})
	stored := func() bool {
		msgs, _, err := svc.Page(ctx, c.ID+"/joint", messaging.Position{}, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.ID == "m-1" {
				return true
			}
		}
		return false
	}
	taken := false
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if stored() {
			taken = true
			break
		}
	}
	close(floorRelease)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var endErr error
	for {
		var f api.ServerFrame
		if endErr = ws.ReadJSON(&f); endErr != nil {
			break
		}
	}
	t.Logf("socket ended with %v (CloseAccessLost=%v)", endErr, websocket.IsCloseError(endErr, api.CloseAccessLost))
	if taken {
		t.Fatal("a post sent after the socket heard of its mediator's recusal was stored in the joint room")
	}
}
