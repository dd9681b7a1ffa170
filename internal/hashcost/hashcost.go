// Package hashcost holds the one switch that lowers the cost of the
// password hashes package account makes, for test binaries only.
//
// Production hashes use Argon2id at OWASP's parameters (m=19 MiB, t=2,
// p=1; see account/password.go). Under the race detector one such hash
// costs about half a second of CPU, and the tests that start nodes
// (internal/nodetest) sign in hundreds of accounts, so most of their CPU
// went there. nodetest calls UseTestCost from its init, and so do the
// retention package's tests (they make staff accounts for every test) and
// the cases package's (lineage and proposal tests store staff with
// passwords); no other code may.
//
// The switch cannot be reached by a deployment: there is no flag,
// environment variable or configuration field for it, the package is
// internal to this module, UseTestCost panics unless the process is a
// test binary (testing.Testing), and account's tests check that only
// internal/nodetest and _test.go files call it and that the production
// binary does not link internal/nodetest.
package hashcost

import (
	"sync/atomic"
	"testing"
)

var lowered atomic.Bool

// UseTestCost makes every password hash this test binary makes from now on
// use account's test-only cost. Hashes already made keep their parameters
// (each PHC string names its own) and still verify. It panics outside a
// test binary.
func UseTestCost() {
	if !testing.Testing() {
		panic("hashcost.UseTestCost called outside a test binary")
	}
	lowered.Store(true)
}

// Lowered reports whether UseTestCost was called.
func Lowered() bool { return lowered.Load() }
