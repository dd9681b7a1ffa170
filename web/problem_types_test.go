package web_test

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestProblemTypesAreDeclared: every problem type package web writes is a
// declared api.ProblemType, so the generated wire_gen.ts has it and the
// browser can key words on it. The test type-checks package web (its
// dependencies from `go list -export`) and, over its non-test files,
// requires that
//   - every constant of type api.ProblemType — a literal passed to a
//     problem, a table's column, a return value, however it gets there —
//     is one api/problem.go declares;
//   - no api.ProblemType is converted from a string at run time;
//   - api.Problem's Type member is set in one place only, wireProblem,
//     which prefixes api.ProblemTypeBase to an api.ProblemType; and no
//     other string constant there starts with api.ProblemTypeBase.
//
// Before, integrity-failure (a download that failed its integrity check)
// was written but not declared, and so were nine more (account-disabled,
// last-admin, no-pending-reset, password-change-required,
// password-changed-sign-in-again, password-not-changed,
// range-not-satisfiable, rewrap-required, second-admin-required), which
// an allow-list let through; there is no allow-list now. After that the
// test still read only a quoted string written straight into an
// api.Problem literal: writeError's table of kinds (unauthenticated,
// forbidden, not-found, conflict, gone, too-large) reached the problem
// through a variable, and the listener's bad-request and headers-too-large
// (both undeclared) were written as api.ProblemTypeBase + "…", so it saw
// none of them.
func TestProblemTypesAreDeclared(t *testing.T) {
	pkg, files, info, fset := typeCheckWeb(t)

	var apiPkg *types.Package
	for _, p := range pkg.Imports() {
		if p.Path() == "github.com/parley-mediation/parley/api" {
			apiPkg = p
		}
	}
	if apiPkg == nil {
		t.Fatal("package web does not import package api")
	}
	problemType := apiPkg.Scope().Lookup("ProblemType").Type()
	problem := apiPkg.Scope().Lookup("Problem").Type()
	base := constant.StringVal(apiPkg.Scope().Lookup("ProblemTypeBase").(*types.Const).Val())
	typeField, _, _ := types.LookupFieldOrMethod(problem, false, apiPkg, "Type")
	if typeField == nil {
		t.Fatal("api.Problem has no Type member")
	}
	declared := map[string]bool{}
	for _, name := range apiPkg.Scope().Names() {
		if c, ok := apiPkg.Scope().Lookup(name).(*types.Const); ok && types.Identical(c.Type(), problemType) {
			declared[constant.StringVal(c.Val())] = true
		}
	}
	if !declared["not-found"] {
		t.Fatal("no problem types found in package api")
	}

	// enclosing names the function declaration each position is in.
	type span struct {
		from, to token.Pos
		name     string
	}
	var funcs []span
	for _, f := range files {
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				funcs = append(funcs, span{fd.Pos(), fd.End(), fd.Name.Name})
			}
		}
	}
	enclosing := func(p token.Pos) string {
		for _, s := range funcs {
			if s.from <= p && p < s.to {
				return s.name
			}
		}
		return ""
	}
	const setter = "wireProblem"

	written := map[string]bool{}
	for e, tv := range info.Types {
		if tv.Value == nil || tv.Value.Kind() != constant.String {
			continue
		}
		s := constant.StringVal(tv.Value)
		if types.Identical(tv.Type, problemType) {
			written[s] = true
			if !declared[s] {
				t.Errorf("%s: problem type %q is not declared in api.ProblemType (api/problem.go), so wire_gen.ts lacks it", fset.Position(e.Pos()), s)
			}
		}
		if strings.HasPrefix(s, base) && enclosing(e.Pos()) != setter {
			t.Errorf("%s: %q is a whole problem type written outside %s: write an api.ProblemType instead", fset.Position(e.Pos()), s, setter)
		}
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if tv, ok := info.Types[n.Fun]; ok && tv.IsType() && types.Identical(tv.Type, problemType) && len(n.Args) == 1 {
					if info.Types[n.Args[0]].Value == nil {
						t.Errorf("%s: an api.ProblemType made from a string at run time; use a declared api.ProblemType", fset.Position(n.Pos()))
					}
				}
			case *ast.CompositeLit:
				if tv, ok := info.Types[n]; !ok || !types.Identical(tv.Type, problem) {
					return true
				}
				for _, el := range n.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						t.Errorf("%s: api.Problem written without member names", fset.Position(n.Pos()))
						break
					}
					if id, ok := kv.Key.(*ast.Ident); ok && info.Uses[id] == typeField && enclosing(n.Pos()) != setter {
						t.Errorf("%s: api.Problem's Type set outside %s: give a problem an api.ProblemType instead", fset.Position(kv.Pos()), setter)
					}
				}
			case *ast.SelectorExpr:
				if sel, ok := info.Selections[n]; ok && sel.Obj() == typeField && enclosing(n.Pos()) != setter {
					t.Errorf("%s: api.Problem's Type used outside %s: give a problem an api.ProblemType instead", fset.Position(n.Pos()), setter)
				}
			}
			return true
		})
	}

	// The types reached through a variable are seen too: writeError's
	// table and the listener's.
	for _, s := range []string{"unauthenticated", "forbidden", "not-found", "conflict", "gone", "too-large", "invalid-input", "internal", "headers-too-large", "bad-request"} {
		if !written[s] {
			var all []string
			for s := range written {
				all = append(all, s)
			}
			sort.Strings(all)
			t.Errorf("problem type %q not found among those package web writes (%v): the test no longer sees every problem", s, all)
		}
	}
}

// typeCheckWeb type-checks package web's non-test files, importing its
// dependencies from the export data `go list -export` names.
func typeCheckWeb(t *testing.T) (*types.Package, []*ast.File, *types.Info, *token.FileSet) {
	t.Helper()
	cmd := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}\t{{if not .DepOnly}}{{.Dir}}\t{{join .GoFiles \"\\t\"}}{{end}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	var dir string
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) > 2 && fields[2] != "" {
			dir, names = fields[2], fields[3:]
			continue
		}
		exports[fields[0]] = fields[1]
	}
	if dir == "" || len(names) == 0 {
		t.Fatalf("go list named no files of package web:\n%s", out)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok || file == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(file)
	})
	info := &types.Info{
		Types:      map[ast.Expr]types.TypeAndValue{},
		Uses:       map[*ast.Ident]types.Object{},
		Selections: map[*ast.SelectorExpr]*types.Selection{},
	}
	pkg, err := (&types.Config{Importer: imp}).Check("github.com/parley-mediation/parley/web", fset, files, info)
	if err != nil {
		t.Fatal(err)
	}
	return pkg, files, info, fset
}
