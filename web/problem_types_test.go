package web_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestProblemTypesAreDeclared: every problem type package web writes as a
// literal (api.Problem{Type: "…"}) is an api.ProblemType, so the
// generated wire_gen.ts has it and the browser can key words on it.
// Before, integrity-failure (a download that failed its integrity check)
// was written but not declared, and so were nine more (account-disabled,
// last-admin, no-pending-reset, password-change-required,
// password-changed-sign-in-again, password-not-changed,
// range-not-satisfiable, rewrap-required, second-admin-required), which
// an allow-list let through; there is no allow-list now.
func TestProblemTypesAreDeclared(t *testing.T) {
	fset := token.NewFileSet()
	declared := map[string]bool{}
	api, err := parser.ParseFile(fset, filepath.Join("..", "api", "problem.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	ast.Inspect(api, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok {
			if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "ProblemType" {
				for _, v := range vs.Values {
					if lit, ok := v.(*ast.BasicLit); ok {
						s, _ := strconv.Unquote(lit.Value)
						declared[s] = true
					}
				}
			}
		}
		return true
	})
	if !declared["not-found"] {
		t.Fatal("no problem types found in api/problem.go")
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			cl, ok := n.(*ast.CompositeLit)
			if !ok {
				return true
			}
			if sel, ok := cl.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Problem" {
				return true
			}
			for _, el := range cl.Elts {
				kv, ok := el.(*ast.KeyValueExpr)
				if !ok {
					continue
				}
				if k, ok := kv.Key.(*ast.Ident); !ok || k.Name != "Type" {
					continue
				}
				if lit, ok := kv.Value.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					if !declared[s] {
						t.Errorf("%s: problem type %q is not declared in api.ProblemType (api/problem.go), so wire_gen.ts lacks it", fset.Position(lit.Pos()), s)
					}
				}
			}
			return true
		})
	}
}
