package web

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
)

type staleAuth struct {
	calls   atomic.Int32
	unblock chan struct{}
}

func (a *staleAuth) Resolve(ctx context.Context, name, action string) (messaging.Room, error) {
	if a.calls.Add(1) == 1 {
		<-a.unblock // a read that began before the removal, answering "allowed"
		return messaging.Room{ID: "c1/joint", Name: name}, nil
	}
	return messaging.Room{}, errors.New("store: unavailable") // decided nothing
}
func (a *staleAuth) Invalidate() {}

// TestHeldFramesStayHeldWhenCaseCannotBeRead: a person's own removal is
// announced while their socket has no room subscribed, and the re-check
// cannot read the case (CaseGone answers an error); a subscribe whose
// answer was read before the removal lands meanwhile. Nothing may reach
// them until a check decides. Before (review 235), CaseGone answered
// "not gone" on an outage, the re-check counted as decided, the hold was
// released and the room streamed to the removed person, a message
// published after the removal included.
func TestHeldFramesStayHeldWhenCaseCannotBeRead(t *testing.T) {
	ctx := t.Context()
	dir, err := objstore.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	bus := messaging.NewMemory()
	svc := messaging.NewService(messaging.NewLog(dir), bus, messaging.Options{})
	t.Cleanup(svc.Close)
	if _, err := svc.Publish(ctx, "c1/joint", messaging.Message{ID: "old", From: "u-other", Body: []byte("secret-before")}); err != nil {
		t.Fatal(err)
	}
	auth := &staleAuth{unblock: make(chan struct{})}
	rechecked := make(chan struct{}, 8)
	user := "u-removed"
	ws := optionsSocket(t, svc, socketOptions{User: user, Auth: auth, Watch: "case:c1",
		CaseGone:  func(context.Context) (bool, error) { return false, errors.New("store unavailable") }, // the store could not answer
		rechecked: func() { rechecked <- struct{}{} }})
	sendFrame(t, ws, api.ClientFrame{Type: api.FrameSub, Room: "joint", From: &api.Position{}})
	for deadline := time.Now().Add(10 * time.Second); auth.calls.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the subscribe never asked about the room")
		}
	}
	if err := svc.Announce(ctx, "case:c1", []byte(`{"change":"participant.removed","account":"`+user+`"}`)); err != nil {
		t.Fatal(err)
	}
	<-rechecked
	close(auth.unblock)
	<-rechecked // the re-check the subscribe kicks (missed): undecided, room kept
	if _, err := svc.Publish(ctx, "c1/joint", messaging.Message{ID: "new", From: "u-other", Body: []byte("secret-after")}); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	var got []string
	for {
		var f api.ServerFrame
		if ws.ReadJSON(&f) != nil {
			break
		}
		b, _ := json.Marshal(f)
		got = append(got, string(b))
		if f.Msg != nil {
			got = append(got, "msg "+f.Msg.ID)
		}
	}
	t.Logf("frames the removed person received: %v", got)
	if len(got) > 0 {
		t.Fatal("frames went to a person after their own removal was announced, no check having decided")
	}
}
