package web_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
	"github.com/parley-mediation/parley/web"
)

// BenchmarkBrowserE2EEDocuments measures end-to-end encrypted documents in
// headless Chromium (web/client/test/bench-e2ee-docs.mjs) against a node
// in this process: a mediator's browser encrypts a file of
// PARLEY_BENCH_MIB MiB (default 128) on the device and uploads it, then
// downloads, decrypts and checks it. For comparison, the same bytes first
// go through today's server-side path (a Go client's plain upload, the
// server encrypting). Reported: server_upload_MB/s, browser upload_MB/s
// (encrypt into a temporary file, then send) and encrypt_MB/s, download_MB/s
// (fetch, decrypt, check, hand over), the page's peak JS heap, and the
// resident memory of each kind of Chromium process (browser, renderer,
// network, storage, other) at rest and at its peak. The browser runs on a
// profile on disk, as a person's does; PARLEY_BENCH_PROFILE=incognito runs
// it in a private (in-memory) context instead.
//
//	PARLEY_BENCH_MIB=1024 go test -run '^$' -bench BrowserE2EEDocuments -benchtime 1x -timeout 60m ./web/
func BenchmarkBrowserE2EEDocuments(b *testing.B) {
	if !web.HasBrowserClient() {
		b.Fatal("this test binary has no browser client bundle: run `make web` before go test")
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		b.Fatal("node is not installed")
	}
	clientDir, _ := filepath.Abs("client")
	mib := 128
	if v := os.Getenv("PARLEY_BENCH_MIB"); v != "" {
		if mib, err = strconv.Atoi(v); err != nil || mib < 1 {
			b.Fatalf("PARLEY_BENCH_MIB=%q: a size in MiB", v)
		}
	}
	n := nodetest.Start(b, server.Config{DataDir: b.TempDir(), MaxDocumentSize: int64(mib+1) << 20})
	ctx := context.Background()
	email := "mediator-" + ids.New("x")[2:10] + "@bench.test"
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Email: email, Name: "Morgan Reyes", Role: policy.RoleMediator, Password: nodetest.Password}); err != nil {
		b.Fatal(err)
	}
	medC := client.New(n.URL, "")
	if _, err := medC.Login(ctx, email, nodetest.Password); err != nil {
		b.Fatal(err)
	}
	k, err := medC.CreateCase(ctx, "Benchmark", "tenancy", "court", []string{"Tenant", "Landlord"})
	if err != nil {
		b.Fatal(err)
	}
	// The file, random (incompressible) bytes.
	path := filepath.Join(b.TempDir(), "bench-"+strconv.Itoa(mib)+"MiB.bin")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, int64(mib)<<20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	sum := hex.EncodeToString(h.Sum(nil))
	size := float64(int64(mib) << 20)

	for b.Loop() {
		// Today's server-side path: the plaintext to the server, which encrypts.
		src, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := medC.UploadDocument(ctx, k.ID, client.Upload{Name: "server-path.bin", Audience: "mediators", Class: "evidence", Body: src, Size: int64(size)}); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(size/1e6/time.Since(start).Seconds(), "server_upload_MB/s")
		src.Close()

		bctx, cancel := context.WithTimeout(ctx, 60*time.Minute)
		cmd := exec.CommandContext(bctx, nodeBin, "test/bench-e2ee-docs.mjs")
		cmd.Dir = clientDir
		cmd.Env = append(os.Environ(), "PARLEY_URL="+n.URL, "PARLEY_CHROMIUM="+chromiumPath(), "PARLEY_SCREENSHOTS="+b.TempDir(),
			"PARLEY_MEDIATOR_EMAIL="+email, "PARLEY_PASSWORD="+nodetest.Password, "PARLEY_CASE="+k.ID,
			"PARLEY_BENCH_FILE="+path, "PARLEY_BENCH_SHA="+sum)
		out, err := cmd.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var result string
		passed := false
		for sc.Scan() {
			line := sc.Text()
			b.Log(line)
			if r, ok := strings.CutPrefix(line, "bench "); ok {
				result = r
			}
			passed = passed || line == "PASS"
		}
		err = cmd.Wait()
		cancel()
		if err != nil || !passed || result == "" {
			b.Fatalf("bench-e2ee-docs.mjs: %v (passed=%v)", err, passed)
		}
		for kv := range strings.FieldsSeq(result) {
			key, v, _ := strings.Cut(kv, "=")
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || key == "size_mib" {
				continue
			}
			unit := strings.TrimSuffix(strings.TrimSuffix(key, "_mbs"), "_mib")
			if strings.HasSuffix(key, "_mbs") {
				unit += "_MB/s"
			} else {
				unit += "_MiB"
			}
			b.ReportMetric(x, unit)
		}
	}
}
