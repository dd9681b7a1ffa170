package agreement_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/agreement"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/vault"
)

// unconfirmingStore is the node's real store, except that once armed, the
// nth write of a document record under prefix (a new version's: the
// first reserves its number, the second lists it; a new document's: the
// first) answers an error: after writing it (land) or without writing it;
// and, when it landed, the one read of that record that follows (the
// vault's read-back) fails too. The vault then answers
// vault.ErrUnconfirmed: the version or document may still appear.
type unconfirmingStore struct {
	objstore.Store
	mu       sync.Mutex
	prefix   string
	nth      int
	land     bool
	writes   int
	failRead string // the key whose next read fails
	// thenFail: once the armed write has been hit, the next write of this
	// key fails without writing.
	thenFail string
}

func (s *unconfirmingStore) arm(prefix string, nth int, land bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prefix, s.nth, s.land, s.writes, s.failRead = prefix, nth, land, 0, ""
}

func (s *unconfirmingStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	if s.prefix == "" && s.thenFail != "" && key == s.thenFail {
		s.thenFail = ""
		s.mu.Unlock()
		return objstore.Info{}, fmt.Errorf("%w: s3 put %q: connection reset by peer", objstore.ErrUnavailable, key)
	}
	hit := s.prefix != "" && strings.HasPrefix(key, s.prefix)
	if hit {
		s.writes++
		hit = s.writes == s.nth
	}
	land := s.land
	if hit {
		s.prefix = "" // once
		if land {
			s.failRead = key
		}
	}
	s.mu.Unlock()
	if !hit {
		return s.Store.Put(ctx, key, r, size, opts)
	}
	if land {
		if _, err := s.Store.Put(ctx, key, r, size, opts); err != nil {
			return objstore.Info{}, err
		}
	}
	return objstore.Info{}, fmt.Errorf("%w: s3 put %q: connection reset by peer", objstore.ErrUnavailable, key)
}

func (s *unconfirmingStore) Get(ctx context.Context, key string, opts objstore.GetOptions) (io.ReadCloser, objstore.Info, error) {
	s.mu.Lock()
	fail := s.failRead != "" && key == s.failRead
	if fail {
		s.failRead = ""
	}
	s.mu.Unlock()
	if fail {
		return nil, objstore.Info{}, fmt.Errorf("%w: s3 get %q: connection reset by peer", objstore.ErrUnavailable, key)
	}
	return s.Store.Get(ctx, key, opts)
}

// mediatorCase is a mediator on n (email) and the case they opened.
func mediatorCase(t *testing.T, n *nodetest.Node, email string) (*client.Client, api.Case) {
	t.Helper()
	_, med := n.Staff(t, policy.RoleMediator, email)
	k, err := med.CreateCase(t.Context(), "Rivera v. Chen", "landlord-tenant", "", []string{"Tenant", "Landlord"})
	if err != nil {
		t.Fatal(err)
	}
	return med, k
}

// unconfirmedSave starts an agreement on a node whose store is fs and
// saves a second version whose document write is not confirmed (landing
// or not, as land says).
func unconfirmedSave(t *testing.T, land bool) (svc *agreement.Service, actor account.Account, med *person, caseID, text string) {
	t.Helper()
	ctx := t.Context()
	fs := &unconfirmingStore{}
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fs.Store = s; return fs }})
	c, k := mediatorCase(t, n, "med-unconfirmed@example.org")
	svc, actor = serviceOn(t, n, c.Token, agreement.VaultDocs{Vault: n.Vault})
	a, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	text = "The parties agree to a payment plan."
	fs.arm("vault/"+k.ID+"/docs/", 2, land)
	_, err = svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: text})
	if !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("a save whose version's record write was not confirmed: %v", err)
	}
	return svc, actor, &person{c: c}, k.ID, text
}

// TestUnconfirmedSaveThatLandedIsListed: a save whose new version the
// vault could not confirm, though it did land in the agreement's
// document, is version 2 of the agreement (history and current text), as
// it is of the document; the mediator, told to look before saving again,
// sees the two agree (before: the agreement dropped its claim, so the
// document listed a version the agreement's history did not).
func TestUnconfirmedSaveThatLandedIsListed(t *testing.T) {
	_, _, med, caseID, text := unconfirmedSave(t, true)
	ctx := t.Context()
	a, err := med.c.Agreement(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := med.c.Document(ctx, caseID, a.Document)
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Versions) != 2 {
		t.Fatalf("the document lists %d versions, want 2 (the unconfirmed one landed)", len(doc.Versions))
	}
	if len(a.Versions) != 2 || a.Current.Version != 2 || a.Current.Text != text {
		t.Fatalf("the agreement lists %d versions, current %d %q; want version 2, the text that landed in its document",
			len(a.Versions), a.Current.Version, a.Current.Text)
	}
	// And it is the agreement's for good: the next save builds on it.
	if a, err = med.c.SaveAgreement(ctx, caseID, 2, text+" Monthly."); err != nil || a.Current.Version != 3 {
		t.Fatalf("a save on the version that landed: %+v %v", a.Current, err)
	}
}

