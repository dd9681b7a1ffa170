package mail

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/mailpit"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
)

// TestMain doubles as a sender node for the kill -9 test: run with
// PARLEY_OUTBOX_CHILD set, the test binary is one node's sender loop and
// nothing else, until it is killed.
func TestMain(m *testing.M) {
	if os.Getenv("PARLEY_OUTBOX_CHILD") != "" {
		childNode()
		return
	}
	os.Exit(m.Run())
}

// childNode runs an outbox over the bucket named in its environment and
// says on stdout when it claims and when it has handed a message over, then
// waits a moment at the point given (before or after the send), so that
// the parent's SIGKILL lands exactly there.
func childNode() {
	env := func(k string) string { return os.Getenv("PARLEY_OUTBOX_CHILD_" + k) }
	store, err := objstore.OpenS3(context.Background(), objstore.S3Config{Endpoint: env("S3"), AccessKey: env("AK"),
		SecretKey: env("SK"), Bucket: env("BUCKET"), Insecure: true})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	key, _ := hex.DecodeString(env("KEY"))
	meta, err := metastore.New(store, key)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	tr, err := NewSMTP(SMTPConfig{URL: "smtp://" + env("SMTP") + "?starttls=off", From: "sessions@parley.test", Timeout: 5 * time.Second})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	stopAt, _ := strconv.Atoi(env("STOP_AT"))
	var mu sync.Mutex
	n := 0
	pause := func(point string, m *Message) {
		mu.Lock()
		n++
		last := n == stopAt
		mu.Unlock()
		fmt.Printf("%s %s\n", point, m.ID)
		if last {
			fmt.Printf("stopped %s %s\n", point, m.ID)
			time.Sleep(time.Minute) // the parent kills us here
		}
	}
	cfg := Config{Meta: meta, Transport: tr, Node: "child", Poll: 20 * time.Millisecond}
	if env("POINT") == "before-send" {
		cfg.OnSendStart = func(m *Message) { pause("claimed", m) }
	} else {
		cfg.OnSent = func(m *Message, err error) { pause("sent", m) }
	}
	New(cfg).Run(context.Background())
}

type sharedBucket struct {
	cfg objstore.S3Config
	key []byte
}

func newSharedBucket(t *testing.T) sharedBucket {
	return sharedBucket{cfg: testenv.S3(t), key: randomKey(t)}
}

