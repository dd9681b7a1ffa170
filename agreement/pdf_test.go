package agreement

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/parley-mediation/parley/e2ee"
)

// signedFixture makes a signed agreement of two signers (fixed keys, fixed
// times) and returns it with the signers' device keys.
func signedFixture(t *testing.T) (*Signed, []*e2ee.DeviceKeys) {
	t.Helper()
	return signedText(t, "SETTLEMENT AGREEMENT\n\n1. The tenant pays 400 on the 1st.\n2. The landlord repairs the boiler by 1 March — promptly.\n")
}

// signedText is signedFixture with another text, signed by both.
func signedText(t *testing.T, text string) (*Signed, []*e2ee.DeviceKeys) {
	t.Helper()
	sg := &Signed{Format: PayloadFormat, Case: "c_test", CaseTitle: "Rivera v. Chen", Title: "Settlement agreement", Outcome: "full-agreement", Document: "d_test",
		Version: 3, SHA256: SHA256Hex([]byte(text)), Text: text}
	var devs []*e2ee.DeviceKeys
	for i, name := range []string{"Avery Tran", "Blake Chen"} {
		seed := bytes.Repeat([]byte{byte(i + 1)}, 32)
		d, err := e2ee.DeviceKeysFromSeeds("u_"+strings.Repeat(string(rune('a'+i)), 20), e2ee.KEMX25519, seed, seed, 1_700_000_000_000)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
		a := e2ee.AgreementSignature{Case: sg.Case, Doc: sg.Document, Version: 3, TextSHA: sg.SHA256, Outcome: sg.Outcome, Account: d.Account, Role: "party", Device: d.ID,
			DeviceKey: d.Record().SigPub, At: time.Date(2026, 12, 3, 10, i, 0, 0, time.UTC).UnixMilli()}
		sig, err := d.SignAgreement(a)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := a.Statement()
		sg.Signatures = append(sg.Signatures, SignedBy{Name: name, Role: "party", Side: []string{"Tenant", "Landlord"}[i],
			Record: string(e2ee.AgreementRecord(st, sig)), DeviceRecord: d.Record().Raw, LogIndex: int64(10 + i), Recorded: "2026-12-03T10:00:00Z"})
	}
	return sg, devs
}