// TestUnconfirmedSaveThatDidNotLandIsNotListed: a save whose new version
// the vault could not confirm and which did not land is never listed; a
// save meanwhile is refused in plain words (the version may still
// appear), and once the claim's lifetime has passed with no such version
// in the document, the save is dropped and the next one is version 2.
func TestUnconfirmedSaveThatDidNotLandIsNotListed(t *testing.T) {
	svc, actor, med, caseID, text := unconfirmedSave(t, false)
	ctx := t.Context()
	a, err := med.c.Agreement(ctx, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Versions) != 1 || a.Current.Version != 1 {
		t.Fatalf("the agreement lists %d versions, current %d; want only version 1", len(a.Versions), a.Current.Version)
	}
	if _, err := med.c.AgreementVersion(ctx, caseID, 2); status(err) != http.StatusNotFound {
		t.Fatalf("reading the version that did not land: %v", err)
	}
	_, err = med.c.SaveAgreement(ctx, caseID, 1, text+" Again.")
	if status(err) != http.StatusConflict || !strings.Contains(problemOf(err).Detail, "may still appear") {
		t.Fatalf("a save while the unconfirmed one may still land: %v", err)
	}
	svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	out, err := svc.Save(ctx, actor, caseID, api.AgreementSaveRequest{Base: 1, Text: text + " Again."})
	if err != nil || out.Current.Version != 2 || len(out.Versions) != 2 {
		t.Fatalf("a save once the unconfirmed one was past its lifetime: %+v %v", out.Current, err)
	}
}

// stopsAfterAdd stores a version and then stops (its node dies before the
// save completes its claim).
type stopsAfterAdd struct{ agreement.Docs }

func (d stopsAfterAdd) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	if _, err := d.Docs.AddVersion(ctx, actor, caseID, docID, text); err != nil {
		return 0, err
	}
	panic("node stops here")
}

// TestAbandonedSaveThatLandedIsListed: a node that stops after storing a
// new version but before completing its claim leaves a claim that is not
// shown while it may still be completed; once it is older than the
// claim's lifetime, the next read finds the version in the document and
// lists it (before: it was dropped, and the document listed a version the
// agreement did not).
func TestAbandonedSaveThatLandedIsListed(t *testing.T) {
	n := nodetest.Embedded(t)
	ctx := t.Context()
	med, k := mediatorCase(t, n, "med-stops@example.org")
	a, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	svc, actor := serviceOn(t, n, med.Token, stopsAfterAdd{agreement.VaultDocs{Vault: n.Vault}})
	text := "The parties agree to a payment plan."
	func() {
		defer func() { recover() }()
		svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: text})
	}()
	if a, err := med.Agreement(ctx, k.ID); err != nil || len(a.Versions) != 1 {
		t.Fatalf("a save under way reads as: %d versions, %v", len(a.Versions), err)
	}
	svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	got, err := svc.Get(ctx, actor, k.ID)
	if err != nil || len(got.Versions) != 2 || got.Current.Version != 2 || got.Current.Text != text {
		t.Fatalf("an abandoned save whose version landed reads as: %d versions, current %d, %v", len(got.Versions), got.Current.Version, err)
	}
	if a, err := med.Agreement(ctx, k.ID); err != nil || len(a.Versions) != 2 {
		t.Fatalf("and for everyone: %d versions, %v", len(a.Versions), err)
	}
}

// unconfirmedNode is a node whose store is an unconfirmingStore.
func unconfirmedNode(t *testing.T) (*nodetest.Node, *unconfirmingStore) {
	fs := &unconfirmingStore{}
	return nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { fs.Store = s; return fs }}), fs
}

