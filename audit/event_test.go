package audit

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEventValidate(t *testing.T) {
	ok := ev("doc.view", "u-1")
	ok.Attrs = map[string]string{"count": "12", "id": strings.Repeat("a", MaxAttrValue)}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid event rejected: %v", err)
	}

	noType := ev("", "u-1")
	longAttr := ev("doc.view", "u-1")
	longAttr.Attrs = map[string]string{"text": strings.Repeat("a", MaxAttrValue+1)}
	oversized := ev("retention.purge", "svc")
	for i := range 200 { // 200 * ~22 bytes > 4 KiB
		oversized.Objects = append(oversized.Objects, fmt.Sprintf("doc-%016d", i))
	}
	for name, e := range map[string]Event{"no type": noType, "long attr": longAttr, "oversized": oversized} {
		if err := e.Validate(); err == nil {
			t.Errorf("%s: Validate accepted it", name)
		}
		if _, err := e.Encode(); err == nil {
			t.Errorf("%s: Encode accepted it", name)
		}
	}
	// Just under the limit is fine: the limit is on the encoding, not a guess.
	edge := ev("x", "")
	edge.Objects, edge.Hashes, edge.Case = nil, nil, ""
	base, _ := edge.Canonical()
	edge.Actor = strings.Repeat("a", MaxEventSize-len(base)-len(`,"actor":""`))
	if b, err := edge.Encode(); err != nil || len(b) != MaxEventSize {
		t.Fatalf("event of exactly %d bytes: len %d, %v", MaxEventSize, len(b), err)
	}
	edge.Actor += "a"
	if err := edge.Validate(); err == nil {
		t.Fatal("event one byte over the limit accepted")
	}
}

func TestEventEncodingIsCanonical(t *testing.T) {
	at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -7200))
	a := Event{Type: "t", Attrs: map[string]string{"z": "1", "a": "2", "m": "3"}, Time: at}
	b := Event{Type: "t", Attrs: map[string]string{"m": "3", "z": "1", "a": "2"}, Time: at.UTC()}
	ea, err := a.Encode()
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := b.Encode()
	if string(ea) != string(eb) {
		t.Fatalf("same event, different encodings:\n%s\n%s", ea, eb)
	}
	want := `{"type":"t","attrs":{"a":"2","m":"3","z":"1"},"time":"2025-01-02T05:04:05.000000006Z"}`
	if string(ea) != want {
		t.Fatalf("encoding = %s\nwant       %s", ea, want)
	}
	if _, err := ParseEvent(ea); err != nil {
		t.Fatalf("ParseEvent of canonical encoding: %v", err)
	}
	for _, bad := range []string{
		`{"type":"t", "attrs":{"a":"2","m":"3","z":"1"},"time":"2025-01-02T05:04:05.000000006Z"}`,
		`{"attrs":{"a":"2","m":"3","z":"1"},"type":"t","time":"2025-01-02T05:04:05.000000006Z"}`,
		`{"type":"t","attrs":{"a":"2","m":"3","z":"1"},"time":"2025-01-02T03:04:05.000000006-02:00"}`,
		`{"type":"t","objects":[]}`,
		`{"type":"t","secret":"x"}`,
		`{"type":"t"}{}`,
	} {
		if _, err := ParseEvent([]byte(bad)); err == nil {
			t.Errorf("ParseEvent accepted non-canonical %s", bad)
		}
	}
}
