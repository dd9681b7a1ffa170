package main

// Checks of the deployment files in deploy/ — the Dockerfiles, the compose
// file and its HAProxy configuration, the Kubernetes manifests — and of
// docs/operations.md, as far as this machine allows: there is no container
// engine or cluster here, and no schema can be downloaded, so the files are
// parsed (go.yaml.in/yaml/v3) and their structure asserted. What ties them
// to the code is checked against the code itself: every flag and PARLEY_*
// variable they give `parley serve` is parsed by serve's real flag set, the
// Ingress routes are compared with the server's router, and the CLI verbs
// they and the docs use must exist. When `docker compose`, `kubectl` or
// `haproxy` is installed, their own checks run too.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"go.yaml.in/yaml/v3"

	"github.com/parley-mediation/parley/server"
)

const deployDir = "../../deploy"

// ---- parley serve's flags ----

// serveSettings parses args (flags, and PARLEY_* variables turned into
// flags) with `parley serve`'s own flag set and returns the settings by
// flag name. Any flag serve does not define, or value it does not accept,
// fails the test. File flags read at parse time get a stand-in file.
func serveSettings(t *testing.T, where string, args []string, env map[string]string) map[string]string {
	t.Helper()
	all := slices.Clone(args)
	for _, name := range sortedKeys(env) {
		if !strings.HasPrefix(name, "PARLEY_") {
			continue
		}
		flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "PARLEY_")), "_", "-")
		all = append(all, "--"+flagName+"="+env[name])
	}
	settings := map[string]string{}
	standIn := filepath.Join(t.TempDir(), "stand-in")
	if err := os.WriteFile(standIn, []byte("stand-in\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	parsed := []string{}
	for i := 0; i < len(all); i++ {
		a := all[i]
		if !strings.HasPrefix(a, "-") {
			t.Fatalf("%s: serve takes no positional argument, got %q", where, a)
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !hasValue {
			if i+1 < len(all) && !strings.HasPrefix(all[i+1], "-") {
				i++
				value, hasValue = all[i], true
			} else {
				value = "true" // a bool flag
			}
		}
		settings[name] = value
		if strings.HasSuffix(name, "-file") && name != "master-key-file" {
			value = standIn // read while parsing (--s3-secret-key-file)
		}
		parsed = append(parsed, "--"+name+"="+value)
	}
	// A log level serve refuses makes it stop right after parsing every
	// flag, before it opens anything; a cancelled context makes sure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var code int
	stderr := captureStderr(t, func() { code = run(ctx, append(append([]string{"serve"}, parsed...), "--log-level=not-a-level")) })
	if code != 2 || !strings.Contains(stderr, "--log-level") {
		t.Fatalf("%s: `parley serve` does not accept these flags: %s", where, oneLine(stderr))
	}
	return settings
}

// checkNodeSettings asserts what every scale-mode node behind a load
// balancer needs.
func checkNodeSettings(t *testing.T, where string, s map[string]string) {
	t.Helper()
	for _, name := range []string{"s3-endpoint", "s3-bucket", "s3-access-key", "s3-secret-key-file", "master-key-file", "redis-url", "public-url", "addr"} {
		if s[name] == "" {
			t.Errorf("%s: --%s is not set", where, name)
		}
	}
	if s["trust-forwarded-for"] != "true" {
		t.Errorf("%s: nodes behind a load balancer need --trust-forwarded-for", where)
	}
	if s["s3-secret-key"] != "" {
		t.Errorf("%s: the S3 secret is given as a value; use --s3-secret-key-file", where)
	}
	if !strings.HasPrefix(s["addr"], "0.0.0.0:") && !strings.HasPrefix(s["addr"], ":") {
		t.Errorf("%s: --addr %q is not reachable from outside the container", where, s["addr"])
	}
	if !strings.HasPrefix(s["public-url"], "http://") && !strings.HasPrefix(s["public-url"], "https://") {
		t.Errorf("%s: --public-url %q is not a URL", where, s["public-url"])
	}
}

// secretLooking matches environment variable names that would carry a
// secret value. Such variables must not exist: secrets are files, and a
// variable may only name the file (…_FILE).
var secretLooking = regexp.MustCompile(`(?i)(secret|password|passwd|token|private|master_key)`)

func checkNoSecretInEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	for name := range env {
		if secretLooking.MatchString(name) && !strings.HasSuffix(name, "_FILE") {
			t.Errorf("%s: environment variable %s looks like it holds a secret; give a file (%s_FILE or the flag's -file form)", where, name, name)
		}
	}
}

// ---- Dockerfiles ----

type dockerInstr struct{ cmd, args string }

func readDockerfile(t *testing.T, path string) []dockerInstr {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []dockerInstr
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		cur += trimmed
		cmd, args, _ := strings.Cut(cur, " ")
		out = append(out, dockerInstr{strings.ToUpper(cmd), strings.TrimSpace(args)})
		cur = ""
	}
	return out
}

func instrs(is []dockerInstr, cmd string) []string {
	var out []string
	for _, i := range is {
		if i.cmd == cmd {
			out = append(out, i.args)
		}
	}
	return out
}

func execForm(t *testing.T, where, s string) []string {
	t.Helper()
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("%s: %q is not in exec (JSON) form: %v", where, s, err)
	}
	return out
}

// goModVersion is go.mod's language version as major.minor ("1.26").
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

