# Parley — the two commands a fresh Debian machine needs:
#   make run    build and serve with embedded defaults (no services), with a demo case
#   make test   install and start real MinIO and Redis on loopback, run every check and test
SHELL := /bin/bash
GO ?= go
DATA ?= parley-data
ADDR ?= 127.0.0.1:8080
STATICCHECK_VERSION := v0.8.2
GOVULNCHECK_VERSION := v1.9.0
TOOLS := $(or $(PARLEY_CACHE),$(HOME)/.cache/parley)/tools

.PHONY: run build web wire test fuzz test-faults soak check vulncheck unit services-install clean

run: build
	./bin/parley serve --data $(DATA) --addr $(ADDR) --demo

build: web
	$(GO) build -o bin/parley ./cmd/parley

# web builds the browser client (TypeScript, esbuild from npm; exact
# versions in web/client/package-lock.json) into web/static/dist, which the
# binary embeds. It runs npm ci only when node_modules is missing or older
# than the lock file, and esbuild only when a source changed.
WEB_SRC := $(wildcard web/client/src/*.ts) web/client/build.mjs web/client/package-lock.json
web: web/static/dist/app.js

# wire regenerates web/client/src/wire_gen.ts, the browser's declarations of
# every wire shape, from the Go package api (a test fails when it drifts;
# web/tsany_test.go fails on an explicit `any` in the browser's sources).
wire:
	$(GO) run ./api/internal/tsgen

web/client/node_modules/.package-lock.json: web/client/package-lock.json
	cd web/client && npm ci --no-audit --no-fund
	@touch $@

web/static/dist/app.js: web/client/node_modules/.package-lock.json $(WEB_SRC)
	cd web/client && node build.mjs

# test runs the static checks, fuzzing, every Go test with -race against
# real MinIO and Redis started for this run, and the fault suite
# (scripts/test.sh; the checks and fuzzing run beside go test).
test:
	scripts/test.sh

# fuzz runs every fuzz target for PARLEY_FUZZTIME (default 5s) each
# (make test runs it too).
fuzz:
	scripts/fuzz.sh

# test-faults runs the fault suite alone (make test runs it too): two nodes,
# MinIO and Redis of its own, killed, flushed, stopped and starved on
# purpose; prints the table of what was sent, received and lost.
test-faults:
	scripts/test-faults.sh

# soak runs the messaging engine's checked history for SOAK (default 5m),
# then retention's crash tests at every step on S3 too (make test draws a
# few of those steps on S3).
soak:
	scripts/soak.sh

# check is the static part alone: gofmt, go vet, staticcheck, govulncheck.
check:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted"; exit 1; fi
	$(GO) vet ./...
	cd deploy/validate && $(GO) vet ./...
	@test -x $(TOOLS)/staticcheck || GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	$(TOOLS)/staticcheck ./...
	@$(MAKE) --no-print-directory web
	cd web/client && node_modules/.bin/tsc -p .
	@$(MAKE) --no-print-directory vulncheck

# vulncheck fails on any known vulnerability reachable from the code; when
# the database (vuln.go.dev, or $$GOVULNDB) is unreachable it prints a
# one-line notice instead (scripts/vulncheck.sh).
vulncheck:
	@test -x $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck || GOBIN=$(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	scripts/vulncheck.sh $(TOOLS)/govulncheck-$(GOVULNCHECK_VERSION)/govulncheck

services-install:
	scripts/services.sh install

clean:
	rm -rf bin web/static/dist/app.js web/client/build
