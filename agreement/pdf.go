package agreement

import (
	"bytes"
	"compress/zlib"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// PayloadFormat names the machine-readable content a signed agreement's
// PDF carries (its embedded file agreement.json).
const PayloadFormat = "parley-agreement/v1"

// MaxPDF bounds a PDF the verifier reads, MaxPayload its embedded content.
const (
	MaxPDF     = 8 << 20
	MaxPayload = 2 << 20
)

// Signed is what a signed agreement's PDF is made from, and what it
// carries, as JSON, in its embedded file agreement.json: the exact text of
// the signed version, its hash, and every signature record (the statement
// each device signed and its signature, e2ee.AgreementRecord) with the
// signing device's self-signed record. The PDF is a deterministic function
// of it (RenderPDF): verifying re-renders it and compares every byte.
type Signed struct {
	Format     string     `json:"format"`
	Case       string     `json:"case"`
	CaseTitle  string     `json:"caseTitle"`
	Reference  string     `json:"reference,omitempty"`
	Title      string     `json:"title"`
	Outcome    string     `json:"outcome"`
	Document   string     `json:"document"`
	Version    int        `json:"version"`
	SHA256     string     `json:"sha256"`
	Text       string     `json:"text"`
	Signatures []SignedBy `json:"signatures"`
}

// RoleWord is how a signer's role is written on the signature page:
// "party", or "lawyer" for counsel.
func RoleWord(role string) string {
	if role == "counsel" {
		return "lawyer"
	}
	return role
}

// SignedBy is one signature in a signed agreement.
type SignedBy struct {
	Name         string `json:"name"`
	Role         string `json:"role"` // party or lawyer (RoleWord of the signed role)
	Side         string `json:"side,omitempty"`
	Record       string `json:"record"`       // e2ee.AgreementRecord
	DeviceRecord []byte `json:"deviceRecord"` // e2ee device record (self-signed)
	LogIndex     int64  `json:"logIndex"`     // in the key directory's transparency log
	Recorded     string `json:"recorded"`     // when the server recorded it, RFC 3339
}

// RenderPDF makes the signed agreement's PDF: the text, then a signature
// page (who signed, as what, when, on which device, its key's fingerprint
// and the log entry), with sg as the embedded file agreement.json. The
// same sg always gives the same bytes (fixed dates, sorted catalog).
func RenderPDF(sg *Signed) ([]byte, error) {
	payload, err := json.Marshal(sg)
	if err != nil {
		return nil, err
	}
	var last int64
	for _, s := range sg.Signatures {
		if a, _, err := e2ee.DecodeAgreementRecord([]byte(s.Record)); err == nil && a.At > last {
			last = a.At
		}
	}
	when := time.UnixMilli(last).UTC()
	f := fpdf.New("P", "mm", "A4", "")
	f.SetCatalogSort(true)
	f.SetCreationDate(when)
	f.SetModificationDate(when)
	f.SetProducer("Parley", false)
	f.SetCreator("Parley", false)
	f.SetTitle(sg.Title, true)
	f.SetAttachments([]fpdf.Attachment{{Content: payload, Filename: "agreement.json",
		Description: "The signed text and its signatures; check with: parley agreement verify FILE"}})
	tr := f.UnicodeTranslatorFromDescriptor("")
	f.SetMargins(20, 20, 20)
	f.SetAutoPageBreak(true, 20)
	f.SetFooterFunc(func() {
		f.SetY(-14)
		f.SetFont("Helvetica", "", 8)
		f.CellFormat(0, 5, tr(fmt.Sprintf("%s - version %d - SHA-256 %s - page %d", sg.CaseTitle, sg.Version, sg.SHA256[:16], f.PageNo())),
			"", 0, "C", false, 0, "")
	})
	f.AddPage()
	f.SetFont("Helvetica", "B", 14)
	f.MultiCell(0, 7, tr(sg.Title), "", "L", false)
	f.SetFont("Helvetica", "", 9)
	head := "Case: " + sg.CaseTitle
	if sg.Reference != "" {
		head += " (" + sg.Reference + ")"
	}
	f.MultiCell(0, 5, tr(fmt.Sprintf("%s\nVersion %d, SHA-256 of its text: %s", head, sg.Version, sg.SHA256)), "", "L", false)
	f.Ln(4)
	f.SetFont("Helvetica", "", 10.5)
	f.MultiCell(0, 5.2, tr(sg.Text), "", "L", false)

	f.AddPage()
	f.SetFont("Helvetica", "B", 13)
	f.MultiCell(0, 7, tr("Signatures"), "", "L", false)
	f.SetFont("Helvetica", "", 9)
	f.MultiCell(0, 5, tr(fmt.Sprintf("Each person below signed version %d of this agreement on their own device. "+
		"Each signature covers the SHA-256 of the version's text (%s), the case (%s), the version and the signing device's key, "+
		"and is recorded in the case's key-directory transparency log. "+
		"This file carries the text and the signatures: check them with `parley agreement verify FILE`.",
		sg.Version, sg.SHA256, sg.Case)), "", "L", false)
	f.Ln(3)
	for _, s := range sg.Signatures {
		a, _, err := e2ee.DecodeAgreementRecord([]byte(s.Record))
		who := s.Name + ", " + s.Role
		if s.Side != "" {
			who += " (" + s.Side + ")"
		}
		f.SetFont("Helvetica", "B", 10.5)
		f.MultiCell(0, 6, tr(who), "", "L", false)
		f.SetFont("Helvetica", "", 9)
		if err != nil {
			// Rendered anyway (Verify refuses it before comparing pages).
			f.MultiCell(0, 4.6, tr("This signature does not verify."), "", "L", false)
			f.Ln(3)
			continue
		}
		f.MultiCell(0, 4.6, tr(fmt.Sprintf("Signed %s (device clock), recorded %s\nDevice %s\nKey fingerprint %s\nTransparency log entry %d",
			time.UnixMilli(a.At).UTC().Format("2006-01-02 15:04:05 MST"), s.Recorded, a.Device, Fingerprint(a.DeviceKey), s.LogIndex)),
			"", "L", false)
		f.Ln(3)
	}
	var buf bytes.Buffer
	if err := f.Output(&buf); err != nil {
		return nil, fmt.Errorf("agreement: pdf: %w", err)
	}
	return buf.Bytes(), nil
}

// pdfRunes is every character above ASCII the PDF's font encoding
// (cp1252, the fpdf core fonts') can show; the translator turns any other
// into '.'.
var pdfRunes = sync.OnceValue(func() map[rune]bool {
	tr := fpdf.New("P", "mm", "A4", "").UnicodeTranslatorFromDescriptor("")
	m := map[rune]bool{}
	for r := rune(0x80); r <= 0x2200; r++ {
		if tr(string(r)) != "." {
			m[r] = true
		}
	}
	return m
})

// Unshowable returns the first character of s that the PDF cannot show
// exactly as it is, or that may make text look other than it says: a
// control character other than line feed and tab (Unicode Cc), a format
// character (Cf: bidirectional overrides such as U+202E, zero-width
// characters), or one outside the PDF font's encoding (cp1252). ok is
// false when there is none.
func Unshowable(s string) (r rune, ok bool) {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
		case unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r):
			return r, true
		case r < 0x80:
		case !pdfRunes()[r]:
			return r, true
		}
	}
	return 0, false
}

