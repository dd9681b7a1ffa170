package cases

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/parley-mediation/parley/account"
	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/audit"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
	"github.com/parley-mediation/parley/policy"
)

// Consent limits.
const (
	// MaxTermsLen bounds a case's terms (characters).
	MaxTermsLen = 20000
	// MaxConsentSkew is how far a device's clock in a signed consent may
	// be from the server's.
	MaxConsentSkew = 15 * time.Minute
	// MaxTermsConsents bounds the acceptances a case keeps (every version).
	MaxTermsConsents = 2000
)

// BuiltinTerms is the program default when the operator configured none
// (server flag --terms-file sets Service.DefaultTerms).
const BuiltinTerms = `Agreement to mediate
You agree to take part in this mediation in good faith. Taking part is voluntary: you, the other side or the mediator may end the mediation at any time. The mediator is neutral, does not decide the dispute and does not give legal advice; you may consult your own lawyer at any time.

Confidentiality
What is said and shared in this mediation stays in it. You will not record the sessions or pass on what you learn in them, and you will not ask the mediator to testify about them, except where the law requires it (for example a threat of harm to someone). What you tell the mediator in your side's private room (caucus) is not told to the other side unless you agree, message by message.

Ground rules
Let each person finish speaking. Speak about the issues, not about the person. Keep to the times agreed, and tell the mediator if you need a break. Nothing is agreed until a written settlement is signed by both sides.`

// DeviceVerifier finds the device that signs a person's consent in the key
// directory (keydir.Service.ConsentDevice): registered, unrevoked, and
// counting for the account by its own chain (its first device, or one
// linked by a device that does; not one a mediator admitted). how says
// which: "first" or "linked".
type DeviceVerifier interface {
	ConsentDevice(ctx context.Context, account, device string) (rec *e2ee.DeviceRecord, how string, err error)
}

// TextSHA256 is the hash a consent names: lower-case hex SHA-256 of text.
func TextSHA256(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

func (s *Service) defaultTerms() api.Terms {
	text := strings.TrimSpace(s.DefaultTerms)
	if text == "" {
		text = BuiltinTerms
	}
	return api.Terms{Version: 1, Text: text, SHA256: TextSHA256(text)}
}

// CurrentTerms is the case's terms: as set, or the program's default.
func (s *Service) CurrentTerms(c *Case) api.Terms {
	if c.Terms != nil {
		return *c.Terms
	}
	return s.defaultTerms()
}

// mustAccept is everyone who must accept the terms: every participant
// (parties, counsel and observers, who hear the joint room and are bound
// by its confidentiality), in roster order.
func mustAccept(c *Case) []Participant {
	return slices.Clone(c.Participants)
}

func acceptedBy(c *Case, t api.Terms, accountID string) *api.Consent {
	v := strconv.Itoa(t.Version)
	for i := len(c.TermsConsents) - 1; i >= 0; i-- {
		k := c.TermsConsents[i]
		if k.AccountID == accountID && k.Item == v && k.SHA256 == t.SHA256 {
			return &k
		}
	}
	return nil
}

// describe names a participant for people, as the CLI and the browser
// do (api.PersonWords): "Avery Tran (Tenant)", "Jordan Blake (Tenant's
// lawyer)", "Sam Lee (observer)" — the side's label, never "counsel" or a
// side's id.
func describe(c *Case, p Participant) string {
	label := ""
	for _, sd := range c.Sides {
		if sd.ID == p.Side {
			label = sd.Label
		}
	}
	return api.PersonWords(p.Name, p.Role, label)
}

// missingTerms lists, for people, who has not accepted the current terms.
func (s *Service) missingTerms(c *Case) []string {
	t := s.CurrentTerms(c)
	var out []string
	for _, p := range mustAccept(c) {
		if acceptedBy(c, t, p.AccountID) == nil {
			out = append(out, describe(c, p))
		}
	}
	return out
}

// openingRefusal is the error that keeps a case out of the opening stage
// while someone has not accepted its terms (nil when everyone has).
func (s *Service) openingRefusal(c *Case) error {
	missing := s.missingTerms(c)
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the opening session cannot start until everyone has accepted the case's terms; still to accept: %s: %w",
		strings.Join(missing, ", "), fault.ErrConflict)
}

