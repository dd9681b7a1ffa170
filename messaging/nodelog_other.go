//go:build !linux

package messaging

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// lockFile: no advisory lock here; the directory must not be shared.
func lockFile(*os.File) error { return nil }
