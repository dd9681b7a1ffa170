package client

import (
	"encoding/json"
	"testing"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/messaging"
)

// FuzzServerFrame feeds arbitrary server frames to the chat's decoder:
// nothing may panic, and positions never move backwards.
func FuzzServerFrame(f *testing.F) {
	f.Add([]byte(`{"t":"msgs","room":"joint","ms":[{"epoch":1,"offset":1,"id":"a","from":"u","at":1,"body":"eA=="}]}`))
	f.Add([]byte(`{"t":"seal","room":"joint","epoch":1,"seal":{"next":2,"reason":"{}"}}`))
	f.Add([]byte(`{"t":"subscribed","room":"joint","head":{"epoch":3,"offset":9}}`))
	f.Add([]byte(`{"t":"ack","room":"joint","id":"x","m":{"epoch":1,"offset":2}}`))
	f.Add([]byte(`{"t":"presence","room":"joint","user":"u","here":true}`))
	f.Add([]byte(`{"t":"error","room":"caucus:A","code":"forbidden"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ch := &Chat{events: make(chan Event, 1024), pos: map[string]*messaging.Position{"joint": {Epoch: 1, Offset: 5}},
			pending: map[string]*outgoing{}, seen: map[string]bool{}, done: make(chan struct{}),
			waiting: map[string]bool{"joint": true}, ready: make(chan struct{})}
		var fr api.ServerFrame
		if json.Unmarshal(data, &fr) != nil || fr.Type == "reload" {
			return // reload pages over HTTP; not a decoder concern
		}
		before := *ch.pos["joint"]
		ch.handle(&fr)
		if p := ch.pos["joint"]; p != nil && p.Before(before) {
			t.Fatalf("position moved backwards: %+v → %+v", before, *p)
		}
	})
}
