package web_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-mediation/parley/web"
)

// browserScript is one Playwright script under web/client/test, written
// with the shared harness (web/client/test/harness.mjs), run in Chromium
// against a node the Go test started. The script asks the test to check
// or do things on the server's side ("ask VERB ARG"); each verb has an
// answer here.
type browserScript struct {
	name string   // the file, e.g. "reentry.mjs"
	env  []string // what the script reads with env(), besides the harness's own
	// ask answers "ask VERB ARG": a value for the script, or an error that
	// fails both the test and the script.
	ask map[string]func(arg string) (string, error)
	// shots are the screenshots the script must take.
	shots []string
}

// Browser tests run side by side: each starts its own node (free
// 127.0.0.1 port, its own t.TempDir data, screenshots and downloads) and
// its own Chromium, and spends most of its time waiting on pages, so a few
// at once finish far sooner than one after another. browserSlots bounds
// how many run at once (PARLEY_BROWSER_TESTS, default 3); go test's
// -parallel (default: the number of cores) bounds them too, so
// scripts/test.sh passes -parallel 3.
var browserSlots = make(chan struct{}, browserTestsAtOnce())

func browserTestsAtOnce() int {
	if n, err := strconv.Atoi(os.Getenv("PARLEY_BROWSER_TESTS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// browserParallel holds the tests that have a browser slot.
var browserParallel sync.Map // *testing.T → struct{}

// parallelBrowser marks t as a browser test: it runs in parallel with the
// other browser tests (after the package's sequential tests) and holds
// one of browserSlots until it ends. Calling it again for t does nothing.
func parallelBrowser(t *testing.T) {
	t.Helper()
	if _, again := browserParallel.LoadOrStore(t, struct{}{}); again {
		return
	}
	t.Parallel()
	browserSlots <- struct{}{}
	t.Cleanup(func() {
		<-browserSlots
		browserParallel.Delete(t)
	})
}

// needBrowser makes t a parallel browser test (parallelBrowser), then
// returns node's path and web/client's, and fails the test (or, outside
// make test, skips it) when node, Chromium, playwright-core or the browser
// bundle is missing. Call it first in a browser test, before starting the
// node, so the node runs only while the test holds its slot.
func needBrowser(t *testing.T) (nodeBin, clientDir string) {
	t.Helper()
	parallelBrowser(t)
	if !web.HasBrowserClient() {
		t.Fatal("this test binary has no browser client bundle: run `make web` before go test")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		requireServices(t, "node")
	}
	if _, err := os.Stat(chromiumPath()); err != nil {
		requireServices(t, "chromium ("+chromiumPath()+")")
	}
	clientDir, _ = filepath.Abs("client")
	if _, err := os.Stat(filepath.Join(clientDir, "node_modules", "playwright-core")); err != nil {
		t.Fatal("web/client/node_modules is missing: run `make web` (npm ci)")
	}
	return nodeBin, clientDir
}

// run runs the script against the node at url (bounded: 4 minutes) and
// fails the test unless it ends with PASS and took every screenshot.
// Screenshots go to docs/screenshots with PARLEY_UPDATE_SCREENSHOTS=1.
func (s browserScript) run(t *testing.T, url string) {
	t.Helper()
	nodeBin, clientDir := needBrowser(t)
	shots := t.TempDir()
	if os.Getenv("PARLEY_UPDATE_SCREENSHOTS") != "" {
		shots, _ = filepath.Abs("../docs/screenshots")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "test/"+s.name)
	cmd.Dir = clientDir
	cmd.Env = append(append(os.Environ(), "PARLEY_URL="+url, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+shots), s.env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = &testWriter{t: t, prefix: s.name + ": "}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	passed := false
	for sc.Scan() {
		line := sc.Text()
		t.Log(line)
		if line == "PASS" {
			passed = true
			continue
		}
		rest, ok := strings.CutPrefix(line, "ask ")
		if !ok {
			continue
		}
		verb, arg, _ := strings.Cut(rest, " ")
		answer := s.ask[verb]
		if answer == nil {
			t.Errorf("%s asked %q, which this test does not answer", s.name, verb)
			fmt.Fprintln(stdin, "error unknown request "+verb)
			continue
		}
		v, err := answer(arg)
		if err != nil {
			t.Errorf("%s: %v", verb, err)
			fmt.Fprintln(stdin, "error "+strings.ReplaceAll(err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintln(stdin, "ok "+v)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil || !passed {
		t.Fatalf("browser script %s: %v (passed=%v)", s.name, err, passed)
	}
	for _, name := range s.shots {
		if fi, err := os.Stat(filepath.Join(shots, name)); err != nil || fi.Size() < 1000 {
			t.Errorf("screenshot %s was not taken: %v", name, err)
		}
	}
}
