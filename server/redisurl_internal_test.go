package server

import (
	"strings"
	"testing"
)

// TestRedisURLErrorsKeepThePasswordOut: a --redis-url that go-redis
// refuses is reported without its password — url.Parse's error quotes the
// whole URL, which went to stderr and the logs.
func TestRedisURLErrorsKeepThePasswordOut(t *testing.T) {
	for _, raw := range []string{
		"redis://:s3cr%t-pass@redis:6379/0",               // invalid escape: url.Parse quotes the URL
		"redis://user:s3cr%t-pass@redis:6379/0",           // with a user name
		"redis://:s3cret-pass@redis:6379/x",               // parses, bad database
		"redis://:s3cret-pass@redis:6379/0?s3cret-pass=1", // an option go-redis does not know, named after it
		"http://:s3cret-pass@redis:6379/0",                // wrong scheme
	} {
		_, err := parseRedisURL(raw)
		if err == nil {
			t.Fatalf("%s: no error", raw)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr") || !strings.HasPrefix(msg, "--redis-url: ") {
			t.Errorf("%s: %q (want --redis-url: …, without the password)", raw, msg)
		}
	}
	if opts, err := parseRedisURL("redis://:s3cret-pass@127.0.0.1:6379/2"); err != nil || opts.Password != "s3cret-pass" || opts.DB != 2 {
		t.Fatalf("a good URL: %+v, %v", opts, err)
	}
}
