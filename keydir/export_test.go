package keydir

// SetBeforeCaseRecordForTest has s call f as it begins storing a record
// of a case (after the caller checked the case's fence).
func SetBeforeCaseRecordForTest(s *Service, f func(key string)) { s.beforeCaseRecord = f }
