package main

import (
	"os"
	"path/filepath"
)

// outputFile is a file a verb writes for the user (a PDF, a certificate,
// an export). Its bytes go to a temporary file beside path (created 0600
// by os.CreateTemp, named .<name>.partial-…), which replaces path only on
// Commit: a file already at path is replaced whole, readable by its owner
// only, or left as it was; a failed or interrupted write leaves no
// truncated file at path and (after Abort) no partial file beside it.
type outputFile struct {
	*os.File
	path string
	done bool
}

func createOutput(path string) (*outputFile, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".partial-*")
	if err != nil {
		return nil, err
	}
	return &outputFile{File: f, path: path}, nil
}

// Commit makes the written bytes the file at path.
func (o *outputFile) Commit() error {
	if o.done {
		return os.ErrClosed
	}
	err := o.Sync()
	if cerr := o.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(o.Name(), 0o600)
	}
	if err == nil {
		err = os.Rename(o.Name(), o.path)
	}
	o.done = true
	if err != nil {
		os.Remove(o.Name())
	}
	return err
}

// Abort discards what was written (after Commit, it does nothing).
func (o *outputFile) Abort() {
	if o.done {
		return
	}
	o.done = true
	o.Close()
	os.Remove(o.Name())
}

// writeOutput writes b to path as an outputFile.
func writeOutput(path string, b []byte) error {
	o, err := createOutput(path)
	if err != nil {
		return err
	}
	defer o.Abort()
	if _, err := o.Write(b); err != nil {
		return err
	}
	return o.Commit()
}
