package vault

import (
	"fmt"
	"mime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/cases"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/internal/visible"
	"github.com/parley-mediation/parley/policy"
)

// Limits on a document's metadata.
const (
	MaxNameLen       = 255 // characters
	MaxMediaTypeLen  = 255 // bytes
	MaxAudienceUsers = 8
	// MaxAudienceLen bounds an audience's text form: enough for
	// "users:" and MaxAudienceUsers account ids of up to 64 bytes, each
	// with a "user:" prefix, a comma and some spaces.
	MaxAudienceLen = 6 + MaxAudienceUsers*(64+8)
	// MaxDocumentsPerCase bounds the documents of one case (listing
	// reads each document's record).
	MaxDocumentsPerCase = 1000
	// MediatorReserve is how many of a case's MaxDocumentsPerCase places
	// only its mediators can fill: a party, lawyer or observer adds a
	// new document only while the case holds fewer than
	// MaxDocumentsPerCase-MediatorReserve, so one side filling the case
	// cannot stop the mediators adding theirs.
	MediatorReserve = 100
	// MaxNewDocumentsPerDay is how many new documents one party, lawyer
	// or observer may add to one case in 24 hours (new versions are not
	// counted): filling a case takes days and is seen meanwhile.
	MaxNewDocumentsPerDay = 100
	// MaxVersionsPerDocument bounds a document's versions, erased ones
	// included: each takes up to about 3.5 KiB of the document's record
	// (a 255-character name and a 255-byte media type, JSON-escaped, a
	// hash, an account id, times), so 100 stay far below
	// metastore.MaxRecordSize (1 MiB).
	MaxVersionsPerDocument = 100
	// DefaultMaxSize is the default limit on one version's plaintext.
	DefaultMaxSize int64 = 2 << 30
)

// Class is a document's record class. It drives retention (issue 6) and,
// for mediator notes, access.
type Class string

// The record classes.
const (
	ClassAgreement      Class = "agreement"
	ClassEvidence       Class = "evidence"
	ClassMediatorNotes  Class = policy.ClassMediatorNotes
	ClassCorrespondence Class = "correspondence"
	ClassAdmin          Class = "admin"
)

// Classes lists the record classes.
func Classes() []Class {
	return []Class{ClassAgreement, ClassEvidence, ClassMediatorNotes, ClassCorrespondence, ClassAdmin}
}

// ParseClass checks a record class.
func ParseClass(s string) (Class, error) {
	c := Class(strings.TrimSpace(s))
	if !slices.Contains(Classes(), c) {
		return "", fault.Invalid("class", "one of agreement, evidence, mediator-notes, correspondence, admin")
	}
	return c, nil
}

// Audience is who a document is shared with. Its text form is "joint",
// "caucus:<side>", "mediators" or "user:<account>[,<account>…]"; the
// case's mediators are in every audience.
type Audience struct {
	Kind  policy.AudienceKind
	Side  string   // caucus
	Users []string // users: sorted, distinct account ids
}

// ParseAudience reads an audience's text form. It checks the form only;
// Service checks the side and the accounts against the case.
func ParseAudience(s string) (Audience, error) {
	if len(s) > MaxAudienceLen {
		return Audience{}, fault.Invalid("audience", fmt.Sprintf("at most %d characters", MaxAudienceLen))
	}
	s = strings.TrimSpace(s)
	bad := fault.Invalid("audience", "joint, caucus:<side>, mediators or user:<account>[,<account>…]")
	switch {
	case s == "joint":
		return Audience{Kind: policy.AudienceJoint}, nil
	case s == "mediators":
		return Audience{Kind: policy.AudienceMediators}, nil
	case strings.HasPrefix(s, "caucus:"):
		side := strings.TrimPrefix(s, "caucus:")
		if side == "" || len(side) > 8 || strings.ContainsAny(side, ",: ") {
			return Audience{}, bad
		}
		return Audience{Kind: policy.AudienceCaucus, Side: side}, nil
	case strings.HasPrefix(s, "user:") || strings.HasPrefix(s, "users:"):
		_, list, _ := strings.Cut(s, ":")
		var users []string
		for u := range strings.SplitSeq(list, ",") {
			u = strings.TrimPrefix(strings.TrimSpace(u), "user:")
			if u == "" || len(u) > 64 || strings.ContainsAny(u, ": ") {
				return Audience{}, bad
			}
			if !slices.Contains(users, u) {
				// Stops at the first account over the limit: the list
				// stays short whatever the text holds.
				if len(users) == MaxAudienceUsers {
					return Audience{}, fault.Invalid("audience", fmt.Sprintf("at most %d named accounts", MaxAudienceUsers))
				}
				users = append(users, u)
			}
		}
		slices.Sort(users)
		return Audience{Kind: policy.AudienceUsers, Users: users}, nil
	}
	return Audience{}, bad
}

