package agreement

import (
	"fmt"
	"strings"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
)

// The placeholders a template's text may hold; Render fills them in from
// the case.
const (
	PlaceCase       = "{{case}}"
	PlaceParties    = "{{parties}}"
	PlaceObjectives = "{{objectives}}"
	PlaceDate       = "{{date}}"
)

// Templates are the program's agreement templates, plain text. The first
// is the default for a case type no other template names.
var Templates = []api.AgreementTemplate{
	{ID: "general", Title: "Settlement agreement (general)", Text: `SETTLEMENT AGREEMENT

Case: {{case}}
Date: {{date}}

The parties
{{parties}}

What this agreement settles
The parties came to mediation about the matters below, and agree as follows on each.
{{objectives}}

Terms
1. [What each party will do, by when.]
2. [Payments, if any: amount, to whom, how and by when.]
3. [What happens if a term is not kept.]

General
This agreement is the whole of what the parties agreed in this mediation. Each party signed it freely, after time to read it and to ask their own lawyer. What was said in the mediation stays confidential; this agreement may be shown to a court to enforce it.
`},
	{ID: "landlord-tenant", Title: "Settlement agreement (landlord and tenant)", Text: `SETTLEMENT AGREEMENT — TENANCY

Case: {{case}}
Date: {{date}}

The parties
{{parties}}

The property and the tenancy
[Address of the property; date the tenancy began; current rent.]

What this agreement settles
{{objectives}}

Terms
1. Rent and arrears: [amount owed, payment plan, dates].
2. Repairs: [what will be repaired, by whom, by when; access arrangements].
3. Deposit: [amount, deductions, when it is returned].
4. Moving out or staying: [the date the tenancy ends, or that it continues on these terms].
5. Court proceedings: [any claim is withdrawn / stayed once the terms above are kept].

General
This agreement is the whole of what the parties agreed in this mediation. Each party signed it freely, after time to read it and to ask their own lawyer. What was said in the mediation stays confidential; this agreement may be shown to a court to enforce it.
`},
	{ID: "family-parenting", Title: "Parenting plan (family)", Text: `PARENTING PLAN

Case: {{case}}
Date: {{date}}

The parents
{{parties}}

What this plan settles
{{objectives}}

Living arrangements
[Where the children live; the weekly schedule; handovers: where and when.]

Holidays and special days
[School holidays, birthdays, religious and family occasions.]

Decisions and communication
[How the parents decide on schooling, health and activities; how they keep each other informed.]

Changes and review
[How the parents change this plan; when they review it; going back to mediation first if they disagree.]

General
The parents made this plan freely, in the children's best interests, after time to read it and to ask their own lawyer. What was said in the mediation stays confidential.
`},
}

// Template returns a template by id.
func Template(id string) (api.AgreementTemplate, bool) {
	for _, t := range Templates {
		if t.ID == id {
			return t, true
		}
	}
	return api.AgreementTemplate{}, false
}

// DefaultTemplate is the template for a case type: "landlord-tenant" and
// housing cases get the tenancy template, family cases the parenting plan,
// every other type the general agreement.
func DefaultTemplate(caseType string) string {
	t := strings.ToLower(caseType)
	switch {
	case strings.Contains(t, "landlord") || strings.Contains(t, "tenan") || strings.Contains(t, "housing"):
		return "landlord-tenant"
	case strings.Contains(t, "family") || strings.Contains(t, "parent") || strings.Contains(t, "custody"):
		return "family-parenting"
	}
	return "general"
}

// Render fills a template's placeholders from the case: its title (and
// reference), its parties and their lawyers by side ("- Ada Okafor
// (Tenant)", "- Jordan Blake (Tenant's lawyer)"), its objectives and
// success criteria, and the date (YYYY-MM-DD, UTC).
func Render(text string, c *cases.Case, now time.Time) string {
	title := c.Title
	if c.Reference != "" {
		title += " (" + c.Reference + ")"
	}
	var parties strings.Builder
	for _, sd := range c.Sides {
		for _, p := range c.Participants {
			if p.Side != sd.ID || (p.Role != cases.RoleParty && p.Role != cases.RoleCounsel) {
				continue
			}
			// Named as everywhere else (api.PersonWords). Only a new
			// agreement's first version is rendered: a saved or signed
			// version keeps the words it was saved with.
			fmt.Fprintf(&parties, "- %s\n", api.PersonWords(p.Name, p.Role, sd.Label))
		}
	}
	if parties.Len() == 0 {
		parties.WriteString("- [No party has joined the case yet.]\n")
	}
	var objs strings.Builder
	n := 0
	for _, o := range c.Objectives {
		n++
		kind := ""
		if o.Kind == api.KindCriterion {
			kind = " (success criterion)"
		}
		fmt.Fprintf(&objs, "%d. %s%s\n", n, o.Text, kind)
	}
	if n == 0 {
		objs.WriteString("[No objectives were recorded for this case.]\n")
	}
	r := strings.NewReplacer(PlaceCase, title, PlaceParties, strings.TrimRight(parties.String(), "\n"),
		PlaceObjectives, strings.TrimRight(objs.String(), "\n"), PlaceDate, now.UTC().Format("2006-01-02"))
	return r.Replace(text)
}
