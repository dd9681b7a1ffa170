package web_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/parley-mediation/parley/client"
	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDocuments drives web/client/test/documents.mjs in Chromium: a
// party is offered only their own side's caucus to upload to (and told why
// the rest is missing), uploads with visible progress; the mediator's list
// shows it without a reload, naming who added it; each room lists its own
// documents, with all of them one choice away; a share's confirmation names
// a party invited and not joined yet; when that party joins (here, through
// the Go client on "ask join"), the "Visible to" lines name them without a
// reload. An upload into a case that holds the most documents it can
// says so in plain words, and what to do. Kind starts on "Choose…" and
// must be chosen; the extra lock (end to end) is explained with its cost.
// An upload that may have been saved (503 upload-unconfirmed, another
// 5xx) says to look before adding it again, never "nothing was saved";
// a share asks "Show … to …? … This cannot be undone." with a button
// naming the act. A poll of the list asked before a write and answered
// after it is dropped: the mediator's upload stays on her list, a party's
// answer to a share request is not asked again, and a shared document is
// not shown back in its old place. A document whose every version
// retention erased reads "A document erased on … (its name and content are
// gone)", not as one the reader cannot open, and offers nothing to open,
// download or share. axe runs on each screen.
func TestBrowserDocuments(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	// Invited, and joins only when the script asks.
	invB, err := medC.Invite(ctx, k.ID, "party", "B", "Lars Lindqvist", "", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	browserScript{
		name: "documents.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			"join": func(string) (string, error) {
				_, err := client.New(n.URL, "").Join(ctx, invB.Link)
				return "", err
			},
			// Retention erases every version of the document named.
			"erase": func(name string) (string, error) {
				docs, err := medC.Documents(ctx, k.ID)
				if err != nil {
					return "", err
				}
				for _, d := range docs {
					if d.Name != name {
						continue
					}
					for v := 1; v <= d.Version; v++ {
						if err := n.Vault.DestroyDataKey(ctx, "u-retention", k.ID, d.ID, v); err != nil {
							return "", err
						}
					}
					return "", nil
				}
				return "", fmt.Errorf("no document named %q", name)
			},
		},
		shots: []string{"documents-party.png", "documents-party-phone.png", "documents-share.png", "documents-share-phone.png", "documents-limit-phone.png", "documents-unsure-phone.png", "documents-erased.png", "documents-erased-phone.png"},
	}.run(t, n.URL)
}
