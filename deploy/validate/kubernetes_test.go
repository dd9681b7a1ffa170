package validate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kustomization is the part of kustomize's Kustomization this repo uses;
// its fields are checked strictly like the API types.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
}

// typed returns an empty object of the Go type the API server decodes
// apiVersion/kind into.
func typed(apiVersion, kind string) (any, bool) {
	switch apiVersion + " " + kind {
	case "v1 Namespace":
		return &corev1.Namespace{}, true
	case "v1 ConfigMap":
		return &corev1.ConfigMap{}, true
	case "v1 Secret":
		return &corev1.Secret{}, true
	case "v1 Service":
		return &corev1.Service{}, true
	case "apps/v1 Deployment":
		return &appsv1.Deployment{}, true
	case "batch/v1 Job":
		return &batchv1.Job{}, true
	case "networking.k8s.io/v1 Ingress":
		return &networkingv1.Ingress{}, true
	case "networking.k8s.io/v1 NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, true
	case "policy/v1 PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, true
	case "kustomize.config.k8s.io/v1beta1 Kustomization":
		return &kustomization{}, true
	}
	return nil, false
}

// documents splits a YAML stream at its "---" lines.
func documents(b []byte) [][]byte {
	var out [][]byte
	for _, d := range bytes.Split(b, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(d))) > 0 {
			out = append(out, d)
		}
	}
	return out
}

func stripComments(d []byte) []byte {
	var keep []string
	for _, l := range strings.Split(string(d), "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, "\n"))
}

// validateManifest decodes one document strictly into its API type, as
// the API server does before it admits an object.
func validateManifest(doc []byte) (string, error) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &head); err != nil {
		return "", err
	}
	name := head.Kind + "/" + head.Metadata.Name
	obj, ok := typed(head.APIVersion, head.Kind)
	if !ok {
		return name, fmt.Errorf("%s %s: not a kind this test knows; add it to typed()", head.APIVersion, head.Kind)
	}
	// The API server's own decoding: case-sensitive field names, and an
	// unknown or duplicated field is an error (encoding/json alone would
	// match "readOnlyRootFileSystem" to readOnlyRootFilesystem).
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return name, err
	}
	strict, err := kjson.UnmarshalStrict(j, obj)
	if err != nil {
		return name, err
	}
	if len(strict) > 0 {
		return name, errors.Join(strict...)
	}
	return name, nil
}

func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "kubernetes", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests: %v", err)
	}
	kinds := map[string]int{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range documents(b) {
			name, err := validateManifest(doc)
			if err != nil {
				t.Errorf("%s: %s: %v", filepath.Base(f), name, err)
			}
			kinds[strings.SplitN(name, "/", 2)[0]]++
		}
	}
	for _, k := range []string{"Deployment", "Service", "Ingress", "PodDisruptionBudget", "NetworkPolicy", "Secret", "Job"} {
		if kinds[k] == 0 {
			t.Errorf("no %s among the manifests (%v)", k, kinds)
		}
	}
}

// Strict decoding really refuses what the API server would: a misspelt
// field and a wrong type.
func TestKubernetesValidationRefusesMistakes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc := documents(b)[0]
	for name, mutate := range map[string]func(string) string{
		"misspelt field": func(s string) string {
			return strings.Replace(s, "readOnlyRootFilesystem:", "readOnlyRootFileSystem:", 1)
		},
		"wrong type": func(s string) string { return strings.Replace(s, "runAsNonRoot: true", "runAsNonRoot: \"maybe\"", 1) },
	} {
		t.Run(name, func(t *testing.T) {
			bad := mutate(string(doc))
			if bad == string(doc) {
				t.Fatal("the mutation did not apply: deployment.yaml changed shape")
			}
			if _, err := validateManifest([]byte(bad)); err == nil {
				t.Fatal("a broken manifest decoded")
			}
		})
	}
}
