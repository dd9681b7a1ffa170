package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
)

// A side's own material — a document to which one of its parties or
// lawyers added a version while it was in the side's caucus — leaves the
// side only when a party or lawyer of that side approves exactly that
// share (policy/vault.cedar,
// "side-documents-leave-caucus-only-with-side-approval"). The side sticks
// to the document (docRecord.Sides, never cleared): a move within the
// side (to the mediators only, to named people of the side) needs no
// approval, and the next share beyond the side needs the side's approval
// as a share straight out of its caucus does. A document holding two
// sides' material needs each side's approval for a share beyond that
// side. A mediator asks (RequestShare: one request per side); the side
// allows or declines (DecideShareRequest); the mediator's share then goes
// through (ShareWithKeys passes the approvals to policy). A document only
// mediators added to a caucus is theirs and needs no approval. A share
// moves the whole document, so an approval is of the document as it
// stood when asked: its latest version and every earlier one not erased,
// each named to the side before it answers (Shows); a version added
// since voids it, for good: erasing that version again does not bring
// the approval back (ShareApproval.Top).

// ShareRequestTTL is how long a request waits for the side's answer.
const ShareRequestTTL = 7 * 24 * time.Hour

// MaxShareRequestsPerDocument bounds the requests kept for one document
// (answered ones included): a mediator asks again only a few times.
const MaxShareRequestsPerDocument = 32

// The states of a share request. Expired is computed: a pending request
// past its Expires.
const (
	SharePending  = "pending"
	ShareApproved = "approved"
	ShareDeclined = "declined"
	ShareExpired  = "expired"
)

// ShareApproval is a mediator's request that a side allow one of its caucus
// documents to be shared wider, and the side's answer (metastore key
// vault/<case>/approvals/<doc>/<id>). It holds ids only: never a name.
type ShareApproval struct {
	ID      string `json:"id"` // sa_…
	Case    string `json:"case"`
	Doc     string `json:"doc"`
	Version int    `json:"version"` // the document's latest version when asked: the approval is for it
	// Top is the highest version number the document's record listed
	// when asked, erased ones included (docRecord.top). The approval
	// counts only while it still is: once a newer version has existed,
	// the document is no longer as the side was asked about it, even
	// after that version is erased and Version is the latest again.
	// Requests stored before it existed have none (top()).
	Top int `json:"top,omitempty"`
	// Asked lists the numbers of the versions the request named to the
	// side: every version up to Version not erased when asked (shownBy).
	// A version's number is taken before its body is read, so one
	// numbered below Version can still be listed after the side answered;
	// the approval counts only while every version up to Version not
	// erased is one of these (about). Requests stored before it existed
	// have none and count no more: the mediator asks again.
	Asked []int `json:"asked,omitempty"`
	// From is the document's audience when asked (its side's caucus, or
	// where a share within the side put it); To the audience asked for.
	From Audience `json:"from"`
	// Side is the side asked: one whose material the document holds
	// (docRecord.Sides). Requests stored before it existed were all made
	// of a document in its side's caucus: their side is From's (side()).
	Side        string     `json:"side,omitempty"`
	To          Audience   `json:"to"`
	RequestedBy string     `json:"requestedBy"`
	Requested   time.Time  `json:"requested"`
	Expires     time.Time  `json:"expires"`
	Status      string     `json:"status"` // pending, approved, declined (expired: pending past Expires)
	DecidedBy   string     `json:"decidedBy,omitempty"`
	Decided     *time.Time `json:"decided,omitempty"`
	// DecidedSide is the side DecidedBy was of when they answered (policy
	// let them answer only as the side asked). An approval counts only as
	// that side's, and only if it is the side asked (approvedBy). Answers
	// stored before it existed were given by a person of the side asked,
	// the only one policy let answer: theirs is the side asked
	// (decidedSide()).
	DecidedSide string `json:"decidedSide,omitempty"`
	// The answer's consent: the device of DecidedBy's own that signed it
	// (e2ee.ConsentShare over e2ee.ShareConsentText), how that device
	// counts for the account ("first" or "linked"), its clock when it
	// signed (unix ms) and the signature, base64. Answers stored before
	// answers were signed have none.
	DecidedDevice string `json:"decidedDevice,omitempty"`
	DeviceTrust   string `json:"deviceTrust,omitempty"`
	SignedAt      int64  `json:"signedAt,omitempty"`
	Signature     string `json:"signature,omitempty"`
	// Gaining (in answers only): who could open the document after such a
	// share and cannot now, as the case stands.
	Gaining []Person `json:"gaining,omitempty"`
	// Shows (in answers only): every version such a share shows, newest
	// first — Version and each earlier version not erased. All of them
	// were in the side's caucus when the request was made.
	Shows []VersionInfo `json:"shows,omitempty"`
}

