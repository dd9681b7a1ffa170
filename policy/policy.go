package policy

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	cedar "github.com/cedar-policy/cedar-go"

	"github.com/parley-mediation/parley/api"
)

//go:embed *.cedar
var policyFiles embed.FS

// Role is an account's role on the server (the wire's type, package api).
type Role = api.Role

// The account roles. Parties, counsel and observers are all RoleParticipant
// accounts; what they are in a given case is recorded in that case.
const (
	RoleAdmin       = api.RoleAdmin
	RoleMediator    = api.RoleMediator
	RoleRecords     = api.RoleRecords
	RoleParticipant = api.RoleParticipant
)

// ValidRole reports whether r is one of the account roles.
func ValidRole(r Role) bool {
	switch r {
	case RoleAdmin, RoleMediator, RoleRecords, RoleParticipant:
		return true
	}
	return false
}

// Action is something a user asks to do.
type Action string

// The actions decided so far. Each appears in the .cedar files.
const (
	AccountCreate  Action = "account.create"
	AccountList    Action = "account.list"
	AccountRevoke  Action = "account.revoke_sessions"
	AccountDisable Action = "account.disable"
	AccountEnable  Action = "account.enable"
	AccountReset   Action = "account.reset_password"
	// AccountChangePassword is a person changing their own password.
	AccountChangePassword Action = "account.change_password"
	CaseCreate            Action = "case.create"
	CaseRead              Action = "case.read"
	CaseReadSummary       Action = "case.read_summary"
	CaseUpdate            Action = "case.update"
	CaseInvite            Action = "case.invite"
	CaseDisclose          Action = "case.disclose"
	CaseAcknowledge       Action = "case.acknowledge"
	CaseRecuse            Action = "case.recuse"
	// CaseAddMediator is decided twice: on the case (Decide: a mediator
	// of it) and on the colleague (DecideProposal, the adder as proposer:
	// independent of the adder, of known lineage; proposals.cedar).
	CaseAddMediator Action = "case.add_mediator"
	// CaseReentry issues a re-entry link for a participant's own account;
	// CaseRemoveParticipant takes a participant out of the case.
	CaseReentry           Action = "case.reentry"
	CaseRemoveParticipant Action = "case.remove_participant"
	AuditRead             Action = "audit.read"
)

// Actions lists every action, for tables and tests.
func Actions() []Action {
	return []Action{AccountCreate, AccountList, AccountRevoke, AccountDisable, AccountEnable, AccountReset,
		AccountChangePassword, CaseCreate, CaseRead, CaseReadSummary,
		CaseUpdate, CaseInvite, CaseDisclose, CaseAcknowledge, CaseRecuse, CaseAddMediator, CaseReentry, CaseRemoveParticipant, AuditRead}
}

// User is the principal asking.
type User struct {
	ID       string
	Role     Role
	Disabled bool
	// Lineage lists the accounts that created this one, directly or
	// through accounts they created (empty for accounts the operator made
	// from the command line), and, for decisions about independence,
	// everyone who controls it: the closure of its creator and resetter
	// links the caller computed (account.Service.Control). Rules about
	// independence use it.
	Lineage []string
	// ProvenanceKnown: the account's lineage is recorded in full
	// (account.Account.Origin). Accounts whose lineage is unknown are
	// never independent: they cannot approve proposals.
	ProvenanceKnown bool
}

// Case holds the facts about a case that decisions depend on: account ids
// by their relation to the case.
type Case struct {
	ID        string
	Mediators []string // every mediator ever assigned, recused ones included
	Recused   []string
	Parties   []string
	Counsel   []string
	Observers []string
	// SideMembers maps a side id ("A") to the parties and counsel on it.
	// Decide makes each of them a member of the Side entity "<case>/<side>",
	// so rules can say `principal in resource.side`.
	SideMembers map[string][]string
	// Unadmitted are the mediators on the record whom the case's signed
	// membership does not seat (no sitting mediator has confirmed them;
	// before any statement, every mediator of a case with more than one).
	// Only the decisions that add someone to the case — an invitation, a
	// link back in — are asked with it (cases.Service.authorizeAdding);
	// it is empty everywhere else.
	Unadmitted []string
	// Unconfirmed are the mediators on the record who may not read the
	// case yet: with a signed membership statement, those its latest one
	// (as the chain reaches it) does not name as mediators — the same as
	// Unadmitted; before any statement, every mediator but the case's
	// opener (api.Opener), who alone may sign the first one (none when
	// the case has a single mediator not recused). The services that
	// read a case's content for someone pass it (cases.Service.Admission):
	// documents, rooms (the rooms a mediator opens with chosen people
	// included), room controls and hands, the agreement, the case's
	// sessions, their mail and the outbox, the record's changes and its
	// mediator's view (case.update, case.terms_set), the listing of
	// pending invitations, a carry's record, the caseload, and a
	// mediator's recusal of another, adding a mediator and removing a
	// participant.
	Unconfirmed []string
}

