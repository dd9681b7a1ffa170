package cases

import (
	"context"
	"errors"
	"time"

	"github.com/parley-mediation/parley/metastore"
)

// Stub is what stays of a case once retention has disposed of it: the
// facts program evaluation counts, already in the export's bands, and
// nothing personal — no title, no names, emails, side labels, notes,
// comments or exact dates. The evaluation export counts a stub as it
// counts a case, so a report run after disposal still counts the case.
// It is its own record class (statistical-stub) with its own period.
type Stub struct {
	Case string    `json:"case"` // the opaque case id, as in the audit log
	Made time.Time `json:"made"`
	// Opened is the first day of the month the case opened.
	Opened time.Time `json:"opened"`
	// Cells are the evaluation export's columns after case_token and up
	// to the survey means (banded; a mean only where the export's minimum
	// of responses was met). Package evaluation makes and reads them.
	Cells []string `json:"cells"`
	// Responses is how many survey responses the case had.
	Responses int `json:"responses"`
}

// StubsPrefix is where stubs are stored, one sealed record per case.
const StubsPrefix = "stubs/cases/"

// StubKey is where a case's stub is stored.
func StubKey(caseID string) string { return StubsPrefix + caseID }

// SaveStub stores a case's stub, once: a stub already stored is kept (a
// disposal run again after a crash makes the same stub).
func (s *Service) SaveStub(ctx context.Context, st Stub) error {
	_, err := s.meta.Create(ctx, StubKey(st.Case), st)
	if errors.Is(err, metastore.ErrExists) {
		return nil
	}
	return err
}

// Stubs calls fn with every stored stub.
func (s *Service) Stubs(ctx context.Context, fn func(*Stub) error) error {
	return s.meta.List(ctx, StubsPrefix, func(key string) error {
		var st Stub
		if _, err := s.meta.Get(ctx, key, &st); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil // disposed of meanwhile
			}
			return err
		}
		return fn(&st)
	})
}
