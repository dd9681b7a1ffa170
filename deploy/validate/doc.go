// Package validate holds no code of the server: its tests check the
// deployment files in deploy/ against the real schemas of the tools that
// read them, offline — the Compose specification's loader and schema
// (compose-go, what `docker compose config` runs), and the Kubernetes API
// types decoded strictly (an unknown or misspelt field, or a value of the
// wrong type, fails as the API server would refuse it).
//
// It is a Go module of its own (deploy/validate/go.mod), so compose-go and
// k8s.io/api are in its dependency graph and not the product's (nor in what
// govulncheck scans); `make test` runs its tests with `cd deploy/validate &&
// go test ./...` (scripts/test.sh) and `make check` vets it. It imports
// nothing of Parley, so it needs no go.work.
//
// It must never be imported: it exists for its tests. The structural checks
// of what Parley needs of those files (non-root, read-only root filesystem,
// readiness on /readyz, secrets from files) are in cmd/parley's
// deploy_test.go, next to the flags they name.
package validate
