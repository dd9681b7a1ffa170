package api

import (
	"strings"
	"testing"
)

func TestValidRoomName(t *testing.T) {
	for _, ok := range []string{"joint", "mediators", "caucus:A", "caucus:H", "room:0123456789abcdef0123456789abcdef", "cross:0123456789abcdef0123456789abcdef", "room:k3j4h5g6m2", "cross:zzzzzzzzzz"} {
		if !ValidRoomName(ok) {
			t.Errorf("%q refused", ok)
		}
	}
	for _, bad := range []string{"", "Joint", "joint ", "caucus:", "caucus:a", "caucus:AB", "caucus:A ", "room:", "cross:", "room:r1",
		"room:0123456789ABCDEF0123456789abcdef", "room:0123456789abcdef0123456789abcdeg", "room:k3j4h5g6m1", "room:k3j4h5g6m2/x",
		"Tara would accept 40000", "caucus:Tara would accept 40000", strings.Repeat("y", 300)} {
		if ValidRoomName(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
}
