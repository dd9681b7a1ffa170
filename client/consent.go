package client

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

// Terms reads a case's terms and the caller's acceptance (mediators: and
// everyone's).
func (c *Client) Terms(ctx context.Context, caseID string) (api.TermsView, error) {
	var out api.TermsView
	err := c.Do(ctx, http.MethodGet, "/api/v1/cases/"+caseID+"/terms", nil, &out)
	return out, err
}

// SetTerms replaces a case's terms (a mediator).
func (c *Client) SetTerms(ctx context.Context, caseID, text string) (api.TermsView, error) {
	var out api.TermsView
	err := c.Do(ctx, http.MethodPut, "/api/v1/cases/"+caseID+"/terms", api.TermsSetRequest{Text: text}, &out)
	return out, err
}

func textSHA256(text string) string {
	h := sha256.Sum256([]byte(text))
	return hex.EncodeToString(h[:])
}

// signConsent signs a consent statement with this device.
func (x *E2EE) signConsent(kind, caseID, item, text string) (api.SignedConsentRequest, error) {
	k := e2ee.Consent{Kind: kind, Case: caseID, Item: item, TextSHA: textSHA256(text), Account: x.Me.Account,
		Device: x.Me.ID, At: time.Now().UnixMilli()}
	sig, err := x.Me.SignConsent(k)
	if err != nil {
		return api.SignedConsentRequest{}, err
	}
	return api.SignedConsentRequest{Item: item, SHA256: k.TextSHA, Device: k.Device, SignedAt: k.At,
		Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

// AcceptTerms accepts t, the terms as the person read them, signed by this
// device over the hash of the text this client holds (not the hash the
// server named).
func (x *E2EE) AcceptTerms(ctx context.Context, caseID string, t api.Terms) (api.TermsView, error) {
	req, err := x.signConsent(e2ee.ConsentTerms, caseID, strconv.Itoa(t.Version), t.Text)
	if err != nil {
		return api.TermsView{}, err
	}
	var out api.TermsView
	err = x.C.Do(ctx, http.MethodPost, "/api/v1/cases/"+caseID+"/terms/accept", req, &out)
	return out, err
}

// Acknowledge acknowledges a mediator's disclosure, signed by this device
// over the disclosure's id and the hash of its text.
func (x *E2EE) Acknowledge(ctx context.Context, caseID, disclosureID string) (api.Case, error) {
	c, err := x.C.Case(ctx, caseID)
	if err != nil {
		return api.Case{}, err
	}
	i := slices.IndexFunc(c.Disclosures, func(d api.Disclosure) bool { return d.ID == disclosureID })
	if i < 0 {
		return api.Case{}, fmt.Errorf("the case has no disclosure %s", disclosureID)
	}
	req, err := x.signConsent(e2ee.ConsentDisclosure, caseID, disclosureID, c.Disclosures[i].Text)
	if err != nil {
		return api.Case{}, err
	}
	return x.C.CaseAction(ctx, caseID, "disclosures/"+disclosureID+"/ack", req)
}

// ShareAnswer is this device's signed answer to r, a request to share one
// of the person's side's documents, as the person read it: allow (true)
// or decline, over the document, the request, the version and the
// audience r names (e2ee.ShareConsentText).
func (x *E2EE) ShareAnswer(caseID string, r api.DocShareRequest, allow bool) (api.DocShareAnswer, error) {
	k, err := x.signConsent(e2ee.ConsentShare, caseID, r.ID, e2ee.ShareConsentText(r.Doc, r.ID, r.Version, r.To, allow))
	if err != nil {
		return api.DocShareAnswer{}, err
	}
	return api.DocShareAnswer{Allow: &allow, Device: k.Device, SignedAt: k.SignedAt, Signature: k.Signature}, nil
}

// AnswerShareRequest allows (true) or declines r, a request to share one
// of the caller's side's documents, signed by this device. The answer is
// final. The server refuses it from a device that counts for the account
// only because a mediator admitted it.
func (x *E2EE) AnswerShareRequest(ctx context.Context, caseID string, r api.DocShareRequest, allow bool) (api.DocShareRequest, error) {
	ans, err := x.ShareAnswer(caseID, r, allow)
	if err != nil {
		return api.DocShareRequest{}, err
	}
	return x.C.PostShareAnswer(ctx, caseID, r.Doc, r.ID, ans)
}
