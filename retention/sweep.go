package retention

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Nothing falls through: the sweep finds what no record class covers —
// residue (policy.ClassResidue) — and disposes of it on the residue
// class's own schedule, through the same plan → second person → apply
// flow. A plan lists only how many of each kind it found; the keys
// themselves are in the plan's residue record, never shown.
//
// What is residue, and from when (its clock starts then):
//
//	orphaned-ciphertext  docs/<case>/<doc>/<v> of no known document version (none
//	                     listed, or listed erased), AbandonedAfter after it was
//	                     written: an upload in progress is younger than that
//	abandoned-upload     vault/<case>/versions/<doc>/<v> records of no known version,
//	                     the same way: an upload that stopped after its record
//	expired-session      sessions/<hash> whose newest version has expired (from its
//	                     end), or was signed out (from the sign-out): every
//	                     stored version goes, which still names the account
//	expired-invite       invites/<hash> never claimed whose link expired (from
//	                     its expiry), or deleted (from the deletion)
//	spent-journal        retention/plans/<plan>/cases/<case>, the per-case journals
//	                     of a plan already certified, and its cases/late-seats
//	                     (lateseats.go) if it has one (from its completion)
//	orphaned-seat-index  seat-index/<hash>/<hash> (package cases: the index of
//	                     seats by address) whose case record is gone and, for an
//	                     invitation's entry, whose invitation record is gone too
//	                     (from when it was written), or deleted (from the
//	                     deletion): an entry written for a case being destroyed
//	                     after the apply's last listing of the index (lateseats.go)
//	                     by a writer that read the case before its record went
//	stale-email-index    participant-emails/<hash>/<account> (package account)
//	                     whose account is gone, is not a participant's, or
//	                     has not confirmed (or no longer has) that address,
//	                     AbandonedAfter after it was written (a confirmation
//	                     writes it just before it marks the account), or
//	                     deleted (from the deletion): left by a crash between
//	                     the two writes, or by a node of an earlier release
//	                     (which indexed addresses unconfirmed at the join, or
//	                     did not dispose of the entry with the account)
//
// Never residue: anything of a case under a legal hold (a case hold or a
// hold on the document), an invite claimed but not finished, a session
// still valid, a version its document lists, the journal of a plan not
// done. Apply checks each of these again right before deleting.

// AbandonedAfter: ciphertext or a version record that no document lists is
// an upload in progress until it is this old (an upload is bounded by the
// request timeout, minutes), and abandoned after.
const AbandonedAfter = 24 * time.Hour

// The kinds of residue.
const (
	ResidueCiphertext = "orphaned-ciphertext"
	ResidueUpload     = "abandoned-upload"
	ResidueSession    = "expired-session"
	ResidueInvite     = "expired-invite"
	ResidueJournal    = "spent-journal"
	ResidueEmailIndex = "stale-email-index"
	ResidueSeatIndex  = "orphaned-seat-index"
)

// ResidueKinds lists the kinds of residue, in the order a plan lists them.
func ResidueKinds() []string {
	return []string{ResidueCiphertext, ResidueUpload, ResidueSession, ResidueInvite, ResidueEmailIndex, ResidueSeatIndex, ResidueJournal}
}

// residueEntry is one object found by the sweep.
type residueEntry struct {
	Kind  string    `json:"kind"`
	Key   string    `json:"key"`
	Case  string    `json:"case,omitempty"` // for holds, when known
	Since time.Time `json:"since"`
}

// residueRecord is a plan's residue, stored at retention/plans/<plan>/residue
// before its header, and its outcome, stored once applied.
type residueRecord struct {
	Entries []residueEntry `json:"entries"`
}

type residueDone struct {
	Destroyed map[string]int `json:"destroyed"`
	Kept      int            `json:"kept"`
	At        time.Time      `json:"at"`
}

func residueKey(plan string) string     { return planPrefix(plan) + "residue" }
func residueDoneKey(plan string) string { return planPrefix(plan) + "residue-done" }

