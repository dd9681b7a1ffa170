package messaging

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestDocsStateTheCompactionTimes: the package doc, docs/messaging.md and
// docs/security.md give the compaction times the code uses (issue #19:
// they said "every second" while the code waited 5 s).
func TestDocsStateTheCompactionTimes(t *testing.T) {
	words := func(d time.Duration) string {
		if d < time.Second {
			return fmt.Sprintf("%d ms", d.Milliseconds())
		}
		return fmt.Sprintf("%d s", int(d.Seconds()))
	}
	tick, wait := words(compactTick), words(defaultTiming.compact)
	early := fmt.Sprintf("%d,%03d messages", compactEarly/1000, compactEarly%1000)
	budget := fmt.Sprintf("more than %d MiB", maxTailBytes>>20)
	for _, f := range []struct {
		path string
		want []string
	}{
		{"doc.go", []string{"every " + tick, "waited " + wait, early, budget}},
		{"../docs/messaging.md", []string{"every\n" + tick, "waited " + wait, early, budget, "within about " + wait,
			fmt.Sprintf("about %.0f/10 of it (%s)", compactReach*10, words(time.Duration(compactReach*float64(defaultTiming.compact)).Round(time.Second))),
			fmt.Sprintf("at least a tenth of the interval (%s)", words(defaultTiming.compact/compactMinAge))}},
		{"../docs/security.md", []string{"compaction within about " + wait}},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(b), "\n// ", "\n")
		for _, w := range f.want {
			if !strings.Contains(text, w) && !strings.Contains(strings.ReplaceAll(text, "\n", " "), strings.ReplaceAll(w, "\n", " ")) {
				t.Errorf("%s does not say %q", f.path, w)
			}
		}
		if strings.Contains(strings.ToLower(text), "every second, compaction") {
			t.Errorf("%s still says compaction runs every second", f.path)
		}
	}
}

// TestDocsStateTheJournalGap: the docs give the object-store journal's
// pause after a busy write as the code has it.
func TestDocsStateTheJournalGap(t *testing.T) {
	gap := fmt.Sprintf("%d ms", objectJournalGap.Milliseconds())
	busy := fmt.Sprintf("%d batches or more arrived during a write", busyJournal)
	for _, f := range []struct {
		path string
		want []string
	}{
		{"doc.go", []string{fmt.Sprintf("%d batches or more arriving during each write", busyJournal), "per " + gap}},
		{"../docs/messaging.md", []string{busy, gap + " after it began"}},
		{"../docs/reliability.md", []string{fmt.Sprintf("%d batches or more arriving during a write", busyJournal), "per " + gap}},
	} {
		b, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(strings.Fields(strings.ReplaceAll(string(b), "\n// ", "\n")), " ")
		for _, w := range f.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not say %q", f.path, w)
			}
		}
	}
}