func approvalKey(caseID, docID, id string) string {
	return "vault/" + caseID + "/approvals/" + docID + "/" + id
}

func approvalPrefix(caseID string) string { return "vault/" + caseID + "/approvals/" }

// state is the request's status as of now.
func (a *ShareApproval) state(now time.Time) string {
	if a.Status == SharePending && !now.Before(a.Expires) {
		return ShareExpired
	}
	return a.Status
}

// side is the side the request asks.
func (a *ShareApproval) side() string {
	if a.Side == "" && a.From.Kind == policy.AudienceCaucus {
		return a.From.Side
	}
	return a.Side
}

// decidedSide is the side the request's answer was given as.
func (a *ShareApproval) decidedSide() string {
	if a.DecidedSide == "" && a.DecidedBy != "" {
		return a.side()
	}
	return a.DecidedSide
}

// top is the highest version number the document listed when asked; a
// request stored before Top existed counts as asked when Version was the
// highest (so one whose document has listed a newer version since, even
// one erased now, counts no more).
func (a *ShareApproval) top() int {
	if a.Top == 0 {
		return a.Version
	}
	return a.Top
}

// about reports whether a was asked of d as it stands: its latest version
// is the one asked about, no newer version has been listed since (an
// erased one included), and every earlier version not erased was named to
// the side when asked (Asked): one listed late, after the side answered,
// was not. A version erased since shares less than the side allowed and
// leaves the approval standing.
func (a *ShareApproval) about(d *docRecord) bool {
	if a.Version != d.latest().Version || a.top() != d.top() || len(a.Asked) == 0 {
		return false
	}
	for _, v := range d.Versions {
		if v.Version <= a.Version && !v.Erased && !slices.Contains(a.Asked, v.Version) {
			return false
		}
	}
	return true
}

// askedOf lists the numbers of the versions a request about version of d
// names to the side (shownBy).
func askedOf(d *docRecord, version int) []int {
	var out []int
	for _, v := range shownBy(d, version) {
		out = append(out, v.Version)
	}
	return out
}

// approvalFor reports whether a is an approval of sharing d as it stands
// (about) with exactly to, given as side's: the side asked is side, and
// its approver answered as side's (policy then checks they are of side
// still).
func (a *ShareApproval) approvalFor(side string, d *docRecord, to Audience) bool {
	return a.Status == ShareApproved && a.about(d) && a.To.Equal(to) &&
		side != "" && a.side() == side && a.decidedSide() == side
}

// isMediator reports whether account is one of the case's mediators, ever
// assigned (recused ones included).
func isMediator(c *cases.Case, account string) bool {
	return slices.ContainsFunc(c.Mediators, func(m cases.Mediator) bool { return m.AccountID == account })
}

// materialSides lists the sides whose own material d holds: the sides
// recorded on it (docRecord.Sides), or for a record written before they
// were recorded, the sides derived from it conservatively (legacySides).
func materialSides(d *docRecord, c *cases.Case) []string {
	if d.SidesRecorded {
		return d.Sides
	}
	return legacySides(d, c)
}

