package visible

import "testing"

func TestHas(t *testing.T) {
	for _, s := range []string{"a", "Ola Okafor", "\u200bx", "7", "-", "€", "日本", "😀"} {
		if !Has(s) {
			t.Errorf("Has(%q) = false, want true", s)
		}
	}
	for _, s := range []string{"", " ", "\u200b", "\u2060\ufeff", "\u200b\u200c\u200d", "\u00a0\u3000", "\u0301\u0308",
		"\u3164", "\u115f\u1160", "\u2800", "\ufe0f", "\u00ad", "\u202e\u2066", "\U000e0041"} {
		if Has(s) {
			t.Errorf("Has(%q) = true, want false", s)
		}
	}
}
