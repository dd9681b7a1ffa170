package policy

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"slices"
	"sync"

	cedar "github.com/cedar-policy/cedar-go"
	"github.com/cedar-policy/cedar-go/x/exp/ast"
)

// Document actions (package vault). The rules are in vault.cedar.
const (
	// DocList: the document appears in the case's document list.
	DocList Action = "doc.list"
	// DocReadMetadata: read one document's metadata and version history.
	// Whether names and media types are included is a separate question:
	// they are content, shown only to whoever may DocDownload.
	DocReadMetadata Action = "doc.read_metadata"
	// DocDownload: read the content (any version).
	DocDownload Action = "doc.download"
	// DocUpload: add a document with this audience and class, or a new
	// version of an existing one.
	DocUpload Action = "doc.upload"
	// DocShare: change the document's audience.
	DocShare Action = "doc.share"
	// DocHold: place or release a legal hold.
	DocHold Action = "doc.hold"
	// DocApproveShare: approve or decline a mediator's request to share a
	// side's own material wider (DecideApproveShare). It is asked of one
	// document at a time, never in a listing, so it is not among
	// DocumentActions.
	DocApproveShare Action = "doc.approve_share"
)

// DocumentActions lists the document actions, for tables and tests.
func DocumentActions() []Action {
	return []Action{DocList, DocReadMetadata, DocDownload, DocUpload, DocShare, DocHold}
}

// AudienceKind says who a document is shared with.
type AudienceKind string

// The audience kinds.
const (
	// AudienceJoint: everyone taking part in the case (parties, counsel,
	// observers) and its mediators.
	AudienceJoint AudienceKind = "joint"
	// AudienceCaucus: one side's parties and counsel, and the mediators.
	AudienceCaucus AudienceKind = "caucus"
	// AudienceMediators: the case's mediators only.
	AudienceMediators AudienceKind = "mediators"
	// AudienceUsers: the named participants, and the mediators.
	AudienceUsers AudienceKind = "users"
)

// ClassMediatorNotes is the record class that only the case's mediators
// may read, whatever its audience. The other classes (agreement, evidence,
// correspondence, admin) are named by package vault; policy only needs
// them as strings.
const ClassMediatorNotes = "mediator-notes"

// Document is a vault document as policy sees it: its case, audience and
// record class. For an upload of a new document it describes the document
// that would be created.
type Document struct {
	Case     *Case
	Audience AudienceKind
	Side     string   // for AudienceCaucus
	Users    []string // for AudienceUsers: account ids
	Class    string
	// MaterialSides are the sides whose own material the document holds:
	// a party or lawyer of the side added a version of it while it was in
	// the side's caucus (package vault records them on the document and
	// never clears them, whatever the document's audience since). A share
	// of it that reaches anyone outside one of these sides needs that
	// side's approval (DecideShare), whether the document is in the
	// side's caucus now or was moved to the mediators only or to named
	// people of the side first.
	MaterialSides []string
}

// ShareTarget is the audience a share would give a document, and who
// approved exactly that, side by side: ApprovedBy[side] are the account
// ids of the people whose recorded approval of sharing the document's
// current version with exactly this audience was given as that side's
// (the request asked that side, and they were of it when they answered;
// the service reads its records and passes them in). A share decided as
// one side's material sees only that side's approvers, and policy checks
// that they are still that side's parties and counsel, in the case: an
// approval given as one side's never counts as another's, whichever side
// its approver is of now.
type ShareTarget struct {
	Audience   AudienceKind
	Side       string   // for AudienceCaucus
	Users      []string // for AudienceUsers
	ApprovedBy map[string][]string
}

// DecideDocument answers whether u may do a to document d.
func (e *Engine) DecideDocument(u User, a Action, d Document) Decision {
	return e.Documents(u, d.Case).Decide(a, d)
}

// DocumentDecider answers document questions for one user in one case.
// It builds the user's and the case's Cedar entities once, so that asking
// about every document of a case (a listing) or about one document for
// every member of a case (a share preview) pays for them once. It holds
// facts, never decisions: every Decide evaluates the policies afresh. It is
// immutable and safe for concurrent use.
type DocumentDecider struct {
	set       *cedar.PolicySet
	err       error
	base      cedar.EntityMap
	principal cedar.EntityUID
	caseUID   cedar.EntityUID
	caseID    string
	facts     *Case
}

// Documents prepares a DocumentDecider for u in case c.
func (e *Engine) Documents(u User, c *Case) *DocumentDecider {
	set, err := documentPolicies()
	d := &DocumentDecider{set: set, err: err, base: cedar.EntityMap{}}
	if c == nil {
		d.err = fmt.Errorf("policy: document decision without a case")
		return d
	}
	d.principal = e.addPrincipal(d.base, u, c)
	d.caseUID = cedar.NewEntityUID("Case", cedar.String(c.ID))
	d.base[d.caseUID] = e.caseEntity(c)
	d.caseID = c.ID
	d.facts = c
	return d
}