// Decision is the outcome of one request.
type Decision struct {
	Allowed bool
	// Policies lists the @id of the policies that determined the outcome
	// (the permits that allowed it, or the forbids that denied it).
	Policies []string
}

// Engine evaluates requests against the embedded policies. It is immutable
// and safe for concurrent use.
type Engine struct {
	set *cedar.PolicySet
}

// New loads the embedded policy files.
func New() (*Engine, error) {
	set := cedar.NewPolicySet()
	names, err := fs.Glob(policyFiles, "*.cedar")
	if err != nil {
		return nil, err
	}
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
			id := p.Annotations()["id"]
			if id == "" {
				id = cedar.String(fmt.Sprintf("%s#%d", name, i))
			}
			if !set.Add(cedar.PolicyID(id), p) {
				return nil, fmt.Errorf("policy %s: duplicate @id %q", name, id)
			}
		}
	}
	return &Engine{set: set}, nil
}

// Source returns the policy text, file by file, for people to read.
func Source() string {
	names, _ := fs.Glob(policyFiles, "*.cedar")
	sort.Strings(names)
	var b strings.Builder
	for _, name := range names {
		src, _ := policyFiles.ReadFile(name)
		fmt.Fprintf(&b, "// ---- %s ----\n%s\n", name, src)
	}
	return b.String()
}

// Decide answers whether u may do a. c is the case the action is about, or
// nil for server-wide actions (creating a case, managing accounts).
func (e *Engine) Decide(u User, a Action, c *Case) Decision {
	entities := cedar.EntityMap{}
	principal := e.addPrincipal(entities, u, c)
	resource := cedar.NewEntityUID("Server", "parley")
	if c != nil {
		resource = e.addCase(entities, c)
	}
	return e.evaluate(entities, principal, a, resource)
}

// addPrincipal adds the user entity (with its side memberships in c, if
// any) and returns its uid.
func (e *Engine) addPrincipal(entities cedar.EntityMap, u User, c *Case) cedar.EntityUID {
	principal := cedar.NewEntityUID("User", cedar.String(u.ID))
	entities[principal] = cedar.Entity{
		UID: principal,
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"role":            cedar.String(u.Role),
			"disabled":        cedar.Boolean(u.Disabled),
			"lineage":         userSet(u.Lineage),
			"provenanceKnown": cedar.Boolean(u.ProvenanceKnown),
		}),
	}
	if c != nil {
		addSideParents(entities, principal, u.ID, c)
	}
	return principal
}

// addCase adds the case entity and returns its uid.
func (e *Engine) addCase(entities cedar.EntityMap, c *Case) cedar.EntityUID {
	uid := cedar.NewEntityUID("Case", cedar.String(c.ID))
	entities[uid] = cedar.Entity{
		UID: uid,
		Attributes: cedar.NewRecord(cedar.RecordMap{
			"mediators":   userSet(c.Mediators),
			"recused":     userSet(c.Recused),
			"parties":     userSet(c.Parties),
			"counsel":     userSet(c.Counsel),
			"observers":   userSet(c.Observers),
			"unadmitted":  userSet(c.Unadmitted),
			"unconfirmed": userSet(c.Unconfirmed),
		}),
	}
	return uid
}

func (e *Engine) evaluate(entities cedar.EntityMap, principal cedar.EntityUID, a Action, resource cedar.EntityUID) Decision {
	return e.evaluateCtx(entities, principal, a, resource, cedar.NewRecord(nil))
}

// evaluateCtx is evaluate with a request context.
func (e *Engine) evaluateCtx(entities cedar.EntityMap, principal cedar.EntityUID, a Action, resource cedar.EntityUID, ctx cedar.Record) Decision {
	decision, diag := cedar.Authorize(e.set, entities, cedar.Request{
		Principal: principal,
		Action:    cedar.NewEntityUID("Action", cedar.String(a)),
		Resource:  resource,
		Context:   ctx,
	})
	out := Decision{Allowed: decision == cedar.Allow}
	for _, r := range diag.Reasons {
		out.Policies = append(out.Policies, string(r.PolicyID))
	}
	return out
}

func userSet(ids []string) cedar.Set {
	vals := make([]cedar.Value, len(ids))
	for i, id := range ids {
		vals[i] = cedar.NewEntityUID("User", cedar.String(id))
	}
	return cedar.NewSet(vals...)
}

// addSideParents makes the principal a member of the Side entities of the
// sides it belongs to in c.
func addSideParents(entities cedar.EntityMap, principal cedar.EntityUID, userID string, c *Case) {
	var parents []cedar.EntityUID
	for side, members := range c.SideMembers {
		for _, m := range members {
			if m == userID {
				parents = append(parents, sideUID(c.ID, side))
			}
		}
	}
	if len(parents) == 0 {
		return
	}
	e := entities[principal]
	e.Parents = cedar.NewEntityUIDSet(parents...)
	entities[principal] = e
}

func sideUID(caseID, side string) cedar.EntityUID {
	return cedar.NewEntityUID("Side", cedar.String(caseID+"/"+side))
}
