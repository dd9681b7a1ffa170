package server_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/mail"
	"github.com/parley-mediation/parley/objstore"
	"github.com/parley-mediation/parley/server"
)

// TestCommandNodeLeavesDueMailToServingNodes: a node opened for one CLI
// command (Config.Command, as `parley admin …` opens it, with no SMTP
// transport) runs no mail sender. Its development outbox would otherwise
// claim every due message of the deployment's shared store and record it
// as held, so that it is never sent.
func TestCommandNodeLeavesDueMailToServingNodes(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	t0 := time.Now().Add(-24 * time.Hour)
	srv, err := server.Open(ctx, server.Config{DataDir: dir, SMTPURL: "smtp://127.0.0.1:1?starttls=off",
		MailFrom: "sessions@example.org", MailPoll: time.Hour, MailClock: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	// Due an hour after the serving node's clock (so it does not try to
	// send it), long past for anyone using the real time.
	if err := srv.Outbox.Enqueue(ctx, mail.Message{ID: "rem-1", CaseID: "c-test", Kind: mail.KindReminder,
		To: "p@example.org", Subject: "Reminder", Text: "x", NotBefore: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	cli, err := server.Open(ctx, server.Config{DataDir: dir, Command: true})
	if err != nil {
		t.Fatal(err)
	}
	if server.RunsMailSender(cli) {
		t.Error("a CLI command's node runs a mail sender")
	}
	// Close waits for a sender, if one ran, to stop: what it did is done.
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	check, err := server.Open(ctx, server.Config{DataDir: dir, Command: true})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	m, err := check.Outbox.Get(ctx, "c-test", "rem-1")
	if err != nil {
		t.Fatal(err)
	}
	if m.State != mail.Pending || m.Attempts != 0 {
		t.Fatalf("after a CLI command the deployment's reminder is %q (attempts %d), want pending and untried", m.State, m.Attempts)
	}
}

// TestCommandNodeAndServingNodeExcludeEachOther: in embedded mode the
// directory store is one process's, so a command's node (Config.Command,
// which writes) and a serving node never have the data directory at once:
// whichever opens second fails with ErrDataDirInUse before writing, and
// once the first closes the other opens. In scale mode LockDataDir takes
// nothing (nor makes the directory).
func TestCommandNodeAndServingNodeExcludeEachOther(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := server.Open(ctx, server.Config{DataDir: dir, Command: true}); !errors.Is(err, server.ErrDataDirInUse) {
		t.Fatalf("a command's node beside a serving one: %v, want ErrDataDirInUse", err)
	}
	if _, err := server.LockDataDir(server.Config{DataDir: dir}); !errors.Is(err, server.ErrDataDirInUse) {
		t.Fatalf("LockDataDir beside a serving node: %v, want ErrDataDirInUse", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	cli, err := server.Open(ctx, server.Config{DataDir: dir, Command: true})
	if err != nil {
		t.Fatalf("a command's node once serving stopped: %v", err)
	}
	_, err = server.Open(ctx, server.Config{DataDir: dir})
	if !errors.Is(err, server.ErrDataDirInUse) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("a serving node beside a command's: %v, want ErrDataDirInUse naming %s", err, dir)
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	srv, err = server.Open(ctx, server.Config{DataDir: dir})
	if err != nil {
		t.Fatalf("a serving node once the command is done: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}

	scaleDir := filepath.Join(t.TempDir(), "unused")
	release, err := server.LockDataDir(server.Config{DataDir: scaleDir, S3: objstore.S3Config{Endpoint: "127.0.0.1:1"}})
	if err != nil {
		t.Fatalf("LockDataDir in scale mode: %v", err)
	}
	release()
	if _, err := os.Stat(scaleDir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LockDataDir in scale mode touched the data directory: %v", err)
	}
}
