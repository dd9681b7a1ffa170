// Command parley is Parley's one binary: `parley serve` runs a node, and the
// other verbs are the command-line client for every role (mediators, staff,
// participants) and the operator's tools.
//
// Every failure prints one line to standard error and exits non-zero:
// 1 for a failed operation, 2 for a usage mistake.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/parley-mediation/parley/e2ee"
)

// verb is one CLI command. Verbs with sub-verbs ("case create") are looked
// up by their joined name.
type verb struct {
	usage string
	run   func(ctx context.Context, args []string) error
}

var verbs = map[string]verb{}

func register(name, usage string, run func(ctx context.Context, args []string) error) {
	verbs[name] = verb{usage: usage, run: run}
}

// usageError marks a mistake in how the command was called (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{msg: fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	name, rest := findVerb(args)
	if name == "" {
		printUsage()
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return 0
		}
		fmt.Fprintf(os.Stderr, "parley: unknown command %q\n", strings.Join(args, " "))
		return 2
	}
	err := verbs[name].run(ctx, rest)
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "parley %s: %s\n", name, errWords(err))
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(os.Stderr, "usage: parley %s\n", verbs[name].usage)
		return 2
	}
	return 1
}

// findVerb takes the longest registered verb name from the front of args.
func findVerb(args []string) (string, []string) {
	for n := min(len(args), 3); n > 0; n-- {
		name := strings.Join(args[:n], " ")
		if _, ok := verbs[name]; ok {
			return name, args[n:]
		}
	}
	return "", args
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// errWords is how the CLI says err: on one line, and a key-directory
// answer that breaks what this device pinned (e2ee.ErrDeviceFork,
// ErrRevocationOmitted, ErrRevocationPinsFull) in plain words — what
// happened, that nothing (more) was sent, whom to tell — without the
// account and device ids those errors carry. A `doc upgrade` stopped part
// way (stoppedUpgrade) keeps the document it stopped at and how many
// versions were upgraded before it.
func errWords(err error) string {
	prefix, sent := "", "Nothing was sent."
	var su *stoppedUpgrade
	if errors.As(err, &su) {
		prefix = su.Doc + ": "
		if su.Upgraded > 0 {
			sent = fmt.Sprintf("Nothing more was sent (%d versions were upgraded before it).", su.Upgraded)
		}
	}
	after := ", so Parley stopped. " + sent + " " +
		"Tell the program's administration (by phone or email, not here) and your mediator before you write anything more."
	switch {
	case errors.Is(err, e2ee.ErrDeviceFork):
		return prefix + "The server now shows someone's devices starting from another first device than the one this device saw before" + after
	case errors.Is(err, e2ee.ErrRevocationOmitted):
		return prefix + "The server now shows a device as working again that its owner had taken out of use" + after
	case errors.Is(err, e2ee.ErrRevocationPinsFull):
		return prefix + "The server shows more devices taken out of use for one person than a person can have" + after
	}
	return oneLine(err.Error())
}

func printUsage() {
	names := make([]string, 0, len(verbs))
	for n := range verbs {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Println("parley — remote mediation with private caucus rooms and an encrypted vault\n\nCommands:")
	for _, n := range names {
		fmt.Printf("  parley %s\n", verbs[n].usage)
	}
	fmt.Println("\nEvery flag can also be set as PARLEY_<FLAG> in the environment (--s3-bucket → PARLEY_S3_BUCKET).")
}
