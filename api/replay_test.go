package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// testdata/wire-402c2ee.tsv holds one example of every frame and body as
// the code before this package (commit 402c2ee) encoded them: the program
// that printed them is testdata/capture-402c2ee.go.txt, run against that
// commit. Each line is a type name, a tab, and the JSON.
var replayTypes = map[string]func() any{
	"ClientFrame": func() any { return new(ClientFrame) }, "ServerFrame": func() any { return new(ServerFrame) },
	"HistoryPage": func() any { return new(HistoryPage) }, "Problem": func() any { return new(Problem) },
	"Account": func() any { return new(Account) }, "SessionResponse": func() any { return new(SessionResponse) },
	"Case": func() any { return new(Case) }, "Summary": func() any { return new(Summary) }, "Listed": func() any { return new(Listed) },
	"InviteResponse": func() any { return new(InviteResponse) }, "OutcomeResponse": func() any { return new(OutcomeResponse) },
	"RoomView": func() any { return new(RoomView) }, "Document": func() any { return new(Document) },
	"ShareResult": func() any { return new(ShareResult) }, "StoredSchedule": func() any { return new(StoredSchedule) },
	"Plan": func() any { return new(Plan) }, "Item": func() any { return new(Item) }, "Progress": func() any { return new(Progress) },
	"Hold": func() any { return new(Hold) }, "Proven": func() any { return new(Proven) }, "Carry": func() any { return new(Carry) },
	"AuditEntries": func() any { return new(AuditEntries) }, "LoginRequest": func() any { return new(LoginRequest) },
	"CreateAccountRequest": func() any { return new(CreateAccountRequest) }, "CreateCaseRequest": func() any { return new(CreateCaseRequest) },
	"InviteRequest": func() any { return new(InviteRequest) }, "RedeemRequest": func() any { return new(RedeemRequest) },
	"OutcomeRequest": func() any { return new(OutcomeRequest) }, "SurveyRequest": func() any { return new(SurveyRequest) },
	"RecordRequest": func() any { return new(RecordRequest) }, "ConsentRequest": func() any { return new(ConsentRequest) },
	"CarryRequest": func() any { return new(CarryRequest) }, "ShareRequest": func() any { return new(ShareRequest) },
	"HoldRequest": func() any { return new(HoldRequest) }, "RuleRequest": func() any { return new(RuleRequest) },
	"PlanRequest": func() any { return new(PlanRequest) }, "NewHold": func() any { return new(NewHold) },
	"ReleaseRequest": func() any { return new(ReleaseRequest) }, "ExportRequest": func() any { return new(ExportRequest) },
}

// canonical re-encodes JSON through a generic value (object members
// sorted), for bodies the old clients built as maps.
func canonical(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

// TestOldFramesReplay: every frame and body of today's server and clients
// decodes into this package's types with no member left over, and encodes
// back to the same JSON — byte for byte for what the server sent (structs
// then and now), member for member for request bodies the clients built as
// maps (whose members Go encodes sorted). No wire break.
func TestOldFramesReplay(t *testing.T) {
	f, err := os.Open("testdata/wire-402c2ee.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		name, raw, ok := strings.Cut(sc.Text(), "\t")
		mk := replayTypes[name]
		if !ok || mk == nil {
			t.Fatalf("line %d: unknown type %q", n, name)
		}
		seen[name]++
		v := mk()
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Errorf("line %d: %s does not decode: %v\n%s", n, name, err, raw)
			continue
		}
		again, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(again, []byte(raw)) {
			continue
		}
		if strings.HasSuffix(name, "Request") && bytes.Equal(canonical(t, again), canonical(t, []byte(raw))) {
			continue
		}
		t.Errorf("line %d: %s re-encodes differently:\nwas %s\nnow %s", n, name, raw, again)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for name := range replayTypes {
		if seen[name] == 0 {
			t.Errorf("no example of %s in testdata", name)
		}
	}
	// Every frame type has an example, both ways.
	kinds := map[FrameType]bool{}
	b, _ := os.ReadFile("testdata/wire-402c2ee.tsv")
	for _, line := range strings.Split(string(b), "\n") {
		if name, raw, ok := strings.Cut(line, "\t"); ok && strings.HasSuffix(name, "Frame") {
			var f struct {
				T FrameType `json:"t"`
			}
			json.Unmarshal([]byte(raw), &f)
			kinds[f.T] = true
		}
	}
	for _, k := range []FrameType{FrameSub, FrameUnsub, FramePub, FrameSubscribed, FrameMsgs, FrameSeal, FrameAck, FrameReload, FramePresence, FrameError} {
		if !kinds[k] {
			t.Errorf("no example of a %q frame", k)
		}
	}
}

// TestFramesKeepTheirNames: the Go names changed (Type, Msg, Msgs), the
// JSON names did not.
func TestFramesKeepTheirNames(t *testing.T) {
	want := map[string]string{"Type": "t", "Msg": "m", "Msgs": "ms"}
	st := reflect.TypeFor[ServerFrame]()
	for goName, jsonName := range want {
		f, ok := st.FieldByName(goName)
		if !ok || strings.Split(f.Tag.Get("json"), ",")[0] != jsonName {
			t.Errorf("ServerFrame.%s is not %q on the wire", goName, jsonName)
		}
	}
}
