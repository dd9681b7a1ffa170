package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args, then fills every flag not given on the command
// line from PARLEY_<NAME> (dashes become underscores), so containers and
// systemd units can configure everything through the environment.
//
// Flags may come before or after positional arguments
// (`parley case stage C1 opening --note …`); "--" ends the flags.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return usagef("%v", err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			positional = append(positional, rest...)
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if err := fs.Parse(append([]string{"--"}, positional...)); err != nil {
		return usagef("%v", err)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		env := "PARLEY_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = usagef("%s: %v", env, e)
			}
		}
	})
	return err
}

// needArgs checks the number of positional arguments.
func needArgs(fs *flag.FlagSet, n int, what string) error {
	if fs.NArg() != n {
		return usagef("expected %s", what)
	}
	return nil
}

// readSecret reads a password from a file or from standard input (first
// line), so it never appears in the process list or shell history.
func readSecret(path string) (string, error) {
	if path == "" {
		path = "-"
	}
	b, err := readInput(path, maxSecretFile, "the password")
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimRight(line, "\r"), nil
}

// Limits on what the CLI reads whole: past them it refuses in one line
// rather than read on (a path like /dev/zero would exhaust memory).
const (
	maxSecretFile     = 4 << 10  // a password, an S3 secret key
	maxKeyFile        = 64 << 10 // an audit log's public key
	maxCheckpointFile = 64 << 10 // a signed checkpoint of the audit log
	maxTermsFile      = 256 << 10
)

// readAtMost reads r to its end, refusing (in one line naming what) an
// input over limit bytes: it reads limit+1 bytes at most.
func readAtMost(r io.Reader, limit int64, what string) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is over %s; nothing was done", what, byteSize(limit))
	}
	return b, nil
}

// readInput reads the file at path ("-": standard input) as readAtMost.
func readInput(path string, limit int64, what string) ([]byte, error) {
	if path == "-" {
		return readAtMost(os.Stdin, limit, what+" on standard input")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	defer f.Close()
	return readAtMost(f, limit, what+" in "+path)
}

// byteSize says n bytes in the largest whole unit ("40 KiB").
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s + " bytes"
}
