package retention

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/metastore"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// A join that stopped between making the participant's account and the
// case's update that seats them (the node killed, an error that is no
// refusal, the person gone; review 249), its link never opened again:
// the disposal of the case's invitations — with their own class's rule,
// or with the case record's — destroys that account first (its
// invitation's claimedBy is the only link to it), counts it on the
// certificate and names it in the audit entry.
//
// The applies killed at a step run on the directory store; on S3 one of
// them drawn at random (s3CrashSteps), and the two run through.
func TestDisposalDestroysTheAccountOfAStoppedJoin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		inviteDays int // the invitations' rule (the others': 30 days)
		event      string
		crash      string // the step an apply is killed at first ("": none)
	}{
		{"invitations' class", 30, "retention.records.destroyed", ""},
		{"invitations' class, killed after the accounts", 30, "retention.records.destroyed", "claimed-accounts"},
		{"with the case record", 400, "retention.case.destroyed", ""},
		{"with the case record, killed after its journal", 400, "retention.case.destroyed", "case-journal"},
		{"with the case record, killed after the accounts", 400, "retention.case.destroyed", "accounts"},
	}
	var killed []string
	for _, tt := range tests {
		if tt.crash != "" {
			killed = append(killed, tt.name)
		}
	}
	onS3 := s3CrashSteps(t, killed, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			onEachStoreIf(t, tt.crash == "" || onS3[tt.name], func(t *testing.T, store objstore.Store) {
				e := newEnv(t, store)
				ctx := t.Context()
				for _, class := range policy.CaseClasses() {
					days := 30
					if class == policy.ClassInvitesSessions {
						days = tt.inviteDays
					}
					if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: days}); err != nil {
						t.Fatal(err)
					}
				}
				tc := e.newCase(t, map[string]vault.Class{})
				const id = "ustoppedjoin0000000000001"
				e.stoppedJoin(t, tc.id, id)
				if e.versionsOf(t, "accounts/"+id) == 0 {
					t.Fatal("the stopped join's account was not made")
				}
				e.close(t, tc)
				e.clock = e.clock.Add(month)
				p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
					t.Fatal(err)
				}
				if tt.crash != "" {
					e.ret.hook = func(name string) error {
						if name == tt.crash {
							return errCrash
						}
						return nil
					}
					if _, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); !errors.Is(err, errCrash) {
						t.Fatalf("apply ran through the crash at %s: %v", tt.crash, err)
					}
					e.ret.hook = nil
				}
				if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
					t.Fatalf("apply: %v %+v", err, pr)
				}
				if n := e.versionsOf(t, "accounts/"+id); n != 0 {
					t.Fatalf("the stopped join's account (a name and an email in no case) stays: %d stored versions", n)
				}
				c, accounts := e.certifiedAccounts(t, p.ID)
				// The case's own party and the stopped join's account.
				if accounts != 2 {
					t.Fatalf("certificate counts %d participant accounts, want 2: %+v", accounts, c.Classes)
				}
				named := 0
				for i := range e.log.Size() {
					ev, err := e.log.Entry(ctx, i)
					if err != nil {
						t.Fatal(err)
					}
					if ev.Type == tt.event && slices.Contains(ev.Objects, id) {
						named++
					}
				}
				if named != 1 {
					t.Fatalf("%d %s audit entries name the destroyed account, want 1", named, tt.event)
				}
			})
		})
	}
}

// A storage hold on the invitation records, found once the stopped
// join's account is destroyed (it goes first): the invitations are kept,
// and the certificate still counts the account it destroyed and names
// its audit entry (review 251: before, a held outcome carried no counts,
// so the account was destroyed and audited but on no certificate — a
// later plan no longer finds it). MinIO: real object-lock holds.
func TestHeldInvitationsStillCertifyTheDestroyedAccount(t *testing.T) {
	t.Parallel()
	store := minioStore(t)
	e := newEnv(t, store)
	ctx := t.Context()
	for _, class := range policy.CaseClasses() {
		days := 30
		if class == policy.ClassCaseRecord {
			days = 400
		}
		if _, err := e.setRule(ctx, policy.RetentionRule{Class: class, Trigger: policy.TriggerCaseClosed, Days: days}); err != nil {
			t.Fatal(err)
		}
	}
	tc := e.newCase(t, map[string]vault.Class{})
	const id = "ustoppedjoin0000000000002"
	invKey := e.stoppedJoin(t, tc.id, id)
	e.close(t, tc)
	e.clock = e.clock.Add(month)
	p, err := e.ret.MakePlan(ctx, e.records, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.approve(ctx, e.records2, p.ID); err != nil {
		t.Fatal(err)
	}
	vs, err := store.Versions(ctx, invKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		if !v.DeleteMarker {
			if err := store.SetLegalHold(ctx, invKey, v.VersionID, true); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() {
		vs, _ := store.Versions(ctx, invKey)
		for _, v := range vs {
			if !v.DeleteMarker {
				store.SetLegalHold(ctx, invKey, v.VersionID, false)
			}
		}
	})
	if pr, err := e.ret.ApplyAll(ctx, e.records, p.ID, nil); err != nil || !pr.Done {
		t.Fatalf("apply: %v %+v", err, pr)
	}
	if n := e.versionsOf(t, "accounts/"+id); n != 0 {
		t.Fatalf("the stopped join's account stays: %d stored versions", n)
	}
	c, accounts := e.certifiedAccounts(t, p.ID)
	if accounts != 1 {
		t.Fatalf("certificate counts %d participant accounts, want 1 (the stopped join's, destroyed before the hold was found): %+v", accounts, c.Classes)
	}
	held := false
	for _, r := range c.Kept {
		if r.Class == policy.ClassInvitesSessions && len(r.Held) > 0 {
			held = true
		}
	}
	if !held {
		t.Fatalf("the held invitations are not listed as kept: %+v", c.Kept)
	}
}

// stoppedJoin invites "Stopped Sam" to caseID and writes what a join
// that then stopped leaves (cases.JoinAs): the invitation claimed for
// account id, and that account. It returns the invitation's key.
func (e *env) stoppedJoin(t *testing.T, caseID, id string) string {
	t.Helper()
	ctx := t.Context()
	iss, err := e.cases.CreateInvite(ctx, e.mediator, caseID, cases.NewInvite{Role: cases.RoleParty, Side: "B", Name: "Stopped Sam", Email: "stopped.sam@example.test"})
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock
	invKey := "invites/" + e.meta.IndexKey("invite", iss.Token)
	if _, err := metastore.Update(ctx, e.meta, invKey, func(inv *cases.Invite) error {
		inv.ClaimedBy, inv.Claimed = id, &now
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.accounts.EnsureParticipant(ctx, id, caseID, "Stopped Sam", "stopped.sam@example.test"); err != nil {
		t.Fatal(err)
	}
	return invKey
}

// certifiedAccounts is plan id's verified certificate and the number of
// participant accounts it counts destroyed.
func (e *env) certifiedAccounts(t *testing.T, id string) (Certificate, int) {
	t.Helper()
	signed, err := e.ret.SignedCertificate(t.Context(), e.records, id)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := VerifyCertificate(signed, e.signer.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	accounts := 0
	for _, cc := range c.Classes {
		if cc.Class == policy.ClassParticipantAccount {
			accounts = cc.Objects
		}
	}
	return c, accounts
}
