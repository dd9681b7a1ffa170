package e2ee

import (
	"errors"
	"strings"
	"testing"
)

// TestGenesisNamesOnlyItsSigner: a first statement naming a mediator
// besides its signer is refused, whoever signs it; the signer alone,
// then an admission of the co-mediator, is accepted.
func TestGenesisNamesOnlyItsSigner(t *testing.T) {
	for _, signer := range []string{"med", "med2"} {
		w := newWorld(t)
		d := map[string]*DeviceKeys{"med": w.med, "med2": w.m2}[signer]
		raw, err := w.next(w.people(), epochs(1)).Sign(d)
		if err != nil {
			t.Fatal(err)
		}
		st, err := DecodeStatement(raw)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.chain.Extend(st, w.dir); !errors.Is(err, ErrMembership) || !strings.Contains(err.Error(), "first statement names mediator") {
			t.Fatalf("a first statement signed by %s naming two mediators: %v", signer, err)
		}
		if w.chain.Len() != 0 {
			t.Fatal("the refused statement is in the chain")
		}
	}
	w := newWorld(t)
	w.sign(t, w.med, w.people(), epochs(1)) // the first alone, then the admission
	if w.chain.Len() != 2 {
		t.Fatalf("chain of %d", w.chain.Len())
	}
	first, _ := w.chain.Get(1)
	if p, ok := first.Person("u_med2"); ok {
		t.Fatalf("the first statement names %+v", p)
	}
	if p, ok := w.chain.Latest().Person("u_med2"); !ok || p.Role != RoleMediator {
		t.Fatal("the co-mediator was not admitted")
	}
}
