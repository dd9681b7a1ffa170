// Package canary finds test canaries — distinctive plaintexts sent through
// real nodes — in places they must never reach: the object store's files,
// a Redis dump, server logs. It looks for each canary as raw bytes and in
// the encodings a leak would most likely take on the way (base64 at every
// alignment, standard and URL alphabets, as JSON carries []byte; JSON- and
// hex-escaped), so a plaintext that travelled inside a JSON batch is found
// too.
package canary

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Forms returns the byte strings that betray canary c.
func Forms(c string) [][]byte {
	out := [][]byte{[]byte(c), []byte(hex.EncodeToString([]byte(c)))}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := range 3 {
			b := enc.EncodeToString(append(bytes.Repeat([]byte{0}, shift), c...))
			// Drop the characters that depend on the bytes around the
			// canary: the first (shift*4+2)/3 and the last two.
			skip := (shift*4 + 2) / 3
			core := strings.TrimRight(b, "=")
			if len(core) > skip+2 {
				out = append(out, []byte(core[skip:len(core)-2]))
			}
		}
	}
	return out
}

// Find reports which canaries occur in data.
func Find(data []byte, canaries []string) []string {
	return newMatcher(canaries).find(data)
}

// matcher is a set of canaries with their forms made once: ScanDir looks
// for the same canaries in every file of a store, and making the forms
// again for each file (base64 at three alignments, two alphabets, under
// the race detector) cost more than the searches.
type matcher struct {
	canaries []string
	forms    [][][]byte // forms[i] are the forms of canaries[i]
}

func newMatcher(canaries []string) matcher {
	m := matcher{canaries: canaries, forms: make([][][]byte, len(canaries))}
	for i, c := range canaries {
		m.forms[i] = Forms(c)
	}
	return m
}

// find reports which of m's canaries occur in data.
func (m matcher) find(data []byte) []string {
	var found []string
	for i, c := range m.canaries {
		for _, f := range m.forms[i] {
			if bytes.Contains(data, f) {
				found = append(found, c)
				break
			}
		}
	}
	return found
}

// ScanDir reads every regular file under dir and reports the files that
// hold a canary, with the canaries each holds. It also looks at the path
// of every file and directory relative to dir, since object keys are
// paths there (MinIO's data directory: bucket/key/xl.meta; the directory
// store: one file per key): an entry whose relative path names a canary
// its parent's path does not is reported too. files counts the regular
// files read.
func ScanDir(dir string, canaries []string) (map[string][]string, int, error) {
	m := newMatcher(canaries)
	hits := map[string][]string{}
	// inPath: the canaries the relative path of each directory walked
	// names, so its entries report only those their own names add.
	inPath := map[string][]string{}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil // removed while walking (a live store)
			}
			return err
		}
		var found []string
		if rel, err := filepath.Rel(dir, path); err == nil && rel != "." {
			named := m.find([]byte(filepath.ToSlash(rel)))
			if d.IsDir() {
				inPath[path] = named
			}
			for _, c := range named {
				if !slices.Contains(inPath[filepath.Dir(path)], c) {
					found = append(found, c)
				}
			}
		}
		if d.Type().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				if os.IsNotExist(err) {
					return nil
				}
				return err
			}
			files++
			for _, c := range m.find(b) {
				if !slices.Contains(found, c) {
					found = append(found, c)
				}
			}
		}
		if len(found) > 0 {
			hits[path] = found
		}
		return nil
	})
	return hits, files, err
}