func mustRender(t *testing.T, sg *Signed) []byte {
	t.Helper()
	b, err := RenderPDF(sg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPDFIsDeterministicAndVerifies: the same content renders the same
// bytes, and they verify, naming every signer.
func TestPDFIsDeterministicAndVerifies(t *testing.T) {
	sg, _ := signedFixture(t)
	a, b := mustRender(t, sg), mustRender(t, sg)
	if !bytes.Equal(a, b) {
		t.Fatal("two renderings of the same signed agreement differ")
	}
	check, err := Verify(a)
	if err != nil || !check.OK || len(check.Signed) != 2 || check.Signed[1].Name != "Blake Chen" || check.Version != 3 {
		t.Fatalf("verify: %+v %v", check, err)
	}
	if !bytes.HasPrefix(a, []byte("%PDF-")) {
		t.Fatal("not a PDF")
	}
}

// TestPDFFlippedBytesFail flips one bit at positions spread over the whole
// file (pages, the embedded content, the cross-reference table): every
// one fails, with one line.
func TestPDFFlippedBytesFail(t *testing.T) {
	sg, _ := signedFixture(t)
	pdf := mustRender(t, sg)
	step := len(pdf) / 97
	for i := 0; i < len(pdf); i += step {
		bad := bytes.Clone(pdf)
		bad[i] ^= 0x04
		_, err := Verify(bad)
		if err == nil {
			t.Fatalf("a flipped byte at %d of %d verified", i, len(pdf))
		}
		if strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line: %q", err)
		}
	}
}

// TestPDFForgedContentFails re-renders a consistent PDF (as someone
// rewriting the file would) from changed content: changed text, a changed
// signature, a changed statement, a signer's record swapped for another
// device's, a signature dropped to nothing. Each fails, saying what.
func TestPDFForgedContentFails(t *testing.T) {
	base, devs := signedFixture(t)
	clone := func() *Signed {
		c := *base
		c.Signatures = append([]SignedBy(nil), base.Signatures...)
		return &c
	}
	cases := []struct {
		name   string
		change func(*Signed)
		want   string
	}{
		{"text changed, hash kept", func(s *Signed) { s.Text = strings.Replace(s.Text, "400", "40", 1) }, "not the text that was signed"},
		{"text and hash changed", func(s *Signed) {
			s.Text = strings.Replace(s.Text, "400", "40", 1)
			s.SHA256 = SHA256Hex([]byte(s.Text))
		}, "is over another text"},
		{"signature changed", func(s *Signed) {
			r := s.Signatures[0].Record
			i := strings.LastIndex(r, "signature: ") + len("signature: ")
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(r[i:]))
			sig[5] ^= 1
			s.Signatures[0].Record = r[:i] + base64.StdEncoding.EncodeToString(sig) + "\n"
		}, "does not verify"},
		{"statement changed", func(s *Signed) {
			s.Signatures[1].Record = strings.Replace(s.Signatures[1].Record, "version: 3", "version: 4", 1)
		}, "does not verify"},
		{"device record of another device", func(s *Signed) { s.Signatures[0].DeviceRecord = devs[1].Record().Raw }, "not the signing device's"},
		{"same signer twice", func(s *Signed) { s.Signatures[1] = s.Signatures[0] }, "second time"},
		{"no signatures", func(s *Signed) { s.Signatures = nil }, "no signatures"},
		{"other case", func(s *Signed) { s.Case = "c_other" }, "another case"},
		{"other outcome", func(s *Signed) { s.Outcome = "partial-agreement" }, "settles full-agreement, not partial-agreement"},
		{"other document", func(s *Signed) { s.Document = "d_other" }, "another agreement document"},
		{"other role", func(s *Signed) { s.Signatures[1].Role = "lawyer" }, "was made as party, not as lawyer"},
	}
	for _, tc := range cases {
		s := clone()
		tc.change(s)
		pdf := mustRender(t, s)
		_, err := Verify(pdf)
		if err == nil {
			t.Errorf("%s: verified", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v (want %q)", tc.name, err, tc.want)
		}
	}
}

// TestPDFUnshowableText: a character the PDF's font encoding cannot show
// (the translator would print '.'), a control character other than line
// feed and tab, or a format character such as a right-to-left override
// would make the pages differ from the signed text: Unshowable names it,
// and a PDF whose signed text has one does not verify, even though every
// signature over that text is good.
func TestPDFUnshowableText(t *testing.T) {
	if r, bad := Unshowable("Café — 400 € «ok»\n\tß"); bad {
		t.Fatalf("a showable text: %U refused", r)
	}
	for _, in := range []string{"pays 漢 400", "pays \u202e004", "zero\u200bwidth", "line\rend", "bell\x07", "next\u0085line", "arrow →"} {
		if _, bad := Unshowable(in); !bad {
			t.Errorf("%q: not refused", in)
		}
	}
	for _, text := range []string{"1. The tenant pays \u202e004 on the 1st.\n", "1. The tenant pays 400 → 450.\n"} {
		sg, _ := signedText(t, text)
		_, err := Verify(mustRender(t, sg))
		if err == nil || !strings.Contains(err.Error(), "which its pages cannot show as signed") {
			t.Errorf("%q: %v", text, err)
		}
	}
}

// TestCommentConvention: a joint-room message body names the version it
// comments on; anything else is not a comment.
func TestCommentConvention(t *testing.T) {
	b := CommentBody(3, "Clause 2: can we say 'by 1 March'?")
	if v, text, ok := ParseComment(b); !ok || v != 3 || text != "Clause 2: can we say 'by 1 March'?" {
		t.Fatalf("%q: %d %q %v", b, v, text, ok)
	}
	for _, not := range []string{"hello", "[agreement v0] x", "[agreement v03] x", "[agreement v3]x", "[agreement v-1] x"} {
		if _, _, ok := ParseComment(not); ok {
			t.Errorf("%q parsed as a comment", not)
		}
	}
}

// TestDefaultTemplates: each case type gets its template, and every
// template's placeholders are filled.
func TestDefaultTemplates(t *testing.T) {
	for typ, want := range map[string]string{"landlord-tenant": "landlord-tenant", "Housing": "landlord-tenant", "family": "family-parenting",
		"custody": "family-parenting", "commercial": "general", "": "general"} {
		if got := DefaultTemplate(typ); got != want {
			t.Errorf("%q: %s, want %s", typ, got, want)
		}
		if _, ok := Template(want); !ok {
			t.Errorf("no template %s", want)
		}
	}
	for _, tm := range Templates {
		for _, p := range []string{PlaceCase, PlaceParties, PlaceDate} {
			if !strings.Contains(tm.Text, p) {
				t.Errorf("template %s lacks %s", tm.ID, p)
			}
		}
	}
}
