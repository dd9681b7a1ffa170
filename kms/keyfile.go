package kms

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// InstallMasterKeyFile copies a master key file from src to dst, readable
// by its owner only (0400), after checking that it holds a master key, and
// returns the key's id.
//
// It exists for Kubernetes, which cannot mount a Secret as a file that only
// a non-root user may read: a Secret volume's files belong to root, or, with
// fsGroup, are readable by the group too, and LoadMasterKey refuses both.
// An init container running as the node's user copies the key from the
// Secret volume into a memory-backed emptyDir with this. Installing the same
// key again (a restarted pod) is fine; dst is replaced atomically.
func InstallMasterKeyFile(src, dst string) (string, error) {
	raw, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	defer clear(raw)
	text := strings.TrimSpace(string(raw))
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(text, keyFilePrefix))
	if !strings.HasPrefix(text, keyFilePrefix) || err != nil || len(key) != 32 {
		return "", fmt.Errorf("master key %s: not a Parley master key file", src)
	}
	clear(key)
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*")
	if err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename there is nothing to remove
	if err := tmp.Chmod(0o400); err != nil {
		tmp.Close()
		return "", fmt.Errorf("master key: %w", err)
	}
	if _, err := tmp.WriteString(text + "\n"); err != nil {
		tmp.Close()
		return "", fmt.Errorf("master key: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("master key: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("master key: %w", err)
	}
	mk, err := LoadMasterKey(dst, false)
	if err != nil {
		return "", err
	}
	return mk.ID(), nil
}
