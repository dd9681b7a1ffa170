package web

import (
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"github.com/parley-mediation/parley/api"
)

// TestOpenAPIMatchesRouter keeps openapi.yaml honest: every route the
// router serves is documented with its method, and every documented
// operation is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			if method == "parameters" || method == "summary" {
				continue
			}
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	served := map[string]bool{}
	a := New(Deps{})
	err := chi.Walk(a.routes(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if route != "/" {
			route = strings.TrimSuffix(route, "/")
		}
		served[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for k := range served {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !served[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("openapi.yaml and router differ\nserved but not documented: %v\ndocumented but not served: %v", missing, extra)
	}
	if len(served) < 20 || !slices.Contains(keys(served), "POST /api/v1/cases/{caseID}/invites") {
		t.Fatalf("walk found too few routes: %v", keys(served))
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestOpenAPISchemasMatchAPITypes keeps the document's schemas honest:
// every property a schema names is a JSON member of the package api type
// it describes, and every required property is one the type always
// encodes (no omitempty). (The document describes the main answers, not
// every member; the TypeScript declarations are generated from the types
// themselves.)
func TestOpenAPISchemasMatchAPITypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Type       string         `yaml:"type"`
				Required   []string       `yaml:"required"`
				Properties map[string]any `yaml:"properties"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	types := map[string]reflect.Type{
		"RetentionRule": reflect.TypeFor[api.RetentionRule](), "Problem": reflect.TypeFor[api.Problem](),
		"Account": reflect.TypeFor[api.Account](), "Session": reflect.TypeFor[api.SessionResponse](),
		"Case": reflect.TypeFor[api.Case](), "CaseSummary": reflect.TypeFor[api.Summary](),
		"CaseSession": reflect.TypeFor[api.Session](), "MailMessage": reflect.TypeFor[api.MailMessage](),
		"Proposal": reflect.TypeFor[api.Proposal](), "DocShareRequest": reflect.TypeFor[api.DocShareRequest](),
	}
	checked := 0
	for name, schema := range doc.Components.Schemas {
		if schema.Type != "object" {
			continue
		}
		typ, ok := types[name]
		if !ok {
			t.Errorf("schema %s: no package api type named for it here (add it)", name)
			continue
		}
		members := map[string]bool{} // JSON name → always encoded
		for f := range typ.Fields() {
			jname, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if jname == "" || jname == "-" {
				continue
			}
			members[jname] = !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero")
		}
		for prop := range schema.Properties {
			if _, ok := members[prop]; !ok {
				t.Errorf("schema %s: property %q is not a JSON member of api.%s", name, prop, typ.Name())
			}
			checked++
		}
		for _, req := range schema.Required {
			if always, ok := members[req]; ok && !always {
				t.Errorf("schema %s: %q is required but api.%s omits it when empty", name, req, typ.Name())
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d schema properties checked", checked)
	}
}
