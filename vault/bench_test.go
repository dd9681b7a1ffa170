package vault_test

// Benchmarks for BENCHMARKS.md (## Vault). The storage ones need the test
// MinIO (scripts/services.sh); run them one at a time, e.g.
//
//	go test -run '^$' -bench 'AEAD' -benchtime 3s ./vault/
//	go test -run '^$' -bench 'UploadVsRawPut' -benchtime 3x ./vault/
//	go test -run '^$' -bench 'UploadRSS' -benchtime 1x ./vault/

import (
	"bufio"
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/vault"
)

// BenchmarkAEAD compares the vault's streaming encryption (64 KiB segments,
// fed 8 KiB writes as an HTTP body arrives) with Go's own AES-256-GCM
// sealing 8 KiB messages, on one core. Goal: vault ≥ 0.8 × Go.
func BenchmarkAEAD(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	msg := make([]byte, 8<<10)
	rand.Read(msg)
	b.Run("go-aes256gcm-8KiB", func(b *testing.B) {
		block, _ := aes.NewCipher(key)
		gcm, _ := cipher.NewGCM(block)
		nonce := make([]byte, gcm.NonceSize())
		out := make([]byte, 0, len(msg)+gcm.Overhead())
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			out = gcm.Seal(out[:0], nonce, msg, nil)
		}
	})
	b.Run("vault-encrypt-8KiB-writes", func(b *testing.B) {
		w, err := vault.NewWriter(io.Discard, key, vault.Binding{Case: "c", Doc: "d", Version: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			w.Write(msg)
		}
		w.Close()
	})
	b.Run("vault-decrypt", func(b *testing.B) {
		var sealed bytes.Buffer
		w, _ := vault.NewWriter(&sealed, key, vault.Binding{Case: "c", Doc: "d", Version: 1})
		plain := make([]byte, 16<<20)
		w.Write(plain)
		w.Close()
		b.SetBytes(int64(len(plain)))
		for b.Loop() {
			r, err := vault.NewReader(bytes.NewReader(sealed.Bytes()), key, vault.Binding{Case: "c", Doc: "d", Version: 1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// pattern is a cheap endless reader of pseudo-random bytes, so that a
// multi-GiB upload is generated as it goes rather than held in memory.
type pattern struct {
	block []byte
	off   int
	left  int64
}

func newPattern(size int64) *pattern {
	p := &pattern{block: make([]byte, 1<<20), left: size}
	rand.Read(p.block)
	return p
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	n := copy(b[:min(int64(len(b)), p.left)], p.block[p.off:])
	p.off = (p.off + n) % len(p.block)
	p.left -= int64(n)
	return n, nil
}

// benchNode is a scale-mode node (MinIO) with a mediator and a case.
func benchNode(b *testing.B) (*nodetest.Node, account.Account, *client.Client, string) {
	b.Helper()
	n := nodetest.Start(b, nodetest.Scale(b))
	acct, med := n.Staff(b, policy.RoleMediator, "bench@example.org")
	c, err := med.CreateCase(context.Background(), "Bench", "bench", "", []string{"A", "B"})
	if err != nil {
		b.Fatal(err)
	}
	return n, acct, med, c.ID
}

// BenchmarkUploadVsRawPut uploads the same bytes, in the same run, four
// ways to the test MinIO: through Parley's HTTP API (client and server in
// this process), straight into the vault service (encrypted, streamed,
// multipart with unknown length), as a raw minio-go PutObject with unknown
// length (the same multipart path, no encryption), and as a raw PutObject
// of a known length. Each iteration does all four back to back and yields
// one ratio per pair, so a burst of load from elsewhere on the machine
// skews one iteration, not the figure: the reported ratios are medians.
// Goal: encrypted ≥ 0.9 × raw.
func BenchmarkUploadVsRawPut(b *testing.B) {
	const size = 128 << 20
	n, acct, med, caseID := benchNode(b)
	cfg := n.Config.S3
	raw, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: !cfg.Insecure})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	aud, _ := vault.ParseAudience("mediators")
	var tHTTP, tService, tRawStream, tRawSized time.Duration
	var rService, rServiceSized, rHTTP []float64
	i := 0
	timed := func(total *time.Duration, f func()) time.Duration {
		t0 := time.Now()
		f()
		d := time.Since(t0)
		*total += d
		return d
	}
	for b.Loop() {
		i++
		key := fmt.Sprintf("raw/%d", i)
		dHTTP := timed(&tHTTP, func() {
			d, err := med.UploadDocument(ctx, caseID, client.Upload{Name: "bench.bin", Audience: "mediators", Class: "admin", Body: newPattern(size), Size: size})
			if err != nil {
				b.Fatal(err)
			}
			n.Store.Delete(ctx, fmt.Sprintf("docs/%s/%s/1", caseID, d.ID), "")
		})
		dService := timed(&tService, func() {
			d, err := n.Vault.Upload(ctx, acct, caseID, vault.NewDocument{Name: "bench.bin", Audience: aud, Class: vault.ClassAdmin}, newPattern(size))
			if err != nil {
				b.Fatal(err)
			}
			n.Store.Delete(ctx, fmt.Sprintf("docs/%s/%s/1", caseID, d.ID), "")
		})
		dStream := timed(&tRawStream, func() {
			if _, err := raw.PutObject(ctx, cfg.Bucket, key, newPattern(size), -1, minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
				b.Fatal(err)
			}
			raw.RemoveObject(ctx, cfg.Bucket, key, minio.RemoveObjectOptions{})
		})
		dSized := timed(&tRawSized, func() {
			if _, err := raw.PutObject(ctx, cfg.Bucket, key+"s", newPattern(size), size, minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
				b.Fatal(err)
			}
			raw.RemoveObject(ctx, cfg.Bucket, key+"s", minio.RemoveObjectOptions{})
		})
		rService = append(rService, dStream.Seconds()/dService.Seconds())
		rServiceSized = append(rServiceSized, dSized.Seconds()/dService.Seconds())
		rHTTP = append(rHTTP, dStream.Seconds()/dHTTP.Seconds())
	}
	median := func(v []float64) float64 {
		slices.Sort(v)
		return v[len(v)/2]
	}
	mbps := func(d time.Duration) float64 { return float64(size) * float64(i) / d.Seconds() / 1e6 }
	b.ReportMetric(mbps(tHTTP), "http-MB/s")
	b.ReportMetric(mbps(tService), "service-MB/s")
	b.ReportMetric(mbps(tRawStream), "raw-stream-MB/s")
	b.ReportMetric(mbps(tRawSized), "raw-sized-MB/s")
	b.ReportMetric(median(rService), "service/raw-stream")
	b.ReportMetric(median(rServiceSized), "service/raw-sized")
	b.ReportMetric(median(rHTTP), "http/raw-stream")
}

// vmHWM reads the process's peak resident set size (kB) from
// /proc/self/status; resetHWM resets it to the current RSS (Linux ≥ 4.0).
func vmHWM(b *testing.B) (hwm, rss int64) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		k, v, _ := strings.Cut(s.Text(), ":")
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

func resetHWM(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset VmHWM (%v); growth is measured from the earlier peak", err)
	}
}

// BenchmarkUploadRSS2GiB uploads a 2 GiB document through a scale-mode
// node's HTTP API (client, server, vault and MinIO multipart upload all in
// this process but MinIO itself), generated as it is sent, and reports
// how far the process's peak RSS rose above its RSS before the upload,
// and the SHA-256 check of a full download. Goal: ≤ 64 MiB.
func BenchmarkUploadRSS2GiB(b *testing.B) {
	const size = 2 << 30
	n, _, med, caseID := benchNode(b)
	ctx := context.Background()
	var worst int64
	for b.Loop() {
		runtime.GC()
		resetHWM(b)
		before, _ := vmHWM(b) // the peak, just reset to the current RSS
		t0 := time.Now()
		d, err := med.UploadDocument(ctx, caseID, client.Upload{Name: "big.bin", Audience: "mediators", Class: "admin", Body: newPattern(size), Size: size})
		if err != nil {
			b.Fatal(err)
		}
		up := time.Since(t0)
		hwm, _ := vmHWM(b)
		worst = max(worst, hwm-before)
		b.Logf("upload of %d MiB in %s (%.0f MB/s); RSS peak before %d MiB, during %d MiB", size>>20, up.Round(time.Millisecond), float64(size)/up.Seconds()/1e6, before>>10, hwm>>10)

		// Download it back, checking every byte's SHA-256 as it streams.
		runtime.GC()
		resetHWM(b)
		before, _ = vmHWM(b)
		t0 = time.Now()
		dl, err := med.DownloadDocument(ctx, caseID, d.ID, 0)
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.Copy(h, dl.Body); err != nil {
			b.Fatal(err)
		}
		dl.Body.Close()
		hwm, _ = vmHWM(b)
		b.Logf("download in %s (%.0f MB/s); RSS peak growth %d MiB", time.Since(t0).Round(time.Millisecond), float64(size)/time.Since(t0).Seconds()/1e6, (hwm-before)>>10)
		n.Store.Delete(ctx, fmt.Sprintf("docs/%s/%s/1", caseID, d.ID), "")
	}
	b.ReportMetric(float64(worst)/1024, "peak-RSS-growth-MiB")
}