// legacySides derives the sides of a record without SidesRecorded. Policy
// let a party or lawyer add a version only to their own side's caucus, so
// each version a non-mediator added is their side's material: the side of
// the uploader, a participant of the case or one removed from it. To
// never be weaker than the rule before sides were recorded, a document in
// a caucus now with any such version is that caucus's side's too; a
// version whose uploader is found nowhere in the case makes it the
// caucus's side's if it is in one, and otherwise every side's.
func legacySides(d *docRecord, c *cases.Case) []string {
	var out []string
	add := func(side string) {
		if side != "" && !slices.Contains(out, side) {
			out = append(out, side)
		}
	}
	for _, v := range d.Versions {
		if isMediator(c, v.Uploader) {
			continue
		}
		if d.Audience.Kind == policy.AudienceCaucus {
			add(d.Audience.Side)
		}
		if p, ok := c.Participant(v.Uploader); ok {
			add(p.Side)
			continue
		}
		if i := slices.IndexFunc(c.Removed, func(r cases.RemovedParticipant) bool { return r.AccountID == v.Uploader }); i >= 0 {
			add(c.Removed[i].Side)
			continue
		}
		if d.Audience.Kind != policy.AudienceCaucus {
			for _, sd := range c.Sides {
				add(sd.ID)
			}
		}
	}
	slices.Sort(out)
	return out
}

// keepSides writes r's sides down (a record without SidesRecorded gets
// its derived ones) and adds the side of the caucus r is in when uploader,
// not a mediator, adds a version to it (uploader "": no version added).
// It is called wherever r is written with a new version or a new
// audience, so a document's sides never depend on where it is now.
func keepSides(r *docRecord, c *cases.Case, uploader string) {
	if !r.SidesRecorded {
		r.Sides, r.SidesRecorded = slices.Clone(legacySides(r, c)), true
	}
	if uploader != "" && !isMediator(c, uploader) && r.Audience.Kind == policy.AudienceCaucus && !slices.Contains(r.Sides, r.Audience.Side) {
		r.Sides = append(r.Sides, r.Audience.Side)
		slices.Sort(r.Sides)
	}
}

// recordVersionSide records the side version num of r is added as by
// uploader (r.VersionSides): the side of the caucus r is in, if uploader
// is a party or lawyer of that side (policy lets them add only there);
// nothing for a mediator's version or anyone else's.
func recordVersionSide(r *docRecord, c *cases.Case, num int, uploader string) {
	if isMediator(c, uploader) || r.Audience.Kind != policy.AudienceCaucus || r.Audience.Side == "" ||
		participantSide(c, uploader) != r.Audience.Side {
		return
	}
	if r.VersionSides == nil {
		r.VersionSides = map[int]string{}
	}
	r.VersionSides[num] = r.Audience.Side
}

// shareDoc describes d to policy for a share decision.
func shareDoc(d *docRecord, c *cases.Case) policy.Document {
	pd := d.policyDoc()
	pd.MaterialSides = materialSides(d, c)
	return pd
}

// approvals lists the stored requests for one document.
func (s *Service) approvals(ctx context.Context, caseID, docID string) ([]ShareApproval, error) {
	var out []ShareApproval
	err := s.meta.List(ctx, approvalPrefix(caseID)+docID+"/", func(key string) error {
		var a ShareApproval
		if _, err := s.meta.Get(ctx, key, &a); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil
			}
			return err
		}
		out = append(out, a)
		return nil
	})
	return out, err
}

// approvedBy lists, side by side, who approved sharing d as it stands
// with exactly to as that side's (approvalFor): an approval counts for
// the one side it was asked of and given as, never for another (policy
// checks the approvers are still of it, in the case).
func approvedBy(list []ShareApproval, d *docRecord, to Audience) map[string][]string {
	by := map[string][]string{}
	for i := range list {
		a := &list[i]
		side := a.side()
		if a.approvalFor(side, d, to) && !slices.Contains(by[side], a.DecidedBy) {
			by[side] = append(by[side], a.DecidedBy)
		}
	}
	return by
}