func checkRuntimeStage(t *testing.T, where string, is []dockerInstr) {
	t.Helper()
	froms := instrs(is, "FROM")
	final := froms[len(froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("%s: the runtime image is %q, want distroless/static or scratch", where, final)
	}
	users := instrs(is, "USER")
	if len(users) == 0 {
		t.Fatalf("%s: no USER: the image would run as root", where)
	}
	user, _, _ := strings.Cut(users[len(users)-1], ":")
	if n, err := strconv.Atoi(user); user == "root" || (err == nil && n == 0) {
		t.Errorf("%s: runs as root", where)
	}
	if !slices.Contains(froms, "golang:${GO_VERSION} AS build") {
		t.Errorf("%s: no golang:${GO_VERSION} build stage", where)
	}
	args := instrs(is, "ARG")
	if want := "GO_VERSION=" + goModVersion(t); !slices.Contains(args, want) {
		t.Errorf("%s: ARG %s wanted (go.mod's version), have %v", where, want, args)
	}
}

// imageCmd returns the Parley image's CMD, checked.
func imageCmd(t *testing.T) []string {
	t.Helper()
	is := readDockerfile(t, filepath.Join(deployDir, "Dockerfile"))
	checkRuntimeStage(t, "Dockerfile", is)
	var static bool
	for _, run := range instrs(is, "RUN") {
		if strings.Contains(run, "CGO_ENABLED=0") && strings.Contains(run, "go build") && strings.Contains(run, "./cmd/parley") {
			static = true
		}
	}
	if !static {
		t.Error("Dockerfile: no CGO_ENABLED=0 go build of ./cmd/parley (a static binary)")
	}
	entry := instrs(is, "ENTRYPOINT")
	if len(entry) != 1 || !slices.Equal(execForm(t, "ENTRYPOINT", entry[0]), []string{"/parley"}) {
		t.Errorf("Dockerfile: ENTRYPOINT %v, want [\"/parley\"]", entry)
	}
	cmds := instrs(is, "CMD")
	if len(cmds) != 1 {
		t.Fatalf("Dockerfile: %d CMD instructions, want 1", len(cmds))
	}
	cmd := execForm(t, "CMD", cmds[0])
	if len(cmd) == 0 || cmd[0] != "serve" {
		t.Fatalf("Dockerfile: CMD %v does not start with serve", cmd)
	}
	return cmd
}

func TestDockerfile(t *testing.T) {
	cmd := imageCmd(t)
	s := serveSettings(t, "Dockerfile CMD", cmd[1:], nil)
	if s["addr"] != "0.0.0.0:8080" {
		t.Errorf("Dockerfile: CMD listens on %q, want 0.0.0.0:8080", s["addr"])
	}
	is := readDockerfile(t, filepath.Join(deployDir, "Dockerfile"))
	if hc := instrs(is, "HEALTHCHECK"); len(hc) != 1 || !strings.Contains(hc[0], `"/healthcheck"`) || !strings.Contains(hc[0], "/readyz") {
		t.Errorf("Dockerfile: HEALTHCHECK %v, want /healthcheck on /readyz", hc)
	}

	// MinIO's image is built at the version the storage tests use.
	mis := readDockerfile(t, filepath.Join(deployDir, "compose", "minio.Dockerfile"))
	checkRuntimeStage(t, "minio.Dockerfile", mis)
	services, err := os.ReadFile("../../scripts/services.sh")
	if err != nil {
		t.Fatal(err)
	}
	pin := regexp.MustCompile(`(?m)^MINIO_VERSION=(\S+)`).FindSubmatch(services)
	if pin == nil {
		t.Fatal("scripts/services.sh: no MINIO_VERSION")
	}
	if args := instrs(mis, "ARG"); !slices.Contains(args, "MINIO_VERSION="+string(pin[1])) {
		t.Errorf("minio.Dockerfile builds MinIO %v, scripts/services.sh tests against %s", args, pin[1])
	}
}

// ---- compose ----

// interpolate applies compose's ${VAR:-default} / ${VAR-default} / ${VAR}
// with the defaults only (the environment of the test must not matter).
func interpolate(s string) string {
	re := regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-([^}]*))?\}`)
	s = re.ReplaceAllString(s, "$3")
	return strings.ReplaceAll(s, "$$", "$")
}

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File        string `yaml:"file"`
		Environment string `yaml:"environment"`
	} `yaml:"secrets"`
	Networks map[string]struct {
		Internal bool `yaml:"internal"`
	} `yaml:"networks"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	User        string            `yaml:"user"`
	ReadOnly    bool              `yaml:"read_only"`
	CapDrop     []string          `yaml:"cap_drop"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Ports     []string       `yaml:"ports"`
	Volumes   []string       `yaml:"volumes"`
	Networks  []string       `yaml:"networks"`
	DependsOn map[string]any `yaml:"depends_on"`
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	cmd := imageCmd(t)

	var nodes []string
	for name, s := range c.Services {
		if s.Build.Dockerfile == "deploy/Dockerfile" {
			nodes = append(nodes, name)
		}
	}
	slices.Sort(nodes)
	if !slices.Equal(nodes, []string{"parley-1", "parley-2", "parley-3"}) {
		t.Fatalf("Parley services %v, want parley-1, parley-2, parley-3", nodes)
	}
	for name, s := range c.Services {
		where := "compose " + name
		if len(s.Healthcheck.Test) < 2 {
			t.Errorf("%s: no healthcheck", where)
		}
		if !s.ReadOnly {
			t.Errorf("%s: root file system is not read-only", where)
		}
		if !slices.Contains(s.CapDrop, "ALL") {
			t.Errorf("%s: does not drop all capabilities", where)
		}
		if u, _, _ := strings.Cut(s.User, ":"); s.User == "" && name != "lb" || u == "0" || u == "root" {
			// HAProxy's image runs as its own user; every other image is told.
			t.Errorf("%s: user %q: run as a non-root user", where, s.User)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = interpolate(v)
		}
		checkNoSecretInEnv(t, where, env)
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("%s: secret %s is not defined", where, sec)
			}
		}
		for k, v := range env {
			if strings.HasSuffix(k, "_FILE") && strings.HasPrefix(v, "/run/secrets/") && !slices.Contains(s.Secrets, strings.TrimPrefix(v, "/run/secrets/")) {
				t.Errorf("%s: %s=%s, but the service does not mount that secret", where, k, v)
			}
		}
		if len(s.Ports) > 0 && name != "lb" {
			t.Errorf("%s: publishes ports; only the load balancer should be reachable", where)
		}
		if !slices.Contains(nodes, name) {
			continue
		}
		if len(s.Command) > 0 {
			t.Errorf("%s: overrides the image's command; configure through PARLEY_* instead", where)
		}
		settings := serveSettings(t, where, cmd[1:], env)
		checkNodeSettings(t, where, settings)
		if settings["metrics-addr"] != "0.0.0.0:9464" {
			t.Errorf("%s: --metrics-addr %q; want 0.0.0.0:9464, for a scraper on the back network", where, settings["metrics-addr"])
		}
		for _, f := range []string{"master-key-file", "s3-secret-key-file"} {
			if !strings.HasPrefix(settings[f], "/run/secrets/") {
				t.Errorf("%s: --%s=%s is not a compose secret", where, f, settings[f])
			}
		}
		if hc := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(hc, "/readyz") {
			t.Errorf("%s: healthcheck %q does not ask /readyz", where, hc)
		}
		if !slices.Equal(s.Networks, []string{"back"}) {
			t.Errorf("%s: networks %v, want the internal one only", where, s.Networks)
		}
		for _, dep := range []string{"minio", "redis"} {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("%s: does not wait for %s", where, dep)
			}
		}
	}
	for name, sec := range c.Secrets {
		if sec.File == "" || sec.Environment != "" {
			t.Errorf("compose secret %s: must come from a file", name)
		}
		if !strings.HasPrefix(sec.File, "./secrets/") {
			t.Errorf("compose secret %s: file %s is outside ./secrets/ (which .gitignore keeps out of git)", name, sec.File)
		}
	}
	if !c.Networks["back"].Internal {
		t.Error("compose: the back network is not internal")
	}
	minio := c.Services["minio"]
	if minio.Environment["MINIO_ROOT_PASSWORD_FILE"] != "/run/secrets/s3_secret_key" || !slices.Contains(minio.Secrets, "s3_secret_key") {
		t.Error("compose minio: the root password must come from the s3_secret_key secret")
	}
	if minio.Build.Dockerfile != "deploy/compose/minio.Dockerfile" {
		t.Errorf("compose minio: built from %q", minio.Build.Dockerfile)
	}
	lb := c.Services["lb"]
	if !slices.Contains(lb.Volumes, "./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro") {
		t.Errorf("compose lb: haproxy.cfg is not mounted: %v", lb.Volumes)
	}
	if len(lb.Ports) != 1 || !strings.HasSuffix(interpolate(lb.Ports[0]), ":8080") {
		t.Errorf("compose lb: ports %v, want one mapping to 8080", lb.Ports)
	}
	for _, n := range nodes {
		if _, ok := lb.DependsOn[n]; !ok {
			t.Errorf("compose lb: does not depend on %s", n)
		}
	}
	checkHAProxy(t, nodes)

	// The file also passes compose's own validation: always through the
	// Compose specification's loader (deploy/validate), and through the
	// docker compose CLI too where it is installed.
	if out, err := exec.Command("docker", "compose", "version").CombinedOutput(); err != nil {
		t.Logf("docker compose is not installed here (%s); deploy/validate ran the compose-spec loader instead", oneLine(string(out)))
	} else {
		dir := t.TempDir()
		cfg := exec.Command("docker", "compose", "-f", filepath.Join(deployDir, "compose", "compose.yaml"), "--project-directory", filepath.Join(deployDir, "compose"), "config", "--quiet", "--no-path-resolution")
		cfg.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cfg.CombinedOutput(); err != nil {
			t.Errorf("docker compose config: %v: %s", err, out)
		}
	}
}

// checkHAProxy reads haproxy.cfg by sections and checks what the nodes
// need of their load balancer.
func checkHAProxy(t *testing.T, nodes []string) {
	t.Helper()
	path := filepath.Join(deployDir, "compose", "haproxy.cfg")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string][]string{}
	var cur string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if line[0] != ' ' && line[0] != '\t' {
			cur = strings.Join(strings.Fields(line), " ")
			sections[cur] = nil
			continue
		}
		sections[cur] = append(sections[cur], strings.Join(strings.Fields(line), " "))
	}
	has := func(section, line string) bool { return slices.Contains(sections[section], line) }
	if !has("defaults", "mode http") {
		t.Error("haproxy.cfg: not in HTTP mode (WebSocket upgrades need it)")
	}
	tunnel := time.Duration(0)
	for _, l := range sections["defaults"] {
		if v, ok := strings.CutPrefix(l, "timeout tunnel "); ok {
			tunnel, _ = time.ParseDuration(v)
		}
	}
	if tunnel < time.Hour {
		t.Errorf("haproxy.cfg: timeout tunnel %v; idle WebSockets need at least an hour", tunnel)
	}
	fe := "frontend http"
	if !has(fe, "bind :8080") {
		t.Errorf("haproxy.cfg: %s does not bind :8080 (compose publishes that port)", fe)
	}
	if !has(fe, "http-request set-header X-Forwarded-For %[src]") {
		t.Error("haproxy.cfg: X-Forwarded-For is not replaced with the client address (Parley trusts its first entry)")
	}
	for _, s := range sections {
		if slices.Contains(s, "option forwardfor") {
			t.Error("haproxy.cfg: option forwardfor appends to a client-supplied X-Forwarded-For")
		}
	}
	var deniesMetrics bool
	for _, l := range sections[fe] {
		if strings.HasPrefix(l, "http-request deny") && strings.Contains(l, "{ path /metrics }") {
			deniesMetrics = true
		}
	}
	if !deniesMetrics {
		t.Error("haproxy.cfg: /metrics is reachable from outside")
	}
	be := "backend parley"
	if !has(be, "option httpchk") || !has(be, "http-check send meth GET uri /readyz") || !has(be, "http-check expect status 200") {
		t.Error("haproxy.cfg: nodes are not health-checked on /readyz")
	}
	var servers []string
	for _, l := range sections[be] {
		if strings.HasPrefix(l, "default-server ") && !strings.Contains(" "+l+" ", " check ") {
			t.Error("haproxy.cfg: default-server has no check")
		}
		if f := strings.Fields(l); f[0] == "server" {
			if len(f) < 3 || f[2] != f[1]+":8080" {
				t.Errorf("haproxy.cfg: %q: want server NAME NAME:8080", l)
			}
			servers = append(servers, f[1])
		}
	}
	if !slices.Equal(servers, nodes) {
		t.Errorf("haproxy.cfg: servers %v, compose nodes %v", servers, nodes)
	}
	if bin, err := exec.LookPath("haproxy"); err == nil {
		if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil {
			t.Errorf("haproxy -c: %v: %s", err, out)
		}
	} else {
		t.Log("haproxy is not installed here; structural checks only")
	}
}

// ---- Kubernetes ----

type k8sObject = map[string]any

// get walks a decoded YAML object: get(o, "spec", "template", "spec").
func get(o any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := o.(map[string]any)
			o = m[k]
		case int:
			l, _ := o.([]any)
			if k >= len(l) {
				return nil
			}
			o = l[k]
		}
	}
	return o
}

func str(o any, path ...any) string { s, _ := get(o, path...).(string); return s }

func list(o any, path ...any) []any { l, _ := get(o, path...).([]any); return l }

func loadManifests(t *testing.T) (objs []k8sObject, byFile map[string][]k8sObject) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(deployDir, "kubernetes", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byFile = map[string][]k8sObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var o k8sObject
			if err := dec.Decode(&o); err != nil {
				if err.Error() == "EOF" {
					break
				}
				t.Fatalf("%s: %v", f, err)
			}
			if o == nil {
				continue
			}
			if str(o, "apiVersion") == "" || str(o, "kind") == "" {
				t.Fatalf("%s: a document without apiVersion or kind", f)
			}
			byFile[filepath.Base(f)] = append(byFile[filepath.Base(f)], o)
			objs = append(objs, o)
		}
	}
	return objs, byFile
}

func find(t *testing.T, objs []k8sObject, kind, name string) k8sObject {
	t.Helper()
	for _, o := range objs {
		if str(o, "kind") == kind && str(o, "metadata", "name") == name {
			return o
		}
	}
	t.Fatalf("no %s %s in deploy/kubernetes", kind, name)
	return nil
}

// selects reports whether a label selector (matchLabels) selects labels.
func selects(selector, labels any) bool {
	sel, _ := selector.(map[string]any)
	lab, _ := labels.(map[string]any)
	if len(sel) == 0 {
		return true
	}
	for k, v := range sel {
		if lab[k] != v {
			return false
		}
	}
	return true
}

func checkPodSecurity(t *testing.T, where string, pod any) {
	t.Helper()
	if get(pod, "securityContext", "runAsNonRoot") != true {
		t.Errorf("%s: runAsNonRoot is not true", where)
	}
	if str(pod, "securityContext", "seccompProfile", "type") != "RuntimeDefault" {
		t.Errorf("%s: no RuntimeDefault seccomp profile", where)
	}
	if get(pod, "automountServiceAccountToken") != false {
		t.Errorf("%s: mounts a service account token it does not need", where)
	}
	for _, field := range []string{"initContainers", "containers"} {
		for _, c := range list(pod, field) {
			cw := where + " container " + str(c, "name")
			sc := get(c, "securityContext")
			if get(sc, "readOnlyRootFilesystem") != true {
				t.Errorf("%s: readOnlyRootFilesystem is not true", cw)
			}
			if get(sc, "allowPrivilegeEscalation") != false {
				t.Errorf("%s: allowPrivilegeEscalation is not false", cw)
			}
			if drop := list(sc, "capabilities", "drop"); len(drop) != 1 || drop[0] != "ALL" {
				t.Errorf("%s: capabilities.drop %v, want [ALL]", cw, drop)
			}
			if get(c, "resources", "limits", "memory") == nil {
				t.Errorf("%s: no memory limit", cw)
			}
		}
	}
}

// mountFor returns the volume mounted at the directory holding path.
func mountFor(pod, container any, path string) any {
	for _, m := range list(container, "volumeMounts") {
		if dir := str(m, "mountPath"); strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/") {
			for _, v := range list(pod, "volumes") {
				if str(v, "name") == str(m, "name") {
					return v
				}
			}
		}
	}
	return nil
}

func TestKubernetesManifests(t *testing.T) {
	objs, byFile := loadManifests(t)

	// kustomization.yaml lists every manifest but the secrets example.
	kust := byFile["kustomization.yaml"][0]
	var resources []string
	for _, r := range list(kust, "resources") {
		resources = append(resources, r.(string))
	}
	var manifests []string
	for f := range byFile {
		if f != "kustomization.yaml" && f != "secrets.example.yaml" && !strings.HasSuffix(f, ".job.yaml") {
			manifests = append(manifests, f)
		}
	}
	slices.Sort(resources)
	slices.Sort(manifests)
	if !slices.Equal(resources, manifests) {
		t.Errorf("kustomization resources %v, manifests %v", resources, manifests)
	}
	if ns := find(t, objs, "Namespace", "parley"); str(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted" {
		t.Error("namespace parley does not enforce the restricted Pod Security Standard")
	}

	dep := find(t, objs, "Deployment", "parley")
	pod := get(dep, "spec", "template", "spec")
	podLabels := get(dep, "spec", "template", "metadata", "labels")
	if n, _ := get(dep, "spec", "replicas").(int); n != 3 {
		t.Errorf("Deployment: %d replicas, want 3", n)
	}
	if !selects(get(dep, "spec", "selector", "matchLabels"), podLabels) {
		t.Error("Deployment: selector does not select its pods")
	}
	if get(dep, "spec", "strategy", "rollingUpdate", "maxUnavailable") != 0 {
		t.Error("Deployment: a rolling update may take a node away before its replacement is ready")
	}
	checkPodSecurity(t, "Deployment parley", pod)
	checkPodSecurity(t, "Deployment redis", get(find(t, objs, "Deployment", "redis"), "spec", "template", "spec"))

	containers := list(pod, "containers")
	if len(containers) != 1 {
		t.Fatalf("Deployment: %d containers, want 1", len(containers))
	}
	c := containers[0]
	if str(c, "image") != "parley" || list(kust, "images") == nil || str(kust, "images", 0, "name") != "parley" {
		t.Error("Deployment: the image is not the one kustomization.yaml sets")
	}
	port := get(c, "ports", 0)
	if str(port, "name") != "http" || get(port, "containerPort") != 8080 {
		t.Errorf("Deployment: port %v, want http 8080", port)
	}
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		if str(c, probe, "httpGet", "path") != path || str(c, probe, "httpGet", "port") != "http" {
			t.Errorf("Deployment: %s is not GET %s on the http port", probe, path)
		}
	}

	// What serve gets: args, the ConfigMap it takes in whole, its env.
	var args []string
	for _, a := range list(c, "args") {
		args = append(args, a.(string))
	}
	if len(args) == 0 || args[0] != "serve" {
		t.Fatalf("Deployment: args %v do not start with serve", args)
	}
	env := map[string]string{}
	for _, ef := range list(c, "envFrom") {
		cm := find(t, objs, "ConfigMap", str(ef, "configMapRef", "name"))
		for k, v := range get(cm, "data").(map[string]any) {
			env[k] = v.(string)
		}
	}
	for _, e := range list(c, "env") {
		if v, ok := get(e, "value").(string); ok {
			env[str(e, "name")] = v
		}
	}
	checkNoSecretInEnv(t, "Deployment", env)
	settings := serveSettings(t, "Deployment", args[1:], env)
	checkNodeSettings(t, "Deployment", settings)
	if !strings.HasPrefix(settings["public-url"], "https://") {
		t.Errorf("Deployment: --public-url %q is not https", settings["public-url"])
	}
	if !strings.HasSuffix(settings["addr"], ":8080") {
		t.Errorf("Deployment: serves on %q, the container port is 8080", settings["addr"])
	}
	if mp := get(c, "ports", 1); str(mp, "name") != "metrics" || get(mp, "containerPort") != 9464 || settings["metrics-addr"] != "0.0.0.0:9464" {
		t.Errorf("Deployment: metrics port %v, --metrics-addr %q; want metrics 9464 served on 0.0.0.0:9464", mp, settings["metrics-addr"])
	}

	// The S3 secret is a file from a Secret volume; the master key a file
	// the init container installed from one into memory-backed storage.
	secretVolume := func(v any, name string) {
		t.Helper()
		if str(v, "secret", "secretName") != name {
			t.Errorf("Deployment: volume %v is not Secret %s", v, name)
		}
		if mode, _ := get(v, "secret", "defaultMode").(int); mode&0o007 != 0 {
			t.Errorf("Deployment: Secret %s is mounted world-readable (%o)", name, mode)
		}
	}
	secretVolume(mountFor(pod, c, settings["s3-secret-key-file"]), "parley-s3")
	keyVol := mountFor(pod, c, settings["master-key-file"])
	if str(keyVol, "emptyDir", "medium") != "Memory" {
		t.Errorf("Deployment: the master key %s is not on a memory-backed volume: %v", settings["master-key-file"], keyVol)
	}
	inits := list(pod, "initContainers")
	if len(inits) != 1 {
		t.Fatalf("Deployment: %d init containers, want 1 (install-master-key)", len(inits))
	}
	src, dst := installArgs(t, "Deployment", pod, inits[0], "parley-master-key")
	if dst != settings["master-key-file"] {
		t.Errorf("init container installs the key at %s, the node reads %s", dst, settings["master-key-file"])
	}
	if str(mountFor(pod, inits[0], dst), "name") != str(keyVol, "name") {
		t.Error("init container: does not write into the node's key volume")
	}
	if str(inits[0], "image") != str(c, "image") {
		t.Error("init container: not the Parley image")
	}

	// The Secrets' shape matches what the Deployment mounts.
	for name, item := range map[string]string{"parley-master-key": filepath.Base(src), "parley-s3": filepath.Base(settings["s3-secret-key-file"])} {
		var found bool
		for _, o := range byFile["secrets.example.yaml"] {
			if str(o, "kind") == "Secret" && str(o, "metadata", "name") == name && get(o, "stringData", item) != nil {
				found = true
			}
		}
		if !found {
			t.Errorf("secrets.example.yaml: no Secret %s with item %s", name, item)
		}
	}

	svc := find(t, objs, "Service", "parley")
	if !selects(get(svc, "spec", "selector"), podLabels) {
		t.Error("Service: selector does not select the pods")
	}
	if str(svc, "spec", "ports", 0, "targetPort") != "http" {
		t.Error("Service: targetPort is not the http port")
	}

	pdb := find(t, objs, "PodDisruptionBudget", "parley")
	if n, _ := get(pdb, "spec", "minAvailable").(int); n < 2 || n >= 3 {
		t.Errorf("PodDisruptionBudget: minAvailable %v, want 2 of 3", get(pdb, "spec", "minAvailable"))
	}
	if !selects(get(pdb, "spec", "selector", "matchLabels"), podLabels) {
		t.Error("PodDisruptionBudget: selector does not select the pods")
	}

	checkIngress(t, find(t, objs, "Ingress", "parley"), svc)
	checkRotationJob(t, objs, kust)

	// Network policies: deny by default; nodes reachable on their port.
	var defaultDeny, nodePolicy bool
	for _, o := range objs {
		if str(o, "kind") != "NetworkPolicy" {
			continue
		}
		types := list(o, "spec", "policyTypes")
		podSelector, _ := get(o, "spec", "podSelector").(map[string]any)
		if len(podSelector) == 0 && len(types) == 2 && list(o, "spec", "ingress") == nil && list(o, "spec", "egress") == nil {
			defaultDeny = true
		}
		if len(podSelector) > 0 && selects(get(o, "spec", "podSelector", "matchLabels"), podLabels) {
			nodePolicy = true
			if str(o, "spec", "ingress", 0, "ports", 0, "port") != "http" {
				t.Error("NetworkPolicy parley: ingress is not to the http port")
			}
			var scrape bool
			for _, in := range list(o, "spec", "ingress") {
				for _, p := range list(in, "ports") {
					if str(p, "port") == "metrics" {
						scrape = true
					}
				}
			}
			if !scrape {
				t.Error("NetworkPolicy parley: Prometheus cannot reach the metrics port")
			}
			var redisPort bool
			for _, e := range list(o, "spec", "egress") {
				if get(e, "ports", 0, "port") == 6379 {
					redisPort = true
				}
			}
			if !redisPort || !strings.HasSuffix(strings.TrimSuffix(settings["redis-url"], "/0"), ":6379") {
				t.Error("NetworkPolicy parley: no egress to Redis on the port --redis-url names")
			}
		}
	}
	if !defaultDeny || !nodePolicy {
		t.Errorf("NetworkPolicy: default deny %v, policy for the nodes %v; want both", defaultDeny, nodePolicy)
	}

	// Where kubectl is installed, kustomize must build the directory.
	if _, err := exec.LookPath("kubectl"); err == nil {
		out, err := exec.Command("kubectl", "kustomize", filepath.Join(deployDir, "kubernetes")).CombinedOutput()
		if err != nil {
			t.Errorf("kubectl kustomize: %v: %s", err, out)
		} else if n, want := len(regexp.MustCompile(`(?m)^kind: `).FindAll(out, -1)), len(objs)-len(byFile["secrets.example.yaml"])-len(byFile["rotate-master-key.job.yaml"])-1; n != want {
			t.Errorf("kubectl kustomize built %d objects, want %d", n, want)
		}
	} else {
		t.Log("kubectl is not installed here; structural checks only")
	}
}

// installArgs returns an init container's `admin install-master-key SRC
// DST`, checking SRC is in the named Secret's volume.
func installArgs(t *testing.T, where string, pod, init any, secret string) (src, dst string) {
	t.Helper()
	var args []string
	for _, a := range list(init, "args") {
		args = append(args, a.(string))
	}
	verb, rest := findVerb(args)
	if verb != "admin install-master-key" || len(rest) != 2 {
		t.Fatalf("%s: init container args %v, want admin install-master-key SRC DST", where, args)
	}
	v := mountFor(pod, init, rest[0])
	if str(v, "secret", "secretName") != secret {
		t.Errorf("%s: installs %s, which is not from Secret %s", where, rest[0], secret)
	}
	if mode, _ := get(v, "secret", "defaultMode").(int); mode&0o007 != 0 {
		t.Errorf("%s: Secret %s is mounted world-readable (%o)", where, secret, mode)
	}
	if str(mountFor(pod, init, rest[1]), "emptyDir", "medium") != "Memory" {
		t.Errorf("%s: installs the key at %s, not on a memory-backed volume", where, rest[1])
	}
	return rest[0], rest[1]
}

