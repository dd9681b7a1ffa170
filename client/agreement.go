package client

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
)

func agreementPath(caseID string) string { return "/api/v1/cases/" + caseID + "/agreement" }

// AgreementTemplates lists the program's agreement templates.
func (c *Client) AgreementTemplates(ctx context.Context) (api.AgreementTemplates, error) {
	var out api.AgreementTemplates
	err := c.Do(ctx, http.MethodGet, "/api/v1/agreement-templates", nil, &out)
	return out, err
}

// Agreement reads a case's agreement, with the current version's text.
func (c *Client) Agreement(ctx context.Context, caseID string) (api.Agreement, error) {
	var out api.Agreement
	err := c.Do(ctx, http.MethodGet, agreementPath(caseID), nil, &out)
	return out, err
}

// StartAgreement starts a case's agreement from a template (a mediator).
func (c *Client) StartAgreement(ctx context.Context, caseID string, req api.AgreementStartRequest) (api.Agreement, error) {
	var out api.Agreement
	err := c.Do(ctx, http.MethodPost, agreementPath(caseID), req, &out)
	return out, err
}

// SaveAgreement saves text as the version after base (a mediator).
func (c *Client) SaveAgreement(ctx context.Context, caseID string, base int, text string) (api.Agreement, error) {
	var out api.Agreement
	err := c.Do(ctx, http.MethodPost, agreementPath(caseID)+"/versions", api.AgreementSaveRequest{Base: base, Text: text}, &out)
	return out, err
}

// AgreementVersion reads one version with its text.
func (c *Client) AgreementVersion(ctx context.Context, caseID string, version int) (api.AgreementVersion, error) {
	var out api.AgreementVersion
	err := c.Do(ctx, http.MethodGet, agreementPath(caseID)+"/versions/"+strconv.Itoa(version), nil, &out)
	return out, err
}

// FileAgreement files the signed agreement (a mediator).
func (c *Client) FileAgreement(ctx context.Context, caseID string, req api.AgreementFileRequest) (api.AgreementFiled, error) {
	var out api.AgreementFiled
	err := c.Do(ctx, http.MethodPost, agreementPath(caseID)+"/file", req, &out)
	return out, err
}

// AgreementPDF downloads the signed agreement's PDF.
func (c *Client) AgreementPDF(ctx context.Context, caseID string) ([]byte, error) {
	var s string
	err := c.Do(ctx, http.MethodGet, agreementPath(caseID)+"/pdf", nil, &s)
	return []byte(s), err
}

// AgreementSignRequest signs version v of agreement ag (its case, its
// document, its outcome and this account's role as ag's signer list
// names it) with this device over the hash of text, the version's text as
// this client holds it (not a hash the server named).
func (x *E2EE) AgreementSignRequest(ag api.Agreement, v int, text string) (api.AgreementSignRequest, error) {
	role := ""
	for _, s := range ag.Signers {
		if s.AccountID == x.Me.Account {
			role = string(s.Role)
		}
	}
	if role == "" {
		return api.AgreementSignRequest{}, errors.New("you are not one of the agreement's signers (its parties and lawyers)")
	}
	a := e2ee.AgreementSignature{Case: ag.Case, Doc: ag.Document, Version: v, TextSHA: textSHA256(text), Outcome: string(ag.Outcome),
		Account: x.Me.Account, Role: role, Device: x.Me.ID, DeviceKey: x.Me.Record().SigPub, At: time.Now().UnixMilli()}
	sig, err := x.Me.SignAgreement(a)
	if err != nil {
		return api.AgreementSignRequest{}, err
	}
	return api.AgreementSignRequest{Version: v, SHA256: a.TextSHA, Device: a.Device, SignedAt: a.At,
		Signature: base64.StdEncoding.EncodeToString(sig)}, nil
}

// SignAgreement reads the agreement and version v's text, checks the
// server's hash of it against its own, and signs it with this device.
func (x *E2EE) SignAgreement(ctx context.Context, caseID string, v int) (api.Agreement, error) {
	ag, err := x.C.Agreement(ctx, caseID)
	if err != nil {
		return api.Agreement{}, err
	}
	ver, err := x.C.AgreementVersion(ctx, caseID, v)
	if err != nil {
		return api.Agreement{}, err
	}
	if textSHA256(ver.Text) != ver.SHA256 {
		return api.Agreement{}, fmt.Errorf("%w: version %d's text does not match the hash the server gave", ErrIntegrity, v)
	}
	req, err := x.AgreementSignRequest(ag, v, ver.Text)
	if err != nil {
		return api.Agreement{}, err
	}
	var out api.Agreement
	err = x.C.Do(ctx, http.MethodPost, agreementPath(caseID)+"/sign", req, &out)
	return out, err
}