func (b sharedBucket) outbox(t *testing.T, c Config) *Outbox {
	t.Helper()
	store, err := objstore.OpenS3(t.Context(), b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Meta = newMeta(t, store, b.key)
	return New(c)
}

// settle runs o until no message is due any more (bounded).
func settle(t *testing.T, o *Outbox, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if _, err := o.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
		var due int
		o.cfg.Meta.List(t.Context(), "outbox/due/", func(string) error { due++; return nil })
		if due == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages still due after %v", due, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tally checks every message of the run: arrived at most once (no
// duplicates), and either sent and arrived, or surfaced to the mediator as
// uncertain (no losses). It returns the uncertain ones.
func tally(t *testing.T, o *Outbox, mp *mailpit.Client, pfx string, total int) (uncertain []Message) {
	t.Helper()
	arrived := map[string]int{}
	got, err := mp.Outbox(sentIDs(o, "c-test")).WithPrefix(pfx)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := o.List(t.Context(), "c-test")
	if err != nil {
		t.Fatal(err)
	}
	sent := map[string]string{}
	for _, m := range msgs {
		sent[m.MessageID] = m.ID
	}
	for _, s := range got {
		local, _, _ := strings.Cut(s.MessageID, "@")
		arrived[sent[local]]++
	}
	if len(msgs) != total {
		t.Fatalf("outbox holds %d messages, want %d", len(msgs), total)
	}
	dups, lost := 0, 0
	for _, m := range msgs {
		if arrived[m.ID] > 1 {
			dups++
			t.Errorf("%s arrived %d times", m.ID, arrived[m.ID])
		}
		switch m.State {
		case Sent:
			if arrived[m.ID] != 1 {
				lost++
				t.Errorf("%s is marked sent but arrived %d times", m.ID, arrived[m.ID])
			}
		case Uncertain:
			uncertain = append(uncertain, m)
		default:
			lost++
			t.Errorf("%s ended %s", m.ID, m.State)
		}
	}
	t.Logf("%d messages: %d arrived, %d uncertain (shown to the mediator), %d duplicates, %d lost", total, len(arrived), len(uncertain), dups, lost)
	return uncertain
}

// Two nodes share one bucket and send the same outbox at once: every
// message arrives exactly once.
func TestTwoNodesSendEachMessageOnce(t *testing.T) {
	mp := mailpit.FromEnv(t)
	b := newSharedBucket(t)
	pfx := prefix(t)
	const total = 60
	a := b.outbox(t, Config{Node: "a", Transport: mailpitTransport(t, mp), Poll: 10 * time.Millisecond})
	c := b.outbox(t, Config{Node: "b", Transport: mailpitTransport(t, mp), Poll: 10 * time.Millisecond})
	for i := range total {
		if err := a.Enqueue(t.Context(), testMessage(pfx, i)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	sentBy := map[string]int{}
	var mu sync.Mutex
	for _, o := range []*Outbox{a, c} {
		o.cfg.OnSent = func(m *Message, err error) {
			mu.Lock()
			sentBy[m.ClaimedBy]++
			mu.Unlock()
		}
		wg.Go(func() { o.Run(ctx) })
	}
	settle(t, a, 60*time.Second)
	cancel()
	wg.Wait()
	mp.Outbox(sentIDs(a, "c-test")).WaitFor(t, pfx, total, 10*time.Second)
	if u := tally(t, a, mp, pfx, total); len(u) != 0 {
		t.Fatalf("%d uncertain without a crash", len(u))
	}
	t.Logf("sent by node: %v", sentBy)
	if sentBy["a"]+sentBy["b"] != total {
		t.Fatalf("transport called %d times for %d messages", sentBy["a"]+sentBy["b"], total)
	}
}

// A sender node is killed with SIGKILL in the middle of sending (once just
// after claiming a message, once just after the SMTP server took it and
// before the outcome was recorded); a second node finishes the outbox.
// Nothing arrives twice, and nothing is lost: every message is sent, or
// shown to the mediator as "may not have been delivered".
func TestKillNineMidSend(t *testing.T) {
	for _, point := range []string{"before-send", "after-send"} {
		t.Run(point, func(t *testing.T) {
			mp := mailpit.FromEnv(t)
			b := newSharedBucket(t)
			pfx := prefix(t)
			const total, stopAt = 40, 15
			survivor := b.outbox(t, Config{Node: "survivor", Transport: mailpitTransport(t, mp), Lease: 3 * time.Second})
			for i := range total {
				if err := survivor.Enqueue(t.Context(), testMessage(pfx, i)); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PARLEY_OUTBOX_CHILD=1",
				"PARLEY_OUTBOX_CHILD_S3="+b.cfg.Endpoint, "PARLEY_OUTBOX_CHILD_AK="+b.cfg.AccessKey,
				"PARLEY_OUTBOX_CHILD_SK="+b.cfg.SecretKey, "PARLEY_OUTBOX_CHILD_BUCKET="+b.cfg.Bucket,
				"PARLEY_OUTBOX_CHILD_KEY="+hex.EncodeToString(b.key), "PARLEY_OUTBOX_CHILD_SMTP="+mp.SMTP,
				"PARLEY_OUTBOX_CHILD_STOP_AT="+strconv.Itoa(stopAt), "PARLEY_OUTBOX_CHILD_POINT="+point)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := make(chan string)
			go func() {
				defer close(lines)
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
			var stoppedAt string
			timeout := time.After(60 * time.Second)
			for stoppedAt == "" {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatal("the child node exited by itself")
					}
					if rest, ok := strings.CutPrefix(l, "stopped "); ok {
						stoppedAt = strings.Fields(rest)[1]
					} else if strings.HasPrefix(l, "error") {
						t.Fatal(l)
					}
				case <-timeout:
					t.Fatal("the child node never reached its stop")
				}
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			for range lines {
			}
			settle(t, survivor, 60*time.Second)
			uncertain := tally(t, survivor, mp, pfx, total)
			if len(uncertain) != 1 || uncertain[0].ID != stoppedAt {
				t.Fatalf("uncertain %v, want exactly the message in flight, %s", uncertain, stoppedAt)
			}
			got, _ := mp.Outbox(sentIDs(survivor, "c-test")).WithPrefix(stoppedAt)
			wantArrived := 0
			if point == "after-send" {
				wantArrived = 1
			}
			if len(got) != wantArrived {
				t.Fatalf("the message in flight arrived %d times, want %d", len(got), wantArrived)
			}
		})
	}
}
