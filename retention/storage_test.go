package retention

import (
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/parley-mediation/parley/caucus"
	"github.com/parley-mediation/parley/internal/testenv"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/vault"
)

// TestMinIORefusesDeletingHeldVersions goes around Parley: with the
// bucket's own credentials and minio-go, deleting any stored version of a
// held case's ciphertext, key records or message history is refused by
// MinIO itself (S3 object lock legal hold), even with the governance
// bypass header. After the hold is released the same delete succeeds.
func TestMinIORefusesDeletingHeldVersions(t *testing.T) {
	t.Parallel()
	cfg := testenv.S3(t)
	store, err := objstore.OpenS3(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(cfg.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""), Secure: !cfg.Insecure})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, store)
	ctx := t.Context()
	tc := e.newCase(t, map[string]vault.Class{"letter+v2": vault.ClassCorrespondence})
	h, err := e.ret.PlaceHold(ctx, e.records, NewHold{Case: tc.id, Reason: "Court order", Authority: "Order 7"})
	if err != nil {
		t.Fatal(err)
	}
	d := tc.docs["letter"]
	keys := []string{docObject(tc.id, d.ID, 1), docObject(tc.id, d.ID, 2), versionObject(tc.id, d.ID, 1), versionObject(tc.id, d.ID, 2)}
	if err := store.List(ctx, caucus.HistoryPrefix(tc.id), func(i objstore.Info) error { keys = append(keys, i.Key); return nil }); err != nil {
		t.Fatal(err)
	}
	if !hasSegments(keys[4:], "joint", "caucus-A") {
		t.Fatalf("keys: %v", keys)
	}
	remove := func(key string) []error {
		vs, err := store.Versions(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		var errs []error
		for _, v := range vs {
			errs = append(errs, mc.RemoveObject(ctx, cfg.Bucket, key, minio.RemoveObjectOptions{VersionID: v.VersionID, GovernanceBypass: true}))
		}
		return errs
	}
	for _, key := range keys {
		before := e.versionsOf(t, key)
		for _, err := range remove(key) {
			if err == nil {
				t.Fatalf("MinIO deleted a held version of %s", key)
			}
			// MinIO answers 400 InvalidRequest "Object is WORM protected".
			if code := minio.ToErrorResponse(err).Code; code != "InvalidRequest" && code != "AccessDenied" {
				t.Fatalf("%s: unexpected refusal %s: %v", key, code, err)
			}
		}
		if after := e.versionsOf(t, key); after != before || before == 0 {
			t.Fatalf("%s: %d versions before, %d after", key, before, after)
		}
	}
	if _, err := e.ret.ReleaseHold(ctx, e.records, tc.id, h.ID, "order lifted"); err != nil {
		t.Fatal(err)
	}
	for _, err := range remove(keys[0]) {
		if err != nil {
			t.Fatalf("delete after release: %v", err)
		}
	}
}
