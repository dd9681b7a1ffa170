package ratelimit

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is the shared Limiter of scale mode.
type Redis struct {
	client *redis.Client
	prefix string
}

// NewRedis counts in client under keys prefixed "parley:rl:".
func NewRedis(client *redis.Client) *Redis {
	return &Redis{client: client, prefix: "parley:rl:"}
}

// allowScript increments the counter and starts its expiry on the first hit,
// atomically, and returns the count and the remaining milliseconds.
var allowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
`)

// Allow implements Limiter.
func (r *Redis) Allow(ctx context.Context, key string, limit int, per time.Duration) (bool, time.Duration, error) {
	res, err := allowScript.Run(ctx, r.client, []string{r.prefix + key}, per.Milliseconds()).Int64Slice()
	if err != nil {
		return false, 0, err
	}
	if int(res[0]) > limit {
		return false, time.Duration(res[1]) * time.Millisecond, nil
	}
	return true, 0, nil
}

// undoScript decrements only a live counter above zero: a plain DECR on an
// expired key would create a counter without expiry.
var undoScript = redis.NewScript(`
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return 0
`)

// Undo implements Limiter.
func (r *Redis) Undo(ctx context.Context, key string) error {
	return undoScript.Run(ctx, r.client, []string{r.prefix + key}).Err()
}

// Count implements Limiter.
func (r *Redis) Count(ctx context.Context, key string) (int, error) {
	n, err := r.client.Get(ctx, r.prefix+key).Int()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// Remember implements Limiter.
func (r *Redis) Remember(ctx context.Context, key string, ttl time.Duration) error {
	return r.client.Set(ctx, r.prefix+key, 1, ttl).Err()
}
