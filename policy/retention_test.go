package policy

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRetentionActionsAppearInPolicies(t *testing.T) {
	src := Source()
	for _, a := range RetentionActions() {
		if !strings.Contains(src, `Action::"`+string(a)+`"`) {
			t.Errorf("action %s appears in no policy", a)
		}
	}
}

// TestRetentionMatrix: records staff and administrators run retention;
// nobody else does; holds are records staff's; nobody approves their own
// plan.
func TestRetentionMatrix(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]User{
		"admin": {ID: "ad", Role: RoleAdmin, ProvenanceKnown: true}, "records": {ID: "rs", Role: RoleRecords, ProvenanceKnown: true},
		"mediator": {ID: "m1", Role: RoleMediator, ProvenanceKnown: true}, "party": {ID: "pA", Role: RoleParticipant, ProvenanceKnown: true},
		"disabled": {ID: "rx", Role: RoleRecords, Disabled: true, ProvenanceKnown: true},
	}
	server := []Action{RetentionScheduleRead, RetentionScheduleSet, RetentionPlan, RetentionApply, RetentionCertificateRead, HoldList}
	for name, u := range users {
		want := name == "admin" || name == "records"
		for _, a := range server {
			if got := e.Decide(u, a, nil).Allowed; got != want {
				t.Errorf("%s %s: allowed=%v, want %v", name, a, got, want)
			}
		}
		if got := e.Decide(u, HoldManage, theCase).Allowed; got != (name == "records") {
			t.Errorf("%s hold.manage: allowed=%v", name, got)
		}
		// The notice of what falls due is mailed to records staff only:
		// not an administrator, who may plan too (TestDueNoticeThroughMailpit).
		if got := e.Decide(u, RetentionDueNotice, nil).Allowed; got != (name == "records") {
			t.Errorf("%s %s: allowed=%v", name, RetentionDueNotice, got)
		}
		if got := e.DecidePlan(u, RetentionApprove, Plan{Planner: "someone-else"}).Allowed; got != want {
			t.Errorf("%s approve another's plan: allowed=%v, want %v", name, got, want)
		}
		d := e.DecidePlan(u, RetentionApprove, Plan{Planner: u.ID})
		if d.Allowed {
			t.Errorf("%s approved their own plan", name)
		}
	}
	d := e.DecidePlan(users["records"], RetentionApprove, Plan{Planner: "rs"})
	if !slices.Contains(d.Policies, "planner-cannot-approve-own-plan") {
		t.Fatalf("own plan: %+v", d)
	}
}

func TestScheduleDecide(t *testing.T) {
	s := DefaultSchedule()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	closed := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	created := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		r     RecordFacts
		asOf  time.Time
		due   bool
		dueAt time.Time
	}{
		{"notes 29 days after closure", RecordFacts{Class: ClassMediatorNotes, Created: created, CaseClosed: &closed}, closed.AddDate(0, 0, 29), false, closed.AddDate(0, 0, 30)},
		{"notes 30 days after closure", RecordFacts{Class: ClassMediatorNotes, Created: created, CaseClosed: &closed}, closed.AddDate(0, 0, 30), true, closed.AddDate(0, 0, 30)},
		{"open case never due", RecordFacts{Class: ClassMediatorNotes, Created: created}, closed.AddDate(50, 0, 0), false, time.Time{}},
		{"agreement after 6 years", RecordFacts{Class: "agreement", Created: created, CaseClosed: &closed}, closed.AddDate(0, 0, 6*365), true, closed.AddDate(0, 0, 6*365)},
		{"messages 30 days", RecordFacts{Class: ClassMessageHistory, CaseClosed: &closed}, closed.AddDate(0, 1, 0), true, closed.AddDate(0, 0, 30)},
		{"unknown class", RecordFacts{Class: "poetry", CaseClosed: &closed}, closed.AddDate(90, 0, 0), false, time.Time{}},
	}
	for _, c := range cases {
		d := s.Decide(c.r, c.asOf)
		if d.Due != c.due || !d.DueAt.Equal(c.dueAt) {
			t.Errorf("%s: due=%v at %v (%s), want %v at %v", c.name, d.Due, d.DueAt, d.Reason, c.due, c.dueAt)
		}
	}
	sup := closed.AddDate(0, 0, -5)
	s2 := s.With(RetentionRule{Class: "evidence", Trigger: TriggerSuperseded, Days: 10})
	if d := s2.Decide(RecordFacts{Class: "evidence", Created: created, Superseded: &sup}, sup.AddDate(0, 0, 10)); !d.Due {
		t.Errorf("superseded evidence: %+v", d)
	}
	if d := s2.Decide(RecordFacts{Class: "evidence", Created: created, CaseClosed: &closed}, closed.AddDate(9, 0, 0)); d.Due {
		t.Errorf("latest version of superseded-rule class is due: %+v", d)
	}
	s3 := s.With(RetentionRule{Class: "admin", Trigger: TriggerCreated, Days: 0})
	if d := s3.Decide(RecordFacts{Class: "admin", Created: created}, created); !d.Due {
		t.Errorf("created+0: %+v", d)
	}
}