// checkRotationJob: the rotation Job runs the real verb with flags it
// accepts, on the keys its init containers install from the two Secrets.
func checkRotationJob(t *testing.T, objs []k8sObject, kust any) {
	t.Helper()
	job := find(t, objs, "Job", "parley-rotate-master-key")
	pod := get(job, "spec", "template", "spec")
	checkPodSecurity(t, "Job", pod)
	if str(job, "spec", "template", "metadata", "labels", "app.kubernetes.io/component") == "server" {
		t.Error("Job: labelled as a server, so the Service would send it traffic")
	}
	image := str(kust, "images", 0, "newName") + ":" + str(kust, "images", 0, "newTag")
	inits := list(pod, "initContainers")
	if len(inits) != 2 {
		t.Fatalf("Job: %d init containers, want 2", len(inits))
	}
	_, oldKey := installArgs(t, "Job", pod, inits[0], "parley-master-key")
	_, newKey := installArgs(t, "Job", pod, inits[1], "parley-master-key-new")
	c := get(pod, "containers", 0)
	for _, x := range append(inits, c) {
		if str(x, "image") != image {
			t.Errorf("Job: image %s, the Deployment runs %s", str(x, "image"), image)
		}
	}
	var args []string
	for _, a := range list(c, "args") {
		args = append(args, a.(string))
	}
	verb, rest := findVerb(args)
	if verb != "admin rotate-master-key" {
		t.Fatalf("Job: args %v do not run admin rotate-master-key", args)
	}
	if !slices.Contains(rest, "--master-key-file") || !slices.Contains(rest, oldKey) || !slices.Contains(rest, "--new-key-file") || !slices.Contains(rest, newKey) {
		t.Errorf("Job: %v does not rotate from %s to %s", rest, oldKey, newKey)
	}
	// The flags and the ConfigMap's variables parse: the verb gets as far
	// as loading the (absent) current key.
	for _, ef := range list(c, "envFrom") {
		for k, v := range get(find(t, objs, "ConfigMap", str(ef, "configMapRef", "name")), "data").(map[string]any) {
			t.Setenv(k, v.(string))
		}
	}
	standIn := filepath.Join(t.TempDir(), "stand-in")
	os.WriteFile(standIn, []byte("stand-in\n"), 0o600)
	t.Setenv("PARLEY_S3_SECRET_KEY_FILE", standIn)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var code int
	stderr := captureStderr(t, func() { code = run(ctx, args) })
	if code != 1 || !strings.Contains(stderr, "current key") {
		t.Errorf("Job: `parley %s` did not parse: exit %d: %s", strings.Join(args, " "), code, oneLine(stderr))
	}
}

