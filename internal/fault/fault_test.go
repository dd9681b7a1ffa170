package fault

import (
	"testing"
	"time"
)

// TestRateLimitedSaysTheWaitInWords: the one line a person reads (CLI,
// problem detail) names the wait in words, rounded up, never Go's "15m0s".
func TestRateLimitedSaysTheWaitInWords(t *testing.T) {
	for _, c := range []struct {
		err  RateLimitedError
		want string
	}{
		{RateLimitedError{RetryAfter: 15 * time.Minute, Reason: "too many links asked for"}, "too many links asked for; try again in 15 minutes"},
		{RateLimitedError{RetryAfter: 23*time.Second + time.Millisecond}, "too many attempts; try again in 24 seconds"},
		{RateLimitedError{RetryAfter: 200 * time.Millisecond}, "too many attempts; try again in a second"},
		{RateLimitedError{RetryAfter: 61 * time.Second}, "too many attempts; try again in 2 minutes"},
		{RateLimitedError{RetryAfter: time.Minute}, "too many attempts; try again in a minute"},
		{RateLimitedError{RetryAfter: time.Hour}, "too many attempts; try again in an hour"},
		{RateLimitedError{RetryAfter: 90 * time.Minute}, "too many attempts; try again in 2 hours"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%v: %q, want %q", c.err.RetryAfter, got, c.want)
		}
	}
}