// TermsStatus is the case's terms as actor sees them: mediators get
// everyone's acceptance, anyone else only their own.
func (s *Service) TermsStatus(ctx context.Context, actor account.Account, id string) (api.TermsView, error) {
	c, err := s.Get(ctx, actor, id)
	if err != nil {
		return api.TermsView{}, err
	}
	// A mediator no seated mediator has confirmed reads neither the terms
	// nor who accepted them (unconfirmed-mediators-read-the-roster-only).
	if err := s.Admission(ctx, c); err != nil {
		return api.TermsView{}, err
	}
	if d := s.policy.Decide(actor.Principal(), policy.CaseTermsSet, c.Facts()); !d.Allowed && slices.Contains(d.Policies, RuleUnconfirmedRecord) {
		s.record(ctx, audit.Event{Type: "access.denied", Actor: actor.ID, Case: c.ID,
			Attrs: map[string]string{"action": string(policy.CaseTermsSet), "rule": RuleUnconfirmedRecord}})
		return api.TermsView{}, c.NotConfirmed("read this case's terms and who accepted them")
	}
	return s.termsView(c, actor), nil
}

func (s *Service) termsView(c *Case, actor account.Account) api.TermsView {
	t := s.CurrentTerms(c)
	v := api.TermsView{Terms: t, Mine: acceptedBy(c, t, actor.ID)}
	_, v.MustAcc = c.Participant(actor.ID)
	if !s.policy.Decide(actor.Principal(), policy.CaseTermsSet, c.Facts()).Allowed {
		return v
	}
	v.People = []api.TermsPerson{}
	for _, p := range mustAccept(c) {
		tp := api.TermsPerson{AccountID: p.AccountID, Name: p.Name, Role: p.Role, Side: p.Side, Accepted: acceptedBy(c, t, p.AccountID)}
		if p.Role == RoleObserver {
			tp.Side = ""
		}
		v.People = append(v.People, tp)
	}
	v.Missing = s.missingTerms(c)
	v.Complete = len(v.Missing) == 0
	return v
}

// SetTerms replaces the case's terms (a mediator, before or during the
// case). While no one has accepted the current version, the edit keeps its
// version number; once anyone has, the edit is a new version and everyone
// must accept again.
func (s *Service) SetTerms(ctx context.Context, actor account.Account, id, text string) (api.TermsView, error) {
	if err := checkText("text", text, MaxTermsLen); err != nil {
		return api.TermsView{}, err
	}
	text = strings.TrimSpace(text)
	c, err := s.mutateConfirmed(ctx, actor, id, policy.CaseTermsSet, "set this case's terms", func(c *Case, ev *audit.Event) error {
		if c.Closed != nil {
			return ErrClosed
		}
		cur := s.CurrentTerms(c)
		if cur.Text == text {
			return fmt.Errorf("the terms are already this text: %w", fault.ErrConflict)
		}
		version := cur.Version
		if slices.ContainsFunc(c.TermsConsents, func(k api.Consent) bool { return k.Item == strconv.Itoa(cur.Version) }) {
			version++
		}
		c.Terms = &api.Terms{Version: version, Text: text, SHA256: TextSHA256(text), Updated: s.now().UTC(), By: actor.ID}
		ev.Type = "case.terms.set"
		ev.Objects = []string{strconv.Itoa(version)}
		ev.Hashes = []string{s.commit(text)}
		return nil
	})
	if err != nil {
		return api.TermsView{}, err
	}
	return s.termsView(c, actor), nil
}

