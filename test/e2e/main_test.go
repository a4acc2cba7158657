package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testkube"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// binary is the tagwatch built by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tagwatch-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "tagwatch")
	out, err := exec.Command("go", "build", "-o", binary, "github.com/tagwatch/tagwatch/cmd/tagwatch").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building tagwatch: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testkube.Main(m) // m.Run, then the shared kube-apiserver stops
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the binary left.
type result struct {
	stdout, stderr string
	code           int
}

// tagwatch runs the binary with args and extra environment variables.
func tagwatch(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running tagwatch %v: %v", args, err)
	}
	return r
}

// report is `run --once -o json`.
type report struct {
	Changes []change `json:"changes"`
	Held    []change `json:"held"`
	Errors  []struct {
		Env, Image, Error string
	} `json:"errors"`
	Commits []string `json:"commits"`
}

type change struct {
	Env, Image, File, From, To, Digest, Reason string
	Files                                      []string
}

// world is a registry with auth, a git remote over smart HTTP and a config.
type world struct {
	t      testing.TB
	reg    *testreg.Target
	bare   string
	git    *testgit.HTTPServer
	dir    string // config and cache
	gitURL string
}

const tokenEnv = "TW_E2E_GIT_TOKEN"

// newWorld starts the servers; files seed the repository ("REG" in them
// stands for the registry's host).
func newWorld(t testing.TB, files map[string]string) *world {
	t.Helper()
	return newWorldWith(t, files, testreg.DistributionOptions{Auth: true})
}

// newWorldWith is newWorld with the registry's options.
func newWorldWith(t testing.TB, files map[string]string, opts testreg.DistributionOptions) *world {
	t.Helper()
	w := &world{t: t, reg: testreg.StartDistribution(t, opts), dir: t.TempDir()}
	seed := map[string]string{}
	for k, v := range files {
		seed[k] = w.expand(v)
	}
	w.bare = testgit.NewBare(t, seed)
	w.git = testgit.ServeHTTP(t, w.bare)
	w.gitURL = w.git.URL
	return w
}

func (w *world) expand(s string) string { return strings.ReplaceAll(s, "REG", w.reg.Host) }

// config writes tagwatch.yaml: the git remote and registry of the world,
// then environments (YAML, "REG" expanded).
func (w *world) config(environments string) string {
	w.t.Helper()
	cfg := fmt.Sprintf(`git:
  url: %s
  branch: main
  author: {name: tagwatch-e2e, email: e2e@example.com}
  auth: {username: %s, passwordEnv: %s}
registries:
  - prefix: %s
    insecure: true
    credentials: %s
interval: 1s
environments:
%s`, w.gitURL, w.git.Username, tokenEnv, w.reg.Host, w.reg.CredentialsFile(w.t), w.expand(environments))
	p := filepath.Join(w.dir, "tagwatch.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// run runs tagwatch with the world's token and cache.
func (w *world) run(args ...string) result {
	w.t.Helper()
	return tagwatch(w.t, []string{tokenEnv + "=" + w.git.Password}, args...)
}

// once runs one cycle with -o json and decodes the report.
func (w *world) once(extra ...string) (report, result) {
	w.t.Helper()
	args := append([]string{"run", "--config", filepath.Join(w.dir, "tagwatch.yaml"), "--once", "-o", "json",
		"--cache-dir", filepath.Join(w.dir, "cache")}, extra...)
	r := w.run(args...)
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		w.t.Fatalf("stdout is not one JSON report: %v\nstdout:\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, w.git.Password) || strings.Contains(r.stderr, w.reg.Pass) {
		w.t.Errorf("a secret appears in the logs:\n%s", r.stderr)
	}
	return rep, r
}

// promote runs `tagwatch promote` as a user would, with the registry's
// credentials in a docker config.json.
func (w *world) promote(src string, tags ...string) {
	w.t.Helper()
	dir := w.t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(w.reg.User + ":" + w.reg.Pass))
	cfg := fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, w.reg.Host, auth)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	r := tagwatch(w.t, []string{"DOCKER_CONFIG=" + dir}, append([]string{"promote", "--insecure", src}, tags...)...)
	if r.code != 0 {
		w.t.Fatalf("promote %s %v: exit %d\n%s", src, tags, r.code, r.stderr)
	}
}

func (w *world) show(path string) string {
	w.t.Helper()
	return testgit.Show(w.t, w.bare, "main", path)
}

// kustomization is an overlay whose images entry name is at tag.
func kustomization(name, tag string) string {
	return "resources:\n  - ../../base\nimages:\n  - name: " + name + "\n    newTag: " + tag + "\n"
}

// moves lists the changes as "env from->to".
func moves(cs []change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Env+" "+c.From+"->"+c.To)
	}
	return out
}

// daemon is a `tagwatch run` running in the background, its JSON reports
// read from stdout as they come.
type daemon struct {
	cmd     *exec.Cmd
	reports chan report
	stderr  *lockedBuilder
}

// startDaemon runs `tagwatch run --config cfg -o json --log-format json`
// with the world's token and cache, and extra arguments; the test's end
// stops it.
func (w *world) startDaemon(cfg string, env []string, extra ...string) *daemon {
	w.t.Helper()
	args := append([]string{"run", "--config", cfg, "-o", "json", "--cache-dir", filepath.Join(w.dir, "cache"), "--log-format", "json"}, extra...)
	return startTagwatch(w.t, append([]string{tokenEnv + "=" + w.git.Password}, env...), args...)
}

// startTagwatch runs the binary with args (and extra environment
// variables) in the background, its JSON reports read from stdout as they
// come; the test's end stops it (SIGTERM, then SIGKILL after 30 s).
func startTagwatch(t testing.TB, env []string, args ...string) *daemon {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{cmd: cmd, reports: make(chan report, 256), stderr: &lockedBuilder{}}
	cmd.Stderr = d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rep report
			if json.Unmarshal(sc.Bytes(), &rep) == nil {
				d.reports <- rep
			}
		}
		close(d.reports)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	return d
}

// next waits for the daemon's next report.
func (d *daemon) next(t testing.TB, within time.Duration) report {
	t.Helper()
	select {
	case rep, ok := <-d.reports:
		if !ok {
			t.Fatalf("the daemon ended\n%s", d.stderr.String())
		}
		return rep
	case <-time.After(within):
		t.Fatalf("no report within %s\n%s", within, d.stderr.String())
	}
	return report{}
}

// lockedBuilder is a strings.Builder safe for a writer and a reader.
type lockedBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuilder) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