// caseEntities keeps the Cedar entities of recently seen case facts, keyed
// by every fact that goes into them. Building a case entity (five sets of
// users, hashed) is half the cost of a document decision, and the same case
// is decided about over and over (every document of a listing, every
// request of a session). This caches facts, never decisions: an entry is
// found only for exactly the same facts, so a recusal or a new participant
// is a new key, and every decision still evaluates the policies.
var caseEntities = struct {
	sync.RWMutex
	m map[string]cedar.Entity
}{m: map[string]cedar.Entity{}}

const maxCachedCases = 4096

// caseEntity returns the entity addCase makes for c, from the cache when
// the same facts were seen before.
func (e *Engine) caseEntity(c *Case) cedar.Entity {
	key := caseFingerprint(c)
	caseEntities.RLock()
	ent, ok := caseEntities.m[string(key)]
	caseEntities.RUnlock()
	if ok {
		return ent
	}
	tmp := cedar.EntityMap{}
	ent = tmp[e.addCase(tmp, c)]
	caseEntities.Lock()
	if len(caseEntities.m) >= maxCachedCases {
		clear(caseEntities.m)
	}
	caseEntities.m[string(key)] = ent
	caseEntities.Unlock()
	return ent
}

// caseFingerprint encodes every fact of c that addCase uses, each string
// length-prefixed so that no two different cases share a fingerprint.
func caseFingerprint(c *Case) []byte {
	n := len(c.ID) + 8
	lists := [][]string{c.Mediators, c.Recused, c.Parties, c.Counsel, c.Observers, c.Unadmitted, c.Unconfirmed}
	for _, l := range lists {
		for _, id := range l {
			n += len(id) + 2
		}
	}
	b := make([]byte, 0, n)
	b = binary.AppendUvarint(b, uint64(len(c.ID)))
	b = append(b, c.ID...)
	for _, l := range lists {
		b = binary.AppendUvarint(b, uint64(len(l)))
		for _, id := range l {
			b = binary.AppendUvarint(b, uint64(len(id)))
			b = append(b, id...)
		}
	}
	return b
}

// documentUID is the resource of every document decision. The document's
// own id does not matter to any rule, only its attributes.
var documentUID = cedar.NewEntityUID("Document", "doc")

// Decide answers whether the decider's user may do a to doc, a document of
// the decider's case (doc.Case, if set, must be that case).
func (d *DocumentDecider) Decide(a Action, doc Document) Decision {
	return d.decide(a, doc, cedar.NewRecord(nil), "")
}

// DecideShare answers whether the decider's user may share doc with the
// audience to. Decide(DocShare, doc) answers whether they may share it at
// all; only DecideShare knows where to, and a change of audience must be
// decided by it. A document holding several sides' material is decided
// once for each of them (the document as that side's material, with that
// side's members): the share is allowed only if every one allows it, so
// each side's approval is needed. SidesToApprove names the sides that
// refuse.
func (d *DocumentDecider) DecideShare(doc Document, to ShareTarget) Decision {
	if len(doc.MaterialSides) == 0 {
		return d.decideShareFor(doc, to, "")
	}
	var out Decision
	for _, side := range doc.MaterialSides {
		out = d.decideShareFor(doc, to, side)
		if !out.Allowed {
			return out
		}
	}
	return out
}

// SidesToApprove lists the sides among doc.MaterialSides whose approval a
// share of doc with to still lacks: those for which the share, decided as
// that side's material alone, is refused. It is empty when the share
// needs no approval or has every one it needs (the decider's user may
// still be refused for another reason: DecideShare decides).
func (d *DocumentDecider) SidesToApprove(doc Document, to ShareTarget) []string {
	var out []string
	for _, side := range doc.MaterialSides {
		if !d.decideShareFor(doc, to, side).Allowed && !slices.Contains(out, side) {
			out = append(out, side)
		}
	}
	return out
}

// decideShareFor decides a share of doc with to, with doc as side's
// material ("": as no side's).
func (d *DocumentDecider) decideShareFor(doc Document, to ShareTarget, side string) Decision {
	var toSide cedar.Value = cedar.String("")
	if to.Audience == AudienceCaucus {
		toSide = sideUID(d.caseID, to.Side)
	}
	var members, approvedBy []string
	if side != "" {
		// Only the approvals given as this side's, checked against this
		// side's members: never another side's approvers.
		approvedBy = to.ApprovedBy[side]
		if d.facts != nil {
			members = d.facts.SideMembers[side]
		}
	}
	ctx := cedar.NewRecord(cedar.RecordMap{
		"to": cedar.NewRecord(cedar.RecordMap{
			"audience": cedar.String(to.Audience),
			"side":     toSide,
			"users":    userSet(to.Users),
		}),
		"sideMembers": userSet(members),
		"approvedBy":  userSet(approvedBy),
	})
	return d.decide(DocShare, doc, ctx, side)
}

