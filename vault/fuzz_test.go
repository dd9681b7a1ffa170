package vault

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

// FuzzParseAudience: an audience either fails to parse or round-trips
// through its text form, with its user list sorted and distinct.
func FuzzParseAudience(f *testing.F) {
	for _, s := range []string{"joint", "mediators", "caucus:A", " caucus:B ", "user:a_1,a_2,a_1", "users:a_2, user:a_1", "caucus:", "user:", "caucus:A,B", "user:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAudience(s)
		if err != nil {
			return
		}
		back, err := ParseAudience(a.String())
		if err != nil || back.String() != a.String() || back.Kind != a.Kind || back.Side != a.Side || !slices.Equal(back.Users, a.Users) {
			t.Fatalf("%q → %+v → %q → %+v, %v", s, a, a.String(), back, err)
		}
		if !slices.IsSorted(a.Users) || len(slices.Compact(slices.Clone(a.Users))) != len(a.Users) {
			t.Fatalf("%q: users not sorted and distinct: %v", s, a.Users)
		}
	})
}

// FuzzStreamReader: any bytes offered as a stored document stream either
// fail with ErrIntegrity or are the very stream that was sealed (a stream
// cannot be altered and still open, whatever the change).
func FuzzStreamReader(f *testing.F) {
	key := bytes.Repeat([]byte{3}, 32)
	plain := bytes.Repeat([]byte("confidential "), 100)
	sealed := seal(f, key, plain, testBinding, 97)
	f.Add(sealed)
	f.Add(sealed[:len(sealed)-1])
	f.Add(append(slices.Clone(sealed), 0))
	f.Add(sealed[:HeaderSize])
	f.Add([]byte{})
	empty := seal(f, key, nil, testBinding, 1)
	f.Add(empty)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := open(key, data, testBinding, &Verify{Size: int64(len(plain))})
		if err != nil {
			if !errors.Is(err, ErrIntegrity) {
				t.Fatalf("failed without ErrIntegrity: %v", err)
			}
			return
		}
		if !bytes.Equal(got, plain) {
			t.Fatalf("an altered stream opened: %d bytes", len(got))
		}
	})
}