// shareTarget is to as policy sees it, with who approved it as which
// side's.
func shareTarget(to Audience, by map[string][]string) policy.ShareTarget {
	return policy.ShareTarget{Audience: to.Kind, Side: to.Side, Users: to.Users, ApprovedBy: by}
}

// sideLabel names a side for people ("Tenant"), or "side A".
func sideLabel(c *cases.Case, id string) string {
	for _, sd := range c.Sides {
		if sd.ID == id && sd.Label != "" {
			return sd.Label
		}
	}
	return "side " + id
}

// errNeedsApproval is the refusal of a share the side has not approved.
func errNeedsApproval(c *cases.Case, side string) error {
	l := sideLabel(c, side)
	return fmt.Errorf("the %s side added this document to its caucus: it is shown to anyone outside that side only after a party or lawyer of the %s side allows exactly this share. Ask them first: %w", l, l, fault.ErrForbidden)
}

// RequestShare records a mediator's request that the document's side allow
// sharing it with to. It is refused when no approval is needed (the
// mediator shares it directly), and answers the pending request already
// made for the same version, audience and side instead of making a second.
// A document holding the material of several sides that have not all
// allowed the share needs a request to each: each call asks the first
// such side not asked yet, and once every one has been asked answers the
// first request still pending. The request is audited
// (doc.share.requested) before it is stored.
func (s *Service) RequestShare(ctx context.Context, actor account.Account, caseID, docID string, to Audience) (ShareApproval, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return ShareApproval{}, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocShare)
	if err != nil {
		return ShareApproval{}, err
	}
	if err := to.check(cs.c); err != nil {
		return ShareApproval{}, err
	}
	if to.Equal(d.Audience) {
		return ShareApproval{}, fault.Invalid("audience", "the document is already shared with this audience")
	}
	pd := shareDoc(d, cs.c)
	if len(pd.MaterialSides) == 0 {
		return ShareApproval{}, fault.Invalid("audience", "this document needs nobody's approval to be shared: share it directly")
	}
	sides := cs.dec.SidesToApprove(pd, shareTarget(to, nil))
	if len(sides) == 0 {
		return ShareApproval{}, fault.Invalid("audience", "this share stays within the side: share it directly")
	}
	latest := d.latest()
	if latest.Erased {
		return ShareApproval{}, fmt.Errorf("every version of this document has been erased; there is nothing to share: %w", fault.ErrGone)
	}
	version := latest.Version
	list, err := s.approvals(ctx, caseID, docID)
	if err != nil {
		return ShareApproval{}, err
	}
	now := s.now().UTC()
	var side string
	var pending, approved *ShareApproval
	for _, sd := range sides {
		asked := false
		for i := range list {
			a := &list[i]
			// A request about the document as it stood before a newer
			// version was listed (erased since or not) is not about it
			// as it stands: it is neither answered again nor counted.
			if !a.about(d) || !a.To.Equal(to) || a.side() != sd {
				continue
			}
			switch a.state(now) {
			case SharePending:
				// One asked from where the document no longer is (a
				// move within the side since) cannot be allowed
				// (DecideShareRequest): it is asked anew.
				if !a.From.Equal(d.Audience) {
					continue
				}
				asked = true
				if pending == nil {
					pending = a
				}
			case ShareApproved:
				// An approval counts while its approver is still of the
				// side (policy decides), and only if it was given as the
				// side's; one by someone who has left the case or the side
				// is asked again, of those who remain.
				var by map[string][]string
				if a.approvalFor(sd, d, to) {
					by = map[string][]string{sd: {a.DecidedBy}}
				}
				if !slices.Contains(cs.dec.SidesToApprove(pd, shareTarget(to, by)), sd) {
					asked = true
					if approved == nil {
						approved = a
					}
				}
			}
		}
		if !asked && side == "" {
			side = sd
		}
	}
	if side == "" {
		if pending == nil {
			pending = approved
		}
		if pending != nil {
			return s.withGaining(cs, d, *pending), nil
		}
		side = sides[0]
	}
	if len(list) >= MaxShareRequestsPerDocument {
		return ShareApproval{}, fmt.Errorf("this document has had %d requests already; no more can be made: %w", len(list), fault.ErrConflict)
	}
	a := ShareApproval{ID: ids.New("sa"), Case: caseID, Doc: docID, Version: version, Top: d.top(), Asked: askedOf(d, version), From: d.Audience, To: to, Side: side,
		RequestedBy: actor.ID, Requested: now, Expires: now.Add(ShareRequestTTL), Status: SharePending}
	ev := audit.Paired(audit.Event{Type: "doc.share.requested", Actor: actor.ID, Case: caseID, Objects: []string{docID, a.ID},
		Attrs: map[string]string{"from": a.From.String(), "to": to.String(), "side": side, "version": strconv.Itoa(version)}})
	if err := s.record(ctx, ev); err != nil {
		return ShareApproval{}, fmt.Errorf("audit: %w", err)
	}
	if _, err := s.meta.Create(ctx, approvalKey(caseID, docID, a.ID), &a); err != nil {
		s.settle(ctx, ev, "doc.share.requested", err, func(ctx context.Context) (bool, error) {
			var got ShareApproval
			_, err := s.meta.Get(ctx, approvalKey(caseID, docID, a.ID), &got)
			if errors.Is(err, metastore.ErrNotFound) {
				return false, nil
			}
			return err == nil, err
		})
		return ShareApproval{}, err
	}
	// The version may have been erased while the request was being made:
	// erasure marks it erased (or deletes its version record, then the
	// document's) before it lists the requests to delete, so a request
	// written after that listing sees the version gone here, and goes.
	if err := s.versionStillStored(ctx, caseID, docID, version); err != nil {
		if errors.Is(err, fault.ErrGone) {
			if derr := deleteAllVersions(context.WithoutCancel(ctx), s.store, approvalKey(caseID, docID, a.ID)); derr == nil {
				s.settle(ctx, ev, "doc.share.requested", err, nil)
			}
		}
		return ShareApproval{}, err
	}
	return s.withGaining(cs, d, a), nil
}

