//go:build !linux

package messaging

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// lockFile does nothing here: the data directory's lock (docs/operations.md)
// is taken on Linux only, the platform Parley is built and tested for.
func lockFile(*os.File) error { return nil }
