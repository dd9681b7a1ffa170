package messaging

import (
	"os"
	"syscall"
)

// fdatasync makes f's written data durable, and its size, without
// flushing other metadata (times).
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}

// lockFile takes an exclusive advisory lock on f for the life of the
// process, failing at once if another process holds it.
func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}
