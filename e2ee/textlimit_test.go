package e2ee

import (
	"slices"
	"strings"
	"testing"
)

// TestEncryptRefusesTextReadersRefuse: a text over MaxText (below the
// payload limit) or not UTF-8 is refused when encrypting, since every
// reader would refuse it; exactly MaxText bytes is sent and read.
func TestEncryptRefusesTextReadersRefuse(t *testing.T) {
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1))
	med, a1 := w.session(w.med), w.session(w.a1)
	full := strings.Repeat("é", MaxText/2)
	got, errs := deliver(a1, "joint", 1, send(t, med, "joint", 1, full))
	if !slices.Equal(got, []string{full}) || len(errs) != 0 {
		t.Fatalf("a text of exactly %d bytes: read %d texts, errors %v", MaxText, len(got), errs)
	}
	for name, text := range map[string]string{
		"one byte over": strings.Repeat("x", MaxText+1),
		"44 KiB":        strings.Repeat("x", 44<<10),
		"not UTF-8":     "cut in the middle of \xe2\x82",
	} {
		if _, err := med.Encrypt("joint", &Plaintext{Kind: KindText, Text: text}); err == nil {
			t.Fatalf("%s: encrypted a text no reader accepts", name)
		}
	}
}
