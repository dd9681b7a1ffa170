package web

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// codeOnly blanks out comments and string and template literals of
// TypeScript source, keeping line breaks, so a search sees code only.
func codeOnly(src string) string {
	out := []byte(src)
	blank := func(i int) {
		if out[i] != '\n' {
			out[i] = ' '
		}
	}
	for i := 0; i < len(src); i++ {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for ; i < len(src) && src[i] != '\n'; i++ {
				blank(i)
			}
		case strings.HasPrefix(src[i:], "/*"):
			end := strings.Index(src[i+2:], "*/")
			if end < 0 {
				end = len(src) - i - 4
			}
			for j := i; j < i+end+4; j++ {
				blank(j)
			}
			i += end + 3
		case src[i] == '"' || src[i] == '\'' || src[i] == '`':
			q := src[i]
			for i++; i < len(src) && src[i] != q; i++ {
				if src[i] == '\\' {
					blank(i)
					i++
				}
				blank(i)
			}
		}
	}
	return string(out)
}

var explicitAny = regexp.MustCompile(`\bany\b`)

// TestNoExplicitAny: the browser client's TypeScript has no explicit
// `any` (tsc's strict mode already refuses implicit ones), so every wire
// shape it reads is a generated type (wire_gen.ts), checked by the compiler.
func TestNoExplicitAny(t *testing.T) {
	files, err := filepath.Glob("client/src/*.ts")
	if err != nil || len(files) == 0 {
		t.Fatalf("no TypeScript sources found: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for n, line := range strings.Split(codeOnly(string(b)), "\n") {
			if explicitAny.MatchString(line) {
				t.Errorf("%s:%d: explicit any: %s", f, n+1, strings.TrimSpace(strings.Split(string(b), "\n")[n]))
			}
		}
	}
}

func TestCodeOnly(t *testing.T) {
	src := "let a: any = 1; // any\nconst s = \"any\" + 'any' + `any ${x}`; /* any */ f(x as any)\n"
	got := codeOnly(src)
	if n := len(explicitAny.FindAllString(got, -1)); n != 2 {
		t.Fatalf("found %d explicit any in %q, want 2", n, got)
	}
	if strings.Count(got, "\n") != 2 {
		t.Fatal("line breaks not kept")
	}
}
