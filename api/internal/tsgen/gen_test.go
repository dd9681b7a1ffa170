package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedIsCurrent: web/client/src/wire_gen.ts is what package api
// generates now. A change to api not carried to the browser fails here;
// run `go run ./api/internal/tsgen` from the repository root.
func TestGeneratedIsCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	want, err := Generate(filepath.Join(root, "api"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(t.TempDir(), "wire_gen.ts")
	if err := os.WriteFile(tmp, want, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(root, Output))
	if err != nil {
		t.Fatalf("%v: run `go run ./api/internal/tsgen`", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s is out of date (line %d: have %q, generated %q; fresh copy at %s): run `go run ./api/internal/tsgen`", Output, i+1, gl[i], wl[i], tmp)
			}
		}
		t.Fatalf("%s is out of date (%d lines, generated %d): run `go run ./api/internal/tsgen`", Output, len(gl), len(wl))
	}
}

// TestFramesAreDiscriminatedUnions: every frame type is a variant with its
// own literal "t", and the Go-only types are not declared.
func TestFramesAreDiscriminatedUnions(t *testing.T) {
	out, err := Generate(filepath.Join("..", "..", "..", "api"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{
		"export interface ServerFrameMsgs {\n  t: \"msgs\";\n  room: string;\n  ms: Message[];\n}",
		"export interface ClientFramePub {\n  t: \"pub\";\n  room: string;\n  id: string;\n  body: string;\n  epoch?: number;\n}",
		"export type ServerFrame =\n  | ServerFrameSubscribed\n",
		"export type FrameType = \"sub\" | \"unsub\" | \"pub\" | \"subscribed\"",
		"export interface Listed extends Summary {",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("generated TypeScript lacks %q", want)
		}
	}
	for _, bad := range []string{"interface Body", "interface List ", "interface List<", "type List", "passwordHash", ": any"} {
		if strings.Contains(s, bad) {
			t.Errorf("generated TypeScript has %q", bad)
		}
	}
}
