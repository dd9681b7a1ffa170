package web_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/parley-mediation/parley/internal/nodetest"
	"github.com/parley-mediation/parley/server"
)

// TestBrowserE2EEDocumentsNoRoom drives web/client/test/e2ee-docs-room.mjs:
// when the browser gives the site too little storage for the temporary
// copy of an end-to-end encrypted document (a private window, a full
// disk; lowered here through DevTools), the upload is refused before
// anything is sent and the download before anything is saved, each in
// plain words, with no temporary file left; with room again both work.
func TestBrowserE2EEDocumentsNoRoom(t *testing.T) {
	needBrowser(t)
	n := nodetest.Start(t, server.Config{DataDir: t.TempDir()})
	ctx := context.Background()
	email, _, medC, k := tenancyCase(t, n)
	browserScript{
		name: "e2ee-docs-room.mjs",
		env:  []string{"PARLEY_MEDIATOR_EMAIL=" + email, "PARLEY_PASSWORD=" + nodetest.Password, "PARLEY_CASE=" + k.ID},
		ask: map[string]func(string) (string, error){
			// How many documents the server holds in the case.
			"documents": func(string) (string, error) {
				docs, err := medC.Documents(ctx, k.ID)
				return strconv.Itoa(len(docs)), err
			},
		},
		shots: []string{"e2ee-docs-no-room.png", "e2ee-docs-no-room-phone.png"},
	}.run(t, n.URL)
}
