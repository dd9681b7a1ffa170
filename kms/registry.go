package kms

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Every key the master key wraps is stored in its own object under
// KeysPrefix, and nothing else is stored there. For each such object a
// KeyRule says which label it was wrapped with. That pair of conventions is
// what lets RotateMasterKey find and rewrap every wrapped key without
// knowing the packages that own them — and lets it refuse to run when an
// object under keys/ has no rule, rather than silently leave it under the
// old master key.
const KeysPrefix = "keys/"

// The wrapped keys Parley has today, by object and label. Packages should
// take their object keys and labels from here, so that the rules below and
// the code that writes the objects cannot drift apart.
const (
	// RecordsKeyObject holds the records key (package metastore).
	RecordsKeyObject = "keys/records"
	RecordsKeyLabel  = "parley/records-key/v1"
	// AuditSigningKeyObject holds the audit log's Ed25519 seed (package audit).
	AuditSigningKeyObject = "keys/audit-signing"
	AuditSigningKeyLabel  = "parley/audit-signing-key/v1"
	// NodeKeyObject holds the key nodes authenticate what they send each
	// other over the broker with (package messaging).
	NodeKeyObject = "keys/node"
	NodeKeyLabel  = "parley/node-key/v1"
	// CaseKeyPrefix holds one case key per case: keys/cases/<case id>
	// (package vault), wrapped with CaseKeyLabel(case id).
	CaseKeyPrefix = "keys/cases/"
)

// CaseKeyLabel is the label a case's key is wrapped with. It binds the case
// id, so a wrapped case key copied to another case's object does not unwrap.
func CaseKeyLabel(caseID string) string { return "parley/case-key/v1/" + caseID }

// KeyRule names the objects that hold one kind of wrapped key.
type KeyRule struct {
	// Object is an exact object key ("keys/records") or, ending in "/", a
	// prefix every object under which is a wrapped key ("keys/cases/").
	// It must lie under KeysPrefix.
	Object string
	// Label returns the label the key stored at objectKey was wrapped with.
	Label func(objectKey string) string
}

func (r KeyRule) prefix() bool { return strings.HasSuffix(r.Object, "/") }

func (r KeyRule) matches(objectKey string) bool {
	if r.prefix() {
		return len(objectKey) > len(r.Object) && strings.HasPrefix(objectKey, r.Object)
	}
	return objectKey == r.Object
}

// overlap reports whether two rules could claim one object, or put one
// object at a "directory" of another ("keys/x" beside "keys/x/y"), which
// MinIO listings cannot show together (see objstore.ValidateKey).
func overlap(a, b KeyRule) bool {
	x, y := strings.TrimSuffix(a.Object, "/"), strings.TrimSuffix(b.Object, "/")
	return x == y || strings.HasPrefix(x, y+"/") || strings.HasPrefix(y, x+"/")
}

func fixedLabel(label string) func(string) string { return func(string) string { return label } }

var (
	rulesMu sync.RWMutex
	rules   = []KeyRule{
		{Object: RecordsKeyObject, Label: fixedLabel(RecordsKeyLabel)},
		{Object: AuditSigningKeyObject, Label: fixedLabel(AuditSigningKeyLabel)},
		{Object: NodeKeyObject, Label: fixedLabel(NodeKeyLabel)},
		{Object: CaseKeyPrefix, Label: func(k string) string { return CaseKeyLabel(strings.TrimPrefix(k, CaseKeyPrefix)) }},
	}
)

// RegisterKeyRule adds a kind of wrapped key, for a package that stores a
// new one (call it from an init function). It panics if the rule is
// malformed, lies outside KeysPrefix, or overlaps a rule already known: two
// rules for one object would make its label ambiguous.
func RegisterKeyRule(r KeyRule) {
	if r.Label == nil || !strings.HasPrefix(r.Object, KeysPrefix) || len(r.Object) <= len(KeysPrefix) {
		panic(fmt.Sprintf("kms: bad key rule for %q: want an object under %s and a label function", r.Object, KeysPrefix))
	}
	rulesMu.Lock()
	defer rulesMu.Unlock()
	for _, old := range rules {
		if overlap(old, r) {
			panic(fmt.Sprintf("kms: key rule %q overlaps %q", r.Object, old.Object))
		}
	}
	rules = append(rules, r)
}

// KeyRules returns the known kinds of wrapped key.
func KeyRules() []KeyRule {
	rulesMu.RLock()
	defer rulesMu.RUnlock()
	return slices.Clone(rules)
}

// LabelFor returns the label the key stored at objectKey was wrapped with,
// or an error if no rule covers the object.
func LabelFor(objectKey string) (string, error) {
	rulesMu.RLock()
	defer rulesMu.RUnlock()
	for _, r := range rules {
		if r.matches(objectKey) {
			return r.Label(objectKey), nil
		}
	}
	return "", fmt.Errorf("kms: %s: no key rule says what this object holds (every object under %s must be a wrapped key with a kms.KeyRule)", objectKey, KeysPrefix)
}

// WrappedBy returns the id of the master key that wrapped blob, as
// MasterKey.ID spells it, read from the blob's header (without checking
// the blob: only Unwrap does that).
func WrappedBy(blob []byte) (string, bool) {
	var id [8]byte
	if len(blob) < 1+len(id) || blob[0] != wrapVersion {
		return "", false
	}
	copy(id[:], blob[1:])
	m := MasterKey{id: id}
	return m.ID(), true
}
