package evaluation

import (
	"fmt"
	"strings"

	"github.com/parley-mediation/parley/cases"
)

var columnDocs = map[string]string{
	"case_token":         "Pseudonym of the case: a keyed HMAC with a key made for this export only. Stable within this file, unlinkable to any other export.",
	"case_type":          "Case type, one of: " + strings.Join(CaseTypes, ", ") + ` (anything else is "other"; "*" = generalized away).`,
	"referral_source":    "Who referred the case, one of: " + strings.Join(ReferralSources, ", ") + ` ("*" = generalized away).`,
	"opened_period":      `When the case opened: YYYY-MM, or generalized to YYYY-Qn, YYYY or "*" to reach k-anonymity. The only calendar value in the file.`,
	"sides":              "Number of sides in the dispute.",
	"participants":       "Number of parties, lawyers and observers who joined, in bands: " + bandLabels(participantBands) + ".",
	"sessions":           "Number of sessions, as recorded by the mediator at closure, in bands: " + bandLabels(sessionBands) + " (empty if not recorded).",
	"hours":              "Total hours of mediation, rounded to the half hour, in bands: " + bandLabels(hourBands) + " (empty if not recorded).",
	"days_preparation":   "Days spent in stage 1, preparation and case assessment, in bands: " + bandLabels(dayBands) + ". Every day count in the file is banded so that no one who knows a case's dates can find its row.",
	"days_opening":       "Days in stage 2, opening session and ground rules (banded as above).",
	"days_issues":        "Days in stage 3, issue identification and exploration (banded).",
	"days_negotiation":   "Days in stage 4, negotiation and issue resolution (banded).",
	"days_to_resolution": "Days from opening to closure, banded (empty while open).",
	"outcome":            "full-agreement, partial-agreement, no-agreement, withdrawn; closed-unrecorded, or open.",
	"survey_responses":   "Number of anonymous feedback survey responses for the case, in bands: " + bandLabels(responseBands) + "; generalized to " + releasedOrNot(0) + " or " + releasedOrNot(MinSurveyResponses) + " (whether the survey columns were released), never further.",
	"followup_honoured":  "Anonymous check-ins on the case's agreement (30, 90 … days after closure, as the mediator set them) answered \"honoured\", in bands: " + bandLabels(countBands) + `; or, generalized (followups:some-or-all), "0", "some" or "all" of the case's check-ins. The three follow-up columns are empty (not released) when the case had fewer than ` + fmt.Sprint(MinSurveyResponses) + " check-ins in all, so no one person's answer is released. Records staff know which cases have follow-ups and can count each case's check-ins (the audit log names the case and days of its follow-ups, and times each answer, which falls in its case's check-in window), and the three bands bound that count: so the number of check-ins is a quasi-identifier (followup_answers). A row with the columns in count bands is grouped only with rows of cases with exactly as many check-ins, so its bands fit every case of its group; generalized to \"0\", \"some\" or \"all\" they fit any number of check-ins from " + fmt.Sprint(MinSurveyResponses) + " up, and the row is grouped with every row released so; the last generalization step (followups:any) empties them.",
	"followup_partly":    "Check-ins answered \"partly\" (banded or generalized as above).",
	"followup_not":       "Check-ins answered \"not\" (banded or generalized as above).",
	"comments":           `Survey comments, scrubbed of every name the case held (its roster, everyone it invited whether they joined or not, and every capitalized word of its disclosures, objectives, notes, reasons, own terms and room names) and of PII patterns (emails, phone numbers, addresses, ids, URLs, IP addresses; replaced by "[removed]"); names are matched as whole words in any script and letter case, and the text is in Unicode NFKC without invisible format characters (zero-width spaces, soft hyphens) and with typographic apostrophes made plain ('); a comment that could not be scrubbed with confidence is dropped (so is any comment with a letter of a script without capital letters, such as Arabic, Hebrew, Devanagari, Chinese, Japanese, Korean or Thai, a digit or other number of any script, or an email address spelled out with "at" and "dot"). At most as many per row as the low end of its survey_responses band (3, 5 or 10), so their number does not give the response count. Joined with " | ". In CSV, a cell that starts with = + - @, a tab or a carriage return has a ' put before it, so a spreadsheet does not read it as a formula. Empty when the case had fewer than ` + fmt.Sprint(MinSurveyResponses) + ` responses (not released), and in every row of a group that includes a disposed case (counted from its statistical stub, which keeps no comments).`,
}

// Dictionary documents the columns of an export made with k.
func Dictionary(k int, format string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Parley program-evaluation export: data dictionary\n\n")
	fmt.Fprintf(&b, "Format: %s, one row per case opened in the requested range, unless suppressed.\n\n", format)
	fmt.Fprintf(&b, "Quasi-identifiers: %s. These are every column that someone may know of a case without this file: records staff see each case's type, dates, sides, roster size and outcome, the audit log shows one event per survey response and names the cases that have follow-up check-ins and times each check-in answer (followup_answers: the case's number of check-in answers while the three follow-up columns are in count bands, \"any\" once they are generalized to \"0\", \"some\" or \"all\", none when they are empty); participants know their own case. Every combination of their values present in the file occurs in at least k = %d rows, so no one who knows all of that about a case can tell its row from k-1 others. To achieve this, a row in a smaller group had cells generalized (in this order: %s; \"*\" = generalized away), and a row still in a group smaller than k was suppressed; the export report gives the counts.\n\n", strings.Join(QuasiIdentifiers, ", "), k, strings.Join(steps, ", "))
	fmt.Fprintf(&b, "Survey means and comments are released only for a case with at least %d responses (MinSurveyResponses): below that, a mean is one or two people's exact answers. A case with fewer has them empty (not released).\n\n", MinSurveyResponses)
	fmt.Fprintf(&b, "| column | meaning |\n|---|---|\n")
	for _, c := range Columns {
		doc := columnDocs[c]
		if strings.HasPrefix(c, "mean_") {
			item := strings.TrimPrefix(c, "mean_")
			doc = fmt.Sprintf("Mean of the 5-point Likert answers (1 strongly disagree … 5 strongly agree) to: %q, rounded to the nearest 0.5 (halves up; one decimal), so that it does not tell the number of responses (empty with fewer than %d responses: not released).", cases.SurveyItemText[item], MinSurveyResponses)
		}
		fmt.Fprintf(&b, "| %s | %s |\n", c, doc)
	}
	return b.String()
}