// versionStillStored reads version of document docID again: ErrGone if
// the document, the version or its version record (its wrapped key) is
// gone or the version is marked erased.
func (s *Service) versionStillStored(ctx context.Context, caseID, docID string, version int) error {
	gone := fmt.Errorf("the version of the document this request was about has just been erased; there is nothing to share: %w", fault.ErrGone)
	var d docRecord
	if _, err := s.meta.Get(ctx, docKey(caseID, docID), &d); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return gone
		}
		return err
	}
	if !requestAbout(&d, &ShareApproval{Version: version}) {
		return gone
	}
	var vr versionRecord
	if _, err := s.meta.Get(ctx, versionKey(caseID, docID, version), &vr); err != nil {
		if errors.Is(err, metastore.ErrNotFound) {
			return gone
		}
		return err
	}
	return nil
}

// withGaining is a as answered: with who would gain access, its side (a
// request stored before sides were recorded names none) and which
// versions the share would show (Shows).
func (s *Service) withGaining(cs *caseScope, d *docRecord, a ShareApproval) ShareApproval {
	a.Side = a.side()
	a.Gaining, _ = s.accessChange(cs.c, policyDoc(d.Audience, d.Class), policyDoc(a.To, d.Class))
	a.Shows = shownTo(cs, d, shownBy(d, a.Version))
	return a
}

