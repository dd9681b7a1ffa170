package policy

import (
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
		"admin": {ID: "ad", Role: RoleAdmin}, "records": {ID: "rs", Role: RoleRecords},
		"mediator": {ID: "m1", Role: RoleMediator}, "party": {ID: "pA", Role: RoleParticipant},
		"disabled": {ID: "rx", Role: RoleRecords, Disabled: true},
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
		if got := e.DecidePlan(u, RetentionApprove, Plan{Planner: "someone-else"}).Allowed; got != want {
			t.Errorf("%s approve another's plan: allowed=%v, want %v", name, got, want)
		}
		d := e.DecidePlan(u, RetentionApprove, Plan{Planner: u.ID})
		if d.Allowed {
			t.Errorf("%s approved their own plan", name)
		}
	}
	d := e.DecidePlan(users["records"], RetentionApprove, Plan{Planner: "rs"})
	if len(d.Policies) != 1 || d.Policies[0] != "planner-cannot-approve-own-plan" {
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
	for _, in := range []string{"", "y", "-1d", "3w", "200y"} {
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
		{User{ID: "rs", Role: RoleRecords}, false},
		{User{ID: "r2", Role: RoleRecords}, true},
		{User{ID: "ad", Role: RoleAdmin}, true},
		{User{ID: "rs", Role: RoleAdmin}, false},
		{User{ID: "m1", Role: RoleMediator}, false},
		{User{ID: "rx", Role: RoleRecords, Disabled: true}, false},
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
