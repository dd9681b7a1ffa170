package client_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/messaging"
)

// noticeIn reports whether p reads the mediator's notice text in room.
func noticeIn(t *testing.T, p person, caseID, room, text string) bool {
	t.Helper()
	evs, err := p.x.ReadRoom(context.Background(), caseID, room, messaging.Position{})
	if err != nil {
		t.Fatalf("%s reads %s: %v", p.id, room, err)
	}
	for _, ev := range evs {
		if ev.Rejected == nil && ev.Kind == e2ee.KindNotice && ev.Text == text {
			return true
		}
	}
	return false
}

// TestBroadcastLeavesOutClosedRooms: a mediator opens two rooms of their
// own (one with each party), then closes one. A notice "to every room"
// from a fresh chat (the CLI's, a reloaded page's) goes to the joint
// room, both caucuses and the open defined room, all of them, and leaves
// the closed room out: it neither fails there nor stops partway.
func TestBroadcastLeavesOutClosedRooms(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	closed := openAveryAlone(t, tc, med)
	blake, err := med.OpenRoom(ctx, "Blake alone", []string{tc.med.id, tc.b.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	signedRoom(t, med, blake.Room, 1)
	if _, err := med.CloseRoom(ctx, closed.Room); err != nil {
		t.Fatal(err)
	}
	med.Close()

	fresh := open(t, tc.med, tc.caseID, client.SecureOptions{})
	want := []string{"joint", "caucus:A", "caucus:B", blake.Room}
	got := fresh.BroadcastRooms()
	if slices.Contains(got, closed.Room) {
		t.Fatalf("the notice would go to the closed room: %v", got)
	}
	for _, r := range want {
		if !slices.Contains(got, r) {
			t.Fatalf("the notice would not go to %s: %v", r, got)
		}
	}
	sent, err := fresh.Broadcast(ctx, "We resume in ten minutes")
	if err != nil {
		t.Fatalf("broadcast after a room was closed: %v (sent to %v)", err, sent)
	}
	if !sameSet(sent, want) {
		t.Fatalf("sent to %v, want %v", sent, want)
	}
	for _, c := range []struct {
		p    person
		room string
	}{{tc.a, "joint"}, {tc.a, "caucus:A"}, {tc.b, "caucus:B"}, {tc.b, blake.Room}} {
		if !noticeIn(t, c.p, tc.caseID, c.room, "We resume in ten minutes") {
			t.Fatalf("%s did not get the notice in %s", c.p.id, c.room)
		}
	}
	if noticeIn(t, tc.a, tc.caseID, closed.Room, "We resume in ten minutes") {
		t.Fatal("the notice was written in the closed room")
	}
}

// TestBroadcastGoesOnPastAFailingRoom: one room refuses the notice (the
// server closed it, and the mediator's device has not signed the closing
// yet, so the client does not know it is closed). The notice still goes
// to every other room, including those after it, and the error names the
// room that did not get it.
func TestBroadcastGoesOnPastAFailingRoom(t *testing.T) {
	t.Parallel()
	n := nodetest.Embedded(t)
	tc := seedE2EE(t, n)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	med := open(t, tc.med, tc.caseID, client.SecureOptions{})
	failing := openAveryAlone(t, tc, med)
	later, err := med.OpenRoom(ctx, "Blake alone", []string{tc.med.id, tc.b.id}, false)
	if err != nil {
		t.Fatal(err)
	}
	signedRoom(t, med, later.Room, 1)
	med.Close()
	// Closed on the server only: posts there are refused.
	if _, err := tc.med.c.CloseRoom(ctx, tc.caseID, failing.Room); err != nil {
		t.Fatal(err)
	}

	fresh := open(t, tc.med, tc.caseID, client.SecureOptions{})
	rooms := fresh.BroadcastRooms()
	if i, j := slices.Index(rooms, failing.Room), slices.Index(rooms, later.Room); i < 0 || j < i {
		t.Fatalf("the test needs the failing room before another open one: %v", rooms)
	}
	sent, err := fresh.Broadcast(ctx, "Lunch break")
	var be *client.BroadcastError
	if !errors.As(err, &be) {
		t.Fatalf("broadcast with a refusing room: %v, want a BroadcastError", err)
	}
	if len(be.Failed) != 1 || be.Failed[0].Room != failing.Room {
		t.Fatalf("failed rooms %+v, want only %s", be.Failed, failing.Room)
	}
	want := []string{"joint", "caucus:A", "caucus:B", later.Room}
	if !sameSet(sent, want) || !sameSet(be.Sent, want) {
		t.Fatalf("sent to %v (error says %v), want %v", sent, be.Sent, want)
	}
	if !noticeIn(t, tc.b, tc.caseID, later.Room, "Lunch break") {
		t.Fatal("the room after the failing one did not get the notice")
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
