package e2ee

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// AgreementLabel separates a signature on a settlement agreement from
// every other signature a device makes (a consent, a device record, a
// membership statement, a message): one can never be read as another.
const AgreementLabel = "parley/agreement-signature/v1\x00"

// AgreementSignature is what a party's or lawyer's device signs to sign a
// version of a case's settlement agreement: the case, the agreement's
// document id, the version's number, the lower-case hex SHA-256 of the
// version's exact text (UTF-8 bytes, as stored), what it settles
// (AgreementOutcomes), who, as what (AgreementRoles), on which device,
// that device's Ed25519 public key (so the statement alone names the key
// that must verify it), and when (the device's clock, unix milliseconds).
type AgreementSignature struct {
	Case      string
	Doc       string
	Version   int
	TextSHA   string
	Outcome   string
	Account   string
	Role      string
	Device    string
	DeviceKey ed25519.PublicKey
	At        int64
}

// AgreementOutcomes are what an agreement may settle (api.FullAgreement,
// api.PartialAgreement); AgreementRoles, who signs (cases.RoleParty,
// cases.RoleCounsel).
var (
	AgreementOutcomes = []string{"full-agreement", "partial-agreement"}
	AgreementRoles    = []string{"party", "counsel"}
)

// Statement is the canonical text that is signed: one "name: value" line
// per field, in this order, each value free of line breaks:
//
//	parley agreement signature v1
//	case: <case id>
//	document: <the agreement's document id>
//	version: <decimal>
//	text-sha256: <64 lower-case hex>
//	outcome: full-agreement | partial-agreement
//	account: <account id>
//	role: party | counsel
//	device: <device id>
//	device-key: <standard base64 of the 32-byte Ed25519 key>
//	at: <decimal unix milliseconds>
func (a AgreementSignature) Statement() ([]byte, error) {
	for _, v := range []string{a.Case, a.Doc, a.Account, a.Device} {
		if v == "" || len(v) > maxString || strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("e2ee: agreement signature field empty, too long or with a line break")
		}
	}
	if a.Version < 1 {
		return nil, errors.New("e2ee: agreement version must be 1 or more")
	}
	if !slices.Contains(AgreementOutcomes, a.Outcome) {
		return nil, errors.New("e2ee: agreement outcome must be full-agreement or partial-agreement")
	}
	if !slices.Contains(AgreementRoles, a.Role) {
		return nil, errors.New("e2ee: agreement signer's role must be party or counsel")
	}
	if len(a.TextSHA) != 64 || strings.Trim(a.TextSHA, "0123456789abcdef") != "" {
		return nil, errors.New("e2ee: agreement text hash must be 64 lower-case hex digits")
	}
	if len(a.DeviceKey) != ed25519.PublicKeySize {
		return nil, errors.New("e2ee: agreement device key must be an Ed25519 public key")
	}
	if DeviceID(a.DeviceKey) != a.Device {
		return nil, errors.New("e2ee: agreement device key is not the named device's")
	}
	var b strings.Builder
	b.WriteString("parley agreement signature v1\n")
	for _, kv := range [][2]string{{"case", a.Case}, {"document", a.Doc}, {"version", strconv.Itoa(a.Version)}, {"text-sha256", a.TextSHA},
		{"outcome", a.Outcome}, {"account", a.Account}, {"role", a.Role}, {"device", a.Device}, {"device-key", base64.StdEncoding.EncodeToString(a.DeviceKey)},
		{"at", strconv.FormatInt(a.At, 10)}} {
		fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
	}
	return []byte(b.String()), nil
}

