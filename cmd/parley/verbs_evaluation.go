package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/parley-mediation/parley/api"
)

func init() {
	register("case outcome", "case outcome <case> --result full-agreement|partial-agreement|no-agreement|withdrawn [--sessions N] [--hours H] [--json]", caseOutcome)
	register("export", "export --from YYYY-MM --to YYYY-MM (both included) --out FILE [--format csv|jsonl] [--age-recipient age1…] [--k 5]", exportVerb)
}

func caseOutcome(ctx context.Context, args []string) error {
	fs := newFlags("case outcome")
	result := fs.String("result", "", "full-agreement, partial-agreement, no-agreement or withdrawn")
	sessions := fs.Int("sessions", 0, "number of sessions held")
	hours := fs.Float64("hours", 0, "total hours of mediation")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a case id"); err != nil {
		return err
	}
	if *result == "" {
		return usagef("--result is required")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	out, err := c.RecordOutcome(ctx, fs.Arg(0), *result, *sessions, *hours)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	fmt.Printf("Outcome recorded: %s.\n", *result)
	printSurveyLinks(out.Surveys)
	if out.MailWarning != "" {
		fmt.Println("warning:", out.MailWarning)
	}
	return nil
}

// exportVerb downloads the evaluation export with a progress bar, writes
// the data dictionary next to it, and checks the file against the hash the
// server audited.
func exportVerb(ctx context.Context, args []string) error {
	fs := newFlags("export")
	from := fs.String("from", "", "first month of case openings to include (YYYY-MM)")
	to := fs.String("to", "", "last month to include (YYYY-MM, included, as in the browser's \"through\"); an export covers whole months")
	out := fs.String("out", "", "file to write")
	format := fs.String("format", "csv", "csv or jsonl")
	recipient := fs.String("age-recipient", "", "encrypt to this age recipient (age1…)")
	k := fs.Int("k", 5, "k-anonymity: the smallest group of rows alike on every quasi-identifier (type, referral, period, sides, participants, sessions, hours, days, outcome, survey count; see the data dictionary)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *from == "" || *to == "" || *out == "" {
		return usagef("--from, --to and --out are required")
	}
	first, err := monthStart("--from", *from)
	if err != nil {
		return err
	}
	after, err := monthAfter("--to", *to)
	if err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	f, err := createOutput(*out)
	if err != nil {
		return err
	}
	defer f.Abort()
	bar := progressbar.DefaultBytes(-1, "exporting")
	h := sha256.New()
	rep, err := c.Export(ctx, api.ExportRequest{From: first, To: after, Format: *format, AgeRecipient: *recipient, K: *k},
		io.MultiWriter(f, h, bar))
	bar.Finish()
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != rep.SHA256 {
		return fmt.Errorf("the file's SHA-256 %s differs from the audited %s: not kept", got, rep.SHA256)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	dict, err := c.ExportDictionary(ctx, *k, *format)
	if err != nil {
		return err
	}
	if err := writeOutput(*out+".dictionary.md", []byte(dict)); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "\nWrote %s (%d rows; %d generalized, %d suppressed to keep every group ≥ %d; %d comments dropped) and %s.dictionary.md\nSHA-256 %s (recorded in the audit log)\n",
		*out, rep.Rows, rep.Generalized, rep.Suppressed, rep.K, rep.CommentsDropped, *out, rep.SHA256)
	return nil
}

// printSurveyLinks lists the outcome's survey links: the ones Parley did
// not email, to send privately, and the names of those it emailed (their
// links are not given to the mediator).
func printSurveyLinks(links []api.SurveyLink) {
	var mailed []string
	shown := false
	for _, l := range links {
		if l.Mailed || l.Link == "" {
			mailed = append(mailed, l.Name)
			continue
		}
		if !shown {
			fmt.Println("Anonymous survey links — send each person their own, privately; each works once:")
			shown = true
		}
		fmt.Printf("  %-40s %s\n", l.Name, l.Link)
	}
	if len(mailed) > 0 {
		fmt.Printf("Parley emailed their own survey link to: %s.\n", strings.Join(mailed, ", "))
	}
}

// monthStart turns a month (YYYY-MM, or its first day YYYY-MM-01) into the
// first day the export route takes: it covers whole months only.
func monthStart(flag, v string) (string, error) {
	if m, err := time.Parse("2006-01", v); err == nil {
		return m.Format(time.DateOnly), nil
	}
	if d, err := time.Parse(time.DateOnly, v); err == nil && d.Day() == 1 {
		return v, nil
	}
	return "", usagef("%s %q: give a month, YYYY-MM (an export covers whole months)", flag, v)
}

// monthAfter turns the last month to include (--to, YYYY-MM or its first
// day) into the first day of the month after it, the route's exclusive
// end: "--to 2026-03" covers March, as the browser's "through (month,
// included)" does.
func monthAfter(flag, v string) (string, error) {
	first, err := monthStart(flag, v)
	if err != nil {
		return "", err
	}
	m, _ := time.Parse(time.DateOnly, first)
	return m.AddDate(0, 1, 0).Format(time.DateOnly), nil
}
