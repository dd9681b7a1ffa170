package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/kms"
	"github.com/parley-mediation/parley/policy"
	"github.com/parley-mediation/parley/server"
)

func init() {
	register("admin user create", "admin user create --email EMAIL --name NAME [--role admin|mediator|records] [--password-file FILE|-] [storage flags as for serve]", adminUserCreate)
	register("admin user revoke-sessions", "admin user revoke-sessions --email EMAIL | --account ID [storage flags as for serve]", adminRevokeSessions)
	register("admin gen-master-key", "admin gen-master-key FILE", adminGenMasterKey)
	register("admin seat-index", "admin seat-index [storage flags as for serve]  (once every node runs this release)", adminSeatIndex)
	register("audit verify", "audit verify [--key VKEY-FILE] [--checkpoint FILE] [storage flags as for serve]", auditVerify)
	register("audit key", "audit key [storage flags as for serve]", auditKey)
	register("policy show", "policy show", policyShow)
}

// adminUserCreate bootstraps an account directly in the object store: it is
// how the first admin comes to exist. It needs the master key, so only the
// operator of the deployment can run it.
func adminUserCreate(ctx context.Context, args []string) error {
	fs := newFlags("admin user create")
	cfg := nodeFlags(fs)
	email := fs.String("email", "", "email")
	name := fs.String("name", "", "full name")
	role := fs.String("role", "admin", "admin, mediator or records")
	pwFile := fs.String("password-file", "-", "file holding the password, or - for standard input")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *email == "" || *name == "" {
		return usagef("--email and --name are required")
	}
	pw, err := readSecret(*pwFile)
	if err != nil {
		return err
	}
	cfg.Command = true // embedded mode: holds the data directory while it runs
	node, err := server.Open(ctx, *cfg)
	if err != nil {
		return besideServe(err, cfg, "stop it first, or, while it runs, have an administrator signed in add the account (`parley account create`)")
	}
	defer node.Close()
	a, err := node.Accounts.Create(ctx, account.NewAccount{Email: *email, Name: *name, Role: policy.Role(*role), Password: pw})
	if err != nil {
		return err
	}
	if _, err := node.Audit.Append(ctx, audit.Event{Type: "account.created", Actor: "operator", Objects: []string{a.ID},
		Attrs: map[string]string{"role": string(a.Role), "via": "cli-bootstrap"}}); err != nil {
		return err
	}
	fmt.Printf("Created %s account %s for %s.\n", a.Role, a.ID, a.Email)
	return nil
}

// adminRevokeSessions ends every open session of an account (a lost
// laptop, a stolen token) from the store directly, and tells every node
// through Redis to close its WebSockets (without Redis they close at their
// next periodic check, within a minute). The account is named by a staff
// account's email (--email) or by its id (--account): a participant's
// account has no email index (its contact email is not a sign-in name), so
// it is found by id only — the id its audit entries name. In embedded mode
// it does not run beside `parley serve`, which would neither see its write
// nor keep it (server.LockDataDir): there an administrator revokes through
// the API.
func adminRevokeSessions(ctx context.Context, args []string) error {
	fs := newFlags("admin user revoke-sessions")
	cfg := nodeFlags(fs)
	email := fs.String("email", "", "a staff account's email")
	accountID := fs.String("account", "", "the account's id (u_…, as audit entries name it): for a participant, or any account")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if (*email == "") == (*accountID == "") {
		return usagef("give exactly one of --email (a staff account) and --account ID")
	}
	if *accountID != "" && !ids.Valid("u", *accountID) {
		return usagef("--account %q is not an account id (u_… as audit entries name it)", *accountID)
	}
	cfg.Command = true // embedded mode: holds the data directory while it runs
	node, err := server.Open(ctx, *cfg)
	if err != nil {
		return besideServe(err, cfg, "stop it first, or, while it runs, have an administrator signed in end the sessions (POST /api/v1/accounts/{id}/revoke-sessions, or disable the account on the People screen, which ends them too)")
	}
	defer node.Close()
	var a account.Account
	if *accountID != "" {
		if a, err = node.Accounts.Get(ctx, *accountID); errors.Is(err, fault.ErrNotFound) {
			return fmt.Errorf("no account %s in this store", *accountID)
		}
	} else if a, err = node.Accounts.ByEmail(ctx, *email); errors.Is(err, fault.ErrNotFound) {
		return fmt.Errorf("no staff account has the email %s (a participant's account is not found by email: give --account ID, the id its audit entries name)", *email)
	}
	if err != nil {
		return err
	}
	if err := node.Accounts.RevokeSessions(ctx, a.ID); err != nil {
		return err
	}
	if _, err := node.Audit.Append(ctx, audit.Event{Type: "account.sessions.revoked", Actor: "operator", Objects: []string{a.ID},
		Attrs: map[string]string{"via": "cli"}}); err != nil {
		return err
	}
	if err := node.Messages.Announce(ctx, account.AccountTopic(a.ID), []byte("revoked")); err != nil {
		fmt.Fprintf(os.Stderr, "Could not tell the nodes at once (%v); open WebSockets close within a minute.\n", err)
	}
	if a.Email != "" {
		fmt.Printf("Revoked every session of %s (%s).\n", a.ID, a.Email)
	} else {
		fmt.Printf("Revoked every session of %s.\n", a.ID)
	}
	return nil
}

