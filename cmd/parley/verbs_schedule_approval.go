package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/parley-mediation/parley/api"
)

// A schedule change that shortens a period waits for a second person
// (package retention, schedule_approval.go).

func init() {
	register("retention schedule changes", "retention schedule changes [--json]", scheduleChanges)
	register("retention schedule approve", "retention schedule approve <change> [--json]", scheduleApprove)
}

func printPendingChange(c api.ScheduleChange) {
	fmt.Printf("Proposed change %s: %s records kept %s after %s instead of %s after %s.\n", c.ID, c.Rule.Class,
		c.Rule.Period(), c.Rule.Trigger, c.Was.Period(), c.Was.Trigger)
	fmt.Printf("It shortens a period, so it is not in force until another records clerk or administrator approves it: `parley retention schedule approve %s`.\n", c.ID)
}

func scheduleChanges(ctx context.Context, args []string) error {
	fs := newFlags("retention schedule changes")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 0, "no positional arguments"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	l, err := c.ScheduleChanges(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(l)
	}
	if len(l) == 0 {
		fmt.Println("No schedule change has been proposed.")
		return nil
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CHANGE\tSTATE\tCLASS\tFROM\tTO\tPROPOSED BY\tON\tAPPROVED BY")
	for _, ch := range l {
		by := "-"
		if ch.Approved != nil {
			by = ch.Approved.By
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s after %s\t%s after %s\t%s\t%s\t%s\n", ch.ID, ch.State, ch.Rule.Class,
			ch.Was.Period(), ch.Was.Trigger, ch.Rule.Period(), ch.Rule.Trigger, ch.ProposedBy, ch.Proposed.Format(time.DateOnly), by)
	}
	return w.Flush()
}

func scheduleApprove(ctx context.Context, args []string) error {
	fs := newFlags("retention schedule approve")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "a schedule change id"); err != nil {
		return err
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	ch, err := c.ApproveScheduleChange(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(ch)
	}
	fmt.Printf("Approved: %s records are now kept %s after %s (schedule version %d). The next plan lists what this makes due.\n",
		ch.Rule.Class, ch.Rule.Period(), ch.Rule.Trigger, ch.Version)
	return nil
}

// printResidue says what the sweep found that no record class covers, by
// kind and count (never names).
func printResidue(r map[string]int) {
	if len(r) == 0 {
		return
	}
	var parts []string
	for _, k := range []string{"orphaned-ciphertext", "abandoned-upload", "expired-session", "expired-invite", "stale-email-index", "orphaned-seat-index", "spent-journal"} {
		if r[k] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", r[k], k))
		}
	}
	fmt.Printf("Also residue no record class covers, past its own period: %s.\n", strings.Join(parts, ", "))
}
