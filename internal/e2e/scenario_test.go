package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/messaging"
)

const password = "correct horse battery staple"

// conversation is a case with a mediator and one party per side, each with
// a chat through the load balancer.
type conversation struct {
	caseID string
	chats  map[string]*client.Chat // "mediator", "partyA", "partyB"
	rooms  map[string][]string     // who reads which rooms
	tokens map[string]string       // each person's session token
}

func startConversation(t *testing.T, c *cluster) *conversation {
	t.Helper()
	ctx := context.Background()
	c.cli(password+"\n", "admin", "user", "create", "--email", "med@example.org", "--name", "Mo Mediator", "--role", "mediator", "--password-file", "-")
	med := client.New(c.lb.URL, "")
	if _, err := med.Login(ctx, "med@example.org", password); err != nil {
		t.Fatal(err)
	}
	k, err := med.CreateCase(ctx, "Fault test "+suite.canary("title"), "workplace", "",
		[]string{"Employee " + suite.canary("side"), "Employer"})
	if err != nil {
		t.Fatal(err)
	}
	cv := &conversation{caseID: k.ID, chats: map[string]*client.Chat{}, rooms: map[string][]string{
		"mediator": {"joint", "caucus:A", "caucus:B"},
		"partyA":   {"joint", "caucus:A"},
		"partyB":   {"joint", "caucus:B"},
	}}
	tokens := map[string]string{"mediator": med.Token}
	cv.tokens = tokens
	for _, side := range []string{"A", "B"} {
		// An address too: the invitation's mail (held in the development
		// outbox) and the account then store it, for the at-rest scan.
		inv, err := med.Invite(ctx, k.ID, "party", side, "Party "+suite.canary("party"+side),
			suite.lowerCanary("email"+strings.ToLower(side))+"@example.org", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		pc := client.New(c.lb.URL, "")
		if _, err := pc.Join(ctx, inv.Link); err != nil {
			t.Fatal(err)
		}
		tokens["party"+side] = pc.Token
	}
	for who, rooms := range cv.rooms {
		subs := map[string]*messaging.Position{}
		for _, r := range rooms {
			subs[r] = nil
		}
		ch, err := client.New(c.lb.URL, tokens[who]).Chat(ctx, k.ID, subs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ch.Close)
		cv.chats[who] = ch
	}
	return cv
}

// tally is what one scenario sent, got acknowledged, and received.
type tally struct {
	mu    sync.Mutex
	sent  atomic.Int64
	acked map[string][]string // room → acknowledged ids
}

// talk has each person send n messages to each of their rooms except the
// first (joint gets the mediator's only), concurrently, calling mid once
// a third of them are acknowledged.
func talk(t *testing.T, cv *conversation, n int, mid func()) *tally {
	senders := map[string]string{"mediator": "joint", "partyA": "caucus:A", "partyB": "caucus:B"}
	tl := &tally{acked: map[string][]string{}}
	var ackedCount atomic.Int64
	var once sync.Once
	total := int64(n * len(senders))
	var wg sync.WaitGroup
	for who, room := range senders {
		ch := cv.chats[who]
		wg.Go(func() {
			for i := range n {
				id := fmt.Sprintf("%s-%d", who, i)
				tl.sent.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, err := ch.Send(ctx, room, id, []byte("ciphertext-"+id))
				cancel()
				if err != nil {
					t.Logf("send %s: %v (not acknowledged)", id, err)
					continue
				}
				tl.mu.Lock()
				tl.acked[room] = append(tl.acked[room], id)
				tl.mu.Unlock()
				if ackedCount.Add(1) >= total/3 {
					once.Do(mid)
				}
			}
		})
	}
	wg.Wait()
	return tl
}

// check waits (bounded) for every reader to have every acknowledged message
// of its rooms, then checks order and uniqueness, and logs the table row.
func check(t *testing.T, name string, cv *conversation, tl *tally) {
	t.Helper()
	received := map[string]map[string][]messaging.Message{} // who → room → msgs
	for who := range cv.chats {
		received[who] = map[string][]messaging.Message{}
	}
	complete := func() bool {
		for who, rooms := range cv.rooms {
			for _, r := range rooms {
				if len(received[who][r]) < len(tl.acked[r]) {
					return false
				}
			}
		}
		return true
	}
	deadline := time.After(60 * time.Second)
	for !complete() {
		progressed := false
		for who, ch := range cv.chats {
			select {
			case ev, ok := <-ch.Events():
				if ok && ev.Msg != nil {
					received[who][ev.Room] = append(received[who][ev.Room], *ev.Msg)
				}
				progressed = true
			default:
			}
		}
		if !progressed {
			select {
			case <-deadline:
				t.Fatalf("%s: readers still missing acknowledged messages after 60s", name)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	var lost, dups, disorder int
	var got int
	for who, rooms := range cv.rooms {
		for _, r := range rooms {
			msgs := received[who][r]
			got += len(msgs)
			ids := map[string]int{}
			for i, m := range msgs {
				ids[m.ID]++
				if i > 0 && !msgs[i-1].Pos().Before(m.Pos()) {
					disorder++
				}
			}
			for id, c := range ids {
				if c > 1 {
					dups += c - 1
					t.Errorf("%s: %s got %s %d times in %s", name, who, id, c, r)
				}
			}
			for _, id := range tl.acked[r] {
				if ids[id] == 0 {
					lost++
					t.Errorf("%s: %s never received acknowledged %s in %s", name, who, id, r)
				}
			}
		}
	}
	acked := 0
	for _, ids := range tl.acked {
		acked += len(ids)
	}
	suite.row(t, "%-40s sent %5d  acknowledged %5d  received %6d  lost %d  duplicated %d  out-of-order %d",
		name, tl.sent.Load(), acked, got, lost, dups, disorder)
	if lost+dups+disorder > 0 {
		t.Fatalf("%s: %d lost, %d duplicated, %d out of order", name, lost, dups, disorder)
	}
}

func TestKillNodeMidConversation(t *testing.T) {
	c := newCluster(t, 2)
	cv := startConversation(t, c)
	tl := talk(t, cv, 100, func() { c.kill9(c.nodes[0]) })
	check(t, "kill -9 one of two nodes", cv, tl)
	reconnects := 0
	for _, ch := range cv.chats {
		reconnects += ch.Reconnects
	}
	if reconnects == 0 {
		t.Fatal("no client reconnected: the kill hit no one's connection (scenario proves nothing)")
	}
}

func TestRedisFlushAndRestart(t *testing.T) {
	c := newCluster(t, 2)
	cv := startConversation(t, c)
	tl := talk(t, cv, 100, func() {
		opts, _ := redis.ParseURL(suite.redisURL())
		rc := redis.NewClient(opts)
		if err := rc.FlushAll(context.Background()).Err(); err != nil {
			t.Errorf("FLUSHALL: %v", err)
		}
		rc.Close()
		// The server is stopped (saving nothing) and started again.
		if err := suite.restartRedis(); err != nil {
			t.Errorf("restarting Redis: %v", err)
		}
	})
	check(t, "Redis FLUSHALL and restart", cv, tl)
}
