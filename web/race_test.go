//go:build race

package web

// raceEnabled: the tests run under the race detector.
const raceEnabled = true
