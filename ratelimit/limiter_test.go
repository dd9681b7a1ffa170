package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// contract runs the same checks on both implementations.
func contract(t *testing.T, l Limiter) {
	ctx := t.Context()
	key := fmt.Sprintf("k-%d", time.Now().UnixNano())
	for i := range 5 {
		ok, _, err := l.Allow(ctx, key, 5, time.Minute)
		if err != nil || !ok {
			t.Fatalf("attempt %d: ok=%v err=%v", i+1, ok, err)
		}
	}
	ok, retry, err := l.Allow(ctx, key, 5, time.Minute)
	if err != nil || ok {
		t.Fatalf("6th attempt allowed (err %v)", err)
	}
	if retry <= 0 || retry > time.Minute {
		t.Fatalf("retryAfter %v not within the window", retry)
	}
	// Another key has its own budget.
	if ok, _, _ := l.Allow(ctx, key+"-other", 5, time.Minute); !ok {
		t.Fatal("independent key was limited")
	}
	// Concurrent attempts: exactly limit succeed.
	ckey := key + "-conc"
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			if ok, _, err := l.Allow(ctx, ckey, 10, time.Minute); err == nil && ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 10 {
		t.Fatalf("%d of 40 concurrent attempts allowed, want 10", wins.Load())
	}
	// Undo takes one attempt back, never below zero; Count reads without
	// counting.
	ukey := key + "-undo"
	for range 3 {
		l.Allow(ctx, ukey, 3, time.Minute)
	}
	if ok, _, _ := l.Allow(ctx, ukey, 3, time.Minute); ok {
		t.Fatal("4th attempt of 3 allowed")
	}
	for range 2 {
		if err := l.Undo(ctx, ukey); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := l.Count(ctx, ukey); err != nil || n != 2 {
		t.Fatalf("Count after two undos = %d (err %v), want 2", n, err)
	}
	if ok, _, _ := l.Allow(ctx, ukey, 3, time.Minute); !ok {
		t.Fatal("attempt after undo refused")
	}
	for range 5 {
		l.Undo(ctx, ukey)
	}
	if n, _ := l.Count(ctx, ukey); n != 0 {
		t.Fatalf("Count after undoing everything = %d, want 0", n)
	}
	if n, _ := l.Count(ctx, key+"-never"); n != 0 {
		t.Fatalf("Count of an unused key = %d", n)
	}
	// Undo on a missing key does not create a counter.
	l.Undo(ctx, key+"-never")
	if ok, _, _ := l.Allow(ctx, key+"-never", 1, time.Minute); !ok {
		t.Fatal("undo on a missing key left a negative or stuck counter")
	}
	// Remember marks a key for a while.
	rkey := key + "-mark"
	if err := l.Remember(ctx, rkey, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Count(ctx, rkey); n != 1 {
		t.Fatalf("Count of a remembered key = %d, want 1", n)
	}
	deadline := time.Now().Add(2 * time.Second)
	for n, _ := l.Count(ctx, rkey); n != 0; n, _ = l.Count(ctx, rkey) {
		if time.Now().After(deadline) {
			t.Fatal("remembered key never expired")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A short window expires.
	skey := key + "-short"
	l.Allow(ctx, skey, 1, 50*time.Millisecond)
	if ok, _, _ := l.Allow(ctx, skey, 1, 50*time.Millisecond); ok {
		t.Fatal("second attempt in window allowed")
	}
	time.Sleep(80 * time.Millisecond)
	if ok, _, _ := l.Allow(ctx, skey, 1, 50*time.Millisecond); !ok {
		t.Fatal("attempt after window expiry refused")
	}
}

func TestMemory(t *testing.T) { contract(t, NewMemory()) }

func TestRedis(t *testing.T) {
	opts, err := redis.ParseURL(testenv.RedisURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	contract(t, NewRedis(c))
}