// TestUnconfirmedStartIsSettled: a Start whose document the vault stored
// but could not confirm. Landed, the next read shows the agreement with
// that document as version 1 and a Start again is refused as for any
// agreement, so the joint room lists one "Settlement agreement.txt"
// (before: the claim was released, the case read as having no agreement,
// and a second Start listed a second one). Not landed, the case reads as
// having none, a Start meanwhile is refused in words (it may still
// appear), and once the claim's lifetime has passed a Start starts it.
func TestUnconfirmedStartIsSettled(t *testing.T) {
	for _, land := range []bool{true, false} {
		t.Run(fmt.Sprintf("landed=%v", land), func(t *testing.T) {
			ctx := t.Context()
			n, fs := unconfirmedNode(t)
			med, k := mediatorCase(t, n, "med-start@example.org")
			svc, actor := serviceOn(t, n, med.Token, agreement.VaultDocs{Vault: n.Vault})
			fs.arm("vault/"+k.ID+"/docs/", 1, land)
			if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); !errors.Is(err, vault.ErrUnconfirmed) {
				t.Fatalf("a Start whose document was not confirmed: %v", err)
			}
			a, err := med.Agreement(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			list, err := med.Documents(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			listed := namedDocs(t, list, "Settlement agreement")
			if land {
				if len(listed) != 1 || a.State != api.AgreementDrafting || a.Current.Version != 1 || a.Current.Text == "" {
					t.Fatalf("landed: documents %q, agreement %s v%d", listed, a.State, a.Current.Version)
				}
				if _, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusConflict || !strings.Contains(err.Error(), "already has an agreement") {
					t.Fatalf("a Start after one that landed: %v", err)
				}
				return
			}
			if len(listed) != 0 || a.State != api.AgreementNone {
				t.Fatalf("not landed: documents %q, agreement %s", listed, a.State)
			}
			if _, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); status(err) != http.StatusConflict || !strings.Contains(problemOf(err).Detail, "may still appear") {
				t.Fatalf("a Start while the unconfirmed one may still land: %v", err)
			}
			svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
			if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); err != nil {
				t.Fatalf("a Start once the unconfirmed one was past its lifetime: %v", err)
			}
			if list, err = med.Documents(ctx, k.ID); err != nil || len(namedDocs(t, list, "Settlement agreement")) != 1 {
				t.Fatalf("documents: %q %v", namedDocs(t, list, "Settlement agreement"), err)
			}
		})
	}
}

// TestUnconfirmedFilingIsSettled: a filing whose signed PDF the vault
// stored but could not confirm. Landed, the next read shows the agreement
// filed as that PDF, and filing again files nothing more (before: the
// filing was dropped, the agreement read as not filed while its PDF was
// listed, and filing again listed a second PDF). Not landed, it reads as
// not filed, a filing meanwhile is refused in words, and once the
// claim's lifetime has passed a filing files it.
func TestUnconfirmedFilingIsSettled(t *testing.T) {
	for _, land := range []bool{true, false} {
		t.Run(fmt.Sprintf("landed=%v", land), func(t *testing.T) {
			ctx := t.Context()
			n, fs := unconfirmedNode(t)
			caseID, med, _ := signedCase(t, n, "med-filing@example.org")
			svc, actor := serviceOn(t, n, med.c.Token, agreement.VaultDocs{Vault: n.Vault})
			fs.arm("vault/"+caseID+"/docs/", 1, land)
			if _, _, _, err := svc.File(ctx, actor, caseID, api.AgreementFileRequest{}); !errors.Is(err, vault.ErrUnconfirmed) {
				t.Fatalf("a filing whose PDF was not confirmed: %v", err)
			}
			a, err := med.c.Agreement(ctx, caseID)
			if err != nil {
				t.Fatal(err)
			}
			list, err := med.c.Documents(ctx, caseID)
			if err != nil {
				t.Fatal(err)
			}
			pdfs := namedDocs(t, list, "Signed settlement agreement")
			if land {
				if len(pdfs) != 1 || a.Filed == "" {
					t.Fatalf("landed: PDFs %q, filed %q", pdfs, a.Filed)
				}
				if _, err := med.c.FileAgreement(ctx, caseID, api.AgreementFileRequest{}); err != nil {
					t.Fatalf("filing again: %v", err)
				}
				checkFiled(t, n, med, caseID)
				return
			}
			if len(pdfs) != 0 || a.Filed != "" {
				t.Fatalf("not landed: PDFs %q, filed %q", pdfs, a.Filed)
			}
			if _, err := med.c.FileAgreement(ctx, caseID, api.AgreementFileRequest{}); status(err) != http.StatusConflict || !strings.Contains(problemOf(err).Detail, "may still appear") {
				t.Fatalf("a filing while the unconfirmed one may still land: %v", err)
			}
			svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
			if _, _, _, err := svc.File(ctx, actor, caseID, api.AgreementFileRequest{}); err != nil {
				t.Fatalf("a filing once the unconfirmed one was past its lifetime: %v", err)
			}
			checkFiled(t, n, med, caseID)
		})
	}
}

// slowDocs stores versions through Docs, but the service's clock moves on
// by slow while it does (a vault that takes long to answer).
type slowDocs struct {
	agreement.Docs
	offset *atomic.Int64
	slow   time.Duration
}

func (d slowDocs) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	d.offset.Add(int64(d.slow))
	return d.Docs.AddVersion(ctx, actor, caseID, docID, text)
}

