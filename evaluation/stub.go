package evaluation

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/parley-mediation/parley/cases"
)

// StubSource is a Source that also has the statistical stubs of disposed
// cases (cases.Stub): the export counts each as a case.
type StubSource interface {
	Stubs(ctx context.Context, fn func(*cases.Stub) error) error
}

// MakeStub is what the export needs of a case, kept once the case is
// disposed of: its row's cells (already banded) without the case token,
// the comments (free text may name someone) and the follow-up counts
// (kept by package schedule, disposed of with the survey responses).
func MakeStub(c *cases.Case, resps []cases.SurveyResponse, now time.Time) cases.Stub {
	r, _, _ := makeRow(c, resps, nil, make([]byte, 32))
	cells := append([]string(nil), r.values[1:len(r.values)-1]...) // neither token nor comments
	y, m, _ := c.Created.UTC().Date()
	return cases.Stub{Case: c.ID, Made: now.UTC(), Opened: time.Date(y, m, 1, 0, 0, 0, 0, time.UTC),
		Cells: cells, Responses: len(resps)}
}

// stubRow makes an export row of a stub, or nil if its cells do not fit
// the columns (a stub of an older export layout is not guessed at).
func stubRow(st *cases.Stub, key []byte) *row {
	if len(st.Cells) != qiLast+len(cases.SurveyItems) {
		return nil
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("stub\x00" + st.Case))
	values := append([]string{hex.EncodeToString(mac.Sum(nil)[:10])}, st.Cells...)
	// A stub keeps its means at the precision of the code that made it
	// (two decimals before the 0.5 rounding, which give the response count
	// back): they are published rounded like a stored case's.
	for i := colMeansFirst; i < colMeansFirst+len(cases.SurveyItems); i++ {
		values[i] = roundStubMean(values[i])
	}
	values = append(values, "", "", "", "") // comments, follow-ups: not kept
	return &row{opened: st.Opened, responses: st.Responses, values: values, stub: true}
}

// roundStubMean is a stub's mean cell as halfMean publishes it: empty
// stays empty (not released), and a cell that is not a number in the 1–5
// range is not released either.
func roundStubMean(cell string) string {
	if cell == "" {
		return ""
	}
	v, err := strconv.ParseFloat(cell, 64)
	if err != nil || !(v >= 1 && v <= 5) {
		return ""
	}
	return halfMean(v)
}
