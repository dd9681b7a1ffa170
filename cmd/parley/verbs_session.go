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

func init() {
	register("session add", "session add <case> --start 2026-06-09T10:00 --tz Europe/Berlin --minutes 90 [--rooms joint,caucus:A] [--expected ACCOUNT,…] [--json]", sessionAdd)
	register("session ls", "session ls <case> [--json]", sessionList)
	register("session move", "session move <case> <session> --start 2026-06-10T14:00 [--tz ZONE] [--minutes N] --reason TEXT [--json]", sessionMove)
	register("session cancel", "session cancel <case> <session> --reason TEXT [--json]", sessionCancel)
	register("session mail", "session mail <case> [--json]", sessionMail)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func localZone() string {
	if tz := os.Getenv("TZ"); tz != "" {
		return tz
	}
	return "UTC"
}

func printSession(s api.Session, asJSON bool) error {
	if asJSON {
		return printJSON(s)
	}
	fmt.Printf("%s  %s\n", s.ID, sessionLine(s))
	if s.MailWarning != "" {
		fmt.Println("warning:", s.MailWarning)
	}
	return nil
}

func sessionLine(s api.Session) string {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	status := ""
	if s.Status != "scheduled" {
		status = " [" + s.Status + "]"
	}
	return fmt.Sprintf("%s (%s), %d min, rooms %s%s", s.Start.In(loc).Format("Mon 2 Jan 2006 15:04"), s.TimeZone, s.Minutes, strings.Join(s.Rooms, ", "), status)
}

func sessionAdd(ctx context.Context, args []string) error {
	fs := newFlags("session add")
	asJSON := clientFlags(fs)
	start := fs.String("start", "", "local date and time, YYYY-MM-DDTHH:MM")
	tz := fs.String("tz", localZone(), "IANA time zone of --start")
	minutes := fs.Int("minutes", 60, "length in minutes")
	rooms := fs.String("rooms", "", "comma-separated rooms (default joint)")
	expected := fs.String("expected", "", "comma-separated account ids (default everyone in the case); a joint session must not meet only one side's people (use that side's caucus)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *start == "" {
		return usagef("session add: a case id and --start")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.AddSession(ctx, fs.Arg(0), api.NewSessionRequest{Start: *start, TimeZone: *tz, Minutes: *minutes,
		Rooms: splitList(*rooms), Expected: splitList(*expected)})
	if err != nil {
		return err
	}
	return printSession(s, *asJSON)
}

func sessionList(ctx context.Context, args []string) error {
	fs := newFlags("session ls")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("session ls: a case id")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	list, err := c.Sessions(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	if len(list) == 0 {
		fmt.Println("no sessions")
	}
	for _, s := range list {
		fmt.Printf("%s  %s\n", s.ID, sessionLine(s))
	}
	return nil
}

func sessionMove(ctx context.Context, args []string) error {
	fs := newFlags("session move")
	asJSON := clientFlags(fs)
	start := fs.String("start", "", "new local date and time, YYYY-MM-DDTHH:MM")
	tz := fs.String("tz", "", "IANA time zone of --start (default: the session's)")
	minutes := fs.Int("minutes", 0, "new length in minutes (default: unchanged)")
	reason := fs.String("reason", "", "why (kept for mediators; not mailed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 || *start == "" {
		return usagef("session move: a case id, a session id and --start")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.MoveSession(ctx, fs.Arg(0), fs.Arg(1), api.MoveSessionRequest{Start: *start, TimeZone: *tz, Minutes: *minutes, Reason: *reason})
	if err != nil {
		return err
	}
	return printSession(s, *asJSON)
}

func sessionCancel(ctx context.Context, args []string) error {
	fs := newFlags("session cancel")
	asJSON := clientFlags(fs)
	reason := fs.String("reason", "", "why (kept for mediators; not mailed)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return usagef("session cancel: a case id and a session id")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	s, err := c.CancelSession(ctx, fs.Arg(0), fs.Arg(1), *reason)
	if err != nil {
		return err
	}
	return printSession(s, *asJSON)
}

func sessionMail(ctx context.Context, args []string) error {
	fs := newFlags("session mail")
	asJSON := clientFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef("session mail: a case id")
	}
	c, err := apiClient()
	if err != nil {
		return err
	}
	list, err := c.Mail(ctx, fs.Arg(0))
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(list)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STATE\tKIND\tTO\tSUBJECT\tNOTE")
	for _, m := range list {
		note := m.LastError
		if m.State == "pending" && m.NotBefore.After(time.Now()) {
			note = "due " + m.NotBefore.Local().Format("2 Jan 15:04")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.State, m.Kind, m.To, m.Subject, note)
	}
	return w.Flush()
}
