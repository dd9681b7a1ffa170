package messaging

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// slowSubscribe is a Broker whose Subscribe to one topic waits until
// released, as a Redis SUBSCRIBE does while Redis is slow or away (each
// attempt up to 5 s, retried).
type slowSubscribe struct {
	Broker
	topic   string
	waiting chan struct{}
	release chan struct{}
}

func (b *slowSubscribe) Subscribe(topic string, fn func([]byte)) func() {
	if topic == b.topic {
		select {
		case b.waiting <- struct{}{}:
		default:
		}
		<-b.release
	}
	return b.Broker.Subscribe(topic, fn)
}

// TestSlowBrokerSubscribeStallsOnlyItsRoom: while a new room's hub waits
// for its broker subscription, the node's other rooms still publish and
// deliver (issue #19's rule: no broker I/O under a lock others wait on).
// Before, the hub subscribed while holding the service's lock, which
// every publish takes to find its room's committer: one slow SUBSCRIBE
// stopped every room on the node.
func TestSlowBrokerSubscribeStallsOnlyItsRoom(t *testing.T) {
	tag := time.Now().UnixNano()
	roomA := Room{ID: fmt.Sprintf("c_subA%d/joint", tag), Name: "joint"}
	roomB := Room{ID: fmt.Sprintf("c_subB%d/joint", tag), Name: "joint"}
	b := &slowSubscribe{Broker: NewMemory(), topic: roomTopic(roomA.ID), waiting: make(chan struct{}, 1), release: make(chan struct{})}
	s := newService(NewLog(stores(t)["dir"](t)), b, Options{}, timing{probe: time.Second, compact: time.Second, sweep: time.Minute})
	defer s.Close()
	released := false
	defer func() {
		if !released {
			close(b.release)
		}
	}()
	liveB := &sink{}
	if _, err := s.Subscribe(t.Context(), roomB, "u1", "c1", nil, liveB); err != nil {
		t.Fatal(err)
	}
	joinedA := make(chan error, 1)
	liveA := &sink{}
	go func() {
		_, err := s.Subscribe(context.Background(), roomA, "u2", "c2", nil, liveA)
		joinedA <- err
	}()
	select {
	case <-b.waiting:
	case <-time.After(10 * time.Second):
		t.Fatal("room A's hub never subscribed")
	}
	published := make(chan error, 1)
	go func() {
		_, err := s.Publish(context.Background(), roomB.ID, Message{ID: "b1", From: "u", Body: []byte("x")})
		published <- err
	}()
	select {
	case err := <-published:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("room B's publish waited for room A's broker subscription")
	}
	if !pollUntil(func() bool { return len(liveB.msgs()) == 1 }) {
		t.Fatal("room B's message was not delivered while room A's subscription hung")
	}
	// Room A's join completes once its subscription does, and then
	// receives what is published there.
	close(b.release)
	released = true
	if err := <-joinedA; err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(t.Context(), roomA.ID, Message{ID: "a1", From: "u", Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(func() bool { return len(liveA.msgs()) == 1 }) {
		t.Fatalf("room A delivered %v after its subscription", ids(liveA.msgs()))
	}
}