// shownTo is shows as the viewer may see them: whole for someone who may
// open the document now (its mediators, its audience); otherwise — a
// party asked about their side's material after it moved, say — a
// version is named only if it was added as the viewer's own side's (the
// side recorded as it was added, d.VersionSides: never the uploader's
// side as the case stands now) or is the viewer's own upload, and the
// others are listed by number alone (no name, type, size, date, hash or
// uploader): a version the mediators or the other side added is not the
// viewer's to read before the share. A version added before sides were
// recorded per version is named to its own uploader only.
func shownTo(cs *caseScope, d *docRecord, shows []VersionInfo) []VersionInfo {
	if cs.allowed(policy.DocDownload, d.policyDoc()) {
		return shows
	}
	side := participantSide(cs.c, cs.actor.ID)
	out := make([]VersionInfo, len(shows))
	for i, v := range shows {
		if v.Uploader == cs.actor.ID || (side != "" && d.VersionSides[v.Version] == side) {
			out[i] = v
		} else {
			out[i] = VersionInfo{Version: v.Version}
		}
	}
	return out
}

// participantSide is the side of a participant of the case, present or
// removed ("" for anyone else).
func participantSide(c *cases.Case, account string) string {
	if p, ok := c.Participant(account); ok {
		return p.Side
	}
	for _, r := range c.Removed {
		if r.AccountID == account {
			return r.Side
		}
	}
	return ""
}

// shownBy lists the versions a share approved at version shows: it and
// every earlier version not erased, newest first.
func shownBy(d *docRecord, version int) []VersionInfo {
	var out []VersionInfo
	for i := len(d.Versions) - 1; i >= 0; i-- {
		if v := d.Versions[i]; v.Version <= version && !v.Erased {
			out = append(out, v)
		}
	}
	return out
}

// ShareRequests lists the case's share requests the actor may see: a
// mediator every one, a party or lawyer those for their side's documents
// (the ones they answer). Each says who would gain access, as the case
// stands, and its state as of now (expired included).
func (s *Service) ShareRequests(ctx context.Context, actor account.Account, caseID string) ([]ShareApproval, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	if !s.policy.Decide(actor.Principal(), policy.CaseReadSummary, cs.c.Facts()).Allowed {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: caseID, Attrs: map[string]string{"action": "doc.share_requests"}})
		return nil, fmt.Errorf("share requests: %w", fault.ErrForbidden)
	}
	now := s.now().UTC()
	out := []ShareApproval{}
	docs := map[string]*docRecord{}
	err = s.meta.List(ctx, approvalPrefix(caseID), func(key string) error {
		var a ShareApproval
		if _, err := s.meta.Get(ctx, key, &a); err != nil {
			if errors.Is(err, metastore.ErrNotFound) {
				return nil
			}
			return err
		}
		d, ok := docs[a.Doc]
		if !ok {
			var r docRecord
			if _, err := s.meta.Get(ctx, docKey(caseID, a.Doc), &r); err != nil {
				if errors.Is(err, metastore.ErrNotFound) {
					docs[a.Doc] = nil
					return nil
				}
				return err
			}
			d = &r
			docs[a.Doc] = d
		}
		if d == nil || len(d.Versions) == 0 || !requestAbout(d, &a) {
			return nil
		}
		// The request is the asked side's to answer, wherever the document
		// is now; a mediator sees every request of a document they share.
		if !cs.allowed(policy.DocShare, d.policyDoc()) && !cs.dec.DecideApproveShare(shareDoc(d, cs.c), a.side()).Allowed {
			return nil
		}
		a.Status = a.state(now)
		out = append(out, s.withGaining(cs, d, a))
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(x, y ShareApproval) int { return y.Requested.Compare(x.Requested) })
	return out, nil
}

// ShareAnswer is a side's answer to a share request: Allow or decline,
// signed by one of the person's own devices (Device, its clock SignedAt in
// unix ms, Signature base64) as an e2ee.Consent of kind ConsentShare
// whose item is the request's id and whose text is ShareConsentText.
type ShareAnswer struct {
	Allow     bool
	Device    string
	SignedAt  int64
	Signature string
}