// ParseAgreementStatement reads a statement back (the exact inverse of
// Statement: a statement that does not re-encode to the same bytes is
// refused).
func ParseAgreementStatement(st []byte) (AgreementSignature, error) {
	var a AgreementSignature
	lines := strings.Split(string(st), "\n")
	want := []string{"case", "document", "version", "text-sha256", "outcome", "account", "role", "device", "device-key", "at"}
	if len(lines) != len(want)+2 || lines[0] != "parley agreement signature v1" || lines[len(want)+1] != "" {
		return a, errors.New("e2ee: not an agreement signature statement")
	}
	vals := make([]string, len(want))
	for i, name := range want {
		v, ok := strings.CutPrefix(lines[i+1], name+": ")
		if !ok {
			return a, fmt.Errorf("e2ee: agreement statement: line %d is not %q", i+2, name)
		}
		vals[i] = v
	}
	var err error
	a.Case, a.Doc, a.TextSHA, a.Outcome, a.Account, a.Role, a.Device = vals[0], vals[1], vals[3], vals[4], vals[5], vals[6], vals[7]
	if a.Version, err = strconv.Atoi(vals[2]); err != nil {
		return a, errors.New("e2ee: agreement statement: bad version")
	}
	if a.DeviceKey, err = base64.StdEncoding.DecodeString(vals[8]); err != nil {
		return a, errors.New("e2ee: agreement statement: bad device key")
	}
	if a.At, err = strconv.ParseInt(vals[9], 10, 64); err != nil {
		return a, errors.New("e2ee: agreement statement: bad time")
	}
	again, err := a.Statement()
	if err != nil {
		return a, err
	}
	if string(again) != string(st) {
		return a, errors.New("e2ee: agreement statement is not in canonical form")
	}
	return a, nil
}

// SignAgreement signs the statement with the device's key. The statement
// must name this device, its account and its key.
func (d *DeviceKeys) SignAgreement(a AgreementSignature) ([]byte, error) {
	if a.Account != d.Account || a.Device != d.ID || !a.DeviceKey.Equal(d.sig.Public()) {
		return nil, errors.New("e2ee: a device signs an agreement only for its own account, id and key")
	}
	st, err := a.Statement()
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(d.sig, append([]byte(AgreementLabel), st...)), nil
}

// VerifyAgreement checks sig over a's statement against the key the
// statement names. Whether that key is the signer's registered device is
// for the caller to check (against the key directory, or the device
// record carried beside it).
func VerifyAgreement(a AgreementSignature, sig []byte) error {
	st, err := a.Statement()
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(a.DeviceKey, append([]byte(AgreementLabel), st...), sig) {
		return errors.New("e2ee: agreement signature does not verify against the signing device's key")
	}
	return nil
}

// AgreementRecord is a signature as the key directory logs it and a signed
// agreement's PDF carries it: the statement, then one line
// "signature: <standard base64 of the 64-byte signature>".
func AgreementRecord(statement, sig []byte) []byte {
	return append(append([]byte(nil), statement...), "signature: "+base64.StdEncoding.EncodeToString(sig)+"\n"...)
}

// DecodeAgreementRecord parses a record and checks its signature.
func DecodeAgreementRecord(rec []byte) (AgreementSignature, []byte, error) {
	s := string(rec)
	i := strings.LastIndex(strings.TrimSuffix(s, "\n"), "\n")
	if i < 0 || !strings.HasSuffix(s, "\n") {
		return AgreementSignature{}, nil, errors.New("e2ee: not an agreement signature record")
	}
	b64, ok := strings.CutPrefix(strings.TrimSuffix(s[i+1:], "\n"), "signature: ")
	if !ok {
		return AgreementSignature{}, nil, errors.New("e2ee: agreement signature record has no signature line")
	}
	sig, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || base64.StdEncoding.EncodeToString(sig) != b64 {
		return AgreementSignature{}, nil, errors.New("e2ee: agreement signature is not canonical base64")
	}
	a, err := ParseAgreementStatement([]byte(s[:i+1]))
	if err != nil {
		return a, nil, err
	}
	if err := VerifyAgreement(a, sig); err != nil {
		return a, nil, err
	}
	return a, sig, nil
}