// checkIngress: long timeouts for WebSockets, no buffering of documents,
// and exactly the public routes of the server's router.
func checkIngress(t *testing.T, ing, svc k8sObject) {
	t.Helper()
	ann, _ := get(ing, "metadata", "annotations").(map[string]any)
	for _, a := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
		if n, _ := strconv.Atoi(fmt.Sprint(ann["nginx.ingress.kubernetes.io/"+a])); n < 3600 {
			t.Errorf("Ingress: %s is %v s; idle WebSockets need 3600", a, ann["nginx.ingress.kubernetes.io/"+a])
		}
	}
	for _, a := range []string{"proxy-request-buffering", "proxy-buffering"} {
		if ann["nginx.ingress.kubernetes.io/"+a] != "off" {
			t.Errorf("Ingress: %s is not off: documents would be spooled to the controller's disk in plaintext", a)
		}
	}
	if list(ing, "spec", "tls") == nil {
		t.Error("Ingress: no TLS")
	}
	type route struct{ path, kind string }
	var routes []route
	for _, rule := range list(ing, "spec", "rules") {
		for _, p := range list(rule, "http", "paths") {
			if str(p, "backend", "service", "name") != str(svc, "metadata", "name") || str(p, "backend", "service", "port", "name") != str(svc, "spec", "ports", 0, "name") {
				t.Errorf("Ingress: path %s goes to %v, not the parley Service's port", str(p, "path"), get(p, "backend"))
			}
			routes = append(routes, route{str(p, "path"), str(p, "pathType")})
		}
	}
	routed := func(path string) bool {
		for _, r := range routes {
			if path == r.path || r.kind == "Prefix" && strings.HasPrefix(path, r.path+"/") {
				return true
			}
		}
		return false
	}
	internal := []string{"/metrics", "/healthz", "/readyz"}
	for _, pattern := range routerPatterns(t) {
		if slices.Contains(internal, pattern) {
			if routed(pattern) {
				t.Errorf("Ingress: routes %s, which is for the cluster only", pattern)
			}
		} else if !routed(pattern) {
			t.Errorf("Ingress: the server's route %s is not routed", pattern)
		}
	}
}

