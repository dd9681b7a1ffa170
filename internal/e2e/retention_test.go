package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/messaging"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/retention"
)

// Retention apply under kill -9. `parley retention apply` is a client:
// it asks the node for one step after another (a page of records, the
// case keys, the certificate), and the node does the disposing. So "the
// apply" is two processes, and the scenario kills both: every kill is a
// kill -9 of the CLI at a random moment, and every other one kills the
// node serving it at the same moment (the work itself dies mid-step; a
// fresh node takes its place). With the CLI alone killed, the node sees
// the connection drop and its request context cancelled mid-step — the
// Ctrl-C case — and the rerun may overlap what is left of that step.
const (
	retentionCases   = 5
	docsPerCase      = 5
	retentionKills   = 5
	killWindow       = 180 * time.Millisecond // a kill in the page step comes 20ms + [0, window) into a run
	applyRunTimeout  = 20 * time.Second       // each run, killed or not, is bounded
	retentionSeedEnv = "PARLEY_FAULTS_SEED"
)

type seededDoc struct {
	caseID, id string
	body       []byte
}

func TestRetentionApplyKill9(t *testing.T) {
	c := newCluster(t, 2)
	ctx := context.Background()
	store, err := objstore.OpenS3(ctx, c.s3)
	if err != nil {
		t.Fatal(err)
	}

	// People: a mediator who owns the cases, two records staff (one plans,
	// the other approves: a plan is never approved by its planner).
	c.cli(password+"\n", "admin", "user", "create", "--email", "med@example.org", "--name", "Mo Mediator", "--role", "mediator", "--password-file", "-")
	for _, who := range []string{"rita", "rob"} {
		c.cli(password+"\n", "admin", "user", "create", "--email", who+"@example.org", "--name", who, "--role", "records", "--password-file", "-")
	}
	med := client.New(c.lb.URL, "")
	if _, err := med.Login(ctx, "med@example.org", password); err != nil {
		t.Fatal(err)
	}
	// Each records person signs in with the CLI into a config directory of
	// their own (PARLEY_CONFIG_DIR).
	homes := map[string]string{}
	for _, who := range []string{"rita", "rob"} {
		homes[who] = t.TempDir()
		c.as(homes[who], password+"\n", "login", "--server", c.lb.URL, "--email", who+"@example.org", "--password-file", "-")
	}

	// Seed: closed cases, each with documents and a message history.
	classes := []struct{ class, audience string }{
		{"evidence", "joint"}, {"mediator-notes", "mediators"}, {"correspondence", "joint"}, {"agreement", "joint"}, {"admin", "mediators"},
	}
	var docs []seededDoc
	for i := range retentionCases {
		k, err := med.CreateCase(ctx, "Retention "+suite.canary(fmt.Sprintf("rtitle%d", i)), "workplace", "", []string{"Employee", "Employer"})
		if err != nil {
			t.Fatal(err)
		}
		for j := range docsPerCase {
			body := make([]byte, 20<<10)
			rand.Read(body)
			copy(body, suite.canary(fmt.Sprintf("rdoc%d-%d", i, j)))
			cl := classes[j%len(classes)]
			d, err := med.UploadDocument(ctx, k.ID, client.Upload{Name: suite.canary("rname") + ".pdf", Audience: cl.audience, Class: cl.class,
				Body: bytes.NewReader(body), Size: int64(len(body))})
			if err != nil {
				t.Fatal(err)
			}
			docs = append(docs, seededDoc{k.ID, d.ID, body})
		}
		ch, err := med.Chat(ctx, k.ID, map[string]*messaging.Position{"joint": nil})
		if err != nil {
			t.Fatal(err)
		}
		for m := range 3 {
			if _, err := ch.Send(ctx, "joint", fmt.Sprintf("r%d-%d", i, m), []byte("ciphertext "+strconv.Itoa(m))); err != nil {
				t.Fatal(err)
			}
		}
		ch.Close()
		if _, err := med.CaseAction(ctx, k.ID, "stage", map[string]string{"stage": "closure"}); err != nil {
			t.Fatal(err)
		}
	}
	held := docs[len(docs)/2]
	c.as(homes["rita"], "", "hold", "place", "--case", held.caseID, "--doc", held.id, "--reason", "Complaint pending", "--authority", "Program rule 12")

	// Every class is due the day its case closes (the schedule, set
	// through the CLI; a future --as-of is not accepted), then Rita plans
	// and Rob approves.
	// Each shortening waits for a second person: Rob approves Rita's.
	for _, class := range policy.RecordClasses() {
		if class == policy.ClassResidue { // its clock starts when something becomes residue
			continue
		}
		var set api.RuleResult
		if err := json.Unmarshal([]byte(c.as(homes["rita"], "", "retention", "schedule", "set", class, "--trigger", "case-closed", "--period", "0d", "--json")), &set); err != nil {
			t.Fatal(err)
		}
		if set.Pending != nil {
			c.as(homes["rob"], "", "retention", "schedule", "approve", set.Pending.ID)
		}
	}
	var planned struct {
		Plan    retention.Plan   `json:"plan"`
		Records []retention.Item `json:"records"`
	}
	if err := json.Unmarshal([]byte(c.as(homes["rita"], "", "retention", "plan", "--json")), &planned); err != nil {
		t.Fatal(err)
	}
	p := planned.Plan
	// Every document version and message history, and the case classes'
	// records of each case (its invitations, its case record, …).
	want := retentionCases * (docsPerCase + 1)
	docItems, caseRecords := 0, 0
	for _, it := range planned.Records {
		switch {
		case it.Doc != "" || it.Class == policy.ClassMessageHistory:
			docItems++
		case it.Class == policy.ClassCaseRecord:
			caseRecords++
		}
	}
	all := len(planned.Records)
	if docItems != want || caseRecords != retentionCases || p.Records != all-1 || p.Held != 1 {
		t.Fatalf("plan: %d document and message records listed (want %d), %d case records, %d due of %d, %d held", docItems, want, caseRecords, p.Records, all, p.Held)
	}
	// Rita keeps another document of the held one's case for review, with
	// a reason naming a canary: it is in the sealed plan, and must reach
	// neither the certificate nor anything else stored in the clear.
	var reviewed retention.Item
	for _, it := range planned.Records {
		if it.Case == held.caseID && it.Doc != "" && it.Doc != held.id {
			reviewed = it
			break
		}
	}
	if reviewed.Doc == "" {
		t.Fatalf("no other document of case %s in the plan", held.caseID)
	}
	reviewReason := "Appeal by " + suite.canary("rreason") + " pending"
	c.as(homes["rita"], "", "retention", "review", p.ID, "--case", reviewed.Case, "--doc", reviewed.Doc, "--version", strconv.Itoa(reviewed.Version),
		"--until", time.Now().AddDate(1, 0, 0).Format("2006-01-02"), "--reason", reviewReason)
	c.as(homes["rob"], "", "retention", "approve", p.ID)

	// The kills. Rita's apply session talks to one node directly, so that
	// the node doing the work is the one killed.
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv(retentionSeedEnv); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("%s: %v", retentionSeedEnv, err)
		}
	}
	t.Logf("retention kills: seed %d (rerun with %s=%d)", seed, retentionSeedEnv, seed)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	token := sessionToken(t, homes["rita"])
	rita := client.New(c.lb.URL, token)
	applyHome := t.TempDir()
	serving := c.nodes[0]
	var kills, nodeKills, early, halfDisposed int
	var delays []string
	for k := range retentionKills {
		// Where to kill: the delays are drawn from the seeded RNG, their
		// ranges follow where the apply stands (read from the bucket). While
		// the page is not done a kill comes 20ms + [0, window) into a run:
		// in the CLI's start or the page step, which takes 150–500ms here
		// and which a rerun redoes from its start. The next to last kill
		// comes [0, 40ms) after the run printed the page's outcomes, in the
		// case-key step; once the page is done, 20ms + [0, 60ms), in the
		// case keys or the certificate. A run that ends before its kill
		// ends the kills (nothing is left to interrupt).
		pageDone := pageStored(t, ctx, store, p.ID)
		anchor, window := "start", killWindow
		switch {
		case !pageDone && k == retentionKills-2:
			anchor, window = "page", 40*time.Millisecond
		case pageDone:
			window = 60 * time.Millisecond
		}
		delay := time.Duration(rng.Int64N(int64(window)))
		if anchor == "start" {
			delay += 20 * time.Millisecond
		}
		delays = append(delays, anchor+"+"+delay.Round(time.Millisecond).String())
		writeSession(t, applyHome, "http://"+serving.addr, token)
		started := time.Now()
		cmd, out := c.startAs(applyHome, "retention", "apply", p.ID)
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		fire := make(chan struct{})
		go func() {
			defer close(fire)
			if anchor == "page" {
				for end := time.Now().Add(applyRunTimeout); !pagePrinted(out.String()) && time.Now().Before(end); {
					select {
					case <-exited:
						return
					case <-time.After(2 * time.Millisecond):
					}
				}
			}
			time.Sleep(delay)
		}()
		select {
		case err := <-exited:
			// Done (or failed) before the kill: the remaining kills would
			// find nothing left to interrupt.
			early++
			t.Logf("run %d finished in %v, before its kill at %s+%v: %v\n%s", k+1, time.Since(started), anchor, delay, err, out)
		case <-fire:
			cmd.Process.Signal(syscall.SIGKILL)
			at := time.Since(started).Round(time.Millisecond)
			if err := <-exited; err == nil {
				early++ // exited cleanly just before the signal
			}
			killNode := k%2 == 0
			if killNode {
				c.kill9(serving)
				serving = c.start()
				c.lb.add(serving.addr)
			}
			pageDone = pageStored(t, ctx, store, p.ID)
			pl, err := rita.Plan(ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("kill %d at %s+%v (%v into the run; node too: %v): plan %s, page done %v, case keys done %v, certificate %q",
				k+1, anchor, delay.Round(time.Millisecond), at, killNode, pl.State, pageDone, pl.CaseKeysDone, pl.Certificate)
			if pl.State == retention.StateDone {
				// The kill came after the end (or a cancelled step finished
				// the job): it interrupted nothing.
				early++
			} else {
				kills++
				if killNode {
					nodeKills++
				}
			}
			// Between runs: nothing half-disposed. Reading ciphertext before
			// key makes the storage check safe even while a cancelled step
			// is still running on a live node; downloads are compared only
			// when the node doing the work is dead (nothing is changing).
			halfDisposed += checkHalfDisposed(t, ctx, store, med, planned.Records, docs, killNode)
		}
		if early > 0 {
			break
		}
	}

	// The final run, to completion.
	writeSession(t, applyHome, "http://"+serving.addr, token)
	started := time.Now()
	cmd, out := c.startAs(applyHome, "retention", "apply", p.ID)
	timer := time.AfterFunc(applyRunTimeout, func() { cmd.Process.Kill() })
	err = cmd.Wait()
	timer.Stop()
	if err != nil || !strings.Contains(out.String(), "Plan "+p.ID+" done") {
		t.Fatalf("final apply: %v\n%s", err, out)
	}
	t.Logf("final run: %v", time.Since(started))

	// Convergence. Exactly one certificate stored, and it verifies.
	certs := 0
	if err := store.VersionsUnder(ctx, "retention/certificates/", func(v objstore.Version) error {
		if !v.DeleteMarker {
			certs++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var cert struct {
		Certificate retention.Certificate `json:"certificate"`
		Verified    bool                  `json:"verified"`
	}
	if err := json.Unmarshal([]byte(c.as(homes["rob"], "", "retention", "certificate", p.ID, "--json")), &cert); err != nil {
		t.Fatal(err)
	}
	// Kept: the held document, the reviewed one, and their case's record
	// (a document of the case remains). The reviewed one's reason is on
	// the certificate as a keyed hash only.
	if !cert.Verified || len(cert.Certificate.Destroyed) != all-3 || len(cert.Certificate.Kept) != 3 {
		t.Errorf("certificate: verified %v, %d destroyed, %d kept", cert.Verified, len(cert.Certificate.Destroyed), len(cert.Certificate.Kept))
	}
	for _, r := range cert.Certificate.Kept {
		if r.Doc == reviewed.Doc && (r.Action != retention.OutcomeReviewed || !strings.Contains(r.Kept, "reason: keyed hash ") || strings.Contains(r.Kept, reviewReason)) {
			t.Errorf("certificate: the reviewed document %s: %s %q", r.Doc, r.Action, r.Kept)
		}
	}

	// No stored version of any disposed record is left in MinIO, and none
	// of them downloads.
	var destroyed, keptHeld, leftVersions, readable, lost int
	for _, it := range planned.Records {
		if len(it.Held) > 0 {
			keptHeld++
			continue
		}
		if it.Doc == reviewed.Doc {
			continue // kept for review; downloaded below
		}
		destroyed++
		var prefixes []string
		switch {
		case it.Class == policy.ClassCaseRecord && it.Case == held.caseID:
			// Kept: a document of its case is held.
		case it.Class == policy.ClassCaseRecord:
			prefixes = []string{"cases/" + it.Case + "/", "vault/" + it.Case + "/"}
		case it.Doc == "":
			prefixes = []string{caucus.HistoryPrefix(it.Case)}
		default:
			prefixes = []string{"docs/" + it.Case + "/" + it.Doc + "/", "vault/" + it.Case + "/versions/" + it.Doc + "/", "vault/" + it.Case + "/docs/" + it.Doc}
		}
		for _, prefix := range prefixes {
			if err := store.VersionsUnder(ctx, prefix, func(v objstore.Version) error {
				leftVersions++
				t.Errorf("disposed %s %s: %s version %s left (delete marker %v)", it.Case, it.Doc, v.Key, v.VersionID, v.DeleteMarker)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if it.Doc != "" {
			if dl, err := med.DownloadDocument(ctx, it.Case, it.Doc, 0); err == nil {
				dl.Body.Close()
				readable++
				t.Errorf("disposed %s %s still downloads", it.Case, it.Doc)
			}
		}
	}
	// The case keys of every case of which nothing is left are gone; the
	// held document's case keeps its key.
	caseKeysLeft := 0
	for i := 0; i < len(docs); i += docsPerCase {
		caseID := docs[i].caseID
		vs, err := store.Versions(ctx, kms.CaseKeyPrefix+caseID)
		if err != nil && !errors.Is(err, objstore.ErrNotFound) {
			t.Fatal(err)
		}
		if caseID == held.caseID {
			if len(vs) == 0 {
				t.Errorf("the held document's case %s lost its case key", caseID)
			}
			continue
		}
		caseKeysLeft += len(vs)
	}
	if caseKeysLeft > 0 {
		t.Errorf("%d case key versions left of fully disposed cases", caseKeysLeft)
	}
	// The held document survives, byte-identical.
	if err := downloadEquals(ctx, med, held, 20*time.Second); err != nil {
		lost++
		t.Errorf("held document %s: %v", held.id, err)
	}
	for _, d := range docs {
		if d.id == reviewed.Doc {
			if err := downloadEquals(ctx, med, d, 20*time.Second); err != nil {
				lost++
				t.Errorf("reviewed document %s: %v", d.id, err)
			}
		}
	}
	if out := c.cli("", "audit", "verify"); !strings.Contains(out, "Audit log verified") {
		t.Errorf("audit verify: %s", out)
	}

	t.Logf("kill delays (seed %d): %v", seed, delays)
	suite.row(t, "%-40s records %d  destroyed %d  held %d  certificates %d  versions left %d  half-disposed %d  readable after %d  lost %d  (seed %d)",
		fmt.Sprintf("retention apply kill -9 ×%d (node ×%d)", kills, nodeKills), len(planned.Records), destroyed, keptHeld, certs, leftVersions, halfDisposed, readable, lost, seed)
	if certs != 1 {
		t.Errorf("%d certificates stored for plan %s, want exactly 1", certs, p.ID)
	}
	if kills == 0 {
		t.Errorf("no kill interrupted a running apply (seed %d): the scenario proved nothing", seed)
	}
}

// checkHalfDisposed checks that every document of the plan is either
// whole (key and ciphertext both stored) or unreadable (key gone) — never
// a ciphertext deleted while its key stays — and, when quiet is true (no
// step can be running), that a whole one downloads byte-identical and an
// unkeyed one does not download. It returns how many were half-disposed.
func checkHalfDisposed(t *testing.T, ctx context.Context, store objstore.Store, med *client.Client, items []retention.Item, docs []seededDoc, quiet bool) int {
	t.Helper()
	bodies := map[string]seededDoc{}
	for _, d := range docs {
		bodies[d.id] = d
	}
	bad := 0
	for _, it := range items {
		if it.Doc == "" {
			continue
		}
		cipher := countVersions(t, ctx, store, fmt.Sprintf("docs/%s/%s/%d", it.Case, it.Doc, it.Version))
		keys := countVersions(t, ctx, store, fmt.Sprintf("vault/%s/versions/%s/%010d", it.Case, it.Doc, it.Version))
		if keys > 0 && cipher == 0 {
			bad++
			t.Errorf("%s %s: ciphertext deleted while its key is stored", it.Case, it.Doc)
			continue
		}
		if !quiet {
			continue
		}
		err := downloadEquals(ctx, med, bodies[it.Doc], 20*time.Second)
		switch {
		case keys > 0 && err != nil:
			bad++
			t.Errorf("%s %s: key and ciphertext stored but the download fails: %v", it.Case, it.Doc, err)
		case keys == 0 && err == nil:
			bad++
			t.Errorf("%s %s: downloads with its key destroyed", it.Case, it.Doc)
		}
	}
	return bad
}

func countVersions(t *testing.T, ctx context.Context, store objstore.Store, key string) int {
	t.Helper()
	vs, err := store.Versions(ctx, key)
	if errors.Is(err, objstore.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range vs {
		if !v.DeleteMarker {
			n++
		}
	}
	return n
}

// downloadEquals downloads d's latest version as c, within timeout, and
// says whether it came back byte-identical (errWrongBytes if not).
func downloadEquals(ctx context.Context, c *client.Client, d seededDoc, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dl, err := c.DownloadDocument(ctx, d.caseID, d.id, 0)
	if err != nil {
		return err
	}
	defer dl.Body.Close()
	got, err := io.ReadAll(dl.Body)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, d.body) {
		return errWrongBytes
	}
	return nil
}

// as runs a parley verb as whoever is signed in under home (its
// PARLEY_CONFIG_DIR), with the cluster's storage flags only for the verbs
// that open the store.
func (c *cluster) as(home, stdin string, args ...string) string {
	c.t.Helper()
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG_DIR="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		c.t.Fatalf("parley %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// pageStored: the plan's (one) page of records is applied, its outcomes
// stored.
func pageStored(t *testing.T, ctx context.Context, store objstore.Store, planID string) bool {
	t.Helper()
	n := 0
	if err := store.List(ctx, "retention/plans/"+planID+"/done/", func(objstore.Info) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// pagePrinted: the apply printed a record's outcome (its page is done).
func pagePrinted(out string) bool {
	return strings.Contains(out, retention.OutcomeDestroyed+" c_") || strings.Contains(out, retention.OutcomeHeld+"      c_")
}

// syncBuffer is an output buffer that can be read while a process writes
// to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startAs starts a parley verb as whoever is signed in under home, its
// output (both streams) in the returned buffer.
func (c *cluster) startAs(home string, args ...string) (*exec.Cmd, *syncBuffer) {
	c.t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(os.Environ(), "PARLEY_CONFIG_DIR="+home)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	return cmd, out
}

func sessionToken(t *testing.T, home string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(home, "session.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Token == "" {
		t.Fatalf("session.json: %v %q", err, b)
	}
	return s.Token
}

// writeSession points a CLI config directory at one server with a token.
func writeSession(t *testing.T, home, server, token string) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"server": server, "token": token})
	if err := os.WriteFile(filepath.Join(home, "session.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
