package keydir

import (
	"context"
	"crypto/sha256"
	"fmt"

	"github.com/parley-mediation/parley/e2ee"
	"github.com/parley-mediation/parley/internal/fault"
)

// EventAgreement is the log entry of a device's signature on a version of
// a case's settlement agreement (package agreement).
const EventAgreement = "keydir.agreement-signature"

// AgreementKey is where a signature record is kept: under the case, named
// by the record's hash (records are immutable; the same signature twice is
// the same record).
func AgreementKey(caseID string, record []byte) string {
	return fmt.Sprintf("keydir/agreements/%s/%x", caseID, sha256.Sum256(record))
}

// LogAgreementSignature stores a signature record (e2ee.AgreementRecord,
// already checked by the caller against the signer's registered device)
// and appends it to the transparency log. It returns the entry's index
// and canonical bytes.
func (s *Service) LogAgreementSignature(ctx context.Context, record []byte) (int64, []byte, error) {
	a, _, err := e2ee.DecodeAgreementRecord(record)
	if err != nil {
		return 0, nil, fault.Invalid("signature", err.Error())
	}
	if err := validCase(a.Case); err != nil {
		return 0, nil, err
	}
	st, err := s.storeLogged(ctx, AgreementKey(a.Case, record), EventAgreement, record)
	if err != nil {
		return 0, nil, err
	}
	return st.Index, st.Entry, nil
}
