package metastore

import (
	"bytes"
	"testing"

	"github.com/parley-mediation/parley/objstore"
)

// FuzzOpenRecord: stored bytes either fail to open or are exactly the
// record sealed under that key (no alteration, no record moved from
// another key, opens).
func FuzzOpenRecord(f *testing.F) {
	dir, err := objstore.OpenDir(f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(dir, bytes.Repeat([]byte{9}, 32))
	if err != nil {
		f.Fatal(err)
	}
	plain := []byte(`{"title":"confidential"}`)
	sealed := s.seal("cases/c_1/case", plain)
	f.Add(sealed)
	f.Add(s.seal("cases/c_2/case", plain))
	f.Add(sealed[:len(sealed)-1])
	f.Add([]byte(sealMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := s.open("cases/c_1/case", data)
		if err == nil && !bytes.Equal(got, plain) {
			t.Fatalf("altered or moved record opened: %q", got)
		}
	})
}