// String is the audience's text form.
func (a Audience) String() string {
	switch a.Kind {
	case policy.AudienceCaucus:
		return "caucus:" + a.Side
	case policy.AudienceUsers:
		return "user:" + strings.Join(a.Users, ",")
	}
	return string(a.Kind)
}

// MarshalText implements encoding.TextMarshaler (JSON carries the text form).
func (a Audience) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (a *Audience) UnmarshalText(b []byte) error {
	v, err := ParseAudience(string(b))
	if err != nil {
		return err
	}
	*a = v
	return nil
}

// Equal reports whether two audiences are the same.
func (a Audience) Equal(b Audience) bool { return a.String() == b.String() }

// check validates the audience against the case: the side exists, and
// named accounts take part in it.
func (a Audience) check(c *cases.Case) error {
	switch a.Kind {
	case policy.AudienceCaucus:
		if !c.HasSide(a.Side) {
			return fault.Invalid("audience", "the case has no side "+strconv.Quote(a.Side))
		}
	case policy.AudienceUsers:
		if len(a.Users) == 0 {
			return fault.Invalid("audience", "name at least one account")
		}
		for _, u := range a.Users {
			if _, ok := c.Participant(u); !ok {
				return fault.Invalid("audience", "account "+u+" is not a party, counsel or observer of this case")
			}
		}
	case policy.AudienceJoint, policy.AudienceMediators:
	default:
		return fault.Invalid("audience", "unknown audience")
	}
	return nil
}

// policyDoc describes a document to policy.
func policyDoc(a Audience, class Class) policy.Document {
	return policy.Document{Audience: a.Kind, Side: a.Side, Users: a.Users, Class: string(class)}
}

// checkName validates a document name: text a person gave, shown back only
// to those who may read the content.
func checkName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", fault.Invalid("name", "required")
	}
	if !utf8.ValidString(n) || utf8.RuneCountInString(n) > MaxNameLen {
		return "", fault.Invalid("name", fmt.Sprintf("at most %d characters of text", MaxNameLen))
	}
	if !visible.Has(n) {
		return "", fault.Invalid("name", "has no visible character: letters, digits or symbols are needed")
	}
	if strings.ContainsFunc(n, unicode.IsControl) {
		return "", fault.Invalid("name", "no control characters")
	}
	// Bidirectional overrides and isolates make "invoice\u202Efdp.exe"
	// read as "invoiceexe.pdf".
	if strings.ContainsFunc(n, func(r rune) bool { return unicode.Is(unicode.Bidi_Control, r) }) {
		return "", fault.Invalid("name", "no bidirectional control characters")
	}
	// A name is a file name, never a path: whoever saves the document
	// must not be steered outside the directory they chose. (A backslash
	// is an ordinary character on Unix; clients that save files replace
	// it, as the CLI does and browsers do with Content-Disposition.)
	if strings.Contains(n, "/") || n == "." || n == ".." {
		return "", fault.Invalid("name", "a file name, without /")
	}
	return n, nil
}

// checkMediaType validates and normalises a media type ("" means
// application/octet-stream).
func checkMediaType(mt string) (string, error) {
	if strings.TrimSpace(mt) == "" {
		return "application/octet-stream", nil
	}
	t, params, err := mime.ParseMediaType(mt)
	if err != nil || !strings.Contains(t, "/") {
		return "", fault.Invalid("mediaType", "not a media type (type/subtype)")
	}
	out := mime.FormatMediaType(t, params)
	if out == "" || len(out) > MaxMediaTypeLen {
		return "", fault.Invalid("mediaType", fmt.Sprintf("at most %d bytes", MaxMediaTypeLen))
	}
	return out, nil
}

// VersionInfo describes one version of a document. Name, MediaType,
// SHA256 and PlainSHA256 are content: they are blank for callers who may
// not download.
type VersionInfo = api.VersionInfo

