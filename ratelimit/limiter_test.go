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
