package messaging_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// TestNoTransport: messaging is the rooms' log engine; the WebSocket
// session layer is package web's. messaging links no WebSocket library and
// no router, and imports no net/http itself (the object store's S3 client
// does, below it).
func TestNoTransport(t *testing.T) {
	const pkg = "github.com/parley-mediation/parley/messaging"
	for _, d := range goList(t, "-deps", pkg) {
		if strings.HasPrefix(d, "github.com/gorilla/websocket") || strings.HasPrefix(d, "github.com/go-chi/") ||
			d == "github.com/parley-mediation/parley/web" {
			t.Errorf("messaging depends on %s", d)
		}
	}
	direct := goList(t, "-f", `{{join .Imports " "}}`, pkg)
	for _, forbidden := range []string{"net/http", "github.com/gorilla/websocket"} {
		if slices.Contains(direct, forbidden) {
			t.Errorf("messaging imports %s", forbidden)
		}
	}
	if len(direct) == 0 {
		t.Fatal("go list printed no imports")
	}
}