// TestUnconfirmedClaimLivesFromTheAnswer: a save whose vault answered
// "not confirmed" 90 seconds after the claim was made still may land for
// the claim's whole lifetime from that answer: a minute later a save is
// refused as one that may still appear (before: the lifetime ran from the
// claim, so it was dropped 30 seconds after the answer).
func TestUnconfirmedClaimLivesFromTheAnswer(t *testing.T) {
	ctx := t.Context()
	n, fs := unconfirmedNode(t)
	med, k := mediatorCase(t, n, "med-slow@example.org")
	var offset atomic.Int64
	svc, actor := serviceOn(t, n, med.Token, slowDocs{Docs: agreement.VaultDocs{Vault: n.Vault}, offset: &offset, slow: 90 * time.Second})
	svc.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	a, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	offset.Store(0)
	fs.arm("vault/"+k.ID+"/docs/", 2, false)
	text := "The parties agree to a payment plan."
	if _, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: text}); !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("a save whose version was not confirmed: %v", err)
	}
	offset.Add(int64(time.Minute))
	_, err = svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: 1, Text: text + " Again."})
	if !errors.Is(err, fault.ErrConflict) || !strings.Contains(err.Error(), "may still appear") {
		t.Fatalf("a save a minute after the vault's answer: %v", err)
	}
}

// deniedSince counts the access.denied entries appended to the node's
// audit log from index before.
func deniedSince(t *testing.T, n *nodetest.Node, before int64) int {
	t.Helper()
	count := 0
	for i := before; i < n.Audit.Size(); i++ {
		ev, err := n.Audit.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "access.denied" {
			count++
		}
	}
	return count
}

// TestUnconfirmedDocumentNotThereIsNoRefusal: while a start's or a
// filing's document the vault did not confirm has not appeared, reading
// the agreement (a party's page polls it, and so does the mediator's)
// looks for it every time, and writes no access.denied entry (before:
// every read was audited as a refused access to that document).
func TestUnconfirmedDocumentNotThereIsNoRefusal(t *testing.T) {
	t.Run("start", func(t *testing.T) {
		ctx := t.Context()
		n, fs := unconfirmedNode(t)
		med, k := mediatorCase(t, n, "med-start-denied@example.org")
		tenant := join(t, n, med, k.ID, "party", "A", "Avery Tran")
		svc, actor := serviceOn(t, n, med.Token, agreement.VaultDocs{Vault: n.Vault})
		fs.arm("vault/"+k.ID+"/docs/", 1, false)
		if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); !errors.Is(err, vault.ErrUnconfirmed) {
			t.Fatalf("a Start whose document was not confirmed: %v", err)
		}
		before := n.Audit.Size()
		for range 3 {
			for _, c := range []*client.Client{tenant.c, med} {
				if a, err := c.Agreement(ctx, k.ID); err != nil || a.State != api.AgreementNone {
					t.Fatalf("reading the agreement: %v %v", a.State, err)
				}
			}
		}
		if got := deniedSince(t, n, before); got != 0 {
			t.Fatalf("six reads of an agreement whose start may still appear wrote %d access.denied entries, want 0", got)
		}
	})
	t.Run("filing", func(t *testing.T) {
		ctx := t.Context()
		n, fs := unconfirmedNode(t)
		caseID, med, _ := signedCase(t, n, "med-filing-denied@example.org")
		svc, actor := serviceOn(t, n, med.c.Token, agreement.VaultDocs{Vault: n.Vault})
		fs.arm("vault/"+caseID+"/docs/", 1, false)
		if _, _, _, err := svc.File(ctx, actor, caseID, api.AgreementFileRequest{}); !errors.Is(err, vault.ErrUnconfirmed) {
			t.Fatalf("a filing whose PDF was not confirmed: %v", err)
		}
		before := n.Audit.Size()
		for range 3 {
			if a, err := med.c.Agreement(ctx, caseID); err != nil || a.Filed != "" {
				t.Fatalf("reading the agreement: filed %q %v", a.Filed, err)
			}
		}
		if got := deniedSince(t, n, before); got != 0 {
			t.Fatalf("three reads of an agreement whose filing may still appear wrote %d access.denied entries, want 0", got)
		}
	})
}

// TestUnconfirmedSaveFoundLateIsCompleted: a save the vault did not
// confirm whose version landed at once, and which nobody read until three
// minutes after the vault's answer (past the claim's lifetime), is
// version 2 of the agreement when it is first read: nobody signed
// meanwhile, so completing it supersedes nothing (before: the mediator's
// read dropped it without looking, and the document listed a version the
// agreement did not).
func TestUnconfirmedSaveFoundLateIsCompleted(t *testing.T) {
	svc, actor, med, caseID, text := unconfirmedSave(t, true)
	ctx := t.Context()
	svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	a, err := svc.Get(ctx, actor, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Versions) != 2 || a.Current.Version != 2 || a.Current.Text != text {
		t.Fatalf("a version that landed, first read late: the agreement lists %d versions, current %d; want version 2", len(a.Versions), a.Current.Version)
	}
	if a, err = med.c.Agreement(ctx, caseID); err != nil || len(a.Versions) != 2 {
		t.Fatalf("and for everyone: %d versions, %v", len(a.Versions), err)
	}
	if doc, err := med.c.Document(ctx, caseID, a.Document); err != nil || len(doc.Versions) != 2 {
		t.Fatalf("the document: %d versions, %v", len(doc.Versions), err)
	}
}

