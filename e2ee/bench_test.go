package e2ee

import (
	"fmt"
	"strings"
	"testing"
)

// benchRoom is a joint room of n X-Wing devices with a signed statement.
func benchRoom(b *testing.B, n int) (*world, []*DeviceKeys) { return benchRoomKEM(b, n, KEMXWing) }

func benchRoomKEM(b *testing.B, n int, kem KEMID) (*world, []*DeviceKeys) {
	w := newWorld(b)
	w.dir = NewDevices()
	var devs []*DeviceKeys
	people := []Person{{Account: "u_med", Role: RoleMediator}}
	for i := range n {
		acct := fmt.Sprint("u_p", i/2) // two devices per person
		if i == 0 {
			acct = "u_med"
		} else if i%2 == 1 {
			people = append(people, Person{Account: acct, Role: RoleParty, Side: "A"})
		}
		d := device(b, acct, fmt.Sprint("bench", i), kem)
		w.dir.Add(d.Record(), int64(i))
		devs = append(devs, d)
	}
	w.med = devs[0]
	w.sign(b, w.med, people, map[string]int64{"joint": 1})
	return w, devs
}

var benchText = strings.Repeat("x", 200) // a typical chat line

// BenchmarkEncryptSign: one message (200 bytes of text): ratchet, AES-256-GCM, Ed25519 sign.
func BenchmarkEncryptSign(b *testing.B) {
	w, _ := benchRoom(b, 10)
	s := w.session(w.med)
	if _, err := s.Prepare("joint", 1); err != nil {
		b.Fatal(err)
	}
	p := &Plaintext{Kind: KindText, Text: benchText}
	b.ReportAllocs()
	for b.Loop() {
		if s.out["joint"].counter == 1<<31 {
			s.Rotate("joint")
			s.Prepare("joint", 1)
		}
		if _, err := s.Encrypt("joint", p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyDecrypt: receiving one message: decode, membership and
// place checks, Ed25519 verify, ratchet, AES-256-GCM open.
func BenchmarkVerifyDecrypt(b *testing.B) {
	w, devs := benchRoom(b, 10)
	sender := w.session(w.med)
	dists, err := sender.Prepare("joint", 1)
	if err != nil {
		b.Fatal(err)
	}
	const batch = 4096
	msgs := make([][]byte, batch)
	for i := range msgs {
		msgs[i], _ = sender.Encrypt("joint", &Plaintext{Kind: KindText, Text: benchText})
	}
	var r *Session
	reset := func() {
		r = w.session(devs[1])
		for _, d := range dists {
			if _, err := r.Receive("joint", 1, "u_med", d); err != nil {
				b.Fatal(err)
			}
		}
	}
	reset()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if i == batch {
			b.StopTimer()
			reset()
			i = 0
			b.StartTimer()
		}
		if _, err := r.Receive("joint", 1, "u_med", msgs[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkRekey10XWing: a sender starts a new chain in a room of 10 X-Wing
// devices (after a membership change): 10 HPKE encapsulations, one
// signature, about 12 KB posted.
func BenchmarkRekey10XWing(b *testing.B) { benchRekey(b, KEMXWing) }

// BenchmarkRekey10X25519: the same with the DHKEM(X25519) fallback.
func BenchmarkRekey10X25519(b *testing.B) { benchRekey(b, KEMX25519) }

func benchRekey(b *testing.B, kem KEMID) {
	w, _ := benchRoomKEM(b, 10, kem)
	s := w.session(w.med)
	size := 0
	b.ReportAllocs()
	for b.Loop() {
		s.Rotate("joint")
		dists, err := s.Prepare("joint", 1)
		if err != nil {
			b.Fatal(err)
		}
		size = len(dists[0])
	}
	b.ReportMetric(float64(size), "bytes/keydist")
}

// BenchmarkOpenKeyDist10XWing: a recipient takes its chain key from a
// 10-device key distribution: verify, one X-Wing decapsulation.
func BenchmarkOpenKeyDist10XWing(b *testing.B) {
	w, devs := benchRoom(b, 10)
	dists, err := w.session(w.med).Prepare("joint", 1)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		r := w.session(devs[9])
		if res, err := r.Receive("joint", 1, "u_med", dists[0]); err != nil || !res.Delivered {
			b.Fatal(err)
		}
	}
}
