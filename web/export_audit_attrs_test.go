package web

import (
	"fmt"
	"strings"
	"testing"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/evaluation"
)

// The evaluation.export audit entry stays within the audit log's limits
// however long the quasi-identifier list grows: the list is split across
// attributes of whole names, each at most audit.MaxAttrValue bytes, which
// join back to the list. With one attribute for the whole list (193 bytes
// of 256 when this was written) a few more names failed every export at
// its audit append.
func TestExportAuditAttrsFitAnyQuasiIdentifierList(t *testing.T) {
	long := append([]string{}, evaluation.QuasiIdentifiers...)
	for i := range 20 {
		long = append(long, fmt.Sprintf("days_in_a_stage_not_yet_named_%02d", i))
	}
	for _, qis := range [][]string{evaluation.QuasiIdentifiers, long} {
		attrs := exportAuditAttrs(map[string]string{"from": "2026-01-01", "to": "2026-12-31", "rows": "1000", "format": "jsonl",
			"encrypted": "true", "suppressed": "1000", "k": "100", "minSurveyResponses": "3"}, qis)
		e := audit.Event{Type: "evaluation.export", Actor: "u0123456789abcdef", Hashes: []string{"sha256:" + strings.Repeat("0", 64)}, Attrs: attrs}
		if err := e.Validate(); err != nil {
			t.Fatalf("%d quasi-identifiers: %v", len(qis), err)
		}
		var parts []string
		for n := 1; ; n++ {
			k := "quasiIdentifiers"
			if n > 1 {
				k = fmt.Sprintf("quasiIdentifiers%d", n)
			}
			v, ok := attrs[k]
			if !ok {
				break
			}
			parts = append(parts, v)
		}
		if got, want := strings.Join(parts, ","), strings.Join(qis, ","); got != want {
			t.Fatalf("the attributes join to %q, want %q", got, want)
		}
	}
}
