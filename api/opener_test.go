package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestOpenerVectors checks Opener against the opener cases of the shared
// protocol vectors (e2ee/testdata/vectors.json, written by
// `go test ./e2ee -run TestVectors -update`), which the browser's opener
// (web/client/src/e2ee.ts) passes too (TestBrowserVectors): the key
// directory takes a case's first statement only from the mediator Opener
// names, so a browser that named another would sign one it refuses.
func TestOpenerVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.FromSlash("../e2ee/testdata/vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Opener []struct {
			What      string     `json:"what"`
			CreatedBy string     `json:"createdBy"`
			Mediators []Mediator `json:"mediators"`
			Want      string     `json:"want"`
		} `json:"opener"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Opener) < 5 {
		t.Fatalf("%d opener vectors", len(v.Opener))
	}
	for _, c := range v.Opener {
		if got := Opener(c.CreatedBy, c.Mediators); got != c.Want {
			t.Errorf("%s: Opener = %q, want %q", c.What, got, c.Want)
		}
	}
}