// Document is a document's metadata as one caller may see it.
type Document struct {
	ID        string    `json:"id"`
	Case      string    `json:"case"`
	Name      string    `json:"name,omitempty"`
	MediaType string    `json:"mediaType,omitempty"`
	Class     Class     `json:"class"`
	Audience  Audience  `json:"audience"`
	Version   int       `json:"version"` // the latest version
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"`
	Uploader  string    `json:"uploader"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Held      bool      `json:"held"`
	// CanDownload: the caller may read the content (and so sees names).
	CanDownload bool `json:"canDownload"`
	// Versions, newest first; only in single-document answers.
	Versions []VersionInfo `json:"versions,omitempty"`
	// E2EE: the latest version was encrypted on a device.
	E2EE bool `json:"e2ee,omitempty"`
	// Erased: every version was erased; ErasedAt: when the last of them
	// was, if recorded (see view).
	Erased   bool       `json:"erased,omitempty"`
	ErasedAt *time.Time `json:"erasedAt,omitempty"`
}

// Hold is a legal hold on a document.
type Hold struct {
	By string    `json:"by"`
	At time.Time `json:"at"`
}

// docRecord is the sealed metadata record of a document (metastore key
// vault/<case>/docs/<doc>). A version is visible once it is in Versions.
type docRecord struct {
	ID          string        `json:"id"`
	Case        string        `json:"case"`
	Class       Class         `json:"class"`
	Audience    Audience      `json:"audience"`
	Created     time.Time     `json:"created"`
	CreatedBy   string        `json:"createdBy"`
	NextVersion int           `json:"nextVersion"`
	Versions    []VersionInfo `json:"versions"` // ascending
	Hold        *Hold         `json:"hold,omitempty"`
	// Sides are the sides whose own material the document holds: a party
	// or lawyer of the side added a version of it while it was in that
	// side's caucus (approval.go). Added to as versions are added, never
	// cleared: a share, a hold or an erasure leaves them as they are, so
	// the document stays the side's wherever it is moved.
	Sides []string `json:"sides,omitempty"`
	// SidesRecorded: Sides has been kept since the document's first
	// version. A record written before Sides existed has it false, and
	// materialSides derives its sides (conservatively) until its next
	// version or share writes them down.
	SidesRecorded bool `json:"sidesRecorded,omitempty"`
	// VersionSides is the side each version (by number) was added as:
	// the side of the caucus the document was in when a party or lawyer
	// of that side added it (recordVersionSide). A mediator's version has
	// none, and neither has a version added before they were recorded:
	// shownTo names such a version to its own uploader only.
	VersionSides map[int]string `json:"versionSides,omitempty"`
}

func (d *docRecord) policyDoc() policy.Document { return policyDoc(d.Audience, d.Class) }

func (d *docRecord) latest() VersionInfo {
	for i := len(d.Versions) - 1; i >= 0; i-- {
		if !d.Versions[i].Erased {
			return d.Versions[i]
		}
	}
	if len(d.Versions) > 0 {
		return d.Versions[len(d.Versions)-1]
	}
	return VersionInfo{}
}

// top is the highest version number d lists, erased ones included (0
// for none).
func (d *docRecord) top() int {
	n := 0
	for _, v := range d.Versions {
		n = max(n, v.Version)
	}
	return n
}

func (d *docRecord) version(n int) (VersionInfo, bool) {
	for _, v := range d.Versions {
		if v.Version == n {
			return v, true
		}
	}
	return VersionInfo{}, false
}

// eraseVersion marks a version erased at (nil: a time not known, for an
// entry erased before; a time it already holds stays) and clears what its
// record says of its content: its name, media type, hashes and size. Its
// number, date, uploader and end-to-end flag stay in the stored record.
func eraseVersion(v *VersionInfo, at *time.Time) {
	v.Erased = true
	if v.ErasedAt == nil && at != nil {
		t := at.UTC()
		v.ErasedAt = &t
	}
	v.Name, v.MediaType, v.SHA256, v.PlainSHA256, v.Size = "", "", "", "", 0
}

// scrubErased clears the content fields of every erased entry of d that
// still holds any (one erased before eraseVersion cleared them), and
// reports whether it changed one.
func scrubErased(d *docRecord) (changed bool) {
	for k := range d.Versions {
		v := &d.Versions[k]
		if v.Erased && (v.Name != "" || v.MediaType != "" || v.SHA256 != "" || v.PlainSHA256 != "" || v.Size != 0) {
			eraseVersion(v, nil)
			changed = true
		}
	}
	return changed
}

// erasedView is an erased version as anyone sees it: its number, that it
// was erased and when (if recorded), and the date it was added; nothing
// of its content or who added it. A share approved of a document shows its new audience every
// version, erased ones included, though the side was asked about those
// not erased only (approval.go, shownBy).
func erasedView(v VersionInfo) VersionInfo {
	return VersionInfo{Version: v.Version, Created: v.Created, Erased: true, ErasedAt: v.ErasedAt}
}

// view is the document as a caller sees it: without names, media types and
// hashes unless they may download, and without anything of an erased
// version but its number and date (erasedView).
func (d *docRecord) view(canDownload, withVersions bool) Document {
	l := d.latest()
	// (E2EE stays for a document whose every version is erased: a new
	// version of it is added from a device that encrypts it, d.e2ee.)
	e2e := l.E2EE
	// latest is erased only when every version is: the document is
	// erased, when the last of them was (the latest time recorded).
	erased, erasedAt := l.Erased, (*time.Time)(nil)
	if l.Erased {
		l = erasedView(l)
		for _, v := range d.Versions {
			if v.ErasedAt != nil && (erasedAt == nil || v.ErasedAt.After(*erasedAt)) {
				erasedAt = v.ErasedAt
			}
		}
	}
	out := Document{ID: d.ID, Case: d.Case, Class: d.Class, Audience: d.Audience,
		Version: l.Version, Size: l.Size, Uploader: l.Uploader, Created: d.Created, Updated: l.Created,
		Held: d.Hold != nil, CanDownload: canDownload, E2EE: e2e, Erased: erased, ErasedAt: erasedAt}
	if canDownload {
		out.Name, out.MediaType, out.SHA256 = l.Name, l.MediaType, l.SHA256
	}
	if withVersions {
		for i := len(d.Versions) - 1; i >= 0; i-- {
			v := d.Versions[i]
			if v.Erased {
				v = erasedView(v)
			}
			if !canDownload {
				// Content: the name, the type and either hash (an upgraded
				// version's plaintext hash confirms a guess at its content
				// as well as the hash does).
				v.Name, v.MediaType, v.SHA256, v.PlainSHA256 = "", "", "", ""
			}
			out.Versions = append(out.Versions, v)
		}
	}
	return out
}

// versionRecord is the sealed record holding one version's wrapped data
// key (metastore key vault/<case>/versions/<doc>/<version>). Deleting every
// stored copy of it is the crypto-erase of that version.
type versionRecord struct {
	Case       string    `json:"case"`
	Doc        string    `json:"doc"`
	Version    int       `json:"version"`
	Object     string    `json:"object"`
	ObjectVID  string    `json:"objectVersionId,omitempty"`
	WrappedKey []byte    `json:"wrappedKey"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	Created    time.Time `json:"created"`
	// E2EE: the stored stream holds the client's ciphertext (SHA256 is
	// its hash); Keys are the document key wraps for the audience's
	// devices (e2ee.DocKeyWrap), opaque to the server.
	E2EE bool     `json:"e2ee,omitempty"`
	Keys [][]byte `json:"keys,omitempty"`
	// PlainSHA256: an upgraded version's plaintext SHA-256 as recorded at
	// its original upload. UpgradeIncomplete: older server-encrypted
	// copies could not all be deleted yet (a later upgrade call retries).
	PlainSHA256       string `json:"plainSha256,omitempty"`
	UpgradeIncomplete bool   `json:"upgradeIncomplete,omitempty"`
}

func docKey(caseID, docID string) string { return "vault/" + caseID + "/docs/" + docID }

func docPrefix(caseID string) string { return "vault/" + caseID + "/docs/" }

func versionKey(caseID, docID string, v int) string {
	return fmt.Sprintf("vault/%s/versions/%s/%010d", caseID, docID, v)
}

// objectKey is where a version's ciphertext lives: ids and a number only.
func objectKey(caseID, docID string, v int) string {
	return fmt.Sprintf("docs/%s/%s/%d", caseID, docID, v)
}
