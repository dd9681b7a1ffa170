package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
)

// A case's reference is the program's own number for it (a docket or file
// number, "2026-CV-0142"), set when the case is opened. It is what records
// staff are told ("hold Rivera v. Chen, 2026-CV-0142"), so policy lets
// them see it with a case's summary (never its title or names). It is
// unique in the program, ignoring letter case: an index record
//
//	case-references/<keyed hash of the normalized reference>  → the case id
//
// is created (if-none-match) before the case, so two cases never get the
// same reference; one left behind by a case that was never stored (or by
// one disposed of before retention deleted entries with their case
// record) is taken over once older than referenceGrace. A Create confirms
// and renews its claim after its audit entry, right before writing its
// case (confirmReference), so a Create held up past referenceGrace whose
// claim was taken over writes no case with it. Retention deletes a case's
// entry, every stored version, after its case record, unless another case
// has taken it over.

// MaxReferenceLen bounds a reference.
const MaxReferenceLen = 40

// NormalizeReference checks a reference and returns it as stored (spaces
// trimmed, letters upper-case): 1 to 40 of letters A–Z, digits and the
// separators - / . : _ and space, beginning and ending with a letter or digit.
func NormalizeReference(ref string) (string, error) {
	r := strings.ToUpper(strings.TrimSpace(ref))
	bad := func() (string, error) {
		return "", fault.Invalid("reference", fmt.Sprintf("a docket or file number of at most %d letters, digits and - / . : _ or spaces, such as 2026-CV-0142", MaxReferenceLen))
	}
	if r == "" || len(r) > MaxReferenceLen {
		return bad()
	}
	alnum := func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !alnum(c) && !strings.ContainsRune("-/.:_ ", rune(c)) {
			return bad()
		}
		if c == ' ' && r[i-1] == ' ' {
			return bad()
		}
	}
	if !alnum(r[0]) || !alnum(r[len(r)-1]) {
		return bad()
	}
	return r, nil
}

// ReferencesPrefix is where the index of references is
// (case-references/<keyed hash>: {case, at}). Package retention deletes a
// case's entry with its case record.
const ReferencesPrefix = "case-references/"

func (s *Service) referenceKey(ref string) string {
	return ReferencesPrefix + s.meta.IndexKey("case-reference", ref)
}

type referenceRecord struct {
	Case string    `json:"case"`
	At   time.Time `json:"at"`
}

// referenceGrace is how long a claim whose case is not (yet) stored is
// respected: a create in flight stores its case well within it.
const referenceGrace = time.Minute

// claimReference records that ref belongs to caseID, or says it is taken.
func (s *Service) claimReference(ctx context.Context, ref, caseID string) error {
	key := s.referenceKey(ref)
	now := s.now().UTC()
	_, err := s.meta.Create(ctx, key, referenceRecord{Case: caseID, At: now})
	if !errors.Is(err, metastore.ErrExists) {
		return err
	}
	var held referenceRecord
	etag, err := s.meta.Get(ctx, key, &held)
	if err != nil {
		return err
	}
	taken := fault.Invalid("reference", "another case already has the reference "+ref)
	if _, err := s.reload(ctx, held.Case); !errors.Is(err, fault.ErrNotFound) {
		if err != nil {
			return err
		}
		return taken
	}
	if now.Sub(held.At) < referenceGrace {
		return taken // its case is being stored
	}
	// Left by a case that was never stored (or since disposed of): take it over.
	if _, err := s.meta.Replace(ctx, key, referenceRecord{Case: caseID, At: now}, etag); err != nil {
		return fmt.Errorf("reference %s: %w", ref, fault.ErrConflict)
	}
	return nil
}

// confirmReference is called once a Create's entry is appended, before
// its case is written: the claim on ref must still be caseID's (a Create
// held up past referenceGrace may have had it taken over), and it is
// renewed (its time set to now, conditionally on the claim read), so no
// other Create takes it over for referenceGrace while the case is
// written. Otherwise the reference is refused as taken, and no case is
// written with it.
func (s *Service) confirmReference(ctx context.Context, ref, caseID string) error {
	key := s.referenceKey(ref)
	taken := fault.Invalid("reference", "another case already has the reference "+ref)
	var held referenceRecord
	etag, err := s.meta.Get(ctx, key, &held)
	if errors.Is(err, metastore.ErrNotFound) || err == nil && held.Case != caseID {
		return taken
	}
	if err != nil {
		return err
	}
	if _, err := s.meta.Replace(ctx, key, referenceRecord{Case: caseID, At: s.now().UTC()}, etag); errors.Is(err, metastore.ErrConflict) {
		return taken
	} else if err != nil {
		return err
	}
	return nil
}

// releaseReference gives ref back when a case that claimed it is surely
// not stored (best effort: a claim left behind is taken over after
// referenceGrace). It deletes only the claim it read, if that names
// caseID: that stored version and older ones, never one written since
// (dropVersionsThrough). Before, it read the claim then deleted whatever
// was there, another case's claim written over it meanwhile too.
func (s *Service) releaseReference(ctx context.Context, ref, caseID string) {
	if ref == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	key := s.referenceKey(ref)
	var held referenceRecord
	etag, err := s.meta.Get(ctx, key, &held)
	if err != nil || held.Case != caseID {
		return
	}
	_, _ = dropVersionsThrough(ctx, s.meta.Objects(), key, etag)
}