// TestUnconfirmedMarkLostSameOutcome: a save whose version landed at once
// but which the vault could not confirm, and whose record update marking
// the claim unconfirmed then failed too (the claim reads as a save that
// was never answered), is settled by the same rule: first read three
// minutes later, its version is found and completed.
func TestUnconfirmedMarkLostSameOutcome(t *testing.T) {
	ctx := t.Context()
	n, fs := unconfirmedNode(t)
	med, k := mediatorCase(t, n, "med-mark-lost@example.org")
	svc, actor := serviceOn(t, n, med.Token, agreement.VaultDocs{Vault: n.Vault})
	if _, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{}); err != nil {
		t.Fatal(err)
	}
	fs.arm("vault/"+k.ID+"/docs/", 2, true)
	fs.mu.Lock()
	fs.thenFail = agreement.Key(k.ID)
	fs.mu.Unlock()
	text := "The parties agree to a payment plan."
	if _, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: 1, Text: text}); !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("a save whose version was not confirmed: %v", err)
	}
	fs.mu.Lock()
	lost := fs.thenFail == ""
	fs.mu.Unlock()
	if !lost {
		t.Fatal("the update marking the claim unconfirmed was not made to fail")
	}
	svc.SetClock(func() time.Time { return time.Now().Add(3 * time.Minute) })
	if a, err := svc.Get(ctx, actor, k.ID); err != nil || len(a.Versions) != 2 || a.Current.Text != text {
		t.Fatalf("first read three minutes later: %d versions, %v; want version 2", len(a.Versions), err)
	}
}

// signsDuring stores a version, and before it answers, the service's
// clock passes the claim's lifetime and a party signs the version before
// (a save slower than the claim's lifetime, signed meanwhile), and then
// read runs, if set.
type signsDuring struct {
	agreement.Docs
	offset *atomic.Int64
	sign   func()
	read   func()
}

func (d signsDuring) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	v, err := d.Docs.AddVersion(ctx, actor, caseID, docID, text)
	d.offset.Store(int64(3 * time.Minute))
	d.sign()
	if d.read != nil {
		d.read()
	}
	return v, err
}

// TestSlowSaveSignedMeanwhileIsDropped: a save slower than the claim's
// lifetime, during which a party signed version 1, is not made current,
// whether a read finds its version first (a party's read leaves it not
// shown, the mediator's drops it) or the save completes it itself: the
// save is refused, version 1 stays current and signed (before: it was
// completed as version 2, superseding the signature given meanwhile).
// With skew, the saving node's clock runs a minute ahead of the node that
// records the signature, so the signature's time is before the claim's:
// it is still told as given meanwhile (before: completed over it).
func TestSlowSaveSignedMeanwhileIsDropped(t *testing.T) {
	for _, tc := range []struct {
		byRead bool
		skew   time.Duration
	}{{true, 0}, {false, 0}, {true, time.Minute}, {false, time.Minute}} {
		byRead := tc.byRead
		t.Run(fmt.Sprintf("read=%v/skew=%v", byRead, tc.skew), func(t *testing.T) {
			ctx := t.Context()
			n := nodetest.Embedded(t)
			med, k := mediatorCase(t, n, "med-slow-signed@example.org")
			tenant := join(t, n, med, k.ID, "party", "A", "Avery Tran")
			if _, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{}); err != nil {
				t.Fatal(err)
			}
			var offset atomic.Int64
			var svc, tsvc *agreement.Service
			var actor, tactor account.Account
			var signErr, partyErr, readErr error
			var partyVersions, readVersions int
			docs := signsDuring{Docs: agreement.VaultDocs{Vault: n.Vault}, offset: &offset,
				sign: func() { _, signErr = tenant.x.SignAgreement(ctx, k.ID, 1) }}
			if byRead {
				docs.read = func() {
					var a api.Agreement
					a, partyErr = tsvc.Get(ctx, tactor, k.ID)
					partyVersions = len(a.Versions)
					a, readErr = svc.Get(ctx, actor, k.ID)
					readVersions = len(a.Versions)
				}
			}
			svc, actor = serviceOn(t, n, med.Token, docs)
			tsvc, tactor = serviceOn(t, n, tenant.c.Token, agreement.VaultDocs{Vault: n.Vault})
			for _, x := range []*agreement.Service{svc, tsvc} {
				x.SetClock(func() time.Time { return time.Now().Add(tc.skew + time.Duration(offset.Load())) })
			}
			_, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: 1, Text: "The parties agree to a payment plan."})
			if signErr != nil {
				t.Fatalf("signing version 1 during the save: %v", signErr)
			}
			if !errors.Is(err, fault.ErrConflict) {
				t.Fatalf("a slow save signed meanwhile: %v, want a conflict", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "two minutes") || strings.Contains(msg, "2m0s") {
				t.Fatalf("the refusal %q should say \"two minutes\" in words", msg)
			}
			if byRead && (partyErr != nil || partyVersions != 1 || readErr != nil || readVersions != 1) {
				t.Fatalf("the reads meanwhile: party %d versions %v, mediator %d versions %v; want version 1 only",
					partyVersions, partyErr, readVersions, readErr)
			}
			a, err := med.Agreement(ctx, k.ID)
			if err != nil || len(a.Versions) != 1 || a.Current.Version != 1 || a.State != api.AgreementSigned {
				t.Fatalf("after a slow save signed meanwhile: %d versions, current %d, %s, %v; want version 1, signed",
					len(a.Versions), a.Current.Version, a.State, err)
			}
			if _, err := med.SaveAgreement(ctx, k.ID, 1, "The parties agree to a payment plan. Monthly."); err != nil {
				t.Fatalf("the next save: %v", err)
			}
		})
	}
}

