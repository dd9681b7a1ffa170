package vault

import (
	"context"
	"fmt"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// UploadAudience is one audience a new document of a case could have, and
// whether the actor may upload to it (with which classes), as policy
// decides doc.upload for exactly that document.
type UploadAudience struct {
	Audience Audience
	Classes  []Class // empty: not allowed
}

// UploadOptions lists, for every audience a new document of the case could
// have (joint, each side's caucus, mediators), the record classes the actor
// may upload with it. Each answer is policy's decision for the document an
// upload would create, so a client offers only what Upload accepts. Nothing
// is stored or audited: the answer says what the actor may do, never what
// the case holds.
func (s *Service) UploadOptions(ctx context.Context, actor account.Account, caseID string) ([]UploadAudience, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	if !s.policy.Decide(actor.Principal(), policy.CaseReadSummary, cs.c.Facts()).Allowed {
		return nil, s.denied(ctx, cs, policy.DocUpload, "", policy.Document{})
	}
	auds := []Audience{{Kind: policy.AudienceJoint}}
	for _, side := range cs.c.Sides {
		auds = append(auds, Audience{Kind: policy.AudienceCaucus, Side: side.ID})
	}
	auds = append(auds, Audience{Kind: policy.AudienceMediators})
	out := make([]UploadAudience, 0, len(auds))
	for _, a := range auds {
		ua := UploadAudience{Audience: a, Classes: []Class{}}
		for _, class := range Classes() {
			if class == ClassMediatorNotes && a.Kind != policy.AudienceMediators {
				continue // Upload refuses it whatever policy says
			}
			if cs.allowed(policy.DocUpload, policyDoc(a, class)) {
				ua.Classes = append(ua.Classes, class)
			}
		}
		out = append(out, ua)
	}
	return out, nil
}

// Invitee is someone invited to a case who has not joined yet.
type Invitee struct {
	Name string
	Role cases.ParticipantRole
	Side string
}

// InviteesGaining answers, for a share of a document to the audience to,
// which of the invited people would be able to download it once they join
// and could not with its present audience. Policy is asked for each as if
// they had joined (the case's facts with them in it). The actor must be
// allowed to share the document; nothing changes and nothing is audited
// beyond a refusal.
func (s *Service) InviteesGaining(ctx context.Context, actor account.Account, caseID, docID string, to Audience, invited []Invitee) ([]Invitee, error) {
	cs, err := s.scope(ctx, actor, caseID)
	if err != nil {
		return nil, err
	}
	d, err := s.loadDoc(ctx, cs, docID, policy.DocShare)
	if err != nil {
		return nil, err
	}
	if err := to.check(cs.c); err != nil {
		return nil, err
	}
	before, after := policyDoc(d.Audience, d.Class), policyDoc(to, d.Class)
	out := []Invitee{}
	for i, inv := range invited {
		role := inv.Role
		if role != cases.RoleParty && role != cases.RoleCounsel && role != cases.RoleObserver {
			return nil, fault.Invalid("role", "party, counsel or observer")
		}
		// A stand-in account id no real account has (ids are "a-…").
		id := fmt.Sprintf("invitee-%d", i)
		joined := *cs.c
		joined.Participants = append(append([]cases.Participant(nil), cs.c.Participants...),
			cases.Participant{AccountID: id, Name: inv.Name, Role: role, Side: inv.Side})
		dec := s.policy.Documents(policy.User{ID: id, Role: policy.RoleParticipant}, joined.Facts())
		if dec.Decide(policy.DocDownload, after).Allowed && !dec.Decide(policy.DocDownload, before).Allowed {
			out = append(out, inv)
		}
	}
	return out, nil
}