// describeRune names a character in plain words: "“漢” (U+6F22)", or for
// an invisible one "an invisible control character (U+202E)".
func describeRune(r rune) string {
	if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) || !unicode.IsPrint(r) {
		return fmt.Sprintf("an invisible control character (U+%04X)", r)
	}
	return fmt.Sprintf("“%c” (U+%04X)", r, r)
}

// embedded finds the PDF's one embedded file and inflates it.
func embedded(pdf []byte) ([]byte, error) {
	const marker = "/Type /EmbeddedFile /Length "
	if bytes.Count(pdf, []byte(marker)) != 1 {
		return nil, errors.New("the file carries no signed agreement (no single embedded agreement.json)")
	}
	i := bytes.Index(pdf, []byte(marker)) + len(marker)
	j := bytes.IndexByte(pdf[i:], ' ')
	if j < 0 {
		return nil, errors.New("the embedded agreement is damaged")
	}
	n, err := strconv.Atoi(string(pdf[i : i+j]))
	if err != nil || n <= 0 || n > MaxPayload {
		return nil, errors.New("the embedded agreement is damaged (its length)")
	}
	k := bytes.Index(pdf[i:], []byte("\nstream\n"))
	if k < 0 || k > 512 {
		return nil, errors.New("the embedded agreement is damaged")
	}
	start := i + k + len("\nstream\n")
	if start+n > len(pdf) {
		return nil, errors.New("the embedded agreement is cut short")
	}
	zr, err := zlib.NewReader(bytes.NewReader(pdf[start : start+n]))
	if err != nil {
		return nil, errors.New("the embedded agreement is damaged (not readable)")
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxPayload+1))
	if err != nil || len(out) > MaxPayload {
		return nil, errors.New("the embedded agreement is damaged (not readable)")
	}
	return out, nil
}

