package e2ee

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ConsentLabel separates a consent signature from every other signature a
// device makes: a signed consent can never be read as a device record, a
// membership statement or a message, nor the other way round.
const ConsentLabel = "parley/consent/v1\x00"

// Consent kinds: accepting a case's terms, acknowledging a disclosure,
// answering a mediator's request to share a side's document wider (the
// item is the request's id, the text ShareConsentText).
const (
	ConsentTerms      = "terms"
	ConsentDisclosure = "disclosure"
	ConsentShare      = "share"
)

// ShareConsentText is the text whose SHA-256 a side's answer to a share
// request signs (kind ConsentShare, item the request's id): the document,
// the request, the version asked about, the audience it would be shown to
// ("joint", "caucus:B", "user:…") and the answer ("allow" or "decline"),
// one "name: value" line each. The server builds it from its own record
// of the request: an answer signed over another document, request,
// audience or answer does not verify.
func ShareConsentText(doc, request string, version int, to string, allow bool) string {
	answer := "decline"
	if allow {
		answer = "allow"
	}
	return "share a side's document\ndocument: " + doc + "\nrequest: " + request + "\nversion: " + strconv.Itoa(version) +
		"\nto: " + to + "\nanswer: " + answer + "\n"
}

// Consent is what a person's device signs when they accept a case's terms
// or acknowledge a mediator's disclosure: which case, which item (the
// terms' version, or the disclosure's id), the SHA-256 of the exact text
// they were shown, who, on which device, and when (their clock, unix
// milliseconds).
type Consent struct {
	Kind    string
	Case    string
	Item    string
	TextSHA string // lower-case hex SHA-256 of the text
	Account string
	Device  string
	At      int64
}

// Statement is the canonical text that is signed: one "name: value" line
// per field, in this order, each value free of line breaks.
func (c Consent) Statement() ([]byte, error) {
	for _, v := range []string{c.Kind, c.Case, c.Item, c.TextSHA, c.Account, c.Device} {
		if v == "" || len(v) > maxString || strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("e2ee: consent field empty, too long or with a line break")
		}
	}
	var b strings.Builder
	b.WriteString("parley consent v1\n")
	for _, kv := range [][2]string{{"kind", c.Kind}, {"case", c.Case}, {"item", c.Item}, {"text-sha256", c.TextSHA},
		{"account", c.Account}, {"device", c.Device}, {"at", strconv.FormatInt(c.At, 10)}} {
		fmt.Fprintf(&b, "%s: %s\n", kv[0], kv[1])
	}
	return []byte(b.String()), nil
}

// SignConsent signs the consent's statement with the device's key.
func (d *DeviceKeys) SignConsent(c Consent) ([]byte, error) {
	if c.Account != d.Account || c.Device != d.ID {
		return nil, errors.New("e2ee: a device signs consent only for its own account and id")
	}
	st, err := c.Statement()
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(d.sig, append([]byte(ConsentLabel), st...)), nil
}

// VerifyConsent checks sig over c's statement against this device record,
// which must be the device c names.
func (r *DeviceRecord) VerifyConsent(c Consent, sig []byte) error {
	if c.Account != r.Account || c.Device != r.ID {
		return errors.New("e2ee: consent names another account or device")
	}
	st, err := c.Statement()
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(r.SigPub, append([]byte(ConsentLabel), st...), sig) {
		return errors.New("e2ee: consent signature does not verify against the registered device")
	}
	return nil
}
