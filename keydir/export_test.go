package keydir

// SetBeforeCaseRecordForTest has s call f as it begins storing a record
// of a case (after the caller checked the case's fence).
func SetBeforeCaseRecordForTest(s *Service, f func(key string)) { s.beforeCaseRecord = f }

// SetStatementCapForTest has s hold at most n statements per case in
// place of MaxStatements.
func SetStatementCapForTest(s *Service, n int) { s.statementCap = n }

// SetBeforePairingForTest has s call f as StartPairing begins storing a
// new pairing (after it checked the device).
func SetBeforePairingForTest(s *Service, f func(key string)) { s.beforePairing = f }

// SetBeforeAccountRecordForTest has s call f as it begins storing a new
// device of an account (after the caller's checks).
func SetBeforeAccountRecordForTest(s *Service, f func(key string)) { s.beforeAccountRecord = f }
