package agreement

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// Docs is where an agreement's texts and its signed PDF are kept: the seam
// between this package and the document store. Today it is the vault
// (VaultDocs: server-side envelope encryption); a document store that
// encrypts end to end replaces it here without touching the rest of the
// package (the hashes signed are of the plaintext, computed by whoever
// holds it).
type Docs interface {
	// Create stores text as version 1 of a new document in the case's
	// joint room, record class agreement; it returns the document's id and
	// the store's version number.
	Create(ctx context.Context, actor account.Account, caseID, name string, text []byte) (docID string, version int, err error)
	// AddVersion stores text as a new version of docID.
	AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (version int, err error)
	// Find returns the oldest version of docID numbered above after whose
	// text has SHA-256 sha (lower-case hex), 0 if none or if there is no
	// such document (or none actor may see): how a write the store did not
	// confirm is found once it landed. A document not there (yet) is not
	// an access attempt: it writes no audit entry.
	Find(ctx context.Context, actor account.Account, caseID, docID, sha string, after int) (version int, err error)
	// Read returns a version's bytes (at most max, else an error).
	Read(ctx context.Context, actor account.Account, caseID, docID string, version int, max int64) ([]byte, error)
	// File stores a finished document (the signed PDF) in the joint room,
	// record class agreement.
	File(ctx context.Context, actor account.Account, caseID, name, mediaType string, body []byte) (docID string, err error)
}

// VaultDocs keeps agreements in the vault: documents of record class
// agreement, shared with the joint room.
type VaultDocs struct{ Vault *vault.Service }

var joint = vault.Audience{Kind: policy.AudienceJoint}

// Create implements Docs.
func (v VaultDocs) Create(ctx context.Context, actor account.Account, caseID, name string, text []byte) (string, int, error) {
	d, err := v.Vault.Upload(ctx, actor, caseID, vault.NewDocument{Name: name, MediaType: "text/plain; charset=utf-8",
		Audience: joint, Class: vault.ClassAgreement}, bytes.NewReader(text))
	if err != nil {
		return "", 0, err
	}
	return d.ID, d.Version, nil
}

// AddVersion implements Docs.
func (v VaultDocs) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	d, err := v.Vault.AddVersion(ctx, actor, caseID, docID, vault.NewVersion{}, bytes.NewReader(text))
	if err != nil {
		return 0, err
	}
	return d.Version, nil
}

// Find implements Docs. A version whose key was erased, or that was
// encrypted on a device (its hash is not of the plaintext), is not found.
func (v VaultDocs) Find(ctx context.Context, actor account.Account, caseID, docID, sha string, after int) (int, error) {
	// Lookup, not Get: a document not there yet is not audited as a
	// refused access (Find runs at every read while a write may land).
	d, err := v.Vault.Lookup(ctx, actor, caseID, docID)
	if errors.Is(err, fault.ErrNotFound) {
		return 0, nil // not there, or not for actor to see (Docs.Find)
	}
	if err != nil {
		return 0, err
	}
	found := 0
	for _, x := range d.Versions {
		if x.Version > after && x.SHA256 == sha && !x.Erased && !x.E2EE && (found == 0 || x.Version < found) {
			found = x.Version
		}
	}
	return found, nil
}

// Read implements Docs.
func (v VaultDocs) Read(ctx context.Context, actor account.Account, caseID, docID string, version int, max int64) ([]byte, error) {
	dl, err := v.Vault.Open(ctx, actor, caseID, docID, version, nil)
	if err != nil {
		return nil, err
	}
	defer dl.Body.Close()
	if dl.Size > max {
		return nil, fmt.Errorf("agreement: document version is %d bytes, more than %d", dl.Size, max)
	}
	return io.ReadAll(io.LimitReader(dl.Body, max+1))
}

// File implements Docs.
func (v VaultDocs) File(ctx context.Context, actor account.Account, caseID, name, mediaType string, body []byte) (string, error) {
	d, err := v.Vault.Upload(ctx, actor, caseID, vault.NewDocument{Name: name, MediaType: mediaType,
		Audience: joint, Class: vault.ClassAgreement}, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	return d.ID, nil
}
