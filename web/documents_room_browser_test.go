package web_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserDocumentsFollowRoom drives web/client/test/docs-follow-room.mjs
// in Chromium: a file chosen in one room, then another room opened, is
// uploaded to the room now open (the form's place follows the room while
// the file stays chosen), unless the person picked the place themselves;
// an upload that reaches people outside the room
// being read (from a caucus to the joint room) asks first, naming in words
// who will see it and which room the person is looking at, and nothing is
// sent until they confirm; from the joint room, a narrower place (the
// mediators only, a party's own caucus) goes without a question.
func TestBrowserDocumentsFollowRoom(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	medEmail, _, medC, k := tenancyCase(t, n)
	invA := inviteAda(t, medC, k)
	browserScript{
		name: "docs-follow-room.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + medEmail, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_INVITE=" + invA.Link, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// How many documents the server holds in the case.
			"documents": func(string) (string, error) {
				docs, err := medC.Documents(ctx, k.ID)
				return strconv.Itoa(len(docs)), err
			},
			// The audience the server holds a document under, by its name ("none": no such document).
			"audience": func(name string) (string, error) {
				docs, err := medC.Documents(ctx, k.ID)
				for _, d := range docs {
					if d.Name == name {
						return d.Audience, err
					}
				}
				return "none", err
			},
		},
		shots: []string{"documents-upload-ask.png", "documents-upload-ask-phone.png"},
	}.run(t, n.URL)
}