// verifyConsent checks a signed consent: the device is the actor's,
// registered, not revoked and counting by the account's own chain (not a
// mediator's admission: a mediator who made a device for a party through
// a re-entry link must not sign in the party's name), its signature holds
// over the canonical statement, and its clock is near the server's. It
// returns how the device counts ("first" or "linked"). Every refusal is
// audited consent.refused (refuseConsent), about the given objects and
// the device.
func (s *Service) verifyConsent(ctx context.Context, actor account.Account, k e2ee.Consent, sigB64 string, about []string) (string, error) {
	if s.Devices == nil {
		return "", fmt.Errorf("device signatures cannot be checked on this server: %w", fault.ErrUnavailable)
	}
	sig, err := base64.StdEncoding.DecodeString(sigB64)
	if err != nil || len(sig) != 64 {
		s.refuseConsent(ctx, actor, k, about, "malformed")
		return "", fault.Invalid("signature", "an Ed25519 signature in base64 (64 bytes)")
	}
	if d := time.UnixMilli(k.At).Sub(s.now()); d > MaxConsentSkew || d < -MaxConsentSkew {
		s.refuseConsent(ctx, actor, k, about, "clock")
		return "", fault.Invalid("signedAt", "the device's clock is more than 15 minutes off; set the clock and try again")
	}
	dev, how, err := s.Devices.ConsentDevice(ctx, actor.ID, k.Device)
	if err != nil {
		s.refuseConsent(ctx, actor, k, about, "device")
		return "", fmt.Errorf("this device cannot sign for your account: it is not registered, was revoked, or was admitted by a mediator rather than linked from your own device: %w", fault.ErrForbidden)
	}
	if err := dev.VerifyConsent(k, sig); err != nil {
		s.refuseConsent(ctx, actor, k, about, "signature")
		return "", fault.Invalid("signature", "does not verify against your registered device")
	}
	return how, nil
}

// refuseConsent audits a refused consent: consent.refused, its kind and
// why (malformed: the signature or the device id is not one; clock: the
// device's time is more than MaxConsentSkew off the server's; device: not
// one of the account's own, unrevoked devices; signature: it does not
// verify over the statement), about the given objects and the device
// when its id is one. Ids and reasons only: nothing the person wrote or
// read. Best effort, as every refusal's entry: the refusal stands
// whether or not the log takes it.
func (s *Service) refuseConsent(ctx context.Context, actor account.Account, k e2ee.Consent, about []string, reason string) {
	objects := slices.Clone(about)
	if validDeviceID(k.Device) {
		objects = append(objects, k.Device)
	}
	s.record(ctx, audit.Event{Type: "consent.refused", Actor: actor.ID, Case: k.Case, Objects: objects,
		Attrs: map[string]string{"kind": k.Kind, "reason": reason}})
}

// VerifyConsent is verifyConsent for another service's consent (the
// vault's answers to share requests): the same device rule, the same
// signature check, the same refusals, each audited consent.refused about
// the objects given (the vault's: the document and the request) and the
// device; a device id that is not one is refused and audited too
// (reason malformed).
func (s *Service) VerifyConsent(ctx context.Context, actor account.Account, k e2ee.Consent, sigB64 string, about ...string) (string, error) {
	if !validDeviceID(k.Device) {
		s.refuseConsent(ctx, actor, k, about, "malformed")
		return "", fault.Invalid("device", "your device's id (dv_…)")
	}
	return s.verifyConsent(ctx, actor, k, sigB64, about)
}

func validDeviceID(d string) bool {
	return strings.HasPrefix(d, "dv_") && len(d) < 64 && utf8.ValidString(d) && !strings.ContainsAny(d, "\r\n ")
}