// routerPatterns lists the route patterns of a real node's router.
func routerPatterns(t *testing.T) []string {
	t.Helper()
	n, err := server.Open(t.Context(), server.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	routes, ok := n.Handler().(chi.Routes)
	if !ok {
		t.Fatal("the node's handler is not a chi router; update routerPatterns")
	}
	var out []string
	if err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if !slices.Contains(out, route) {
			out = append(out, route)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) < 10 {
		t.Fatalf("only %d routes found: %v", len(out), out)
	}
	return out
}

// ---- docs/operations.md ----

// commandRE finds parley invocations in shell lines: the binary at the
// start of a command (`parley …`, `/parley …` after `--`), or the image or
// compose service that runs it (`parley:local …`, `parley-1 …`).
var commandRE = regexp.MustCompile(`(?:(?:^|[;|&(]|\s--)\s*(?:/|\./|bin/)?parley|\bparley(?::local|-[0-9]))\s+([a-z][a-z-]*(?:\s+[a-z][a-z-]*){0,2})(?:\s|$)`)

// TestOperationsDocCommands: every `parley …` command in the operations
// guide's code blocks names a verb the binary has.
func TestOperationsDocCommands(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	var inCode bool
	var checked int
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inCode = !inCode
			continue
		}
		if !inCode {
			continue
		}
		for _, m := range commandRE.FindAllStringSubmatch(line, -1) {
			words := strings.Fields(m[1])
			if name, _ := findVerb(words); name == "" {
				t.Errorf("docs/operations.md: `parley %s` is not a command: %s", m[1], strings.TrimSpace(line))
			}
			checked++
		}
	}
	if checked < 5 {
		t.Fatalf("only %d parley commands found in docs/operations.md", checked)
	}
}

