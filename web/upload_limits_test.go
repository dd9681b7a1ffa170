package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/web"
)

// On MinIO (each upload holds a 16 MiB part buffer while it lasts), one
// account has at most web.UploadsPerAccount uploads in progress: the
// next is refused with 429 in plain words; and an upload whose body
// sends nothing for the idle timeout ends with 408, leaving no document.
// Before, 24 uploads that sent one byte and then nothing held 393 MiB
// after 40 s, and nothing refused a fifth.
func TestUploadsPerAccountAndIdleOnS3(t *testing.T) {
	cfg := nodetest.Scale(t)
	const idle = 3 * time.Second
	cfg.UploadIdleTimeout = idle
	n := nodetest.Start(t, cfg)
	ctx := t.Context()
	_, med := n.Staff(t, policy.RoleMediator, "m@example.org")
	c, err := med.CreateCase(ctx, "Uploads", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	upload := func(body io.Reader, name string) (*http.Response, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/api/v1/cases/"+c.ID+"/documents?audience=joint&class=evidence", body)
		req.Header.Set("Authorization", "Bearer "+med.Token)
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Parley-Document-Name", name)
		return http.DefaultClient.Do(req)
	}
	type answer struct {
		status int
		p      api.Problem
		err    error
	}
	read := func(res *http.Response, err error) answer {
		if err != nil {
			return answer{err: err}
		}
		defer res.Body.Close()
		var p api.Problem
		json.NewDecoder(res.Body).Decode(&p)
		return answer{status: res.StatusCode, p: p}
	}
	// UploadsPerAccount+1 uploads at once, each sending 64 KiB (the least
	// that keeps an upload going) six times per idle timeout until stop,
	// then nothing: one of them is refused at once.
	const k = web.UploadsPerAccount + 1
	answers := make(chan answer, k)
	stop := make(chan struct{})
	for range k {
		pr, pw := io.Pipe()
		t.Cleanup(func() { pw.Close() })
		go func() { answers <- read(upload(pr, "silent.txt")) }()
		go func() {
			tick := time.NewTicker(idle / 6)
			defer tick.Stop()
			for {
				if _, err := pw.Write(make([]byte, 64<<10)); err != nil {
					return
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
	var refused answer
	select {
	case refused = <-answers:
	case <-time.After(30 * time.Second):
		t.Fatalf("none of %d uploads at once by one account was refused in 30 s", k)
	}
	if refused.err != nil || refused.status != http.StatusTooManyRequests || refused.p.Type != api.ProblemTypeBase+string(api.ProblemRateLimited) ||
		!strings.Contains(refused.p.Detail, "you already have 4 uploads in progress") {
		t.Fatalf("upload %d of one account: %v %d %+v, want 429 in plain words", k, refused.err, refused.status, refused.p)
	}
	close(stop)
	started := time.Now()
	// The others end once idle for the timeout: 408.
	for range k - 1 {
		select {
		case a := <-answers:
			if a.err != nil || a.status != http.StatusRequestTimeout || a.p.Type != api.ProblemTypeBase+string(api.ProblemRequestTimeout) ||
				!strings.Contains(a.p.Detail, "nothing of it was kept") {
				t.Fatalf("a silent upload answered %v %d %+v, want 408", a.err, a.status, a.p)
			}
		case <-time.After(idle + 30*time.Second):
			t.Fatalf("a silent upload still open %s after its body stopped (idle timeout %s)", time.Since(started), idle)
		}
	}
	docs, err := med.Documents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		if d.Name == "silent.txt" {
			t.Fatalf("a silent upload left a document: %+v", d)
		}
	}
	// Their places are given back: an upload is taken again.
	if a := read(upload(strings.NewReader("whole"), "after.txt")); a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("an upload after the silent ones ended: %v %d %+v", a.err, a.status, a.p)
	}

	// A trickle — a byte six times per idle timeout, never silent for
	// long — ends too, within about one idle timeout (review: each read
	// used to move the deadline on, so a trickle kept its place for good).
	pr, pw := io.Pipe()
	defer pw.Close()
	trickled := make(chan answer, 1)
	go func() { trickled <- read(upload(pr, "trickle.txt")) }()
	go func() {
		tick := time.NewTicker(idle / 6)
		defer tick.Stop()
		for range 600 {
			if _, err := pw.Write([]byte("x")); err != nil {
				return
			}
			<-tick.C
		}
	}()
	started = time.Now()
	select {
	case a := <-trickled:
		if a.err != nil || a.status != http.StatusRequestTimeout || !strings.Contains(a.p.Detail, "arrived too slowly") {
			t.Fatalf("a trickled upload answered %v %d %+v, want 408", a.err, a.status, a.p)
		}
	case <-time.After(idle + 30*time.Second):
		t.Fatalf("a trickled upload still open %s after it began (idle timeout %s)", time.Since(started), idle)
	}
}

// An upload that keeps to the least the idle timeout asks (64 KiB per
// half idle timeout) but, after its first idle timeout, averages less
// than 1 MiB per idle timeout ends with 408 in plain words well within
// the cap its declared size gives (one idle timeout plus its size at
// 1 MiB per idle timeout), leaving no document; one at twice the floor
// completes. Before, 64 KiB a minute kept an upload going without end (a
// 2 GiB body: about 22 days), so 16 of them held a node's places for
// weeks: here the slow upload ran on until its whole body had arrived.
func TestUploadSlowerThanTheFloorEndsOnS3(t *testing.T) {
	cfg := nodetest.Scale(t)
	const idle = 2 * time.Second
	cfg.UploadIdleTimeout = idle
	n := nodetest.Start(t, cfg)
	ctx := t.Context()
	_, med := n.Staff(t, policy.RoleMediator, "m@example.org")
	c, err := med.CreateCase(ctx, "Slow uploads", "commercial", "", []string{"Buyer", "Seller"})
	if err != nil {
		t.Fatal(err)
	}
	const size = 8 << 20
	// paced sends size bytes, chunk every every, declared in
	// Content-Length, and answers the upload's status and problem.
	type answer struct {
		status int
		p      api.Problem
		took   time.Duration
		err    error
	}
	paced := func(ctx context.Context, name string, chunk int, every time.Duration) answer {
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() {
			tick := time.NewTicker(every)
			defer tick.Stop()
			for sent := 0; sent < size; sent += chunk {
				if _, err := pw.Write(make([]byte, min(chunk, size-sent))); err != nil {
					return
				}
				<-tick.C
			}
		}()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, n.URL+"/api/v1/cases/"+c.ID+"/documents?audience=joint&class=evidence", pr)
		req.ContentLength = size
		req.Header.Set("Authorization", "Bearer "+med.Token)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set("Parley-Document-Name", name)
		started := time.Now()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return answer{err: err}
		}
		defer res.Body.Close()
		var p api.Problem
		json.NewDecoder(res.Body).Decode(&p)
		return answer{status: res.StatusCode, p: p, took: time.Since(started)}
	}
	// The cap its declared size gives: one idle timeout of allowance and
	// 8 MiB at 1 MiB per idle timeout.
	const limit = idle + size/(1<<20)*idle
	slowCtx, stop := context.WithCancel(ctx)
	defer stop()
	slow := make(chan answer, 1)
	go func() { slow <- paced(slowCtx, "slow.bin", 64<<10, idle/2) }()
	select {
	case a := <-slow:
		if a.err != nil || a.status != http.StatusRequestTimeout || a.p.Type != api.ProblemTypeBase+string(api.ProblemRequestTimeout) ||
			!strings.Contains(a.p.Detail, "arrived too slowly (less than 1 MiB in 2 seconds on average)") || !strings.Contains(a.p.Detail, "nothing of it was kept") {
			t.Fatalf("an upload of 64 KiB per half idle timeout answered %v %d %+v after %s, want 408 in plain words", a.err, a.status, a.p, a.took)
		}
		if a.took > limit {
			t.Fatalf("an upload of 64 KiB per half idle timeout ended after %s, past the cap of %s its size gives", a.took, limit)
		}
	case <-time.After(limit + 20*time.Second):
		t.Fatalf("an upload of 64 KiB per half idle timeout still open after %s (cap %s)", limit+20*time.Second, limit)
	}
	// Twice the floor: 256 KiB every idle/8.
	if a := paced(ctx, "steady.bin", 256<<10, idle/8); a.err != nil || a.status != http.StatusCreated {
		t.Fatalf("an upload at twice the floor answered %v %d %+v after %s", a.err, a.status, a.p, a.took)
	}
	docs, err := med.Documents(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
	}
	if len(names) != 1 || names[0] != "steady.bin" {
		t.Fatalf("documents after a slow and a steady upload: %v, want steady.bin only", names)
	}
}