// DecideApproveShare answers whether the decider's user may approve or
// decline a request that side allow sharing doc wider: side must be one
// of doc.MaterialSides, and the user one of its parties or counsel.
func (d *DocumentDecider) DecideApproveShare(doc Document, side string) Decision {
	if side == "" || !slices.Contains(doc.MaterialSides, side) {
		return Decision{}
	}
	return d.decide(DocApproveShare, doc, cedar.NewRecord(nil), side)
}

// decide evaluates a on doc; materialSide, if set, is the side whose
// material doc is taken as (resource.materialSide).
func (d *DocumentDecider) decide(a Action, doc Document, ctx cedar.Record, materialSide string) Decision {
	if d.err != nil || (doc.Case != nil && doc.Case.ID != d.caseID) {
		// Unreachable once New has succeeded (same files) and callers
		// pass their own case; fail closed.
		return Decision{Policies: []string{"document-decision-refused"}}
	}
	attrs := cedar.RecordMap{
		"case":     d.caseUID,
		"audience": cedar.String(doc.Audience),
		"users":    userSet(doc.Users),
		"class":    cedar.String(doc.Class),
	}
	if materialSide != "" {
		attrs["materialSide"] = sideUID(d.caseID, materialSide)
	}
	if doc.Audience == AudienceCaucus {
		// The principal's side memberships are its parents (addPrincipal);
		// `principal in resource.side` needs no Side entity of its own.
		attrs["side"] = sideUID(d.caseID, doc.Side)
	}
	entities := withDocument{base: d.base, doc: cedar.Entity{UID: documentUID, Attributes: cedar.NewRecord(attrs)}}
	decision, diag := cedar.Authorize(d.set, &entities, cedar.Request{
		Principal: d.principal,
		Action:    cedar.NewEntityUID("Action", cedar.String(a)),
		Resource:  documentUID,
		Context:   ctx,
	})
	out := Decision{Allowed: decision == cedar.Allow}
	for _, r := range diag.Reasons {
		out.Policies = append(out.Policies, string(r.PolicyID))
	}
	return out
}

// withDocument adds the document entity to the decider's entities without
// copying or changing them.
type withDocument struct {
	base cedar.EntityMap
	doc  cedar.Entity
}

func (w *withDocument) Get(uid cedar.EntityUID) (cedar.Entity, bool) {
	if uid == documentUID {
		return w.doc, true
	}
	return w.base.Get(uid)
}

// documentPolicies is the subset of the embedded policies that can apply
// to a document action on a Document: every policy except those whose
// scope rules it out — a resource scope naming another entity type
// (`resource is Case`, `resource is Room`) or an action scope listing no
// document action. Cedar evaluates each policy's scope for every request,
// so skipping the ones that can never match keeps document decisions
// (asked once per document when listing a case) fast. Dropping a policy
// whose scope cannot match changes no decision: such a policy never
// contributes a permit or a forbid. Document and Action entities have no
// parents in DecideDocument's entity map, so `in` on them is equality.
var documentPolicies = sync.OnceValues(func() (*cedar.PolicySet, error) {
	set := cedar.NewPolicySet()
	names, err := fs.Glob(policyFiles, "*.cedar")
	if err != nil {
		return nil, err
	}
	docActions := append(DocumentActions(), DocApproveShare)
	for _, name := range names {
		src, err := policyFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		list, err := cedar.NewPolicyListFromBytes(name, src)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %w", name, err)
		}
		for i, p := range list {
			if !mayApplyToDocuments((*ast.Policy)(p.AST()), docActions) {
				continue
			}
			id := p.Annotations()["id"]
			if id == "" {
				id = cedar.String(fmt.Sprintf("%s#%d", name, i))
			}
			if !set.Add(cedar.PolicyID(id), p) {
				return nil, fmt.Errorf("policy %s: duplicate @id %q", name, id)
			}
		}
	}
	return set, nil
})

func mayApplyToDocuments(p *ast.Policy, docActions []Action) bool {
	const docType = cedar.EntityType("Document")
	switch r := p.Resource.(type) {
	case ast.ScopeTypeIs:
		if r.Type != docType {
			return false
		}
	case ast.ScopeTypeIsIn:
		if r.Type != docType {
			return false
		}
	case ast.ScopeTypeEq:
		if r.Entity.Type != docType {
			return false
		}
	case ast.ScopeTypeIn:
		if r.Entity.Type != docType {
			return false
		}
	}
	isDocAction := func(uid cedar.EntityUID) bool {
		return uid.Type == "Action" && slices.Contains(docActions, Action(uid.ID))
	}
	switch a := p.Action.(type) {
	case ast.ScopeTypeEq:
		return isDocAction(a.Entity)
	case ast.ScopeTypeIn:
		return isDocAction(a.Entity)
	case ast.ScopeTypeInSet:
		return slices.ContainsFunc(a.Entities, isDocAction)
	}
	return true
}