// DecideShareRequest records a side's answer to a share request: allow
// or decline. Only a party or lawyer of the document's side, still in the
// case, answers (policy: doc.approve_share), and only one who was already
// in the case when the request was made: a person a mediator invited to
// the side afterwards answers nothing (a mediator must not make a side's
// consent by inviting someone to answer for it). The answer is signed by
// one of the person's own devices (cases.Service.VerifyConsent: first
// registered or linked by their own chain, not admitted by a mediator; a
// mediator who signed in as a party through a re-entry link cannot answer
// in the party's name) over the document, the request, the version, the
// audience and the answer; the device is recorded with the answer and in
// its audit entry. Every refused answer (one by someone who joined after
// the request, unsigned, malformed, a device clock off by more than 15
// minutes, a device not the person's own, a signature that does not
// verify) is audited consent.refused with its reason, naming the document
// and the request (ids only). A request whose document changed since it was asked (a
// new version, another audience) or that expired is answered no more. An
// answer is final: allowing it again is harmless, changing it is a
// conflict. It is audited first (doc.share.approved or
// doc.share.declined), then stored.
func (s *Service) DecideShareRequest(ctx context.Context, actor account.Account, caseID, docID, requestID string, ans ShareAnswer) (ShareApproval, error) {
	allow := ans.Allow
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return ShareApproval{}, err
	}
	action := policy.DocApproveShare
	if !ids.Valid("d", docID) || !ids.Valid("sa", requestID) {
		return ShareApproval{}, s.hidden(ctx, cs, action, docID)
	}
	var d docRecord
	_, err = s.meta.Get(ctx, docKey(caseID, docID), &d)
	if errors.Is(err, metastore.ErrNotFound) || (err == nil && len(d.Versions) == 0) {
		return ShareApproval{}, s.hidden(ctx, cs, action, docID)
	}
	if err != nil {
		return ShareApproval{}, err
	}
	var a ShareApproval
	_, err = s.meta.Get(ctx, approvalKey(caseID, docID, requestID), &a)
	if errors.Is(err, metastore.ErrNotFound) {
		return ShareApproval{}, s.hidden(ctx, cs, action, docID)
	}
	if err != nil {
		return ShareApproval{}, err
	}
	if !cs.dec.DecideApproveShare(shareDoc(&d, cs.c), a.side()).Allowed {
		return ShareApproval{}, s.denied(ctx, cs, action, docID, d.policyDoc())
	}
	if !requestAbout(&d, &a) {
		return ShareApproval{}, fmt.Errorf("the version of the document this request was about has been erased; there is nothing left to answer: %w", fault.ErrGone)
	}
	if p, ok := cs.c.Participant(actor.ID); !ok || p.Joined.After(a.Requested) {
		s.record(ctx, audit.Event{Type: "consent.refused", Actor: actor.ID, Case: caseID, Objects: []string{docID, a.ID},
			Attrs: map[string]string{"kind": e2ee.ConsentShare, "reason": "joined-after"}})
		return ShareApproval{}, fmt.Errorf("you joined this mediation after the mediator asked this; only someone who was already on your side then can answer it: %w", fault.ErrForbidden)
	}
	if ans.Signature == "" || ans.Device == "" {
		s.record(ctx, audit.Event{Type: "consent.refused", Actor: actor.ID, Case: caseID, Objects: []string{docID, a.ID},
			Attrs: map[string]string{"kind": e2ee.ConsentShare, "reason": "unsigned"}})
		return ShareApproval{}, fault.Invalid("signature", "an answer signed by your device; answer from a phone or computer you have used for this mediation before (older apps cannot answer: update or reload the page)")
	}
	k := e2ee.Consent{Kind: e2ee.ConsentShare, Case: caseID, Item: a.ID,
		TextSHA: textSHA256(e2ee.ShareConsentText(a.Doc, a.ID, a.Version, a.To.String(), allow)),
		Account: actor.ID, Device: ans.Device, At: ans.SignedAt}
	how, err := s.cases.VerifyConsent(ctx, actor, k, ans.Signature, docID, a.ID)
	if err != nil {
		return ShareApproval{}, err
	}
	want := ShareDeclined
	if allow {
		want = ShareApproved
	}
	now := s.now().UTC()
	switch st := a.state(now); {
	case st == want:
		return s.withGaining(cs, &d, a), nil
	case st == ShareExpired:
		return ShareApproval{}, fmt.Errorf("this request expired on %s; the mediator can ask again: %w", a.Expires.Format("2 January 2006"), fault.ErrGone)
	case st != SharePending:
		return ShareApproval{}, fmt.Errorf("this request was already %s: %w", st, fault.ErrConflict)
	}
	if allow && (!d.Audience.Equal(a.From) || !a.about(&d)) {
		return ShareApproval{}, fmt.Errorf("the document changed since the mediator asked (a new version, or it was moved); the mediator must ask again: %w", fault.ErrConflict)
	}
	typ := "doc.share.declined"
	if allow {
		typ = "doc.share.approved"
	}
	ev := audit.Paired(audit.Event{Type: typ, Actor: actor.ID, Case: caseID, Objects: []string{docID, a.ID, ans.Device},
		Attrs: map[string]string{"from": a.From.String(), "to": a.To.String(), "side": a.side(), "version": strconv.Itoa(a.Version), "device": how}})
	if err := s.record(ctx, ev); err != nil {
		return ShareApproval{}, fmt.Errorf("audit: %w", err)
	}
	updated, err := metastore.Update(ctx, s.meta, approvalKey(caseID, docID, requestID), func(r *ShareApproval) error {
		if r.state(now) != SharePending {
			return fmt.Errorf("this request was answered meanwhile (%s): %w", r.state(now), fault.ErrConflict)
		}
		// The side the approver answers as, as the case stands: policy
		// let them answer only as a person of the side asked.
		r.Status, r.DecidedBy, r.DecidedSide, r.Decided = want, actor.ID, participantSide(cs.c, actor.ID), &now
		r.DecidedDevice, r.DeviceTrust, r.SignedAt, r.Signature = ans.Device, how, ans.SignedAt, ans.Signature
		return nil
	})
	if err != nil {
		s.settle(ctx, ev, typ, err, func(ctx context.Context) (bool, error) {
			var r ShareApproval
			if _, err := s.meta.Get(ctx, approvalKey(caseID, docID, requestID), &r); err != nil {
				return false, err
			}
			return r.Status == want && r.DecidedBy == actor.ID, nil
		})
		return ShareApproval{}, err
	}
	return s.withGaining(cs, &d, updated), nil
}

