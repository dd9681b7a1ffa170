package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// auditCheckpoint is for those who read the audit log (records staff and
// administrators), who keep copies to check later that the log was never
// rewritten (`parley audit verify --checkpoint`). It reveals no entry, but
// its size grows with every audited action, so answered to anyone it let a
// participant time the other side's uploads, carries and recusals.
func (a *API) auditCheckpoint(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AuditRead); err != nil {
		a.writeError(w, r, err)
		return
	}
	cp, err := a.audit.Checkpoint(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(cp)
}

// auditKey is the verifier key (the server's audit public key).
func (a *API) auditKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, a.auditKeyText)
}

// maxAuditPage bounds one page of entries.
const maxAuditPage = 1000

func (a *API) auditEntries(w http.ResponseWriter, r *http.Request) {
	if err := a.authorize(r, policy.AuditRead); err != nil {
		a.writeError(w, r, err)
		return
	}
	from, err := queryInt(r, "from", 0)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	limit, err := queryLimit(r, 100, maxAuditPage)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	size := a.audit.Size()
	out := []api.AuditEntry{}
	for i := from; i < size && i < from+limit; i++ {
		ev, err := a.audit.Entry(r.Context(), i)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		out = append(out, api.AuditEntry{Index: i, Event: api.AuditEvent(ev)})
	}
	writeJSON(w, http.StatusOK, api.AuditEntries{Size: size, Entries: out})
}

func queryInt(r *http.Request, name string, def int64) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fault.Invalid(name, "a non-negative whole number")
	}
	return n, nil
}

// queryLimit reads a page size: def when absent, else 1..max.
func queryLimit(r *http.Request, def, max int64) (int64, error) {
	limit, err := queryInt(r, "limit", def)
	if err != nil {
		return 0, err
	}
	if limit < 1 || limit > max {
		return 0, fault.Invalid("limit", fmt.Sprintf("between 1 and %d", max))
	}
	return limit, nil
}
