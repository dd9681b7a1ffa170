package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/parley-mediation/parley/client"
)

// cliSession is what `parley login` and `parley join` remember: the server
// and the session token, in a 0600 file in the user's config directory
// (PARLEY_CONFIG_DIR overrides, for scripts that act as several people).
type cliSession struct {
	Server string `json:"server"`
	Token  string `json:"token"`
}

func configDir() (string, error) {
	if d := os.Getenv("PARLEY_CONFIG_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "parley"), nil
}

func sessionPath() (string, error) {
	d, err := configDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "session.json"), nil
}

func saveSession(s cliSession) error {
	p, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(s)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func loadSession() (cliSession, error) {
	var s cliSession
	p, err := sessionPath()
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, errors.New("not signed in: run `parley login` or `parley join <link>` first")
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s is damaged: sign in again", p)
	}
	return s, nil
}

func forgetSession() error {
	p, err := sessionPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// clientFlags adds --json; apiClient then builds a client from the saved
// session.
func clientFlags(fs *flag.FlagSet) *bool {
	return fs.Bool("json", false, "print JSON for scripts instead of text")
}

func apiClient() (*client.Client, error) {
	s, err := loadSession()
	if err != nil {
		return nil, err
	}
	return client.New(s.Server, s.Token), nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
