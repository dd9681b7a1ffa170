package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/server"
)

func init() {
	register("admin rotate-master-key", "admin rotate-master-key --new-key-file FILE [--master-key-file CURRENT] [--parallel 8] [storage flags as for serve]", adminRotateMasterKey)
	register("admin install-master-key", "admin install-master-key SRC DST", adminInstallMasterKey)
}

// adminInstallMasterKey copies a master key file to DST readable by its
// owner only — what a Kubernetes init container does with the Secret
// volume, whose files cannot be owner-only for a non-root user.
func adminInstallMasterKey(ctx context.Context, args []string) error {
	fs := newFlags("admin install-master-key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 2, "the key file to copy and where to put it"); err != nil {
		return err
	}
	id, err := kms.InstallMasterKeyFile(fs.Arg(0), fs.Arg(1))
	if err != nil {
		return err
	}
	fmt.Printf("Installed master key %s at %s (mode 0400).\n", id, fs.Arg(1))
	return nil
}

// rotateAfterEach, when set (by tests), runs after each object settles; an
// error stops the rotation there, as a crash would.
var rotateAfterEach func(objectKey string, done, total int) error

// adminRotateMasterKey rewraps every key under keys/ from the current master
// key (--master-key-file, as for serve) to a new one (--new-key-file), then
// checks that the old key unwraps nothing left in the store. Documents and
// records are not re-encrypted: the keys they are encrypted under do not
// change, only the wrapping does. Every node must be stopped while it runs
// (in embedded mode it refuses to run beside `parley serve`); see
// docs/operations.md for the whole procedure.
func adminRotateMasterKey(ctx context.Context, args []string) error {
	fs := newFlags("admin rotate-master-key")
	cfg := nodeFlags(fs)
	newFile := fs.String("new-key-file", "", "the new master key (make it first with `parley admin gen-master-key`)")
	progress := fs.Bool("progress", true, "draw a progress bar on standard error when it is a terminal")
	parallel := fs.Int("parallel", 8, "keys rewrapped at once")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *newFile == "" {
		return usagef("--new-key-file is required")
	}
	if cfg.MasterKeyFile == "" {
		if cfg.S3.Endpoint != "" {
			return usagef("--master-key-file (the current key) is required with --s3-endpoint")
		}
		cfg.MasterKeyFile = filepath.Join(cfg.DataDir, "master.key")
	}
	oldKey, err := kms.LoadMasterKey(cfg.MasterKeyFile, false)
	if err != nil {
		return fmt.Errorf("current key: %w", err)
	}
	newKey, err := kms.LoadMasterKey(*newFile, false)
	if err != nil {
		return fmt.Errorf("new key: %w", err)
	}
	store, release, err := openExistingStore(ctx, *cfg)
	if err != nil {
		return err
	}
	defer release()
	if oldKey.ID() == newKey.ID() {
		fmt.Fprintf(os.Stderr, "The new key is the current key (%s): checking only.\n", newKey.ID())
	}

	var bar *progressbar.ProgressBar
	opts := kms.RotateOptions{Workers: *parallel, AfterEach: func(obj string, done, total int) error {
		if *progress && bar == nil && isTerminal(os.Stderr) {
			bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(os.Stderr),
				progressbar.OptionSetDescription("rewrapping keys"), progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond))
		}
		if bar != nil {
			bar.Set(done)
		}
		if rotateAfterEach != nil {
			return rotateAfterEach(obj, done, total)
		}
		return nil
	}}
	rep, err := kms.RotateMasterKey(ctx, store, oldKey, newKey, opts)
	if bar != nil {
		bar.Finish()
		fmt.Fprintln(os.Stderr)
	}
	if err != nil {
		return fmt.Errorf("%w — %d of %d keys settled so far (%d rewrapped by this run); fix the cause and run the same command again, with both key files, to finish", err,
			rep.Rewrapped+rep.AlreadyNew, rep.Objects, rep.Rewrapped)
	}
	if rep.Rewrapped > 0 || rep.OldVersionsDeleted > 0 {
		if err := auditRotation(ctx, store, cfg.AuditName, oldKey, newKey, rep); err != nil {
			return fmt.Errorf("every key is rewrapped, but the audit entry was not written: %w", err)
		}
	}
	fmt.Printf("Rotated the master key %s → %s: %d keys under keys/ (%d rewrapped now, %d already), %d old versions deleted; %d stored versions verified to unwrap only with the new key.\n",
		oldKey.ID(), newKey.ID(), rep.Objects, rep.Rewrapped, rep.AlreadyNew, rep.OldVersionsDeleted, rep.Verified)
	if oldKey.ID() != newKey.ID() {
		fmt.Printf("Next: give every node %s as --master-key-file and start them. Keep the old key only as long as backups made before now are kept (docs/operations.md).\n", *newFile)
	}
	return nil
}

// openExistingStore opens the configured store and refuses one without any
// wrapped keys: that is a wrong bucket or data directory, not a deployment
// (OpenStore would have quietly made the bucket or directory). In embedded
// mode it first takes the data directory's lock (server.LockDataDir), so
// the rotation does not run beside `parley serve`, and release lets it go.
func openExistingStore(ctx context.Context, cfg server.Config) (_ objstore.Store, release func(), err error) {
	if cfg.S3.Endpoint == "" {
		if _, err := os.Stat(cfg.DataDir); err != nil {
			return nil, nil, fmt.Errorf("data directory: %w", err)
		}
	}
	unlock, err := server.LockDataDir(cfg)
	if err != nil {
		return nil, nil, besideServe(err, &cfg, "stop it first: every node is stopped while the master key is rotated")
	}
	defer func() {
		if err != nil {
			unlock()
		}
	}()
	store, err := server.OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	found := errors.New("found")
	err = store.List(ctx, kms.KeysPrefix, func(objstore.Info) error { return found })
	if err == nil {
		return nil, nil, errors.New("no wrapped keys under keys/ in this store: is it the right bucket or data directory?")
	}
	if !errors.Is(err, found) {
		return nil, nil, err
	}
	return store, unlock, nil
}

// auditRotation records the rotation in the audit log, signed with the
// audit key — which the rotation did not change, only rewrapped.
func auditRotation(ctx context.Context, store objstore.Store, name string, oldKey, newKey *kms.MasterKey, rep kms.RotateReport) error {
	seed, err := kms.LoadOrCreateKey(ctx, store, newKey, kms.AuditSigningKeyObject, kms.AuditSigningKeyLabel)
	if err != nil {
		return err
	}
	signer, err := audit.NewSigner(name, ed25519.NewKeyFromSeed(seed))
	clear(seed)
	if err != nil {
		return err
	}
	log, err := audit.Open(ctx, store, signer)
	if err != nil {
		return err
	}
	_, err = log.Append(ctx, audit.Event{Type: "kms.master-key.rotated", Actor: "operator", Attrs: map[string]string{
		"from": oldKey.ID(), "to": newKey.ID(),
		"keys": strconv.Itoa(rep.Objects), "rewrapped": strconv.Itoa(rep.Rewrapped),
		"old-versions-deleted": strconv.Itoa(rep.OldVersionsDeleted), "via": "cli",
	}})
	return err
}

// isTerminal reports whether f is a character device (a terminal), so the
// progress bar is not drawn into log files.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
