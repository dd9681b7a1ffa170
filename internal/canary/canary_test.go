package canary

import (
	"encoding/base64"
	"encoding/json"
	"testing"
)

// TestFindsEncodedCanaries: a canary is found raw, inside base64 at any
// alignment (as JSON carries a []byte body), and in hex.
func TestFindsEncodedCanaries(t *testing.T) {
	c := "CANARY-7f3a-plaintext"
	for prefix := range 5 {
		body := append(make([]byte, prefix), "xx"+c+"yy"...)
		j, _ := json.Marshal(map[string][]byte{"body": body})
		if len(Find(j, []string{c})) != 1 {
			t.Fatalf("not found in JSON base64 with prefix %d: %s", prefix, j)
		}
		u := base64.URLEncoding.EncodeToString(body)
		if len(Find([]byte(u), []string{c})) != 1 {
			t.Fatalf("not found in URL base64 with prefix %d", prefix)
		}
	}
	if len(Find([]byte("nothing here"), []string{c})) != 0 {
		t.Fatal("false positive")
	}
}
