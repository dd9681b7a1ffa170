package testenv

import "testing"

// SMTP returns the test Mailpit's SMTP address (127.0.0.1:<port>), which
// takes mail without TLS or authentication.
func SMTP(t testing.TB) string {
	t.Helper()
	return need(t, "PARLEY_TEST_SMTP")[0]
}

// MailpitAPI returns the base URL of the test Mailpit's HTTP API, where
// tests read back what arrived.
func MailpitAPI(t testing.TB) string {
	t.Helper()
	return need(t, "PARLEY_TEST_MAILPIT_API")[0]
}
