package vault

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// A transfer (package retention) hands a closed case's file to an archive
// or a court, encrypted to the recipient, before the case is destroyed.
// The vault's part is to list a case's documents with what policy needs
// to decide which may go (TransferCandidates), and to open a version the
// retention job has decided may go (OpenForTransfer). Neither decides
// access nor audits: the retention job asks policy
// (policy.DecideTransferDocument) and audits the transfer before it opens
// anything.

// TransferCandidate is a stored (not erased) document version as a
// transfer sees it: its audience and class for the decision, its name,
// media type and hash for the bundle.
type TransferCandidate struct {
	Doc       string
	Version   int
	Name      string
	MediaType string
	Class     Class
	Audience  Audience
	Size      int64
	SHA256    string
	// Commit: the keyed hash the audit log carries for the content.
	Commit string
}

// Policy is the document as policy sees it.
func (c TransferCandidate) Policy() policy.Document { return policyDoc(c.Audience, c.Class) }

// TransferCandidates lists every stored version of every document of a
// case.
func (s *Service) TransferCandidates(ctx context.Context, caseID string) ([]TransferCandidate, error) {
	var out []TransferCandidate
	err := s.eachDocument(ctx, caseID, func(d *docRecord) error {
		for _, v := range d.Versions {
			// An end-to-end encrypted version is not the server's to
			// hand over: it holds no key to it.
			if v.Erased || v.E2EE {
				continue
			}
			out = append(out, TransferCandidate{Doc: d.ID, Version: v.Version, Name: v.Name, MediaType: v.MediaType,
				Class: d.Class, Audience: d.Audience, Size: v.Size, SHA256: v.SHA256, Commit: s.commit(v.SHA256)})
		}
		return nil
	})
	return out, err
}

// OpenForTransfer opens one version's plaintext, checked against its
// recorded size and SHA-256 as it is read. The caller has decided it may
// go (policy.DecideTransferDocument on c.Policy()) and audited it.
func (s *Service) OpenForTransfer(ctx context.Context, caseID string, c TransferCandidate) (io.ReadCloser, error) {
	b := Binding{Case: caseID, Doc: c.Doc, Version: c.Version}
	var vr versionRecord
	if _, err := s.meta.Get(ctx, versionKey(caseID, c.Doc, c.Version), &vr); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, fmt.Errorf("document %s version %d has no key (erased): %w", c.Doc, c.Version, fault.ErrGone)
		}
		return nil, err
	}
	caseKey, err := caseKeyForRead(ctx, s.store, s.mk, caseID)
	if err != nil {
		return nil, err
	}
	dataKey, err := unwrapDataKey(caseKey, vr.WrappedKey, b)
	if err != nil {
		return nil, err
	}
	sha, err := hex.DecodeString(c.SHA256)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: recorded hash unreadable", describe(b), ErrIntegrity)
	}
	rc, _, err := s.store.Get(ctx, objectKey(caseID, c.Doc, c.Version), objstore.GetOptions{})
	if err != nil {
		return nil, err
	}
	r, err := NewReader(rc, dataKey, b, &Verify{Size: c.Size, SHA256: sha})
	if err != nil {
		rc.Close()
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{r, rc}, nil
}
