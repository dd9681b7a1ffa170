package canary

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestFindsEncodedCanaries: a canary is found raw, inside base64 at any
// alignment (as JSON carries a []byte body), and in hex.
func TestFindsEncodedCanaries(t *testing.T) {
	c := "CANARY-7f3a-plaintext"
	for prefix := range 5 {
		body := append(make([]byte, prefix), "xx"+c+"yy"...)
		j, _ := json.Marshal(map[string][]byte{"body": body})
		if len(Find(j, []string{c})) != 1 {
			t.Fatalf("not found in JSON base64 with prefix %d: %s", prefix, j)
		}
		u := base64.URLEncoding.EncodeToString(body)
		if len(Find([]byte(u), []string{c})) != 1 {
			t.Fatalf("not found in URL base64 with prefix %d", prefix)
		}
	}
	if len(Find([]byte("nothing here"), []string{c})) != 0 {
		t.Fatal("false positive")
	}
}

// TestScanDirLooksAtPaths: a canary in a file or directory name (an
// object key, in MinIO's data directory or the directory store) is found
// as one in a file's contents is, once, at the shallowest entry that
// names it; a canary in the scanned directory's own path is not a hit.
func TestScanDirLooksAtPaths(t *testing.T) {
	c, d, f := "CANARY-path-in-key", "CANARY-dir-name", "CANARY-in-contents"
	root := filepath.Join(t.TempDir(), "store-"+c) // the root's own name is no object key
	write := func(rel, body string) {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("bucket/cases/c_1/docs/"+c+".pdf/xl.meta", "sealed")
	write("bucket/cases/c_2/"+d+"/x/xl.meta", "sealed")
	write("bucket/cases/c_3/"+base64.StdEncoding.EncodeToString([]byte("by "+c+" !")), "sealed")
	write("bucket/cases/c_4/doc/xl.meta", "xx"+f+"yy")
	write("bucket/cases/c_5/doc/xl.meta", "nothing")
	hits, files, err := ScanDir(root, []string{c, d, f})
	if err != nil {
		t.Fatal(err)
	}
	if files != 5 {
		t.Fatalf("%d files read, want 5", files)
	}
	want := map[string][]string{
		"bucket/cases/c_1/docs/" + c + ".pdf": {c},
		"bucket/cases/c_2/" + d:               {d},
		"bucket/cases/c_3/" + base64.StdEncoding.EncodeToString([]byte("by "+c+" !")): {c},
		"bucket/cases/c_4/doc/xl.meta": {f},
	}
	got := map[string][]string{}
	for p, cs := range hits {
		rel, _ := filepath.Rel(root, p)
		got[filepath.ToSlash(rel)] = cs
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("hits %v, want %v", got, want)
	}
}
