package retention

import (
	"context"
	"encoding/json"
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
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/evaluation"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/workers"
	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// Besides its documents and message history, a case leaves records in
// several packages. Each belongs to one of the case classes
// (policy.CaseClasses) and is found either under a prefix named by the
// case's id, or — for records keyed by a keyed hash of a token (an
// invitation, a survey token, a sign-in session) — by reading every
// stored version under the prefix and keeping those of the case (or of
// its participants). Disposal deletes every stored version: a record an
// application updated or deleted still has its older versions in a
// versioned bucket, and they hold the same names and emails.
//
// Where each class lives (kept in step with the packages that write it):
//
//	invites-sessions   invites/<hash>, reentries/<hash> and
//	                   email-confirmations/<hash> (CaseID),
//	                   sessions/<case>/ (package
//	                   schedule: scheduled sessions and their reminders),
//	                   outbox/cases/<case>/, outbox/due/<case>/, and the
//	                   same under sign-in.<case> (package mail: SignInOutbox)
//	carries-consents   keydir/carries/<case>/
//	survey-responses   surveys/responses/<case>/, surveys/tokens/<hash>
//	                   (CaseID), followups/plans/<case>, followups/responses/<case>/,
//	                   followups/tokens/<hash> (CaseID: check-in links), and
//	                   the check-ins' mail: outbox/cases/<case>/fu-…,
//	                   outbox/due/<case>/fu-… (mail.FollowUpIDPrefix), which
//	                   invites-sessions leaves (carvedOut)
//	key-directory      keydir/statements/<case>/, keydir/agreements/<case>/
//	                   (signatures on settlement agreements; the key-directory
//	                   log's entries keep only their hashes, and stay)
//	case-record        cases/<case>/ (the case record), vault/<case>/ (what the
//	                   vault keeps beside its documents: released holds),
//	                   agreements/<case>/ (package agreement: version numbers and
//	                   signatures; its texts and signed PDF are vault documents),
//	                   retention/holds/<case>/, and all of the above;
//	                   then, once the case record and its participants'
//	                   accounts are gone, seat-index/<hash>/<hash>
//	                   (package cases: the index of seats by address)
//	                   (CaseID), a step of its own (disposeCaseRecord):
//	                   a seat counts for the emailed sign-in link as long
//	                   as its case record or account is stored, so its
//	                   entry must be stored as long
//	participant-account accounts/<id>, keydir/devices/<id>/,
//	                   keydir/revocations/<id>/, keydir/endorsements/<id>/
//	                   (which device vouched for which), keydir/pairings/<id>/
//	                   (pairing codes' records and the key shares they
//	                   carried), sessions/<hash> (AccountID),
//	                   participant-emails/<hash>/<id> (package account: the
//	                   contact email's index entries for the emailed sign-in
//	                   link; the id is in the key)

// tokenRecord is the part of a token-keyed record retention needs.
type tokenRecord struct {
	CaseID    string `json:"caseId"`
	AccountID string `json:"accountId"`
	// Case is the case an entry of the index of references names
	// (cases.ReferencesPrefix).
	Case string `json:"case"`
}

// inventory is the token-keyed records, by case or account, read once per
// plan or page.
type inventory struct {
	invites      map[string][]string // case → keys
	surveyTokens map[string][]string // case → keys (survey and check-in links)
	sessions     map[string][]string // account → keys
	emailIndex   map[string][]string // account → its participant-email index entries' keys
	seats        map[string][]string // case → its entries in the index of seats by address
	references   map[string][]string // case → its entry in the index of references (newest version names it)
	seatCase     map[string]string   // each entry of the index of seats by address → its case
}

// takeInventory reads every version of every token-keyed record.
func (s *Service) takeInventory(ctx context.Context) (*inventory, error) {
	inv := &inventory{}
	var err error
	if inv.invites, err = s.groupTokenRecords(ctx, "invites/", func(r tokenRecord) string { return r.CaseID }); err != nil {
		return nil, err
	}
	// Re-entry links (package cases) are invitations back in: the same class.
	reentries, err := s.groupTokenRecords(ctx, "reentries/", func(r tokenRecord) string { return r.CaseID })
	if err != nil {
		return nil, err
	}
	for c, keys := range reentries {
		inv.invites[c] = append(inv.invites[c], keys...)
	}
	// So are a participant's email confirmations (package cases: a link
	// that confirms their address for emailed sign-in links), kept by case.
	confirmations, err := s.groupTokenRecords(ctx, "email-confirmations/", func(r tokenRecord) string { return r.CaseID })
	if err != nil {
		return nil, err
	}
	for c, keys := range confirmations {
		inv.invites[c] = append(inv.invites[c], keys...)
	}
	// The entries of the index of seats by address (package cases,
	// seatindex.go: seat-index/<hash>/<hash>), kept by case: they go with
	// the case record, after it (disposeCaseRecord).
	if inv.seatCase, err = s.seatEntryCases(ctx, nil); err != nil {
		return nil, err
	}
	inv.seats = map[string][]string{}
	for _, key := range slices.Sorted(maps.Keys(inv.seatCase)) {
		inv.seats[inv.seatCase[key]] = append(inv.seats[inv.seatCase[key]], key)
	}
	if inv.surveyTokens, err = s.groupTokenRecords(ctx, "surveys/tokens/", func(r tokenRecord) string { return r.CaseID }); err != nil {
		return nil, err
	}
	// Follow-up check-in links (package schedule) go with the survey
	// tokens: the same class, and a link lives up to two years.
	checkIns, err := s.groupTokenRecords(ctx, "followups/tokens/", func(r tokenRecord) string { return r.CaseID })
	if err != nil {
		return nil, err
	}
	for c, keys := range checkIns {
		inv.surveyTokens[c] = append(inv.surveyTokens[c], keys...)
	}
	// The index of references (package cases, reference.go), by the case
	// its newest version names: it goes with the case record, after it
	// (disposeCaseRecord, destroyReference).
	if inv.references, err = s.groupTokenRecords(ctx, cases.ReferencesPrefix, func(r tokenRecord) string { return r.Case }); err != nil {
		return nil, err
	}
	if inv.sessions, err = s.groupTokenRecords(ctx, "sessions/", func(r tokenRecord) string { return r.AccountID }); err != nil {
		return nil, err
	}
	if inv.emailIndex, err = emailIndexEntries(ctx, s.store); err != nil {
		return nil, err
	}
	return inv, nil
}

// seatEntryCases maps every entry of the index of seats by address
// (cases.SeatIndexPrefix) with a stored version to its case, read from
// its newest version that is not a delete marker. An entry's key is a
// keyed hash of its case and seat, so an entry known (the case it names)
// is not read again; only the others are.
func (s *Service) seatEntryCases(ctx context.Context, known map[string]string) (map[string]string, error) {
	out := map[string]string{}
	byCase, err := s.groupRecords(ctx, cases.SeatIndexPrefix, func(rest string) bool {
		key := cases.SeatIndexPrefix + rest
		if c, ok := known[key]; ok {
			out[key] = c
			return false
		}
		return true
	}, func(r tokenRecord) string { return r.CaseID })
	if err != nil {
		return nil, err
	}
	for c, keys := range byCase {
		for _, k := range keys {
			out[k] = c
		}
	}
	return out, nil
}

// emailIndexEntries groups the keys of the participant-email index
// (account.ParticipantEmailsPrefix: <hash>/<account id>) by the account
// they name, every key with a stored version (a delete marker too: its
// older versions are still stored). The account is in the key, so
// nothing is read: an entry is found whether or not its account's record
// (and so its email) is still there — after a crash between the two, or
// for an address the account had before.
func emailIndexEntries(ctx context.Context, store objstore.Store) (map[string][]string, error) {
	out := map[string][]string{}
	last := ""
	err := store.VersionsUnder(ctx, account.ParticipantEmailsPrefix, func(v objstore.Version) error {
		if v.Key == last {
			return nil
		}
		last = v.Key
		if id := account.ParticipantEmailAccount(v.Key); id != "" {
			out[id] = append(out[id], v.Key)
		}
		return nil
	})
	return out, err
}

// planInventory is the inventory for applying a plan: taken at its first
// page this process applies, and kept for the next ones (reading every
// token-keyed record once per page would make a large apply quadratic).
// A record made since is left for the next plan; one deleted since is
// deleted again harmlessly.
func (s *Service) planInventory(ctx context.Context, planID string) (*inventory, error) {
	s.invMu.Lock()
	inv := s.inv[planID]
	s.invMu.Unlock()
	if inv != nil {
		return inv, nil
	}
	inv, err := s.takeInventory(ctx)
	if err != nil {
		return nil, err
	}
	s.invMu.Lock()
	s.inv = map[string]*inventory{planID: inv} // one plan's at a time
	s.invMu.Unlock()
	return inv, nil
}

// dropInventory forgets planID's inventory once its apply is done: it
// can hold every sign-in session's key, and no later page needs it; and
// what it read of the audit log (disposals).
func (s *Service) dropInventory(planID string) {
	s.invMu.Lock()
	delete(s.inv, planID)
	delete(s.disp, planID)
	s.invMu.Unlock()
}

// groupTokenRecords groups the keys directly under prefix (one segment:
// "sessions/<case>/…" are scheduled sessions, not sign-in ones) by what
// of reads from the newest stored version of each.
func (s *Service) groupTokenRecords(ctx context.Context, prefix string, of func(tokenRecord) string) (map[string][]string, error) {
	return s.groupRecords(ctx, prefix, func(rest string) bool { return !strings.Contains(rest, "/") }, of)
}

// groupRecords is groupTokenRecords for the keys under prefix whose rest
// keep accepts.
func (s *Service) groupRecords(ctx context.Context, prefix string, keep func(rest string) bool, of func(tokenRecord) string) (map[string][]string, error) {
	type kv struct{ key, version string }
	var list []kv
	last := ""
	err := s.store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
		if !keep(v.Key[len(prefix):]) || v.DeleteMarker || v.Key == last {
			return nil
		}
		last = v.Key // newest first: the first version of a key is its newest
		list = append(list, kv{v.Key, v.VersionID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	owners := make([]string, len(list))
	errs := make([]error, len(list))
	workers.Run(len(list), s.parallel, func(i int) {
		var r tokenRecord
		_, err := s.meta.GetVersion(ctx, list[i].key, list[i].version, &r)
		if errors.Is(err, objstore.ErrNotFound) {
			return
		}
		owners[i], errs[i] = of(r), err
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for i, o := range owners {
		if o != "" {
			out[o] = append(out[o], list[i].key)
		}
	}
	return out, nil
}

// classPlaces returns where a case class's records of caseID are: the
// prefixes (every key under them) and the exact keys. The case record's
// places are every class's and its own.
func classPlaces(class, caseID string, inv *inventory) (prefixes, keys []string) {
	switch class {
	case policy.ClassInvitesSessions:
		signIn := mail.SignInOutbox(caseID)
		return []string{"sessions/" + caseID + "/", "outbox/cases/" + caseID + "/", "outbox/due/" + caseID + "/",
			"outbox/cases/" + signIn + "/", "outbox/due/" + signIn + "/"}, inv.invites[caseID]
	case policy.ClassCarriesConsents:
		return []string{"keydir/carries/" + caseID + "/"}, nil
	case policy.ClassSurveyResponses:
		return []string{"surveys/responses/" + caseID + "/", "followups/responses/" + caseID + "/",
				"outbox/cases/" + caseID + "/" + mail.FollowUpIDPrefix, "outbox/due/" + caseID + "/" + mail.FollowUpIDPrefix},
			append([]string{"followups/plans/" + caseID}, inv.surveyTokens[caseID]...)
	case policy.ClassKeyDirectory:
		return []string{"keydir/statements/" + caseID + "/", "keydir/agreements/" + caseID + "/"}, nil
	case policy.ClassCaseRecord:
		return []string{"vault/" + caseID + "/", "retention/holds/" + caseID + "/", keepPrefix(caseID), "cases/" + caseID + "/",
			"agreements/" + caseID + "/"}, nil
	case policy.ClassStatisticalStub:
		return nil, []string{cases.StubKey(caseID)}
	}
	return nil, nil
}

// storedVersions lists every stored version (delete markers too) under
// the given prefixes and keys. A case's whole outbox
// (outbox/cases/<case>/, outbox/due/<case>/) is listed without its
// follow-up check-ins' messages (carvedOut), which go with the
// survey-responses class under prefixes of their own.
func (s *Service) storedVersions(ctx context.Context, prefixes, keys []string) ([]objstore.Version, error) {
	var out []objstore.Version
	for _, p := range prefixes {
		if err := s.store.VersionsUnder(ctx, p, func(v objstore.Version) error {
			if !carvedOut(p, v.Key) {
				out = append(out, v)
			}
			return nil
		}); err != nil {
			return nil, err
		}
	}
	for _, k := range keys {
		vs, err := s.store.Versions(ctx, k)
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	return out, nil
}

// carvedOut reports whether key, listed under prefix, belongs to another
// class than the prefix's: under a case's whole outbox (invites-sessions),
// a follow-up check-in's message or due marker (mail.FollowUpIDPrefix),
// which waits for its day up to two years after closure and goes with
// the follow-ups (survey-responses). By name, not by state, so that a
// message is in one class only, whatever happens to it meanwhile.
func carvedOut(prefix, key string) bool {
	for _, box := range []string{"outbox/cases/", "outbox/due/"} {
		if c, ok := strings.CutPrefix(prefix, box); ok && strings.Count(c, "/") == 1 && strings.HasSuffix(c, "/") {
			return strings.HasPrefix(key, prefix+mail.FollowUpIDPrefix)
		}
	}
	return false
}

// countKeys counts the distinct keys with a stored version that is not a
// delete marker, and their bytes.
func countKeys(vs []objstore.Version) (n int, size int64) {
	seen := map[string]bool{}
	for _, v := range vs {
		if v.DeleteMarker {
			continue
		}
		size += v.Size
		if !seen[v.Key] {
			seen[v.Key] = true
			n++
		}
	}
	return n, size
}

// deleteVersions deletes every given version; a held one stops it with
// objstore.ErrHeld.
func (s *Service) deleteVersions(ctx context.Context, vs []objstore.Version) error {
	for chunk := range slices.Chunk(vs, 1000) {
		infos := make([]objstore.Info, len(chunk))
		for i, v := range chunk {
			infos[i] = v.Info
		}
		if err := errors.Join(s.store.DeleteVersions(ctx, infos)...); err != nil {
			if errors.Is(err, objstore.ErrHeld) {
				return objstore.ErrHeld
			}
			return err
		}
	}
	return nil
}

// caseClassItems lists a case's case-class records due as of asOf: one
// item per class with anything stored (the case record always is).
func (s *Service) caseClassItems(ctx context.Context, sched policy.Schedule, c *cases.Case, asOf time.Time, inv *inventory, held []string) ([]Item, error) {
	var out []Item
	for _, class := range policy.CaseClasses() {
		d := sched.Decide(policy.RecordFacts{Class: class, Created: c.Created, CaseClosed: c.Closed}, asOf)
		if !d.Due {
			continue
		}
		prefixes, keys := classPlaces(class, c.ID, inv)
		if class == policy.ClassCaseRecord {
			keys = append(slices.Concat(keys, inv.seats[c.ID]), inv.references[c.ID]...) // destroyed after it
		}
		vs, err := s.storedVersions(ctx, prefixes, keys)
		if err != nil {
			return nil, err
		}
		n, size := countKeys(vs)
		if n == 0 && class != policy.ClassCaseRecord {
			continue
		}
		it := Item{Case: c.ID, Class: class, Trigger: d.Rule.Trigger, TriggerAt: d.TriggerAt,
			DueAt: d.DueAt, Size: size, Held: slices.Clone(held)}
		if class == policy.ClassCaseRecord {
			it.Paused = c.DisposalPaused
		}
		out = append(out, it)
	}
	return out, nil
}

// stubItems lists the statistical stubs due as of asOf.
func (s *Service) stubItems(ctx context.Context, sched policy.Schedule, asOf time.Time) ([]Item, error) {
	var out []Item
	err := s.cases.Stubs(ctx, func(st *cases.Stub) error {
		d := sched.Decide(policy.RecordFacts{Class: policy.ClassStatisticalStub, Created: st.Made}, asOf)
		if d.Due {
			out = append(out, Item{Case: st.Case, Class: policy.ClassStatisticalStub, Trigger: d.Rule.Trigger,
				TriggerAt: d.TriggerAt, DueAt: d.DueAt})
		}
		return nil
	})
	return out, err
}

// itemRank orders a case's items: documents, then message history, then
// the case classes with the case record last, so that a case record is
// only reached once everything else of its case planned was.
func itemRank(it Item) int {
	switch {
	case it.Doc != "":
		return 0
	case it.Class == policy.ClassMessageHistory:
		return 1
	case it.Class == policy.ClassStatisticalStub:
		return 99
	}
	return 2 + slices.Index(policy.CaseClasses(), it.Class)
}

func isCaseClass(class string) bool {
	return class == policy.ClassStatisticalStub || slices.Contains(policy.CaseClasses(), class)
}

// caseJournal is what a case record's disposal writes before it destroys
// anything, at retention/plans/<plan>/cases/<case>, create-only: a rerun
// after a crash carries out the same disposal and certifies the same
// counts, though part of what they count is gone already.
//
// Fence is the time of the fence it was decided under (Case.Disposing): a
// journal whose fence was lifted since (a hold or a keep met by a later
// run, then fenced again) decided on what the case held then, not now,
// and is decided again (prepareCaseRecord).
type caseJournal struct {
	Counts   map[string]int `json:"counts"`
	Accounts []string       `json:"accounts"`
	Stub     cases.Stub     `json:"stub"`
	Audit    *int64         `json:"audit,omitempty"`
	Fence    *time.Time     `json:"fence,omitempty"`
}

func caseJournalKey(planID, caseID string) string { return planPrefix(planID) + "cases/" + caseID }

// membership maps every account named in a stored case to those cases.
func (s *Service) membership(ctx context.Context) (map[string][]string, error) {
	var mu sync.Mutex
	out := map[string][]string{}
	err := s.cases.All(ctx, func(c *cases.Case) error {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range c.Participants {
			out[p.AccountID] = append(out[p.AccountID], c.ID)
		}
		for _, p := range c.Removed {
			out[p.AccountID] = append(out[p.AccountID], c.ID)
		}
		for _, m := range c.Mediators {
			out[m.AccountID] = append(out[m.AccountID], c.ID)
		}
		for _, m := range c.PendingMediators {
			out[m.AccountID] = append(out[m.AccountID], c.ID)
		}
		return nil
	})
	return out, err
}

// classJournal is what a case class's disposal of one case writes first,
// at retention/plans/<plan>/classes/<case>.<class>, create-only: the count
// the certificate gives, and the audit entry once written, so a rerun
// certifies the same count and audits once.
//
// Accounts (the invitations' class only) are the participant accounts its
// invitations claimed for a join that never seated them
// (claimedAccounts), destroyed before the invitations, counted as
// participant-account.
type classJournal struct {
	Objects  int      `json:"objects"`
	Accounts []string `json:"accounts,omitempty"`
	Audit    *int64   `json:"audit,omitempty"`
}

func classJournalKey(planID, caseID, class string) string {
	return planPrefix(planID) + "classes/" + caseID + "." + class
}

// disposeClassItem destroys one case class's records of one case (not
// the case record): journaled count, one audit entry, then every stored
// version.
func (s *Service) disposeClassItem(ctx context.Context, actor account.Account, p Plan, it Item, inv *inventory, ga *groupAudit) (Outcome, error) {
	if it.Class == policy.ClassCarriesConsents {
		if err := s.checkCarries(ctx, it.Case); err != nil {
			return Outcome{}, err
		}
	}
	prefixes, keys := classPlaces(it.Class, it.Case, inv)
	vs, err := s.storedVersions(ctx, prefixes, keys)
	if err != nil {
		return Outcome{}, err
	}
	if err := s.auditWithdrawals(ctx, keys); err != nil {
		return Outcome{}, err
	}
	if err := s.auditListed(ctx, it.Case, vs, ga); err != nil {
		return Outcome{}, err
	}
	jkey := classJournalKey(p.ID, it.Case, it.Class)
	var j classJournal
	if _, err := s.meta.Get(ctx, jkey, &j); errors.Is(err, metastore.ErrNotFound) {
		j.Objects, _ = countKeys(vs)
		if it.Class == policy.ClassInvitesSessions {
			if j.Accounts, err = s.closedCaseClaims(ctx, it.Case, keys); err != nil {
				return Outcome{}, err
			}
		}
		if _, err := s.meta.Create(ctx, jkey, j); err != nil && !errors.Is(err, metastore.ErrExists) {
			return Outcome{}, err
		}
		if _, err := s.meta.Get(ctx, jkey, &j); err != nil {
			return Outcome{}, err
		}
	} else if err != nil {
		return Outcome{}, err
	}
	counts := map[string]int{it.Class: j.Objects}
	if len(j.Accounts) > 0 {
		counts[policy.ClassParticipantAccount] = len(j.Accounts)
	}
	if j.Audit == nil {
		attrs := map[string]string{"plan": p.ID, "class": it.Class, "objects": strconv.Itoa(j.Objects)}
		if len(j.Accounts) > 0 {
			attrs[policy.ClassParticipantAccount] = strconv.Itoa(len(j.Accounts))
		}
		idx, err := ga.append(audit.Event{Type: "retention.records.destroyed", Actor: actor.ID, Case: it.Case,
			Objects: j.Accounts, Time: s.now().UTC(), Attrs: attrs})
		if err != nil {
			return Outcome{}, fmt.Errorf("audit: %w", err)
		}
		if _, err := metastore.Update(ctx, s.meta, jkey, func(r *classJournal) error {
			if r.Audit == nil {
				r.Audit = &idx
			}
			return nil
		}); err != nil {
			return Outcome{}, err
		}
		j.Audit = &idx
	}
	// The claimed accounts before the invitations that name them, so a
	// rerun after a crash still finds them (journaled, too).
	for i, id := range j.Accounts {
		if err := s.destroyAccount(ctx, it.Case, id, inv, ga); err != nil {
			if errors.Is(err, objstore.ErrHeld) {
				return heldAfterAccounts(i, j.Audit), nil
			}
			return Outcome{}, err
		}
	}
	if len(j.Accounts) > 0 {
		if err := s.step("claimed-accounts"); err != nil {
			return Outcome{}, err
		}
	}
	if err := s.destroyPlaces(ctx, it.Case, prefixes, keys, vs, caseHidden(it.Case), ga); err != nil {
		if errors.Is(err, objstore.ErrHeld) {
			return heldAfterAccounts(len(j.Accounts), j.Audit), nil
		}
		return Outcome{}, err
	}
	return Outcome{Result: OutcomeDestroyed, Counts: counts, Audit: j.Audit}, nil
}

// heldAfterAccounts is the outcome of a class item a storage hold stopped
// after the first n of its claimed accounts were destroyed (and audited,
// audit): kept, and those accounts counted, so that the certificate names
// every account it destroyed (a later plan no longer finds them).
func heldAfterAccounts(n int, audit *int64) Outcome {
	o := Outcome{Result: OutcomeHeld, Held: []string{"storage hold"}}
	if n > 0 {
		o.Counts, o.Audit = map[string]int{policy.ClassParticipantAccount: n}, audit
	}
	return o
}

// prepareCaseRecord decides what becomes of a case record: kept (while a
// document version or message batch of its case remains), or going, with
// its journal: read back if an earlier run wrote it, else counted now
// (accounts are filled in by the caller).
func (s *Service) prepareCaseRecord(ctx context.Context, p Plan, it Item, inv *inventory) (*Outcome, *caseJournal, *cases.Case, error) {
	var j caseJournal
	_, err := s.meta.Get(ctx, caseJournalKey(p.ID, it.Case), &j)
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return nil, nil, nil, err
	}
	if err == nil {
		// A rerun: the journal stands while the fence it was decided
		// under does. One lifted since (a case hold or a keep met by a
		// run whose page then failed on another item; the case took
		// changes meanwhile) is dropped and the case decided again.
		c, berr := s.cases.BeginDisposal(ctx, it.Case, p.ID)
		switch {
		case errors.Is(berr, fault.ErrNotFound):
			return nil, &j, nil, nil // deleted by an earlier run: finish
		case errors.Is(berr, cases.ErrDisposalUnderWay):
			return underWay(), nil, nil, nil
		case c == nil:
			return nil, nil, nil, fmt.Errorf("case %s: %w", it.Case, berr)
		case j.Fence == nil || c.Disposing == nil || c.Disposing.Equal(*j.Fence):
			return nil, &j, nil, nil
		}
		if err := s.meta.Delete(ctx, caseJournalKey(p.ID, it.Case)); err != nil {
			return nil, nil, nil, err
		}
		j = caseJournal{}
	}
	if err := s.checkCarries(ctx, it.Case); err != nil {
		return nil, nil, nil, err
	}
	// The case goes unless something of it is kept: fence it against any
	// further change or addition first, appending what its outbox holds
	// (cases/disposal.go), then look for what keeps it. Checking the
	// outbox without the fence left a window in which a change could
	// land, its own append fail, and its event go with the record (review
	// M1); looking for documents and messages before the fence left one
	// in which an upload or a post landed and went with the record,
	// without vault.Dispose. An upload checks the fence again once its
	// document or version is visible (cases.RefuseAdditions), so it is
	// seen here (the case is kept, its fence lifted) or taken back there;
	// it reads the fence once its version is staged, before the record
	// change that lists it, too, so a change that lands only later (its
	// upload answered ErrUnconfirmed) is of a version staged before this
	// look, which keeps the case (vault.RecordsAndStaged).
	// A post is refused where a connection's right to post is decided
	// (caucus), which a connection caches until the case's topic announces
	// a change: the fence announces itself (caucus DisposalBegun), and a
	// connection that missed it is told within a few seconds by its
	// node's own watch (package web: the fence markers listed every 2 s,
	// cases/fencemarks.go, then cases.CheckFence). A post stored
	// meanwhile is seen here (the case is kept) or deleted with the case
	// (endRooms). A key-directory statement or
	// admission checks the fence again once stored, as an upload does. A
	// failed append leaves the case fenced and the plan applying; the
	// apply is resumed later, as for any step.
	c, err := s.cases.BeginDisposal(ctx, it.Case, p.ID)
	if errors.Is(err, fault.ErrNotFound) {
		// Gone since planning. If nothing is left under its record's
		// places (else refused, as before), either another plan listing
		// the case destroyed it (BeginDisposal refuses a second one while
		// the first's fence stands) — which its audit entry shows — or it
		// was lost some other way (deleted outside Parley), which this
		// plan must not certify as destroyed (missingCase).
		prefixes, keys := classPlaces(policy.ClassCaseRecord, it.Case, inv)
		vs, lerr := s.storedVersions(ctx, prefixes, keys)
		if lerr != nil {
			return nil, nil, nil, lerr
		}
		if n, _ := countKeys(vs); n == 0 {
			// Destroyed or missing: the audit log decides, for the
			// page's gone case records together (goneCases).
			return &Outcome{Result: outcomeGone}, nil, nil, nil
		}
	}
	if errors.Is(err, cases.ErrDisposalUnderWay) {
		return underWay(), nil, nil, nil
	}
	if c == nil {
		return nil, nil, nil, fmt.Errorf("case %s: %w", it.Case, err)
	}
	// Versions staged but not listed keep the case too: an upload whose
	// record change was not confirmed may still list one after this look
	// (it read the fence before that change, and saw none). Counted in
	// the same look as the documents (one read of them: a change landing
	// between two reads would be missed by both counts), however old: the
	// case record's disposal does not reach a staged version's ciphertext
	// (docs/<case>/), so the case waits until the retention sweep
	// (abandoned-upload) has removed it.
	records, staged, err := s.vault.RecordsAndStaged(ctx, it.Case)
	if err != nil {
		return nil, nil, nil, err
	}
	left := staged
	for _, r := range records {
		for _, v := range r.Versions {
			if !v.Erased {
				left++
			}
		}
	}
	msgs, _, err := s.messageHistory(ctx, it.Case)
	if err != nil {
		return nil, nil, nil, err
	}
	if left > 0 || len(msgs) > 0 {
		return &Outcome{Result: OutcomeKept, Kept: fmt.Sprintf("%d document versions and %d message batches of the case remain", left, len(msgs))}, nil, nil,
			s.cases.EndDisposal(ctx, it.Case, p.ID)
	}
	if kept, err := s.activeKeeps(ctx, it.Case); err != nil || kept > 0 { // actions.go
		if err == nil {
			err = s.cases.EndDisposal(ctx, it.Case, p.ID)
		}
		return &Outcome{Result: OutcomeKept, Kept: fmt.Sprintf("%d records of the case are kept by a review or a keep", kept)}, nil, nil, err
	}
	if n := len(c.Unaudited); n > 0 {
		return nil, nil, nil, fmt.Errorf("case %s: %d change(s) not yet in the audit log; apply again once it takes writes: %w", it.Case, n, fault.ErrUnavailable)
	}
	j.Counts = map[string]int{}
	for _, class := range policy.CaseClasses() {
		prefixes, keys := classPlaces(class, it.Case, inv)
		if class == policy.ClassCaseRecord {
			// The case's entries in the index of seats by address and
			// in the index of references go with it, after it
			// (disposeCaseRecord).
			keys = append(slices.Concat(keys, inv.seats[it.Case]), inv.references[it.Case]...)
		}
		vs, err := s.storedVersions(ctx, prefixes, keys)
		if err != nil {
			return nil, nil, nil, err
		}
		if n, _ := countKeys(vs); n > 0 {
			j.Counts[class] = n
		}
	}
	resps, err := s.cases.SurveyResponses(ctx, c.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	j.Stub = evaluation.MakeStub(c, resps, s.now())
	j.Fence = c.Disposing
	return nil, &j, c, nil
}

// outcomeGone marks, between prepareCaseRecord and goneCases, a case
// record that is gone, nothing left under its places; it is never stored.
const outcomeGone = "gone"

// goneCases decides the outcome of the page's case records that are gone,
// nothing left under their places (outcomeGone), when this plan reaches
// them without a journal of its own: destroyed if the audit log shows a
// plan's disposal of the case completed (destroyedByPlan), else missing —
// lost some other way (deleted outside Parley), not destroyed by Parley,
// and not on the certificate as destroyed. The statistical stub is no
// such evidence: a disposal that paused at a storage hold stored it and
// left the case record, which may then have been lost.
func (s *Service) goneCases(ctx context.Context, p Plan, items []Item, out []Outcome) error {
	var ids []string
	for i := range out {
		if out[i].Result == outcomeGone {
			ids = append(ids, items[i].Case)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	d := s.takeDisposals(p.ID)
	destroyed, err := s.destroyedByPlan(ctx, d, ids)
	if err != nil {
		return err
	}
	s.keepDisposals(p.ID, d)
	for i := range out {
		if out[i].Result != outcomeGone {
			continue
		}
		if destroyed[items[i].Case] {
			out[i] = Outcome{Result: OutcomeDestroyed}
			continue
		}
		s.logger.WarnContext(ctx, "retention: a case record due for disposal is missing, and no retention plan destroyed it", "case", items[i].Case)
		out[i] = Outcome{Result: OutcomeMissing, Missing: missingCaseWords}
	}
	return nil
}

// missingCaseWords is a missing case record's outcome (Outcome.Missing).
const missingCaseWords = "the case record was missing when this plan reached it, and the audit log shows no retention plan destroying it: " +
	"it was not destroyed by Parley and is not certified as destroyed"

// disposals is what a plan's apply has read of the audit log about case
// disposals: the entries [lo, hi), and for each case named in them by a
// retention.case.destroyed or retention.case.paused entry whether the
// latest of those is the former. An apply keeps it from page to page
// (takeDisposals), so the log is read once per plan, however many case
// records it finds gone.
type disposals struct {
	read   bool // lo and hi are set
	lo, hi int64
	last   map[string]bool
}

// takeDisposals hands the plan's disposals read so far (or none) to one
// page of its apply; keepDisposals gives them back. A plan applied twice
// at once reads for each apply that finds none.
func (s *Service) takeDisposals(planID string) *disposals {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	d := s.disp[planID]
	delete(s.disp, planID)
	if d == nil {
		d = &disposals{last: map[string]bool{}}
	}
	return d
}

func (s *Service) keepDisposals(planID string, d *disposals) {
	s.invMu.Lock()
	defer s.invMu.Unlock()
	s.disp = map[string]*disposals{planID: d} // one plan's at a time
}

// destroyedByPlan reports, for each case, whether the audit log's last
// word on its disposal is its destruction: a retention.case.destroyed
// entry (written by disposeCaseRecord before anything of the case record
// is deleted) not followed by a retention.case.paused one (a disposal
// stopped at a storage hold, which leaves the case record). It reads,
// into d, the entries appended since d was last read (all of them this
// node has not seen yet, another node's too), then the log from where d
// stopped backwards until every case is decided or the log's start is
// reached: a case a plan destroyed shortly before is found at once; only
// a case no plan ever disposed of is read for through the whole log,
// which is rare (a record lost outside Parley) — and, d kept for the
// plan, no entry is read twice.
func (s *Service) destroyedByPlan(ctx context.Context, d *disposals, caseIDs []string) (map[string]bool, error) {
	verdict := func(ev audit.Event) (decided, destroyed bool) {
		switch ev.Type {
		case "retention.case.destroyed":
			return ev.Case != "", true
		case "retention.case.paused":
			return ev.Case != "", false
		}
		return false, false
	}
	if !d.read {
		d.read = true
		d.lo = s.audit.Size()
		d.hi = d.lo
	}
	for ; ; d.hi++ {
		ev, err := s.audit.Entry(ctx, d.hi)
		if errors.Is(err, objstore.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		if ok, destroyed := verdict(ev); ok {
			d.last[ev.Case] = destroyed // later entries decide
		}
	}
	undecided := func() bool {
		for _, id := range caseIDs {
			if _, ok := d.last[id]; !ok {
				return true
			}
		}
		return false
	}
	const chunk = 256
	for d.lo > 0 && undecided() {
		lo := max(d.lo-chunk, 0)
		evs := make([]audit.Event, d.lo-lo)
		errs := make([]error, d.lo-lo)
		workers.Run(len(evs), s.parallel, func(j int) {
			evs[j], errs[j] = s.audit.Entry(ctx, lo+int64(j))
		})
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
		for j := len(evs) - 1; j >= 0; j-- {
			if ok, destroyed := verdict(evs[j]); ok {
				if _, later := d.last[evs[j].Case]; !later {
					d.last[evs[j].Case] = destroyed
				}
			}
		}
		d.lo = lo
	}
	out := make(map[string]bool, len(caseIDs))
	for _, id := range caseIDs {
		out[id] = d.last[id]
	}
	return out, nil
}

// underWay is the outcome of a case record another plan's disposal has
// fenced (cases.ErrDisposalUnderWay): this plan leaves it to that one,
// rather than failing its page, which would leave its own fences on the
// page's other cases while that plan, in turn, stopped at them.
func underWay() *Outcome {
	return &Outcome{Result: OutcomeKept, Kept: "another retention plan is disposing of this case; applying that plan again finishes it"}
}

// isParticipantAccount reports whether an account is stored and a
// participant's (staff accounts are never destroyed by retention).
// An account hidden by an earlier disposal stopped by a storage hold (a
// delete marker over its versions) is read from its newest stored
// version, so a later plan still finds and destroys it.
func (s *Service) isParticipantAccount(ctx context.Context, id string) (bool, error) {
	var a account.Account
	err := s.olderVersion(ctx, "accounts/"+id, &a)
	if errors.Is(err, metastore.ErrNotFound) || errors.Is(err, objstore.ErrNotFound) {
		return false, nil
	}
	return err == nil && a.Role == policy.RoleParticipant, err
}

// disposeCaseRecord carries out a journaled case record's disposal, each
// step rerun-safe:
//
//  1. the statistical stub stored (create-only);
//  2. the destruction audited (once: its index is journaled);
//  3. the journaled participants' accounts, devices, sign-in sessions and
//     email index entries deleted, every stored version;
//  4. the case's room history ended and every stored version under its
//     rooms deleted (endRooms: what was posted after the keep check);
//  5. every stored version of every class's records of the case deleted,
//     the case record's own places (cases/<case>/) last, each class's
//     after the audit events pending in what it deletes (auditListed);
//  6. then the case's entries in the index of seats by address (package
//     cases), every stored version. IssueSignInLink counts a seat while
//     its case record (or, for a participant, their account) is stored,
//     and the index must never miss one: deleted any earlier, an apply
//     stopped between the two (or a case-record rule longer than the
//     invitations', as the default schedule's) would leave a seat the
//     index misses, and a link mailed to an address another seat has.
//     Left after a crash, an entry no record backs is ignored by
//     IssueSignInLink, and the rerun deletes it. These are the entries
//     the plan's inventory found; one written since (during the
//     disposal) goes once every page is applied (lateseats.go).
//
// The case is fenced first (cases.BeginDisposal) and nothing is done
// while an event is pending in it.
func (s *Service) disposeCaseRecord(ctx context.Context, actor account.Account, p Plan, caseID string, j caseJournal, inv *inventory, ga *groupAudit) (Outcome, error) {
	// The fence again (prepareCaseRecord set it): a rerun, or a journal
	// written before fences existed, must not destroy a record with
	// events pending. A record gone already was deleted by an earlier run.
	c, err := s.cases.BeginDisposal(ctx, caseID, p.ID)
	switch {
	case errors.Is(err, fault.ErrNotFound):
	case c == nil:
		return Outcome{}, fmt.Errorf("case %s: %w", caseID, err)
	case len(c.Unaudited) > 0:
		return Outcome{}, fmt.Errorf("case %s: %d change(s) not yet in the audit log; apply again once it takes writes: %w", caseID, len(c.Unaudited), fault.ErrUnavailable)
	}
	if err := s.cases.SaveStub(ctx, j.Stub); err != nil {
		return Outcome{}, err
	}
	if err := s.step("stub"); err != nil {
		return Outcome{}, err
	}
	if j.Audit == nil {
		attrs := map[string]string{"plan": p.ID}
		for class, n := range j.Counts {
			attrs[class] = strconv.Itoa(n)
		}
		idx, err := ga.append(audit.Event{Type: "retention.case.destroyed", Actor: actor.ID, Case: caseID,
			Objects: j.Accounts, Time: s.now().UTC(), Attrs: attrs})
		if err != nil {
			return Outcome{}, fmt.Errorf("audit: %w", err)
		}
		if _, err := metastore.Update(ctx, s.meta, caseJournalKey(p.ID, caseID), func(r *caseJournal) error {
			if r.Audit == nil {
				r.Audit = &idx
			}
			return nil
		}); err != nil {
			return Outcome{}, err
		}
		j.Audit = &idx
	}
	if err := s.step("case-audit"); err != nil {
		return Outcome{}, err
	}
	for _, id := range j.Accounts {
		if err := s.destroyAccount(ctx, caseID, id, inv, ga); err != nil {
			if errors.Is(err, objstore.ErrHeld) {
				return s.pauseDisposal(ctx, actor, p, caseID)
			}
			return Outcome{}, err
		}
	}
	if err := s.step("accounts"); err != nil {
		return Outcome{}, err
	}
	if err := s.endRooms(ctx, caseID); err != nil {
		if errors.Is(err, objstore.ErrHeld) {
			// As any storage hold met while deleting: paused (the rooms'
			// history stays ended, so the paused case takes no message).
			return s.pauseDisposal(ctx, actor, p, caseID)
		}
		return Outcome{}, err
	}
	for _, class := range policy.CaseClasses() {
		prefixes, keys := classPlaces(class, caseID, inv)
		vs, err := s.storedVersions(ctx, prefixes, keys)
		if err != nil {
			return Outcome{}, err
		}
		if err := s.auditWithdrawals(ctx, keys); err != nil {
			return Outcome{}, err
		}
		if err := s.auditListed(ctx, caseID, vs, ga); err != nil {
			return Outcome{}, err
		}
		if err := s.destroyPlaces(ctx, caseID, prefixes, keys, vs, caseHidden(caseID), ga); err != nil {
			if errors.Is(err, objstore.ErrHeld) {
				return s.pauseDisposal(ctx, actor, p, caseID)
			}
			return Outcome{}, err
		}
	}
	if err := s.step("case-record-deleted"); err != nil {
		return Outcome{}, err
	}
	// The case's entries in the index of seats by address, once the case
	// record and its participants' accounts are gone (step 6 above).
	seatKeys := inv.seats[caseID]
	vs, err := s.storedVersions(ctx, nil, seatKeys)
	if err != nil {
		return Outcome{}, err
	}
	// The case record is gone, so there is no disposal to pause: an
	// error (a storage hold too) stops the apply, to be resumed.
	if err := s.destroyPlaces(ctx, caseID, nil, seatKeys, vs, caseHidden(caseID), ga); err != nil {
		return Outcome{}, fmt.Errorf("case %s: its entries in the index of seats by address: %w", caseID, err)
	}
	if err := s.step("seat-index"); err != nil {
		return Outcome{}, err
	}
	// Its entry in the index of references, once the case record is gone.
	for _, key := range inv.references[caseID] {
		if err := s.destroyReference(ctx, caseID, key); err != nil {
			return Outcome{}, fmt.Errorf("case %s: its entry in the index of references: %w", caseID, err)
		}
	}
	// The case's fence marker (cases/fencemarks.go), after the record:
	// every version deleted and one written anew, so that a node's watch
	// that never listed the fence's marker (fenced and destroyed between
	// two of its passes) sees one appear and finds the case gone;
	// ClearStaleFences deletes it once cases.GoneFenceAge old. A crash
	// before this leaves it to the rerun (or ClearStaleFences).
	if err := s.cases.GoneFenceMark(ctx, caseID); err != nil {
		return Outcome{}, err
	}
	if err := s.step("case-record"); err != nil {
		return Outcome{}, err
	}
	return Outcome{Result: OutcomeDestroyed, Counts: maps.Clone(j.Counts), Audit: j.Audit}, nil
}

// destroyReference deletes every stored version of key, case caseID's
// entry in the index of references (cases.ReferencesPrefix), listed once:
// a case opened meanwhile under the same reference (cases.claimReference
// takes an entry over once the case it names is gone) writes a newer
// version, which must stay, so nothing listed again is deleted, and an
// entry whose newest version names another case already is left as it
// is (that case's disposal takes it, older versions too).
func (s *Service) destroyReference(ctx context.Context, caseID, key string) error {
	vs, err := s.store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) || err == nil && len(vs) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	for _, v := range vs { // newest first
		if v.DeleteMarker {
			continue
		}
		var r tokenRecord
		if _, err := s.meta.GetVersion(ctx, key, v.VersionID, &r); errors.Is(err, objstore.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if r.Case != caseID {
			return nil // taken over: another case's now
		}
		break
	}
	return s.deleteVersions(ctx, vs)
}

// destroyAccount deletes every stored version of a participant's account
// id, its devices, sign-in sessions and email index entries, for the
// disposal of case caseID (a storage hold: objstore.ErrHeld).
func (s *Service) destroyAccount(ctx context.Context, caseID, id string, inv *inventory, ga *groupAudit) error {
	// Hidden first, as the case record: deleted newest first, an
	// account's older version (before its sessions were revoked), or a
	// session's from before its sign-out, would be current again, and
	// sign-in-able, until the apply finished.
	prefixes := []string{"keydir/devices/" + id + "/", "keydir/revocations/" + id + "/",
		"keydir/endorsements/" + id + "/", "keydir/pairings/" + id + "/"}
	// The account's email index entries go in the same call: those
	// the plan's inventory found (by the account id in their keys, so
	// a rerun finds them though the account's record went first), and
	// those of every address a stored version of the account names
	// (an entry written since the inventory was taken).
	keys := append([]string{"accounts/" + id}, inv.sessions[id]...)
	keys = append(keys, inv.emailIndex[id]...)
	indexed, err := s.emailIndexKeys(ctx, id)
	if err != nil {
		return err
	}
	for _, k := range indexed {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	vs, err := s.storedVersions(ctx, prefixes, keys)
	if err != nil {
		return err
	}
	return s.destroyPlaces(ctx, caseID, prefixes, keys, vs, hideAll, ga)
}

// emailIndexKeys returns the participant-email index entries of account
// id for every address a stored version of its record names.
func (s *Service) emailIndexKeys(ctx context.Context, id string) ([]string, error) {
	vs, err := s.store.Versions(ctx, "accounts/"+id)
	if errors.Is(err, objstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, v := range vs {
		if v.DeleteMarker {
			continue
		}
		var a account.Account
		if _, err := s.meta.GetVersion(ctx, v.Key, v.VersionID, &a); errors.Is(err, objstore.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		if a.Email == "" {
			continue
		}
		if k := s.accounts.ParticipantEmailPrefix(a.Email) + id; !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}

// pauseDisposal ends a case record's disposal that met a storage (legal)
// hold part way: what the hold keeps, and whatever was not deleted yet,
// stays, readable (destroyPlaces took its markers back), and the fence
// is replaced by the paused state (cases.PauseDisposal), audited first
// (retention.case.paused): the case takes changes again, records staff
// see it held, and the next plan reaching the case record after the
// hold is released resumes the disposal. The case's journal in this plan
// is deleted before the fence is lifted: a later run of this plan (the
// page stopped on another item) must not carry out the journaled
// disposal of a case that took changes and additions — a document, a
// keep — while paused, but decide again from the start
// (prepareCaseRecord), as the next plan does. An audit or a delete that
// fails leaves the fence: the apply stops, to be resumed.
func (s *Service) pauseDisposal(ctx context.Context, actor account.Account, p Plan, caseID string) (Outcome, error) {
	if err := s.record(ctx, audit.Event{Type: "retention.case.paused", Actor: actor.ID, Case: caseID,
		Attrs: map[string]string{"plan": p.ID, "reason": "storage-hold"}}); err != nil {
		return Outcome{}, fmt.Errorf("audit: %w", err)
	}
	if err := s.meta.Delete(ctx, caseJournalKey(p.ID, caseID)); err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return Outcome{}, err
	}
	if _, err := s.cases.PauseDisposal(ctx, caseID, p.ID); err != nil {
		return Outcome{}, err
	}
	return Outcome{Result: OutcomeHeld, Held: []string{"storage hold"}}, nil
}

// endRooms ends the message history of a case whose record is being
// destroyed (messaging.EndHistory) and deletes every stored version under
// its rooms. prepareCaseRecord found no message when it looked (after the
// fence), but a post may have been stored since: one acknowledged by a
// connection that had not yet heard of the fence (caucus DisposalBegun;
// at most a few seconds: its node's check of the case, cases.CheckFence),
// or one a node's journal held then and compacted after. A post
// acknowledged after the marker is not refused: it is journaled, and its
// compaction drops it. Once the marker is written no batch lands
// for good (a writer that missed it sees it on its second check and
// deletes what it wrote), so the listing after it finds all there will
// ever be, and nothing posted to the case outlives its certificate.
func (s *Service) endRooms(ctx context.Context, caseID string) error {
	if err := messaging.EndHistory(ctx, s.store, caseID); err != nil {
		return fmt.Errorf("end message history: %w", err)
	}
	vs, err := s.storedVersions(ctx, []string{caucus.HistoryPrefix(caseID)}, nil)
	if err != nil {
		return err
	}
	return s.deleteVersions(ctx, vs)
}

// disposeCaseItems carries out a page's case-class items (those not held
// already): the other classes first, then the case records.
func (s *Service) disposeCaseItems(ctx context.Context, actor account.Account, p Plan, items []Item, out []Outcome) error {
	var idx []int
	for i, it := range items {
		if out[i].Result == "" && isCaseClass(it.Class) {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	inv, err := s.planInventory(ctx, p.ID)
	if err != nil {
		return err
	}
	// Holds, read again (a case hold in the vault too).
	for _, i := range idx {
		if items[i].Class == policy.ClassStatisticalStub {
			continue
		}
		held, err := s.vault.CaseHeld(ctx, items[i].Case)
		if err != nil {
			return err
		}
		if held {
			out[i] = Outcome{Result: OutcomeHeld, Held: []string{"case hold"}}
			if items[i].Class == policy.ClassCaseRecord {
				// A fence an earlier run left (cases/disposal.go) is lifted:
				// the held case is not disposed of.
				if err := s.cases.EndDisposal(ctx, items[i].Case, p.ID); err != nil {
					return err
				}
			}
		}
	}
	var others, records []int
	for _, i := range idx {
		switch {
		case out[i].Result != "":
		case items[i].Class == policy.ClassCaseRecord:
			records = append(records, i)
		default:
			others = append(others, i)
		}
	}
	ga := newGroupAudit(ctx, s.audit)
	defer ga.close()
	errs := make([]error, len(items))
	workers.Run(len(others), s.parallel, func(j int) {
		i := others[j]
		out[i], errs[i] = s.disposeClassItem(ctx, actor, p, items[i], inv, ga)
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := s.step("case-classes"); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	// Case records: which go, and their journals.
	journals := make([]*caseJournal, len(items))
	fresh := make([]*cases.Case, len(items))
	workers.Run(len(records), s.parallel, func(j int) {
		i := records[j]
		var kept *Outcome
		kept, journals[i], fresh[i], errs[i] = s.prepareCaseRecord(ctx, p, items[i], inv)
		if kept != nil {
			out[i] = *kept
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := s.goneCases(ctx, p, items, out); err != nil {
		return err
	}
	// A participant's account goes with the last of their cases: when
	// every stored case naming them goes now (or went in an earlier,
	// stopped run of this plan). It is counted with the first of those
	// cases by id.
	going := map[string]bool{}
	for _, i := range records {
		if journals[i] != nil {
			going[items[i].Case] = true
		}
	}
	members, err := s.membership(ctx)
	if err != nil {
		return err
	}
	for _, i := range records {
		c := fresh[i]
		if c == nil {
			continue // journaled before, accounts and all
		}
		// Everyone who took part, including those a mediator removed: their
		// accounts go with the case too.
		people := slices.Clone(c.Participants)
		for _, r := range c.Removed {
			people = append(people, r.Participant)
		}
		for _, pt := range people {
			in := members[pt.AccountID]
			if !slices.ContainsFunc(in, func(id string) bool { return !going[id] }) && slices.Min(in) == c.ID {
				ok, err := s.isParticipantAccount(ctx, pt.AccountID)
				if err != nil {
					return err
				}
				if ok && !slices.Contains(journals[i].Accounts, pt.AccountID) {
					journals[i].Accounts = append(journals[i].Accounts, pt.AccountID)
				}
			}
		}
		// And the accounts its invitations claimed for a join that never
		// seated them (claimedAccounts): the case's disposal destroys
		// the invitations, the only link to them. The case is fenced, so
		// no join seats anyone now.
		claimed, err := s.claimedAccounts(ctx, inv.invites[c.ID], members)
		if err != nil {
			return err
		}
		for _, id := range claimed {
			if !slices.Contains(journals[i].Accounts, id) {
				journals[i].Accounts = append(journals[i].Accounts, id)
			}
		}
		if len(journals[i].Accounts) > 0 {
			journals[i].Counts[policy.ClassParticipantAccount] = len(journals[i].Accounts)
		}
		key := caseJournalKey(p.ID, c.ID)
		if _, err := s.meta.Create(ctx, key, journals[i]); err != nil && !errors.Is(err, metastore.ErrExists) {
			return err
		}
		if _, err := s.meta.Get(ctx, key, journals[i]); err != nil { // another run's journal wins
			return err
		}
	}
	if err := s.step("case-journal"); err != nil {
		return err
	}
	workers.Run(len(records), s.parallel, func(j int) {
		i := records[j]
		if journals[i] != nil {
			out[i], errs[i] = s.disposeCaseRecord(ctx, actor, p, items[i].Case, *journals[i], inv, ga)
		}
	})
	return errors.Join(errs...)
}

// checkCarries refuses (503, the apply is resumed later, as for a case
// record's own pending events in prepareCaseRecord) while a carry record
// of the case holds audit events not yet in the log (keydir/carry.go's
// outbox): disposing of keydir/carries/<case>/ would lose them. Those are
// flushed first when Config.Carries is set.
func (s *Service) checkCarries(ctx context.Context, caseID string) error {
	if s.carries != nil {
		if _, err := s.carries.FlushCarries(ctx, caseID); err != nil {
			s.logger.WarnContext(ctx, "retention: a carry's pending audit events could not be appended", "case", caseID, "err", err)
		}
	}
	n, err := s.carriesPending(ctx, caseID)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("case %s: %d carry record(s) hold changes not yet in the audit log; apply again once it takes writes: %w", caseID, n, fault.ErrUnavailable)
	}
	return nil
}

// carriesPending counts the case's carry records whose outbox is not
// empty. It reads only that field of keydir.Carry.
func (s *Service) carriesPending(ctx context.Context, caseID string) (int, error) {
	n := 0
	err := s.meta.List(ctx, "keydir/carries/"+caseID+"/", func(key string) error {
		var cr struct {
			Unaudited []json.RawMessage `json:"unaudited"`
		}
		if _, err := s.meta.Get(ctx, key, &cr); errors.Is(err, metastore.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		if len(cr.Unaudited) > 0 {
			n++
		}
		return nil
	})
	return n, err
}

// auditListed appends, before the versions vs are deleted, every audit
// event pending in the newest listed version of each record of the case
// that keeps an outbox: its case record and its carry records. What a
// deletion destroys is audited first. Normally there is nothing: the case
// record was fenced and emptied (cases.BeginDisposal) and the carries
// flushed (checkCarries). It is for what landed after those checks — a
// carry decision racing the disposal (keydir refuses a fenced case, but
// reads the fence before it writes), or a case journaled by a run from
// before fences. A version written after the listing is not deleted (it
// stays, the record's only one), so its events are not lost either. A key
// whose newest listed version is a delete marker is skipped: the record
// was deleted on purpose (a carry proposal taken back because it could
// not be audited), and what its older versions hold never stood. An event
// appended here may also be appended by its own request: a duplicate,
// which the outbox's guarantee allows, never a gap.
func (s *Service) auditListed(ctx context.Context, caseID string, vs []objstore.Version, ga *groupAudit) error {
	seen := map[string]bool{}
	for _, v := range vs {
		if seen[v.Key] {
			continue
		}
		seen[v.Key] = true // versions of a key come newest first
		if v.DeleteMarker || (v.Key != cases.RecordKey(caseID) && !strings.HasPrefix(v.Key, "keydir/carries/"+caseID+"/")) {
			continue
		}
		var rec struct {
			Unaudited []cases.PendingEvent `json:"unaudited"`
		}
		if _, err := s.meta.GetVersion(ctx, v.Key, v.VersionID, &rec); errors.Is(err, objstore.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		for _, p := range rec.Unaudited {
			if _, err := ga.append(p.Event); err != nil {
				return fmt.Errorf("case %s: an audit event pending in %s could not be appended (%v); apply again once the log takes writes: %w",
					caseID, v.Key, err, fault.ErrUnavailable)
			}
		}
	}
	return nil
}

// destroyRounds bounds how often destroyPlaces lists a case's places
// again after deleting what it listed.
const destroyRounds = 4

// caseHidden reports which of a case's records destroyPlaces hides
// before deleting their versions: the case record, whose fence
// (Disposing) refuses every change, and the case's carries.
func caseHidden(caseID string) func(key string) bool {
	return func(key string) bool {
		return key == cases.RecordKey(caseID) || strings.HasPrefix(key, "keydir/carries/"+caseID+"/")
	}
}

// hideAll hides every record: a participant's account, sessions and
// devices, of which an older version (before a revocation or sign-out)
// must never be current again.
func hideAll(string) bool { return true }

// destroyPlaces deletes every stored version under the given places of
// case caseID. vs is their listing, the events pending in it appended
// already (auditListed). hide says which keys are hidden first.
//
// Deleting a key's versions newest first, as listed, would make each
// older version current in turn — the case record as it was before its
// fence, then before it was closed; a participant's account as it was
// before its sessions were revoked, a session before its sign-out — so a
// change could be accepted into a record being destroyed and survive it
// (its version was not listed), a participant removed could read the
// case again, and a revoked session sign in. So:
//
//  1. the keys hide names (the case record and its carries; every
//     record of a participant's account) are first hidden behind a
//     delete marker (Delete of the latest version): reads find nothing,
//     and a change (a conditional write on what it read) has nothing to
//     change;
//  2. the places are listed again, and the events pending in a version
//     that appeared since the first listing appended;
//  3. every key's versions are deleted, its newest (the marker) last, in
//     a call of its own, so no older version is ever current: first the
//     keys not hidden, then the hidden ones (their versions but the
//     newest two, then the newest stored before the marker, then the
//     marker), so that a storage hold met on the way leaves each hidden
//     record as it was, its newest version current once the marker is
//     taken back;
//  4. the places are listed again and, while a version appeared
//     meanwhile, steps 1-3 repeat, at most destroyRounds times in all;
//     places still not empty then are an error (the apply is resumed
//     later), never a record certified destroyed that remains.
//
// A version under a storage (legal) hold stops it with objstore.ErrHeld;
// the markers this call wrote are deleted first, so what survives of the
// record is readable again (the caller pauses the disposal).
func (s *Service) destroyPlaces(ctx context.Context, caseID string, prefixes, keys []string, vs []objstore.Version, hide func(string) bool, ga *groupAudit) error {
	for round := 0; len(vs) > 0; round++ {
		if round == destroyRounds {
			return fmt.Errorf("case %s: %d record versions appeared while its records were destroyed; apply again: %w",
				caseID, len(vs), fault.ErrUnavailable)
		}
		if round > 0 {
			if err := s.auditListed(ctx, caseID, vs, ga); err != nil {
				return err
			}
		}
		before := map[[2]string]bool{}
		for _, v := range vs {
			before[[2]string{v.Key, v.VersionID}] = true
		}
		var marked []string
		newest := map[string]bool{}
		for _, v := range vs {
			if newest[v.Key] {
				continue
			}
			newest[v.Key] = true // versions of a key come newest first
			if v.DeleteMarker || !hide(v.Key) {
				continue
			}
			if err := s.store.Delete(ctx, v.Key, ""); err != nil {
				return errors.Join(err, s.unhide(ctx, marked, before))
			}
			marked = append(marked, v.Key)
		}
		if len(marked) > 0 {
			var err error
			if vs, err = s.storedVersions(ctx, prefixes, keys); err != nil {
				return errors.Join(err, s.unhide(ctx, marked, before))
			}
			var fresh []objstore.Version
			for _, v := range vs {
				if !before[[2]string{v.Key, v.VersionID}] && !v.DeleteMarker {
					fresh = append(fresh, v)
				}
			}
			if err := s.auditListed(ctx, caseID, fresh, ga); err != nil {
				return errors.Join(err, s.unhide(ctx, marked, before))
			}
		}
		// tiers[0], [1]: keys not marked, older versions then the newest;
		// [2], [3], [4]: marked keys, their versions but the newest two,
		// the newest stored one, the marker.
		var tiers [5][]objstore.Version
		isMarked := map[string]bool{}
		for _, k := range marked {
			isMarked[k] = true
		}
		rank := map[string]int{}
		for _, v := range vs {
			r := rank[v.Key] // versions of a key come newest first
			rank[v.Key]++
			switch {
			case !isMarked[v.Key] && r == 0:
				tiers[1] = append(tiers[1], v)
			case !isMarked[v.Key]:
				tiers[0] = append(tiers[0], v)
			case r == 0:
				tiers[4] = append(tiers[4], v)
			case r == 1:
				tiers[3] = append(tiers[3], v)
			default:
				tiers[2] = append(tiers[2], v)
			}
		}
		for _, tier := range tiers {
			if err := s.deleteVersions(ctx, tier); err != nil {
				return errors.Join(err, s.unhide(ctx, marked, before))
			}
		}
		var err error
		if vs, err = s.storedVersions(ctx, prefixes, keys); err != nil {
			return err
		}
	}
	return nil
}

// unhide deletes the delete markers destroyPlaces wrote over keys (the
// newest version of each, a marker not in the listing before), after a
// disposal that could not finish.
func (s *Service) unhide(ctx context.Context, keys []string, before map[[2]string]bool) error {
	var errs []error
	for _, k := range keys {
		vs, err := s.store.Versions(ctx, k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(vs) > 0 && vs[0].DeleteMarker && !before[[2]string{k, vs[0].VersionID}] {
			errs = append(errs, s.store.Delete(ctx, k, vs[0].VersionID))
		}
	}
	return errors.Join(errs...)
}

// auditWithdrawals appends, before invitation records among keys are
// destroyed, the case.invite.withdrawn entry of each whose withdrawal is
// still unaudited (cases.Invite.WithdrawnUnaudited: its request's append
// failed, or its node died, before the entry was in the log), as read
// from its newest stored version that is not a delete marker: destroying
// the record would otherwise lose the withdrawal from the log for good.
// An append that fails stops the apply (resumed later), the record kept.
// A rerun may append an entry twice, never lose it.
func (s *Service) auditWithdrawals(ctx context.Context, keys []string) error {
	for _, key := range keys {
		id, ok := strings.CutPrefix(key, "invites/")
		if !ok || strings.Contains(id, "/") {
			continue
		}
		var inv cases.Invite
		if err := s.olderVersion(ctx, key, &inv); errors.Is(err, objstore.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if err := s.cases.AuditPendingWithdrawal(ctx, id, inv); err != nil {
			return fmt.Errorf("invitation withdrawn, its audit entry not yet in the log: %w", err)
		}
	}
	return nil
}
