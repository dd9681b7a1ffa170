package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/parley-mediation/parley/api"
)

func init() {
	register("followup set", "followup set <case> --days 30,90 [--json]", followUpSet)
	register("followup ls", "followup ls <case> [--json]", followUpList)
}

func followUpSet(ctx context.Context, args []string) error {
	fs := newFlags("followup set")
	asJSON := clientFlags(fs)
	days := fs.String("days", "", "comma-separated whole days after closure, increasing (e.g. 30,90)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *days == "" {
		return usagef("followup set: a case id and --days")
	}
	var ds []int
	for _, s := range splitList(*days) {
		d, err := strconv.Atoi(s)
		if err != nil {
			return usagef("followup set: --days is whole numbers of days, e.g. 30,90 (not %q)", s)
		}
		ds = append(ds, d)
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	out, err := c.SetFollowUps(ctx, fs.Arg(0), ds)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	for _, cp := range out.Checkpoints {
		fmt.Printf("check-in after %d days: due %s, %d links\n", cp.Days, cp.Due.Local().Format("Mon 2 Jan 2006"), cp.Issued)
	}
	// A link Parley emails is not given (mailed): only its person can
	// answer it. The others are to be given by hand.
	var mailed []string
	shown := false
	for _, l := range out.Links {
		if l.Mailed || l.Link == "" {
			if !slices.Contains(mailed, l.Name) {
				mailed = append(mailed, l.Name)
			}
			continue
		}
		if !shown {
			fmt.Println("Links to give by hand (shown once; give each person their own, privately; each works once):")
			shown = true
		}
		fmt.Printf("  %d days  %s  %s\n", l.Days, l.Name, l.Link)
	}
	if len(mailed) > 0 {
		fmt.Printf("Parley emails their own check-in links, on the day each is due, to: %s.\n", strings.Join(mailed, ", "))
	}
	if out.MailWarning != "" {
		fmt.Println("warning:", out.MailWarning)
	}
	return nil
}

func followUpList(ctx context.Context, args []string) error {
	fs := newFlags("followup ls")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("followup ls: a case id")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	out, err := c.FollowUps(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(out)
	}
	printFollowUps(out)
	return nil
}

func printFollowUps(out api.FollowUpResponse) {
	if len(out.Checkpoints) == 0 {
		fmt.Println("no follow-ups set")
		return
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "DAYS\tDUE\tLINKS\tMAILED\tMAIL FAILED\tNOT EMAILED\tANSWERED")
	notMailed := false
	for _, cp := range out.Checkpoints {
		fmt.Fprintf(w, "%d\t%s\t%d\t%d\t%d\t%d\t%d\n", cp.Days, cp.Due.Local().Format("2 Jan 2006"), cp.Issued, cp.Mailed, cp.MailFailed, cp.NotMailed, cp.Answered)
		notMailed = notMailed || cp.NotMailed > 0
	}
	w.Flush()
	if notMailed {
		fmt.Println("NOT EMAILED: their address is also on file for someone else in this case; give them their links yourself.")
	}
}