// adminSeatIndex indexes the seats stored before the index of seats by
// address existed and then writes the marker that makes a request for an
// emailed sign-in link read the index (cases.BackfillSeatIndex). In scale
// mode no node does it by itself: a node of an earlier release, still
// running in a rolling upgrade, makes seats without entries, which the
// index would miss for good; so the operator runs it once every node runs
// this release (docs/operations.md). Until then requests read every
// record. Safe to run again, or beside serving nodes in scale mode; in
// embedded mode `parley serve` does it by itself, and this does not run
// beside it.
func adminSeatIndex(ctx context.Context, args []string) error {
	fs := newFlags("admin seat-index")
	cfg := nodeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.Command = true // embedded mode: holds the data directory while it runs
	node, err := server.Open(ctx, *cfg)
	if err != nil {
		return besideServe(err, cfg, "stop it first, or leave it: in embedded mode serve indexes the seats by itself")
	}
	defer node.Close()
	done, err := node.Cases.SeatIndexComplete(ctx)
	if err != nil {
		return err
	}
	if done {
		fmt.Println("The index of seats by address was already complete: nothing to do.")
		return nil
	}
	if err := node.Cases.BackfillSeatIndex(ctx); err != nil {
		return fmt.Errorf("indexing the seats: %w (nothing is lost: run it again)", err)
	}
	fmt.Println("Indexed every seat stored before the index of seats by address; emailed sign-in links now read the index.")
	return nil
}

func adminGenMasterKey(ctx context.Context, args []string) error {
	fs := newFlags("admin gen-master-key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := needArgs(fs, 1, "the file to write"); err != nil {
		return err
	}
	if err := kms.GenerateMasterKeyFile(fs.Arg(0)); err != nil {
		return err
	}
	fmt.Printf("Wrote a new master key to %s (mode 0600). Keep a copy offline: without it nothing stored can be read.\n", fs.Arg(0))
	return nil
}

// auditVerify checks the log in the object store. It needs no master key:
// only the verifier key (from --key, or from the store's keys when the
// master key is at hand). It only reads (server.OpenStoreToRead), so it
// may run beside `parley serve` in embedded mode too.
func auditVerify(ctx context.Context, args []string) error {
	fs := newFlags("audit verify")
	cfg := nodeFlags(fs)
	keyFile := fs.String("key", "", "file holding the audit verifier key (from `parley audit key` or GET /api/v1/audit/key)")
	cpFile := fs.String("checkpoint", "", "a signed checkpoint saved earlier; the log must be consistent with it")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	vkey, err := verifierKey(ctx, cfg, *keyFile)
	if err != nil {
		return err
	}
	var trusted []byte
	if *cpFile != "" {
		if trusted, err = readInput(*cpFile, maxCheckpointFile, "the checkpoint"); err != nil {
			return err
		}
	}
	store, err := server.OpenStoreToRead(ctx, *cfg)
	if err != nil {
		return err
	}
	rep, err := audit.Verify(ctx, store, vkey, trusted)
	if err != nil {
		return fmt.Errorf("audit log does NOT verify: %w", err)
	}
	fmt.Printf("Audit log verified: %d entries, %d signed checkpoints, root %s.\n", rep.Size, rep.CheckpointsChecked, rep.RootHash)
	return nil
}

func verifierKey(ctx context.Context, cfg *server.Config, keyFile string) (string, error) {
	if keyFile != "" {
		b, err := readInput(keyFile, maxKeyFile, "the key")
		if err != nil {
			return "", err
		}
		return string(trimSpace(b)), nil
	}
	// Read, making nothing: it may run beside `parley serve`.
	vkey, err := server.ReadAuditVerifierKey(ctx, *cfg)
	if err != nil {
		return "", fmt.Errorf("no --key given and cannot read the key from the store: %w", err)
	}
	return vkey, nil
}

// besideServe words, on one line, a refusal to write to the embedded data
// directory while `parley serve` (or another command that writes to it)
// holds it (server.ErrDataDirInUse); instead says what to do. The
// directory store is one process's: a write beside serve would be
// neither seen nor kept by it. Other errors are returned as they are.
func besideServe(err error, cfg *server.Config, instead string) error {
	if !errors.Is(err, server.ErrDataDirInUse) {
		return err
	}
	return fmt.Errorf("parley serve is running on %s (or another admin command is): %s", cfg.DataDir, instead)
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func auditKey(ctx context.Context, args []string) error {
	fs := newFlags("audit key")
	cfg := nodeFlags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	vkey, err := verifierKey(ctx, cfg, "")
	if err != nil {
		return err
	}
	fmt.Println(vkey)
	return nil
}

func policyShow(ctx context.Context, args []string) error {
	fmt.Print(policy.Source())
	return nil
}