// dropRequests deletes every stored version of the share requests for
// versions of a document (nil: all of them), as its versions are erased
// or it is disposed of: a request about content that is gone is answered
// no more, and kept no longer than its document. A request record holds
// ids only; its audit entries stay in the log.
func (s *Service) dropRequests(ctx context.Context, caseID, docID string, versions []int) error {
	prefix := approvalPrefix(caseID) + docID + "/"
	drop := map[string]bool{}
	if versions != nil {
		err := s.meta.List(ctx, prefix, func(key string) error {
			var a ShareApproval
			if _, err := s.meta.Get(ctx, key, &a); err != nil {
				if errors.Is(err, metastore.ErrNotFound) {
					return nil
				}
				return err
			}
			if slices.Contains(versions, a.Version) {
				drop[key] = true
			}
			return nil
		})
		if err != nil || len(drop) == 0 {
			return err
		}
	}
	var all []objstore.Info
	err := s.store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
		if versions == nil || drop[v.Key] {
			all = append(all, v.Info)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Newest first per key as listed; deleted oldest first, so a key reads
	// as its request until its last version goes.
	slices.Reverse(all)
	return errors.Join(s.store.DeleteVersions(ctx, all)...)
}

// requestAbout reports whether the version a request names is still
// stored: a request about an erased version is answered no more.
func requestAbout(d *docRecord, a *ShareApproval) bool {
	v, ok := d.version(a.Version)
	return ok && !v.Erased
}

func textSHA256(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}