func TestScheduleValidate(t *testing.T) {
	bad := []Schedule{
		{Rules: DefaultSchedule().Rules[1:]},
		DefaultSchedule().With(RetentionRule{Class: "poetry", Trigger: TriggerCreated}),
		DefaultSchedule().With(RetentionRule{Class: "admin", Trigger: "whenever"}),
		DefaultSchedule().With(RetentionRule{Class: "admin", Trigger: TriggerCreated, Days: MaxRetentionDays + 1}),
		DefaultSchedule().With(RetentionRule{Class: ClassMessageHistory, Trigger: TriggerSuperseded, Days: 1}),
	}
	for i, s := range bad {
		if err := s.Validate(); err == nil {
			t.Errorf("schedule %d passed: %+v", i, s)
		}
	}
	for in, want := range map[string]int{"30d": 30, "2y": 730, "0d": 0} {
		if got, err := ParsePeriod(in); err != nil || got != want {
			t.Errorf("ParsePeriod(%q) = %d, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "y", "-1d", "3w", "200y", "50539024859478224y", "9223372036854775807y", "9223372036854775807d"} {
		if _, err := ParsePeriod(in); err == nil {
			t.Errorf("ParsePeriod(%q) passed", in)
		}
	}
}

// TestScheduleWithDefaults: a schedule stored before the case classes
// existed keeps its version and rules and gets each new class's default,
// and then validates.
func TestScheduleWithDefaults(t *testing.T) {
	old := Schedule{Version: 4, Rules: []RetentionRule{
		{Class: "agreement", Trigger: TriggerCaseClosed, Days: 7 * 365},
		{Class: "evidence", Trigger: TriggerCaseClosed, Days: 365},
		{Class: ClassMediatorNotes, Trigger: TriggerCaseClosed, Days: 10},
		{Class: "correspondence", Trigger: TriggerCaseClosed, Days: 365},
		{Class: "admin", Trigger: TriggerCaseClosed, Days: 365},
		{Class: ClassMessageHistory, Trigger: TriggerCaseClosed, Days: 10},
	}}
	if err := old.Validate(); err == nil {
		t.Fatal("a schedule without the case classes validated")
	}
	s := old.WithDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.Rule(ClassMediatorNotes); s.Version != 4 || r.Days != 10 {
		t.Fatalf("existing rule or version changed: %+v", s)
	}
	if r, ok := s.Rule(ClassCaseRecord); !ok || r.Days != 6*365 {
		t.Fatalf("case record: %+v", r)
	}
	if r, _ := s.Rule(ClassStatisticalStub); r.Trigger != TriggerCreated {
		t.Fatalf("stub: %+v", r)
	}
	bad := s.With(RetentionRule{Class: ClassCaseRecord, Trigger: TriggerSuperseded, Days: 1})
	if err := bad.Validate(); err == nil {
		t.Fatal("a case record superseded validated")
	}
}

// TestScheduleChangeFourEyes: records staff and admins approve a
// shortening, never the person who proposed it; nobody else approves.
func TestScheduleChangeFourEyes(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	c := ScheduleChange{Proposer: "rs"}
	for _, tc := range []struct {
		u    User
		want bool
	}{
		{User{ID: "rs", Role: RoleRecords, ProvenanceKnown: true}, false},
		{User{ID: "r2", Role: RoleRecords, ProvenanceKnown: true}, true},
		{User{ID: "ad", Role: RoleAdmin, ProvenanceKnown: true}, true},
		{User{ID: "rs", Role: RoleAdmin, ProvenanceKnown: true}, false},
		{User{ID: "m1", Role: RoleMediator, ProvenanceKnown: true}, false},
		{User{ID: "rx", Role: RoleRecords, Disabled: true, ProvenanceKnown: true}, false},
	} {
		if got := e.DecideScheduleChange(tc.u, RetentionScheduleApprove, c).Allowed; got != tc.want {
			t.Errorf("%+v: allowed=%v, want %v", tc.u, got, tc.want)
		}
	}
	if !Shortens(RetentionRule{Days: 30, Trigger: TriggerCaseClosed}, RetentionRule{Days: 0, Trigger: TriggerCaseClosed}) ||
		Shortens(RetentionRule{Days: 30, Trigger: TriggerCaseClosed}, RetentionRule{Days: 60, Trigger: TriggerCaseClosed}) ||
		!Shortens(RetentionRule{Days: 30, Trigger: TriggerCaseClosed}, RetentionRule{Days: 60, Trigger: TriggerCreated}) {
		t.Error("Shortens")
	}
}

// TestRetentionApprovalNeedsIndependence: a plan, and a schedule change
// that shortens a period, are approved by no account one person could
// hold together with the planner's, a chooser's or the proposer's: not
// their creators, not accounts they or their creators made (siblings
// included), not one whose lineage is unknown. Admin a1 alone made records
// account r1 (and chose its first password): a1 approving r1's plan to
// transfer a case to a key r1 holds would let one person read the case.
func TestRetentionApprovalNeedsIndependence(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a1 := User{ID: "a1", Role: RoleAdmin, ProvenanceKnown: true}                                      // operator-made
	a2 := User{ID: "a2", Role: RoleAdmin, ProvenanceKnown: true}                                      // operator-made, independent
	r2 := User{ID: "r2", Role: RoleRecords, ProvenanceKnown: true}                                    // operator-made, independent
	r1x := User{ID: "r1x", Role: RoleRecords, ProvenanceKnown: true, Lineage: []string{"a1"}}         // a1 made it: r1's sibling
	a1x := User{ID: "a1x", Role: RoleAdmin, ProvenanceKnown: true, Lineage: []string{"a1"}}           // a1 made it
	r1xx := User{ID: "r1xx", Role: RoleRecords, ProvenanceKnown: true, Lineage: []string{"r1", "a1"}} // r1 made it
	unknown := User{ID: "a9", Role: RoleAdmin}                                                        // made before origins were recorded
	byR1 := Plan{Planner: "r1", PlannerLineage: []string{"a1"}, Choosers: []string{"r1"}, ChoosersLineage: []string{"a1"}}
	byR2ChosenByR1 := Plan{Planner: "r2", Choosers: []string{"r1"}, ChoosersLineage: []string{"a1"}}
	for _, tc := range []struct {
		name string
		u    User
		p    Plan
		want bool
		by   string
	}{
		{"admin approves the plan of the records account it created", a1, byR1, false, "approver-independent-of-plan"},
		{"admin approves a plan whose transfer its records account chose", a1, byR2ChosenByR1, false, "approver-independent-of-plan"},
		{"sibling approves (same creator)", r1x, byR1, false, "approver-independent-of-plan"},
		{"account made by the planner's creator approves", a1x, byR1, false, "approver-independent-of-plan"},
		{"account the planner made approves", r1xx, byR1, false, "approver-independent-of-plan"},
		{"account of unknown lineage approves", unknown, Plan{Planner: "r2"}, false, "unknown-provenance-approves-no-plan"},
		{"independent admin approves", a2, byR1, true, "records-and-admin-run-retention"},
		{"independent records approves", r2, byR1, true, "records-and-admin-run-retention"},
	} {
		d := e.DecidePlan(tc.u, RetentionApprove, tc.p)
		if d.Allowed != tc.want || !slices.Contains(d.Policies, tc.by) {
			t.Errorf("plan: %s: allowed=%v by %v, want %v by %s", tc.name, d.Allowed, d.Policies, tc.want, tc.by)
		}
	}

	byR1Change := ScheduleChange{Proposer: "r1", ProposerLineage: []string{"a1"}}
	for _, tc := range []struct {
		name string
		u    User
		c    ScheduleChange
		want bool
		by   string
	}{
		{"admin approves the shortening of the records account it created", a1, byR1Change, false, "schedule-approver-independent-of-proposer"},
		{"sibling approves (same creator)", r1x, byR1Change, false, "schedule-approver-independent-of-proposer"},
		{"account the proposer made approves", r1xx, byR1Change, false, "schedule-approver-independent-of-proposer"},
		{"account of unknown lineage approves", unknown, ScheduleChange{Proposer: "r2"}, false, "unknown-provenance-approves-no-schedule-change"},
		{"independent admin approves", a2, byR1Change, true, "records-and-admin-approve-schedule-changes"},
		{"independent records approves", r2, byR1Change, true, "records-and-admin-approve-schedule-changes"},
	} {
		d := e.DecideScheduleChange(tc.u, RetentionScheduleApprove, tc.c)
		if d.Allowed != tc.want || !slices.Contains(d.Policies, tc.by) {
			t.Errorf("schedule change: %s: allowed=%v by %v, want %v by %s", tc.name, d.Allowed, d.Policies, tc.want, tc.by)
		}
	}
}
