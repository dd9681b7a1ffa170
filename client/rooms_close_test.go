package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/metastore"
)

// TestSignedCloseStands: a mediator closes a room they opened; their
// device signs the closing into the membership chain, so the party's
// client refuses to write there. The server then "reopens" it — clears
// the closing in its record and leaves the closing entry out — and the
// party's client, which saw the closing, still refuses: closed is the
// mediator's signed word, not the server's.
func TestSignedCloseStands(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	room := openAveryAlone(t, tc, med)
	a := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 5 * time.Second})
	send(t, a, room.Room, "before closing")

	closed, err := med.CloseRoom(ctx, room.Room)
	if err != nil || closed.Closed == nil {
		t.Fatalf("close: %+v %v", closed, err)
	}
	if _, ok := med.Chain().Closed(room.Room); !ok {
		t.Fatal("the mediator's chain does not hold the signed closing")
	}
	sendCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := a.Send(sendCtx, room.Room, "after closing"); !errors.Is(err, e2ee.ErrRoomClosed) {
		t.Fatalf("the party wrote in a signed-closed room: %v", err)
	}

	// The server reopens the room and hides its closing.
	if _, err := metastore.Update(ctx, n.Meta, "cases/"+tc.caseID+"/case", func(c *cases.Case) error {
		c.Rooms[0].Closed, c.Rooms[0].ClosedBy = nil, ""
		c.Rooms[0].Entries = c.Rooms[0].Entries[:1]
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(sendCtx, room.Room, "reopened?"); !errors.Is(err, e2ee.ErrRoomClosed) {
		t.Fatalf("the party wrote in a room the server reopened: %v", err)
	}
	// A fresh chat (a new CLI process, a reloaded page) builds its chain
	// from the server's list again: the closing this device saw is kept
	// with its statement pin, so it still stands (review F2).
	a.Close()
	fresh := open(t, tc.a, tc.caseID, client.SecureOptions{StatementWait: 5 * time.Second})
	if _, ok := fresh.Chain().Closed(room.Room); !ok {
		t.Fatal("a fresh chat of the party does not hold the signed closing")
	}
	if _, err := fresh.Send(sendCtx, room.Room, "reopened, fresh?"); !errors.Is(err, e2ee.ErrRoomClosed) {
		t.Fatalf("a fresh chat of the party wrote in a room the server reopened: %v", err)
	}
}

// openAveryAlone opens a room of the mediator and party A and waits until
// the mediator's chain holds it signed.
func openAveryAlone(t *testing.T, tc *e2eeCase, med *client.SecureChat) api.DefinedRoom {
	t.Helper()
	room, err := med.OpenRoom(context.Background(), "Avery alone", []string{tc.med.id, tc.a.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	signedRoom(t, med, room.Room, 1)
	return room
}

// TestCloseRetryAfterFailedSigning (review F3): a mediator's device closed
// a room on the server and handed it the closing entry, then failed before
// signing (a crash, a lost connection). A retry signs the closing entry
// the server already keeps (after checking it is this room's closing)
// instead of making a fresh one the server refuses, so the room ends up
// closed end to end, not only on the server's word.
func TestCloseRetryAfterFailedSigning(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx := context.Background()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	room := openAveryAlone(t, tc, med)
	// The first attempt: closed on the server, entry handed over, no signature.
	if _, err := tc.med.c.CloseRoom(ctx, tc.caseID, room.Room); err != nil {
		t.Fatal(err)
	}
	closing, err := e2ee.NewRoomEntry(tc.caseID, room.Room, e2ee.EntryClose, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.med.c.AddRoomEntry(ctx, tc.caseID, room.Room, closing.Raw); err != nil {
		t.Fatal(err)
	}
	if _, err := med.CloseRoom(ctx, room.Room); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if _, ok := med.Chain().Closed(room.Room); !ok {
		t.Fatal("the retry left the room closed only on the server's word")
	}
	if st := med.Chain().Latest(); st == nil || func() bool { _, ok := st.Room(closing.Slot()); return !ok }() {
		t.Fatal("the retry did not sign the closing entry the server keeps")
	}
}