// sweep finds the residue due as of asOf under sched.
func (s *Service) sweep(ctx context.Context, sched policy.Schedule, asOf time.Time, all []*cases.Case) ([]residueEntry, error) {
	rule, ok := sched.Rule(policy.ClassResidue)
	if !ok {
		return nil, nil
	}
	due := func(since time.Time) bool { return !asOf.Before(since.AddDate(0, 0, rule.Days)) }
	var out []residueEntry
	add := func(e residueEntry) {
		if due(e.Since) {
			out = append(out, e)
		}
	}
	// Known document versions, per case; and which cases are held.
	known := map[string]map[string]bool{} // case → "doc/version" of versions not erased
	heldDocs := map[string]bool{}         // "case/doc"
	heldCases := map[string]bool{}
	for _, c := range all {
		recs, err := s.vault.Records(ctx, c.ID)
		if err != nil {
			return nil, err
		}
		k := map[string]bool{}
		for _, r := range recs {
			if r.Held {
				heldDocs[c.ID+"/"+r.Doc] = true
			}
			for _, v := range r.Versions {
				if !v.Erased {
					k[r.Doc+"/"+strconv.Itoa(v.Version)] = true
				}
			}
		}
		known[c.ID] = k
		if held, err := s.caseHeldAnyhow(ctx, c.ID); err != nil {
			return nil, err
		} else if held {
			heldCases[c.ID] = true
		}
	}
	orphan := func(caseID, doc, ver string) bool {
		if heldCases[caseID] || heldDocs[caseID+"/"+doc] {
			return false
		}
		return !known[caseID][doc+"/"+ver]
	}
	// 1. Ciphertext and version records no document lists.
	if err := s.newestUnder(ctx, "docs/", func(v objstore.Version) {
		parts := strings.Split(v.Key, "/") // docs/<case>/<doc>/<v>
		if len(parts) != 4 || v.DeleteMarker || !orphan(parts[1], parts[2], parts[3]) {
			return
		}
		add(residueEntry{Kind: ResidueCiphertext, Key: v.Key, Case: parts[1], Since: v.Modified.Add(AbandonedAfter)})
	}); err != nil {
		return nil, err
	}
	if err := s.newestUnder(ctx, "vault/", func(v objstore.Version) {
		parts := strings.Split(v.Key, "/") // vault/<case>/versions/<doc>/<v, 10 digits>
		if len(parts) != 5 || parts[2] != "versions" || v.DeleteMarker {
			return
		}
		n, err := strconv.Atoi(parts[4])
		if err != nil || !orphan(parts[1], parts[3], strconv.Itoa(n)) {
			return
		}
		add(residueEntry{Kind: ResidueUpload, Key: v.Key, Case: parts[1], Since: v.Modified.Add(AbandonedAfter)})
	}); err != nil {
		return nil, err
	}
	// 2. Sign-in sessions expired or signed out; invitations expired unused.
	for _, kind := range []string{ResidueSession, ResidueInvite} {
		prefix := map[string]string{ResidueSession: "sessions/", ResidueInvite: "invites/"}[kind]
		var found []objstore.Version
		if err := s.newestUnder(ctx, prefix, func(v objstore.Version) {
			if !strings.Contains(v.Key[len(prefix):], "/") { // sessions/<case>/… are scheduled sessions
				found = append(found, v)
			}
		}); err != nil {
			return nil, err
		}
		for _, v := range found {
			e, ok, err := s.residueOf(ctx, kind, v, heldCases)
			if err != nil {
				return nil, err
			}
			if ok {
				add(e)
			}
		}
	}
	// 3. Participant-email index entries that point at no account with
	// their address (each entry's account read, a few at a time).
	var entries []objstore.Version
	if err := s.newestUnder(ctx, account.ParticipantEmailsPrefix, func(v objstore.Version) {
		entries = append(entries, v)
	}); err != nil {
		return nil, err
	}
	stale := make([]bool, len(entries))
	errs := make([]error, len(entries))
	workers.Run(len(entries), s.parallel, func(i int) {
		if !entries[i].DeleteMarker {
			stale[i], errs[i] = s.accounts.ParticipantEmailEntryStale(ctx, entries[i].Key)
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, v := range entries {
		switch {
		case v.DeleteMarker: // deleted: what older versions hold is residue
			add(residueEntry{Kind: ResidueEmailIndex, Key: v.Key, Since: v.Modified})
		case stale[i]:
			add(residueEntry{Kind: ResidueEmailIndex, Key: v.Key, Since: v.Modified.Add(AbandonedAfter)})
		}
	}
	// 4. Entries in the index of seats by address that no case record
	// (nor, for an invitation's, its invitation record) backs.
	seats, err := s.orphanedSeats(ctx, heldCases)
	if err != nil {
		return nil, err
	}
	for _, e := range seats {
		add(e)
	}
	// 5. Journals of plans already certified.
	var done []Plan
	if err := s.meta.List(ctx, "retention/plans/", func(key string) error {
		if !strings.HasSuffix(key, "/plan") {
			return nil
		}
		var p Plan
		if _, err := s.meta.Get(ctx, key, &p); err != nil {
			return err
		}
		if p.State == StateDone && p.Completed != nil {
			done = append(done, p)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	for _, p := range done {
		if err := s.newestUnder(ctx, planPrefix(p.ID)+"cases/", func(v objstore.Version) {
			add(residueEntry{Kind: ResidueJournal, Key: v.Key, Since: *p.Completed})
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// orphanedSeats lists the entries of the index of seats by address
// that are residue (ResidueSeatIndex): deleted (what their older
// versions hold), or naming a case whose record is gone and, for an
// invitation's entry, an invitation whose record is gone too — no record
// backs them, so IssueSignInLink ignores them and no seat is missed once
// they go. Each entry is read, and each case's record looked for once,
// a few at a time. An entry of a held case is not residue.
func (s *Service) orphanedSeats(ctx context.Context, heldCases map[string]bool) ([]residueEntry, error) {
	var vs []objstore.Version
	if err := s.newestUnder(ctx, cases.SeatIndexPrefix, func(v objstore.Version) { vs = append(vs, v) }); err != nil {
		return nil, err
	}
	out := make([]residueEntry, len(vs))
	ok := make([]bool, len(vs))
	errs := make([]error, len(vs))
	var mu sync.Mutex
	gone := map[string]bool{} // case → its record is gone (looked for once)
	caseGone := func(id string) (bool, error) {
		mu.Lock()
		g, known := gone[id]
		mu.Unlock()
		if known {
			return g, nil
		}
		g, err := s.caseRecordGone(ctx, id)
		if err != nil {
			return false, err
		}
		mu.Lock()
		gone[id] = g
		mu.Unlock()
		return g, nil
	}
	workers.Run(len(vs), s.parallel, func(i int) {
		v := vs[i]
		e := residueEntry{Kind: ResidueSeatIndex, Key: v.Key, Since: v.Modified}
		if v.DeleteMarker {
			var entry tokenRecord
			if errs[i] = s.olderVersion(ctx, v.Key, &entry); errs[i] != nil {
				return
			}
			e.Case = entry.CaseID
			out[i], ok[i] = e, !heldCases[e.Case]
			return
		}
		var caseID string
		caseID, ok[i], errs[i] = s.seatOrphaned(ctx, v, caseGone)
		e.Case = caseID
		out[i] = e
		ok[i] = ok[i] && !heldCases[caseID]
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var l []residueEntry
	for i := range out {
		if ok[i] {
			l = append(l, out[i])
		}
	}
	return l, nil
}

// seatOrphaned reads the entry of the index of seats by address stored
// as version v and reports its case and whether no record backs it: its
// case record gone (caseGone, or looked for now if nil) and, for an
// invitation's entry, the invitation's record gone too.
func (s *Service) seatOrphaned(ctx context.Context, v objstore.Version, caseGone func(string) (bool, error)) (string, bool, error) {
	var entry struct {
		CaseID string `json:"caseId"`
		Invite string `json:"invite"`
	}
	if _, err := s.meta.GetVersion(ctx, v.Key, v.VersionID, &entry); errors.Is(err, objstore.ErrNotFound) {
		return "", false, nil // deleted meanwhile
	} else if err != nil {
		return "", false, err
	}
	if entry.CaseID == "" {
		return "", false, nil
	}
	if caseGone == nil {
		caseGone = func(id string) (bool, error) { return s.caseRecordGone(ctx, id) }
	}
	g, err := caseGone(entry.CaseID)
	if err != nil || !g {
		return entry.CaseID, false, err
	}
	if entry.Invite != "" {
		_, err := s.meta.Stat(ctx, entry.Invite)
		if err == nil {
			return entry.CaseID, false, nil // its invitation still stored: a seat
		}
		if !errors.Is(err, metastore.ErrNotFound) {
			return entry.CaseID, false, err
		}
	}
	return entry.CaseID, true, nil
}

// caseRecordGone reports whether no version of case id's record is
// stored (delete markers aside). A record a disposal has hidden behind a
// delete marker (destroyPlaces hides first, then deletes) still has its
// versions while that disposal runs: not gone, as prepareCaseRecord
// sees it; before review 246 the newest version alone decided, so the
// case's seat index entries could be taken for residue mid-disposal.
func (s *Service) caseRecordGone(ctx context.Context, id string) (bool, error) {
	vs, err := s.store.Versions(ctx, cases.RecordKey(id))
	if errors.Is(err, objstore.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !slices.ContainsFunc(vs, func(v objstore.Version) bool { return !v.DeleteMarker }), nil
}

// caseHeldAnyhow: the case is under a case hold, or any hold of retention's
// records (on it or on one of its documents).
func (s *Service) caseHeldAnyhow(ctx context.Context, caseID string) (bool, error) {
	held, err := s.vault.CaseHeld(ctx, caseID)
	if err != nil || held {
		return held, err
	}
	h, err := s.activeHolds(ctx, caseID)
	return len(h) > 0, err
}

// newestUnder calls fn with the newest stored version (or delete marker)
// of every key under prefix.
func (s *Service) newestUnder(ctx context.Context, prefix string, fn func(objstore.Version)) error {
	last := ""
	return s.store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
		if v.Key != last {
			last = v.Key
			fn(v)
		}
		return nil
	})
}

// residueOf decides whether a session or invite, by its newest stored
// version v, is residue, and since when.
func (s *Service) residueOf(ctx context.Context, kind string, v objstore.Version, heldCases map[string]bool) (residueEntry, bool, error) {
	e := residueEntry{Kind: kind, Key: v.Key}
	if v.DeleteMarker { // signed out, or deleted: what older versions hold is residue
		e.Since = v.Modified
		if kind == ResidueInvite {
			// Whose case it was is in the older version.
			var inv cases.Invite
			if err := s.olderVersion(ctx, v.Key, &inv); err != nil {
				return e, false, err
			}
			if heldCases[inv.CaseID] {
				return e, false, nil
			}
			e.Case = inv.CaseID
		}
		return e, true, nil
	}
	switch kind {
	case ResidueSession:
		var sess account.Session
		if _, err := s.meta.GetVersion(ctx, v.Key, v.VersionID, &sess); err != nil {
			return e, false, err
		}
		e.Since = sess.Expires
		return e, !sess.Expires.After(s.now()), nil
	default:
		var inv cases.Invite
		if _, err := s.meta.GetVersion(ctx, v.Key, v.VersionID, &inv); err != nil {
			return e, false, err
		}
		e.Case, e.Since = inv.CaseID, inv.Expires
		if inv.ClaimedBy != "" || inv.Completed || heldCases[inv.CaseID] {
			return e, false, nil // used (the case's invites-sessions class), or held
		}
		return e, !inv.Expires.After(s.now()), nil
	}
}

// olderVersion reads the newest version of key that is not a delete marker.
func (s *Service) olderVersion(ctx context.Context, key string, v any) error {
	vs, err := s.store.Versions(ctx, key)
	if err != nil {
		return err
	}
	for _, ver := range vs {
		if !ver.DeleteMarker {
			_, err := s.meta.GetVersion(ctx, key, ver.VersionID, v)
			return err
		}
	}
	return nil
}

// residueCounts counts entries by kind.
func residueCounts(l []residueEntry) map[string]int {
	if len(l) == 0 {
		return nil
	}
	out := map[string]int{}
	for _, e := range l {
		out[e.Kind]++
	}
	return out
}

// storeResidue writes a plan's residue (before its header).
func (s *Service) storeResidue(ctx context.Context, planID string, l []residueEntry) error {
	if len(l) == 0 {
		return nil
	}
	_, err := s.meta.Create(ctx, residueKey(planID), residueRecord{Entries: l})
	return err
}

// stillResidue checks an entry again right before it is deleted: what
// became live or held since the plan is kept.
func (s *Service) stillResidue(ctx context.Context, e residueEntry, plan string) (bool, error) {
	if e.Case != "" {
		if held, err := s.caseHeldAnyhow(ctx, e.Case); err != nil || held {
			return false, err
		}
	}
	vs, err := s.store.Versions(ctx, e.Key)
	if errors.Is(err, objstore.ErrNotFound) || err == nil && len(vs) == 0 {
		// Gone already: an earlier run, or a disposal since the plan
		// (both stores answer ErrNotFound for a key with no version).
		return true, nil
	}
	if err != nil {
		return false, err
	}
	newest := vs[0]
	switch e.Kind {
	case ResidueCiphertext, ResidueUpload:
		doc, ver := residueDocVersion(e)
		recs, err := s.vault.Records(ctx, e.Case)
		if err != nil {
			return false, err
		}
		for _, r := range recs {
			if r.Doc != doc {
				continue
			}
			if r.Held {
				return false, nil
			}
			for _, v := range r.Versions {
				if strconv.Itoa(v.Version) == ver && !v.Erased {
					return false, nil // its upload finished after all
				}
			}
		}
		return !newest.DeleteMarker && s.now().Sub(newest.Modified) >= AbandonedAfter || newest.DeleteMarker, nil
	case ResidueSession, ResidueInvite:
		if newest.DeleteMarker {
			return true, nil
		}
		e2, ok, err := s.residueOf(ctx, e.Kind, newest, nil)
		if err != nil || !ok {
			return false, err
		}
		if e2.Case != "" {
			if held, err := s.caseHeldAnyhow(ctx, e2.Case); err != nil || held {
				return false, err
			}
		}
		return true, nil
	case ResidueJournal:
		return strings.HasPrefix(e.Key, "retention/plans/") && !strings.HasPrefix(e.Key, planPrefix(plan)), nil
	case ResidueSeatIndex:
		if newest.DeleteMarker {
			return true, nil
		}
		_, orphaned, err := s.seatOrphaned(ctx, newest, nil)
		return orphaned, err
	case ResidueEmailIndex:
		if newest.DeleteMarker {
			return true, nil
		}
		// Written again since (a join finishing), or its account back
		// with the address: kept.
		if s.now().Sub(newest.Modified) < AbandonedAfter {
			return false, nil
		}
		return s.accounts.ParticipantEmailEntryStale(ctx, e.Key)
	}
	return false, fmt.Errorf("residue of unknown kind %q", e.Kind)
}

// residueDocVersion names the document and version number (as stored
// in the key) of an orphaned ciphertext or abandoned upload.
func residueDocVersion(e residueEntry) (doc, ver string) {
	parts := strings.Split(e.Key, "/")
	if e.Kind == ResidueUpload {
		return parts[3], strings.TrimLeft(parts[4], "0")
	}
	return parts[2], parts[3]
}

// unholdResidue clears the storage hold an orphaned ciphertext or
// abandoned upload stillResidue let go may carry — one set before its
// upload's record write failed, or by a case hold's pass over the staged
// versions (vault holdStored), since released — and then checks the
// entry again, as vault's releaseDocument does: a case or document hold
// placed since that check, whose pass may have set the storage hold just
// cleared, is seen now, and the storage hold is set back and the entry
// kept (false). A hold recorded after the last check sets the storage
// hold before the delete (which the store then refuses; the apply stops
// there and, resumed, keeps the entry) or finds the version gone. Holds
// placed and released meanwhile have it set and cleared again, up to
// vault's holdSettleRounds (4) times; then it is kept, under its storage
// hold, with a WARN.
func (s *Service) unholdResidue(ctx context.Context, e residueEntry, plan string) (bool, error) {
	on := false
	for round := 1; ; round++ {
		if _, err := holdAllVersions(ctx, s.store, e.Key, on); err != nil {
			return false, s.rehold(ctx, e, fmt.Errorf("residue %s: %w", e.Kind, err))
		}
		ok, err := s.stillResidue(ctx, e, plan)
		if err != nil {
			return false, s.rehold(ctx, e, err)
		}
		held := false
		if ok {
			if !on {
				return true, nil
			}
		} else if held, err = s.residueHeld(ctx, e); err != nil {
			return false, s.rehold(ctx, e, err)
		}
		if !ok && held == on {
			return false, nil // kept: held, or listed and unheld (its record landed since)
		}
		if !held && round >= residueSettleRounds {
			s.logger.WarnContext(ctx, "retention: a staged version was kept under storage hold: holds on its case or document were placed and released while the sweep checked it; a later sweep removes it if no document lists it, else place and release a hold on its document to clear it",
				"plan", plan, "case", e.Case, "object", e.Key)
			return false, nil
		}
		on = held
	}
}

// residueSettleRounds bounds how often unholdResidue sets a staged
// version's storage hold again and clears it again (as vault's
// holdSettleRounds does for a document's release).
const residueSettleRounds = 4

// residueHeld reports whether the case or document of an orphaned
// ciphertext or abandoned upload is under any legal hold.
func (s *Service) residueHeld(ctx context.Context, e residueEntry) (bool, error) {
	held, err := s.caseHeldAnyhow(ctx, e.Case)
	if err != nil || held {
		return held, err
	}
	recs, err := s.vault.Records(ctx, e.Case)
	if err != nil {
		return false, err
	}
	doc, _ := residueDocVersion(e)
	for _, r := range recs {
		if r.Doc == doc && r.Held {
			return true, nil
		}
	}
	return false, nil
}

// reholdTimeout bounds rehold, which runs though the apply's context ends.
const reholdTimeout = 30 * time.Second

// rehold sets the storage hold of every stored version of a residue
// entry back (one unholdResidue cleared: the safe side when a hold may
// stand) and returns cause joined with what that failed on.
func (s *Service) rehold(ctx context.Context, e residueEntry, cause error) error {
	// Set back though the apply is being cancelled: a hold may stand.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), reholdTimeout)
	defer cancel()
	_, err := holdAllVersions(ctx, s.store, e.Key, true)
	if errors.Is(err, objstore.ErrNotFound) {
		err = nil // deleted meanwhile
	}
	if err != nil {
		err = fmt.Errorf("residue %s: storage hold not set back: %w", e.Kind, err)
	}
	return errors.Join(cause, err)
}

// applyResidue disposes of a plan's residue (once; its outcome is stored):
// each entry checked again, the destruction audited by counts, then every
// stored version of each deleted.
func (s *Service) applyResidue(ctx context.Context, actor account.Account, p Plan) error {
	if len(p.Residue) == 0 {
		return nil
	}
	if _, err := s.meta.Get(ctx, residueDoneKey(p.ID), &residueDone{}); err == nil {
		return nil
	} else if !errors.Is(err, metastore.ErrNotFound) {
		return err
	}
	var rec residueRecord
	if _, err := s.meta.Get(ctx, residueKey(p.ID), &rec); err != nil {
		return err
	}
	var goes []residueEntry
	kept := 0
	for _, e := range rec.Entries {
		ok, err := s.stillResidue(ctx, e, p.ID)
		if err != nil {
			return err
		}
		if ok && e.Kind == ResidueInvite {
			// A withdrawal still waiting for its audit entry gets it
			// before its record goes.
			if err := s.auditWithdrawals(ctx, []string{e.Key}); err != nil {
				return err
			}
		}
		if ok && (e.Kind == ResidueCiphertext || e.Kind == ResidueUpload) {
			// Its storage hold cleared, then checked again (a hold
			// placed meanwhile keeps it, held).
			if ok, err = s.unholdResidue(ctx, e, p.ID); err != nil {
				return err
			}
		}
		if ok {
			goes = append(goes, e)
		} else {
			kept++
		}
	}
	counts := residueCounts(goes)
	attrs := map[string]string{"plan": p.ID, "kept": strconv.Itoa(kept)}
	for _, k := range slices.Sorted(maps.Keys(counts)) {
		attrs[k] = strconv.Itoa(counts[k])
	}
	if err := s.record(ctx, audit.Event{Type: "retention.residue.destroyed", Actor: actor.ID, Objects: []string{p.ID}, Attrs: attrs}); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, e := range goes {
		vs, err := s.store.Versions(ctx, e.Key)
		if errors.Is(err, objstore.ErrNotFound) {
			continue // gone already
		}
		if err != nil {
			return err
		}
		// Older versions first, the newest (listed first) last, in calls
		// of their own: a signed-out session's newest version is the
		// sign-out's delete marker, and deleted first it would leave the
		// session as it was before, signing in, should the apply stop.
		for _, part := range [][]objstore.Version{vs[min(1, len(vs)):], vs[:min(1, len(vs))]} {
			infos := make([]objstore.Info, len(part))
			for i, v := range part {
				infos[i] = v.Info
			}
			if err := errors.Join(s.store.DeleteVersions(ctx, infos)...); err != nil {
				return fmt.Errorf("residue %s: %w", e.Kind, err)
			}
		}
	}
	if err := s.step("residue"); err != nil {
		return err
	}
	_, err := s.meta.Create(ctx, residueDoneKey(p.ID), residueDone{Destroyed: counts, Kept: kept, At: s.now().UTC()})
	if errors.Is(err, metastore.ErrExists) {
		return nil
	}
	return err
}

// certifyResidue reads a plan's residue outcome for its certificate: the
// counts by kind, and one residue class count in all.
func (s *Service) certifyResidue(ctx context.Context, p Plan, count func(class string, records, objects int)) (map[string]int, error) {
	if len(p.Residue) == 0 {
		return nil, nil
	}
	var d residueDone
	if _, err := s.meta.Get(ctx, residueDoneKey(p.ID), &d); err != nil {
		return nil, fmt.Errorf("residue outcome: %w", err)
	}
	total := 0
	for _, n := range d.Destroyed {
		total += n
	}
	if total > 0 {
		count(policy.ClassResidue, total, total)
	}
	return d.Destroyed, nil
}
