package validate

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
)

// loadCompose runs the Compose specification's own loader on a compose
// file: schema validation, interpolation, normalisation and the
// consistency checks (every network, secret and dependency named exists)
// that `docker compose config` applies.
func loadCompose(t *testing.T, file string) error {
	t.Helper()
	dir := filepath.Dir(file)
	opts, err := cli.NewProjectOptions([]string{file},
		cli.WithWorkingDirectory(dir),
		cli.WithName("parley"),
		cli.WithEnv(nil), // only the file's own defaults: no machine state
		cli.WithConsistency(true),
		cli.WithResolvedPaths(false),
	)
	if err != nil {
		return err
	}
	_, err = opts.LoadProject(context.Background())
	return err
}

func TestComposeFileValidates(t *testing.T) {
	file := filepath.Join("..", "compose", "compose.yaml")
	if err := loadCompose(t, file); err != nil {
		t.Fatalf("compose.yaml does not validate: %v", err)
	}
}

// The loader really validates: a misspelt key and a dangling secret are
// refused, so the test above cannot pass on an unread file.
func TestComposeValidationRefusesMistakes(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("..", "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(string) string{
		"misspelt key": func(s string) string { return strings.Replace(s, "read_only: true", "read_onyl: true", 1) },
		"unknown secret": func(s string) string {
			return strings.Replace(s, "    - master_key\n", "    - master_key\n    - no_such_secret\n", 1)
		},
		"wrong value type": func(s string) string { return strings.Replace(s, "retries: 3", "retries: three", 1) },
		"unknown dependency": func(s string) string {
			return strings.Replace(s, "    minio:\n      condition: service_healthy", "    no-such-service:\n      condition: service_healthy", 1)
		},
	} {
		t.Run(name, func(t *testing.T) {
			bad := mutate(string(orig))
			if bad == string(orig) {
				t.Fatalf("the mutation did not apply: compose.yaml changed shape")
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "compose.yaml")
			if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := loadCompose(t, file); err == nil {
				t.Fatal("the loader accepted a broken compose file")
			}
		})
	}
}