// Verify checks a signed agreement's PDF offline: its embedded content is
// intact; the text's SHA-256 is the one signed; every signature is a
// device's signature over this case, this version and this hash, by the
// key of a self-signed device record of the signer; no one signs twice;
// and the PDF's every byte is what that content renders to (so the pages
// a reader sees say what was signed). The answer lists who signed; an
// error is one line saying what is wrong.
func Verify(pdf []byte) (api.AgreementCheck, error) {
	if len(pdf) > MaxPDF {
		return api.AgreementCheck{}, fmt.Errorf("the file is larger than %d MiB; not a signed agreement", MaxPDF>>20)
	}
	payload, err := embedded(pdf)
	if err != nil {
		return api.AgreementCheck{}, err
	}
	var sg Signed
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sg); err != nil {
		return api.AgreementCheck{}, errors.New("the embedded agreement is not readable")
	}
	if sg.Format != PayloadFormat {
		return api.AgreementCheck{}, fmt.Errorf("the embedded agreement is in format %q, not %q", sg.Format, PayloadFormat)
	}
	out := api.AgreementCheck{Case: sg.Case, Version: sg.Version, SHA256: sg.SHA256, Signed: []api.AgreementSignature{}}
	if SHA256Hex([]byte(sg.Text)) != sg.SHA256 {
		return out, errors.New("the agreement's text is not the text that was signed (its SHA-256 differs)")
	}
	if r, bad := Unshowable(sg.Text); bad {
		return out, fmt.Errorf("the agreement's text has %s, which its pages cannot show as signed", describeRune(r))
	}
	if len(sg.Signatures) == 0 {
		return out, errors.New("the agreement carries no signatures")
	}
	seen := map[string]bool{}
	for i, s := range sg.Signatures {
		a, sig, err := e2ee.DecodeAgreementRecord([]byte(s.Record))
		if err != nil {
			return out, fmt.Errorf("signature %d (%s) does not verify: %v", i+1, oneLine(s.Name), err)
		}
		switch {
		case a.Case != sg.Case:
			return out, fmt.Errorf("signature %d (%s) is for another case", i+1, oneLine(s.Name))
		case a.Version != sg.Version:
			return out, fmt.Errorf("signature %d (%s) is on version %d, not version %d", i+1, oneLine(s.Name), a.Version, sg.Version)
		case a.TextSHA != sg.SHA256:
			return out, fmt.Errorf("signature %d (%s) is over another text", i+1, oneLine(s.Name))
		case a.Outcome != sg.Outcome:
			return out, fmt.Errorf("signature %d (%s) settles %s, not %s", i+1, oneLine(s.Name), a.Outcome, oneLine(sg.Outcome))
		case a.Doc != sg.Document:
			return out, fmt.Errorf("signature %d (%s) is on another agreement document", i+1, oneLine(s.Name))
		case s.Role != RoleWord(a.Role):
			return out, fmt.Errorf("signature %d (%s) was made as %s, not as %s", i+1, oneLine(s.Name), RoleWord(a.Role), oneLine(s.Role))
		case seen[a.Account]:
			return out, fmt.Errorf("signature %d (%s) signs a second time for the same person", i+1, oneLine(s.Name))
		}
		seen[a.Account] = true
		dev, err := e2ee.DecodeDeviceRecord(s.DeviceRecord)
		if err != nil {
			return out, fmt.Errorf("signature %d (%s): the device record is not valid: %v", i+1, oneLine(s.Name), err)
		}
		if dev.Account != a.Account || dev.ID != a.Device || !ed25519.PublicKey(dev.SigPub).Equal(a.DeviceKey) {
			return out, fmt.Errorf("signature %d (%s): the device record is not the signing device's", i+1, oneLine(s.Name))
		}
		out.Signed = append(out.Signed, api.AgreementSignature{AccountID: a.Account, Name: s.Name, Role: api.ParticipantRole(s.Role), Side: s.Side,
			Version: a.Version, SHA256: a.TextSHA, Device: a.Device, DeviceKey: base64.StdEncoding.EncodeToString(a.DeviceKey),
			Fingerprint: Fingerprint(a.DeviceKey), SignedAt: a.At, Signature: base64.StdEncoding.EncodeToString(sig), LogIndex: s.LogIndex})
	}
	again, err := RenderPDF(&sg)
	if err != nil {
		return out, err
	}
	if !bytes.Equal(again, pdf) {
		return out, errors.New("the PDF was changed after it was made: its pages do not match its signed content")
	}
	out.OK = true
	return out, nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