// warnRE finds a WARN or ERROR the code logs: slog's Warn, WarnContext,
// Error or ErrorContext, with an optional first argument (a context: ctx,
// r.Context(), …) and then the message, a string literal or an identifier
// joined to one (audit's `who+": …"`, which the table writes "…: …").
// Group 1 is the level, 2 the identifier before the literal, 3 the literal.
var warnRE = regexp.MustCompile(`\.(Warn|Error)(?:Context)?\((?:[a-zA-Z.]+(?:\(\))?, )?(?:([a-zA-Z]+)\+)?"([^"]+)"`)

// logCallRE finds every call of a logger's Warn or Error with arguments
// (err.Error() has none): each must be one warnRE reads, so a message built
// at run time cannot slip past the table unseen.
var logCallRE = regexp.MustCompile(`\.(?:Warn|Error)(?:Context)?\([^)]`)

// docRowRE finds the messages of a row of the troubleshooting table: the
// row starts with "| WARN " or "| ERROR ", and every `…` of its first cell
// is a message of that level (a row may name several, "(or `…`)" or
// "`…` / `…`"; the attributes in backquotes are read too, harmlessly).
var docRowRE = regexp.MustCompile("`([^`]+)`")

// operationsDocNotLogged are the WARNs and ERRORs the troubleshooting
// table leaves out on purpose, with why. Empty: every one is explained.
var operationsDocNotLogged = map[string]string{}

