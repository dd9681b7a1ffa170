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
// process, failing at once, with errLocked, if another descriptor holds it;
// any other failure (a file system without locks: ENOLCK) is returned as
// it is, so that it is not reported as the directory being in use.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EWOULDBLOCK:
			return errLocked
		}
		return err
	}
}