// AcceptTerms records actor's device-signed acceptance of the case's
// current terms. req names the version and text hash the person read: if
// the terms changed since, the acceptance is refused and they read again.
// Accepting the same version twice is harmless.
func (s *Service) AcceptTerms(ctx context.Context, actor account.Account, id string, req api.SignedConsentRequest) (api.TermsView, error) {
	if !validDeviceID(req.Device) {
		return api.TermsView{}, fault.Invalid("device", "your device's id (dv_…)")
	}
	c, err := s.loadFor(ctx, actor, id, policy.CaseTermsAccept)
	if err != nil {
		return api.TermsView{}, err
	}
	if err := s.authorize(ctx, actor, policy.CaseTermsAccept, c); err != nil {
		return api.TermsView{}, err
	}
	cur := s.CurrentTerms(c)
	if req.Item != strconv.Itoa(cur.Version) || req.SHA256 != cur.SHA256 {
		return api.TermsView{}, fmt.Errorf("the terms changed since you read them; read the new version and accept it: %w", fault.ErrConflict)
	}
	k := e2ee.Consent{Kind: e2ee.ConsentTerms, Case: c.ID, Item: req.Item, TextSHA: req.SHA256, Account: actor.ID, Device: req.Device, At: req.SignedAt}
	how, err := s.verifyConsent(ctx, actor, k, req.Signature, nil)
	if err != nil {
		return api.TermsView{}, err
	}
	out, err := s.mutate(ctx, actor, id, policy.CaseTermsAccept, func(c *Case, ev *audit.Event) error {
		now := s.CurrentTerms(c)
		if now.Version != cur.Version || now.SHA256 != cur.SHA256 {
			return fmt.Errorf("the terms changed since you read them; read the new version and accept it: %w", fault.ErrConflict)
		}
		if c.Terms == nil {
			c.Terms = &now // the default, fixed from now on for this case
		}
		ev.Type = "case.terms.accepted"
		ev.Objects = []string{req.Item, req.Device}
		ev.Hashes = []string{s.commit(now.Text)}
		ev.Attrs = map[string]string{"device": how}
		if acceptedBy(c, now, actor.ID) != nil {
			return nil
		}
		if len(c.TermsConsents) >= MaxTermsConsents {
			return fault.Invalid("terms", "this case holds no more acceptances")
		}
		name := actor.Name
		if p, ok := c.Participant(actor.ID); ok {
			name = p.Name
		}
		c.TermsConsents = append(c.TermsConsents, api.Consent{AccountID: actor.ID, Name: name, Item: req.Item, SHA256: req.SHA256,
			Device: req.Device, DeviceTrust: how, SignedAt: req.SignedAt, Signature: req.Signature, Recorded: s.now().UTC()})
		return nil
	})
	if err != nil {
		return api.TermsView{}, err
	}
	return s.termsView(out, actor), nil
}

// AcknowledgeSigned is Acknowledge with the person's device signature over
// the disclosure's id and text hash, checked like an acceptance of terms.
func (s *Service) AcknowledgeSigned(ctx context.Context, actor account.Account, id, disclosureID string, req api.SignedConsentRequest) (*Case, error) {
	if req.Signature == "" {
		return s.Acknowledge(ctx, actor, id, disclosureID)
	}
	if !validDeviceID(req.Device) {
		return nil, fault.Invalid("device", "your device's id (dv_…)")
	}
	c, err := s.loadFor(ctx, actor, id, policy.CaseAcknowledge)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, actor, policy.CaseAcknowledge, c); err != nil {
		return nil, err
	}
	i := slices.IndexFunc(c.Disclosures, func(d Disclosure) bool { return d.ID == disclosureID })
	if i < 0 {
		return nil, fmt.Errorf("disclosure %s: %w", disclosureID, fault.ErrNotFound)
	}
	sha := TextSHA256(c.Disclosures[i].Text)
	if (req.Item != "" && req.Item != disclosureID) || (req.SHA256 != "" && req.SHA256 != sha) {
		return nil, fault.Invalid("sha256", "not the disclosure's text")
	}
	k := e2ee.Consent{Kind: e2ee.ConsentDisclosure, Case: c.ID, Item: disclosureID, TextSHA: sha, Account: actor.ID, Device: req.Device, At: req.SignedAt}
	how, err := s.verifyConsent(ctx, actor, k, req.Signature, nil)
	if err != nil {
		return nil, err
	}
	signed := &api.Consent{AccountID: actor.ID, Item: disclosureID, SHA256: sha, Device: req.Device, DeviceTrust: how, SignedAt: req.SignedAt,
		Signature: req.Signature, Recorded: s.now().UTC()}
	return s.acknowledge(ctx, actor, id, disclosureID, signed)
}