// operationsDocSkipDirs are the directories whose Go files are not the
// server's: test helpers imported only by tests (canary, e2e, mailpit,
// nodetest, testenv, storetest), the wire-type generator, the client
// library (it reports to its caller, never to the server's log) and the
// browser client's sources. cmd/parley is walked: `parley serve` logs
// there, and the CLI's own output is printed, not logged with slog.
var operationsDocSkipDirs = map[string]bool{
	"internal/canary": true, "internal/e2e": true, "internal/mailpit": true,
	"internal/nodetest": true, "internal/testenv": true, "objstore/storetest": true,
	"api/internal/tsgen": true, "client": true, "web/client": true,
}

// TestOperationsDocWarns: every WARN and ERROR the server logs with a
// constant message (every non-test Go file of the repository outside
// operationsDocSkipDirs) is in the troubleshooting table of the operations
// guide, a row starting "| WARN `<message>`" or "| ERROR `<message>`" with
// what it means and what to do, unless operationsDocNotLogged says why not.
func TestOperationsDocWarns(t *testing.T) {
	b, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{} // "WARN msg", "ERROR msg"
	for _, line := range strings.Split(string(b), "\n") {
		for _, level := range []string{"WARN", "ERROR"} {
			rest, ok := strings.CutPrefix(line, "| "+level+" `")
			if !ok {
				continue
			}
			cell, _, _ := strings.Cut("`"+rest, " | ")
			for _, m := range docRowRE.FindAllStringSubmatch(cell, -1) {
				rows[level+" "+m[1]] = true
			}
		}
	}
	root := "../.."
	checked := 0
	seen := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" ||
				d.Name() == "node_modules" || operationsDocSkipDirs[rel]) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if calls, read := len(logCallRE.FindAllIndex(src, -1)), len(warnRE.FindAllIndex(src, -1)); calls != read {
			t.Errorf("%s: %d calls of Warn or Error, of which %d with a message this test reads", rel, calls, read)
		}
		for _, m := range warnRE.FindAllStringSubmatch(string(src), -1) {
			level, msg := strings.ToUpper(m[1]), m[3]
			if m[2] != "" {
				msg = "…" + msg
			}
			checked++
			key := level + " " + msg
			seen[msg] = true
			if _, ok := operationsDocNotLogged[msg]; ok || rows[key] {
				continue
			}
			t.Errorf("%s logs %s %q, which docs/operations.md's troubleshooting table does not explain", rel, level, msg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for msg := range operationsDocNotLogged {
		if !seen[msg] {
			t.Errorf("operationsDocNotLogged names %q, which no file logs", msg)
		}
	}
	if checked < 40 {
		t.Fatalf("only %d WARNs and ERRORs found", checked)
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
