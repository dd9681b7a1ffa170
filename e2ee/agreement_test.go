package e2ee

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
)

// TestAgreementSignature: the statement round-trips, verifies, and is
// bound to every field and to its own label (a consent by the same device
// over the same bytes is not an agreement signature).
func TestAgreementSignature(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, 32)
	d, err := DeviceKeysFromSeeds("u_aaaaaaaaaaaaaaaaaaaa", KEMX25519, seed, seed, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := AgreementSignature{Case: "c_1", Doc: "d_1", Version: 2, TextSHA: strings.Repeat("ab", 32), Outcome: "full-agreement", Account: d.Account, Role: "party", Device: d.ID,
		DeviceKey: d.Record().SigPub, At: 1_700_000_000_000}
	sig, err := d.SignAgreement(a)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := a.Statement()
	got, gotSig, err := DecodeAgreementRecord(AgreementRecord(st, sig))
	if err != nil || got.Version != 2 || !bytes.Equal(gotSig, sig) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	changes := map[string]func(*AgreementSignature){
		"case":     func(x *AgreementSignature) { x.Case = "c_2" },
		"document": func(x *AgreementSignature) { x.Doc = "d_2" },
		"outcome":  func(x *AgreementSignature) { x.Outcome = "partial-agreement" },
		"role":     func(x *AgreementSignature) { x.Role = "counsel" },
		"version":  func(x *AgreementSignature) { x.Version = 3 },
		"text":     func(x *AgreementSignature) { x.TextSHA = strings.Repeat("cd", 32) },
		"account":  func(x *AgreementSignature) { x.Account = "u_bbbbbbbbbbbbbbbbbbbb" },
		"at":       func(x *AgreementSignature) { x.At++ },
	}
	// Every field is covered: the device id and key by the checks below
	// (the statement names the key that must verify it, and its id).
	if n := reflect.TypeFor[AgreementSignature]().NumField(); n != len(changes)+2 {
		t.Fatalf("AgreementSignature has %d fields; the test changes %d of them and the device checks 2", n, len(changes))
	}
	for name, change := range changes {
		b := a
		change(&b)
		if VerifyAgreement(b, sig) == nil {
			t.Errorf("a changed %s verified", name)
		}
	}
	other, _ := DeviceKeysFromSeeds(d.Account, KEMX25519, bytes.Repeat([]byte{8}, 32), seed, 1)
	if _, err := other.SignAgreement(a); err == nil {
		t.Error("a device signed a statement naming another device")
	}
	// Domain separation: the device's consent signature over the statement's
	// bytes does not verify as an agreement signature.
	csig, _ := d.SignConsent(Consent{Kind: ConsentTerms, Case: "c_1", Item: "1", TextSHA: a.TextSHA, Account: d.Account, Device: d.ID, At: a.At})
	if VerifyAgreement(a, csig) == nil {
		t.Error("a consent signature verified as an agreement signature")
	}
	// Non-canonical statements are refused.
	if _, err := ParseAgreementStatement(bytes.Replace(st, []byte("version: 2"), []byte("version: 02"), 1)); err == nil {
		t.Error("a non-canonical version parsed")
	}
}