// savedEntries counts the agreement.saved entries of version num in the
// node's audit log.
func savedEntries(t *testing.T, n *nodetest.Node, num int) int {
	t.Helper()
	count := 0
	for i := range n.Audit.Size() {
		ev, err := n.Audit.Entry(t.Context(), i)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type == "agreement.saved" && len(ev.Objects) == 2 && ev.Objects[1] == fmt.Sprint(num) {
			count++
		}
	}
	return count
}

// landedUnconfirmedSave is an agreement started by a mediator (email) on
// a node whose store is fs, and saved again through svc: version 2
// landed, but the vault could not confirm it.
func landedUnconfirmedSave(t *testing.T, email string) (n *nodetest.Node, fs *unconfirmingStore, k api.Case, svc *agreement.Service, actor account.Account) {
	t.Helper()
	ctx := t.Context()
	n, fs = unconfirmedNode(t)
	med, k := mediatorCase(t, n, email)
	svc, actor = serviceOn(t, n, med.Token, agreement.VaultDocs{Vault: n.Vault})
	a, err := svc.Start(ctx, actor, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	fs.arm("vault/"+k.ID+"/docs/", 2, true)
	if _, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: "The parties agree."}); !errors.Is(err, vault.ErrUnconfirmed) {
		t.Fatalf("a save whose version was not confirmed: %v", err)
	}
	return n, fs, k, svc, actor
}

