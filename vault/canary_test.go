package vault_test

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/policy"
)

// TestCanaryNeverInMinIO uploads a document through a scale-mode node (real
// MinIO and Redis) and checks that neither its content, its name nor its
// media type appears anywhere in MinIO's data directory: not in the
// bucket's objects and metadata, not in the multipart staging area.
func TestCanaryNeverInMinIO(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("PARLEY_TEST_MINIO_DATA")
	testenv.S3(t) // skips or fails like every service test when MinIO is absent
	if dir == "" {
		t.Fatal("PARLEY_TEST_MINIO_DATA not set by scripts/services.sh")
	}
	cfg := nodetest.Scale(t)
	n := nodetest.Start(t, cfg)
	ctx := t.Context()
	const canary = "canary-vault-7b1e"
	_, med := n.Staff(t, policy.RoleMediator, "vault-canary@example.org")
	c, err := med.CreateCase(ctx, "Canary case", "family", "", []string{"A", "B"})
	if err != nil {
		t.Fatal(err)
	}
	// Over one 16 MiB multipart part, so the upload is a real multipart one;
	// the canary repeats, so any unencrypted stretch of it would show.
	content := bytes.Repeat([]byte(canary+" confidential settlement terms\n"), (17<<20)/47)
	d, err := med.UploadDocument(ctx, c.ID, client.Upload{Name: canary + ".pdf", MediaType: "application/x-" + canary,
		Audience: "mediators", Class: "mediator-notes", Body: bytes.NewReader(content), Size: int64(len(content))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := med.UploadVersion(ctx, c.ID, d.ID, client.Upload{Body: strings.NewReader(canary + " v2"), Size: -1}); err != nil {
		t.Fatal(err)
	}
	dl, err := med.DownloadDocument(ctx, c.ID, d.ID, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(dl.Body)
	dl.Body.Close()
	if err != nil || !bytes.Equal(got, content) || dl.Name != canary+".pdf" {
		t.Fatalf("round trip through MinIO: %v", err)
	}
	time.Sleep(100 * time.Millisecond) // let MinIO finish its background metadata writes
	files, bytesSeen := 0, int64(0)
	for _, root := range []string{filepath.Join(dir, cfg.S3.Bucket), filepath.Join(dir, ".minio.sys", "multipart")} {
		filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return nil
			}
			if strings.Contains(path, canary) {
				t.Errorf("a MinIO path names the document: %s", path)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			files++
			bytesSeen += int64(len(b))
			if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte("confidential settlement")) {
				t.Errorf("%s holds plaintext", path)
			}
			return nil
		})
	}
	if files < 5 || bytesSeen < int64(len(content)) {
		t.Fatalf("only %d files, %d bytes under the bucket's data directory: wrong path?", files, bytesSeen)
	}
}
