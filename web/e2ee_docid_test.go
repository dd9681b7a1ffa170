package web_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/parley-mediation/parley/api"
	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/ids"
	"github.com/parley-mediation/parley/internal/nodetest"
)

// e2eeUploadAs posts an end-to-end encrypted upload of version 1 of a new
// document as who, naming docID and sending nonce: a real stream and a
// wrap for audience made by a device of who's account, bound to docID (the
// server checks the wrap's ids, not its signature, so a throwaway device
// serves). It answers the status and the problem type ("" on success).
func (k *vaultCast) e2eeUploadAs(t *testing.T, who, docID, nonce, audience string) (int, string) {
	t.Helper()
	dev, err := e2ee.NewDeviceKeys(k.id[who], e2ee.KEMX25519, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key := e2ee.NewDocKey()
	var ct bytes.Buffer
	sw, err := e2ee.NewStreamWriter(&ct, key, e2ee.StreamBinding{Case: k.caseID, Doc: docID, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	sw.Write([]byte("side B's own file"))
	if err := sw.Close(); err != nil {
		t.Fatal(err)
	}
	const name, mt = "probe.txt", "application/octet-stream"
	wrap, err := e2ee.WrapDocKey(dev, e2ee.DocKeyContext{Case: k.caseID, Doc: docID, Version: 1, Audience: audience, StatementSeq: 1,
		Account: k.id[who], Device: dev.ID, Created: 1, Name: e2ee.BindName(name, mt)}, key, []*e2ee.DeviceRecord{dev.Record()})
	if err != nil {
		t.Fatal(err)
	}
	q := url.Values{"audience": {audience}, "class": {"evidence"}, "e2ee": {"1"}, "doc": {docID}, "nonce": {nonce}}
	req, _ := http.NewRequest(http.MethodPost, k.node.URL+"/api/v1/cases/"+k.caseID+"/documents?"+q.Encode(), bytes.NewReader(ct.Bytes()))
	req.Header.Set("Authorization", "Bearer "+k.as[who].Token)
	req.Header.Set(api.DocumentKeyHeader, base64.RawURLEncoding.EncodeToString(wrap))
	req.Header.Set(api.DocumentNameHeader, name)
	req.Header.Set("Content-Type", mt)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusCreated {
		return res.StatusCode, ""
	}
	var p api.Problem
	if err := json.NewDecoder(res.Body).Decode(&p); err != nil {
		t.Fatalf("%d without a problem body: %v", res.StatusCode, err)
	}
	return res.StatusCode, p.Type
}

// TestE2EEUploadCannotProbeOthersDocumentIDs: the client names a new end-to-end
// encrypted document's id (its ciphertext is bound to it), and party B
// used to learn whether any id existed in the case by naming it: side A's
// caucus document got 409 "exists already", an unused id 201. Now B
// naming A's document and naming an unused id B did not derive get the
// same answer, A's document is untouched, and nothing of B's is added.
func TestE2EEUploadCannotProbeOthersDocumentIDs(t *testing.T) {
	n := nodetest.Embedded(t)
	k := newVaultCast(t, n)
	ctx := t.Context()
	docA := k.upload(t, "partyA", "bottom line.txt", "caucus:A", "evidence", []byte("side A's bottom line"))
	nonce := func() string {
		b := make([]byte, 16)
		rand.Read(b)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	existsStatus, existsType := k.e2eeUploadAs(t, "partyB", docA.ID, nonce(), "caucus:B")
	unusedStatus, unusedType := k.e2eeUploadAs(t, "partyB", ids.New("d"), nonce(), "caucus:B")
	if existsStatus != unusedStatus || existsType != unusedType {
		t.Errorf("naming side A's document: %d %s; naming an unused id: %d %s (want the same answer)", existsStatus, existsType, unusedStatus, unusedType)
	}
	if unusedStatus == http.StatusCreated || existsStatus != http.StatusBadRequest {
		t.Errorf("an id party B did not derive: %d %s, want 400", unusedStatus, unusedType)
	}
	after, err := k.as["partyA"].Document(ctx, k.caseID, docA.ID)
	if err != nil || after.Version != docA.Version || after.SHA256 != docA.SHA256 || after.Size != docA.Size || after.Audience != "caucus:A" {
		t.Fatalf("side A's document after B's tries: %+v %v (was %+v)", after, err, docA)
	}
	if list, err := k.as["partyB"].Documents(ctx, k.caseID); err != nil || len(list) != 0 {
		t.Fatalf("party B's refused uploads left %d documents: %v", len(list), err)
	}
	// B's own upload, under the id derived from B's account and its
	// nonce, is stored; sent again (a retry), it is told it exists.
	raw := make([]byte, e2ee.DocIDNonceSize)
	rand.Read(raw)
	own, ownNonce := e2ee.DocumentID(k.caseID, k.id["partyB"], raw), base64.RawURLEncoding.EncodeToString(raw)
	if st, typ := k.e2eeUploadAs(t, "partyB", own, ownNonce, "caucus:B"); st != http.StatusCreated {
		t.Fatalf("party B's own upload: %d %s", st, typ)
	}
	if st, _ := k.e2eeUploadAs(t, "partyB", own, ownNonce, "caucus:B"); st != http.StatusConflict {
		t.Fatalf("party B's upload sent again: %d, want 409", st)
	}
	// Another person's nonce does not make B's id: the same refusal.
	if st, typ := k.e2eeUploadAs(t, "partyA", own, ownNonce, "caucus:A"); st != unusedStatus || typ != unusedType {
		t.Fatalf("party A naming B's id with B's nonce: %d %s", st, typ)
	}
}