// TestSettledSaveIsAuditedOnceThoughTheLogFailed: a read that completes
// an unconfirmed save whose version landed, but cannot write the audit
// entry for it (the audit log's store fails once), leaves the entry for a
// later read to write: after the next reads, version 2's save is in the
// audit log exactly once (before: it was never written, the claim being
// completed already).
func TestSettledSaveIsAuditedOnceThoughTheLogFailed(t *testing.T) {
	ctx := t.Context()
	n, fs, k, svc, actor := landedUnconfirmedSave(t, "med-audit@example.org")
	fs.arm("audit/entries/", 1, false)
	if a, err := svc.Get(ctx, actor, k.ID); err != nil || a.Current.Version != 2 {
		t.Fatalf("the read that settles the save: v%d %v", a.Current.Version, err)
	}
	if got := savedEntries(t, n, 2); got != 0 {
		t.Fatalf("the audit log's write failed, yet version 2's save is in it %d times", got)
	}
	for range 3 {
		if _, err := svc.Get(ctx, actor, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := savedEntries(t, n, 2); got != 1 {
		t.Fatalf("after later reads, version 2's save is in the audit log %d times, want once", got)
	}
}

// TestSettledSaveIsAuditedOnceThoughTheCheckpointFailed: a read that
// completes an unconfirmed save whose version landed writes its audit
// entry, but the audit log's checkpoint after it cannot be stored (the
// entry is in the log for good: audit.Log.Append returns its index with
// the error). Later reads do not write it again: version 2's save is in
// the audit log exactly once (before: the entry was taken as not written,
// its lease released, and the next read appended it a second time).
func TestSettledSaveIsAuditedOnceThoughTheCheckpointFailed(t *testing.T) {
	ctx := t.Context()
	n, fs, k, svc, actor := landedUnconfirmedSave(t, "med-checkpoint@example.org")
	fs.arm("audit/checkpoints/", 1, false)
	if a, err := svc.Get(ctx, actor, k.ID); err != nil || a.Current.Version != 2 {
		t.Fatalf("the read that settles the save: v%d %v", a.Current.Version, err)
	}
	fs.mu.Lock()
	failed := fs.prefix == ""
	fs.mu.Unlock()
	if !failed {
		t.Fatal("no checkpoint write was made to fail")
	}
	for range 3 {
		if _, err := svc.Get(ctx, actor, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := savedEntries(t, n, 2); got != 1 {
		t.Fatalf("version 2's save is in the audit log %d times, want once", got)
	}
}

// settlesDuring stores a version, and before it answers, the service's
// clock passes the claim's lifetime and someone reads the agreement (a
// save slower than the claim's lifetime).
type settlesDuring struct {
	agreement.Docs
	offset *atomic.Int64
	read   func()
}

func (d settlesDuring) AddVersion(ctx context.Context, actor account.Account, caseID, docID string, text []byte) (int, error) {
	v, err := d.Docs.AddVersion(ctx, actor, caseID, docID, text)
	d.offset.Store(int64(3 * time.Minute))
	d.read()
	return v, err
}

// TestSlowSaveSettledByAReadIsAuditedOnce: a save slower than the claim's
// lifetime, completed meanwhile by a read that found its version, is in
// the audit log once (before: the read audited it, then the save's own
// completion audited it again).
func TestSlowSaveSettledByAReadIsAuditedOnce(t *testing.T) {
	ctx := t.Context()
	n := nodetest.Embedded(t)
	med, k := mediatorCase(t, n, "med-slow-save@example.org")
	a, err := med.StartAgreement(ctx, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var offset atomic.Int64
	var svc *agreement.Service
	var actor account.Account
	var readErr error
	svc, actor = serviceOn(t, n, med.Token, settlesDuring{Docs: agreement.VaultDocs{Vault: n.Vault}, offset: &offset,
		read: func() { _, readErr = svc.Get(ctx, actor, k.ID) }})
	svc.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	out, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: "The parties agree."})
	if err != nil || readErr != nil || out.Current.Version != 2 {
		t.Fatalf("a slow save: v%d %v (the read meanwhile: %v)", out.Current.Version, err, readErr)
	}
	if got := savedEntries(t, n, 2); got != 1 {
		t.Fatalf("version 2's save is in the audit log %d times, want once", got)
	}
}

// hookStore is the node's real store, except that once armed, after the
// nth write under prefix has been stored, hook runs before the write
// answers.
type hookStore struct {
	objstore.Store
	mu     sync.Mutex
	prefix string
	nth    int
	writes int
	hook   func()
	// fail: key prefixes, in order; the next write under fail[0] fails
	// without writing, and the next under fail[1] after it, and so on;
	// failed counts the writes so failed.
	fail   []string
	failed int
}

func (s *hookStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts objstore.PutOptions) (objstore.Info, error) {
	s.mu.Lock()
	if len(s.fail) > 0 && strings.HasPrefix(key, s.fail[0]) {
		s.fail = s.fail[1:]
		s.failed++
		s.mu.Unlock()
		return objstore.Info{}, fmt.Errorf("%w: s3 put %q: connection reset by peer", objstore.ErrUnavailable, key)
	}
	hit := s.prefix != "" && strings.HasPrefix(key, s.prefix)
	if hit {
		s.writes++
		hit = s.writes == s.nth
		if hit {
			s.prefix = ""
		}
	}
	s.mu.Unlock()
	info, err := s.Store.Put(ctx, key, r, size, opts)
	if hit && err == nil {
		s.hook()
	}
	return info, err
}

// hookedAgreement is an agreement started, by a mediator (email) on a
// node whose store is hs, through a service whose clock runs offset
// ahead of now.
func hookedAgreement(t *testing.T, email string) (n *nodetest.Node, hs *hookStore, k api.Case, svc *agreement.Service, actor account.Account, offset *atomic.Int64, a api.Agreement) {
	t.Helper()
	hs = &hookStore{}
	n = nodetest.Start(t, server.Config{DataDir: t.TempDir(), WrapStore: func(s objstore.Store) objstore.Store { hs.Store = s; return hs }})
	med, k := mediatorCase(t, n, email)
	offset = new(atomic.Int64)
	svc, actor = serviceOn(t, n, med.Token, agreement.VaultDocs{Vault: n.Vault})
	svc.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	a, err := svc.Start(t.Context(), actor, k.ID, api.AgreementStartRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return n, hs, k, svc, actor, offset, a
}

// meanwhile is what the read and the fencing during a save answered.
type meanwhile struct {
	versions          int
	readErr, fenceErr error
}

// readAndFenceMeanwhile arms hs so that once the second write of a
// document record under caseID is made (version 2 listed), the clock
// passes the claim's lifetime, then during runs (if set), then the
// agreement is read through svc and the case is fenced for disposal.
func readAndFenceMeanwhile(t *testing.T, n *nodetest.Node, hs *hookStore, caseID string, svc *agreement.Service, actor account.Account, offset *atomic.Int64, during func()) *meanwhile {
	ctx := t.Context()
	m := &meanwhile{}
	hs.mu.Lock()
	hs.prefix, hs.nth, hs.writes = "vault/"+caseID+"/docs/", 2, 0
	hs.hook = func() {
		// The version is listed; the save is past its claim's lifetime.
		offset.Store(int64(3 * time.Minute))
		if during != nil {
			during()
		}
		var got api.Agreement
		got, m.readErr = svc.Get(ctx, actor, caseID)
		m.versions = len(got.Versions)
		_, m.fenceErr = n.Cases.BeginDisposal(ctx, caseID, "plan-test")
	}
	hs.mu.Unlock()
	return m
}

// TestSlowSaveTakenBackIsWithdrawn: a save slower than the claim's
// lifetime whose version a read found and completed, and which the vault
// then took back (the case was fenced for disposal meanwhile), is not
// left in the agreement: version 2 is withdrawn with it, and the audit
// log says so after its saved entry (before: the agreement listed a
// version 2 whose bytes were gone).
func TestSlowSaveTakenBackIsWithdrawn(t *testing.T) {
	ctx := t.Context()
	n, hs, k, svc, actor, offset, a := hookedAgreement(t, "med-taken-back@example.org")
	m := readAndFenceMeanwhile(t, n, hs, k.ID, svc, actor, offset, nil)
	if _, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: "The parties agree."}); err == nil {
		t.Fatal("a save whose version the vault took back succeeded")
	}
	if m.readErr != nil || m.versions != 2 || m.fenceErr != nil {
		t.Fatalf("the read meanwhile: %d versions, %v; fencing: %v", m.versions, m.readErr, m.fenceErr)
	}
	var rec struct {
		Versions []struct {
			Num    int `json:"num"`
			DocVer int `json:"docVersion"`
		} `json:"versions"`
	}
	if _, err := n.Meta.Get(ctx, agreement.Key(k.ID), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Versions) != 1 {
		t.Fatalf("the agreement keeps %d versions (%+v), want only version 1: the vault took version 2 back", len(rec.Versions), rec.Versions)
	}
	withdrawn := 0
	for i := range n.Audit.Size() {
		if ev, err := n.Audit.Entry(ctx, i); err == nil && ev.Type == "agreement.save.withdrawn" {
			withdrawn++
		}
	}
	if saved := savedEntries(t, n, 2); saved != 1 || withdrawn != 1 {
		t.Fatalf("audit: version 2 saved %d times, withdrawn %d times; want once each", saved, withdrawn)
	}
}

// TestSlowSaveTakenBackBeforeItsEntryIsWithdrawnAfterIt: as
// TestSlowSaveTakenBackIsWithdrawn, but the read that completed version 2
// could neither write its agreement.saved entry nor release its lease on
// it (as if its node stopped): the withdrawal is not logged before the
// saved entry is; once the lease has passed, a read writes both, saved
// first (before: the save logged agreement.save.withdrawn at once and
// dropped the saved entry, so the log showed a withdrawal of a save it
// never recorded).
func TestSlowSaveTakenBackBeforeItsEntryIsWithdrawnAfterIt(t *testing.T) {
	ctx := t.Context()
	n, hs, k, svc, actor, offset, a := hookedAgreement(t, "med-taken-back-unlogged@example.org")
	m := readAndFenceMeanwhile(t, n, hs, k.ID, svc, actor, offset, func() {
		hs.mu.Lock()
		hs.fail = []string{"audit/entries/", agreement.Key(k.ID)}
		hs.mu.Unlock()
	})
	if _, err := svc.Save(ctx, actor, k.ID, api.AgreementSaveRequest{Base: a.Current.Version, Text: "The parties agree."}); err == nil {
		t.Fatal("a save whose version the vault took back succeeded")
	}
	hs.mu.Lock()
	left, failed := len(hs.fail), hs.failed
	hs.mu.Unlock()
	if m.readErr != nil || m.versions != 2 || m.fenceErr != nil || left != 0 || failed != 2 {
		t.Fatalf("the read meanwhile: %d versions, %v; fencing: %v; %d failures not made, %d made (want 2)", m.versions, m.readErr, m.fenceErr, left, failed)
	}
	entries := func() (saved, withdrawn int64) {
		saved, withdrawn = -1, -1
		for i := range n.Audit.Size() {
			ev, err := n.Audit.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case ev.Type == "agreement.saved" && len(ev.Objects) == 2 && ev.Objects[1] == "2":
				if saved >= 0 {
					t.Fatalf("version 2's save logged twice (entries %d, %d)", saved, i)
				}
				saved = i
			case ev.Type == "agreement.save.withdrawn":
				if withdrawn >= 0 {
					t.Fatalf("version 2's withdrawal logged twice (entries %d, %d)", withdrawn, i)
				}
				withdrawn = i
			}
		}
		return saved, withdrawn
	}
	if saved, withdrawn := entries(); saved < 0 && withdrawn >= 0 {
		t.Fatalf("the log shows version 2 withdrawn (entry %d) but never saved", withdrawn)
	}
	offset.Store(int64(5 * time.Minute)) // the read's lease on the saved entry has passed
	if _, err := svc.Get(ctx, actor, k.ID); err != nil {
		t.Fatal(err)
	}
	if saved, withdrawn := entries(); saved < 0 || withdrawn < 0 || withdrawn < saved {
		t.Fatalf("after a read past the lease: version 2 saved at entry %d, withdrawn at entry %d; want both, saved first", saved, withdrawn)
	}
}
