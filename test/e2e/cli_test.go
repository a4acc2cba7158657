package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestBadConfigExitsTwoNamingTheField(t *testing.T) {
	dir := t.TempDir()
	const good = `git: {url: https://git.example.com/deploy.git}
environments:
  - name: staging
    path: envs/staging
    images:
      - {image: registry.example.com/team/app, constraint: ">=1.0.0"}
`
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown field", strings.Replace(good, "constraint:", "constrain:", 1), "constrain"},
		{"invalid constraint", strings.Replace(good, ">=1.0.0", ">=one", 1), "constraint"},
		{"invalid strategy", strings.Replace(good, "constraint:", "strategy: newest, constraint:", 1), "strategy"},
		{"path leaves the repository", strings.Replace(good, "envs/staging", "../elsewhere", 1), "path"},
		{"duplicate environment", good + strings.SplitN(good, "environments:\n", 2)[1], "name"},
		{"bad interval", good + "interval: soon\n", "interval"},
		{"invalid allowTags", strings.Replace(good, "constraint:", "allowTags: '(', constraint:", 1), "allowTags"},
		{"regexp-looking ignoreTags", strings.Replace(good, "constraint:", "ignoreTags: ['^v.*$'], constraint:", 1),
			`ignoreTags[0]: "^v.*$": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^v.*$"`},
		{"one field, two environments", good + strings.Replace(strings.Replace(strings.SplitN(good, "environments:\n", 2)[1], "staging\n", "staging-v2\n", 1), ">=1.0.0", "^2", 1),
			"environments[1].images[0]: the kustomization of envs/staging, images entry \"registry.example.com/team/app\" is written by both staging-v2 (environments[1].images[0]) and staging (environments[0].images[0])"},
		{"one field, two spellings of one repository", good + "  - name: staging-v2\n    git: {url: 'https://GIT.example.com/deploy/'}\n    path: envs/staging\n    images: [{image: registry.example.com/team/app}]\n",
			"is written by both staging-v2 (environments[1].images[0]) and staging (environments[0].images[0]) (their git URLs name one repository, https://git.example.com/deploy)"},
		{"the default branch and a named one", good + "  - name: next\n    git: {branch: main}\n    path: envs/next\n    images: [{image: registry.example.com/team/app}]\n",
			"environments[1].git.branch: environment next writes branch main of https://git.example.com/deploy, and environment staging its default branch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			r := tagwatch(t, nil, "run", "--config", p, "--once", "--dry-run", "-o", "json", "--cache-dir", filepath.Join(dir, "cache"))
			if r.code != 2 {
				t.Errorf("exit %d, want 2\nstderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stderr, filepath.Base(p)) {
				t.Errorf("stderr does not name the file and %q:\n%s", tc.want, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout not empty:\n%s", r.stdout)
			}
		})
	}
	secretCfg := filepath.Join(dir, "secret.yaml")
	withSecret := strings.Replace(good, "url: https://git.example.com/deploy.git", "url: https://git.example.com/deploy.git, auth: {passwordEnv: TW_E2E_UNSET_TOKEN}", 1)
	if err := os.WriteFile(secretCfg, []byte(withSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no config", []string{"run", "--once"}, "--config"},
		{"missing file", []string{"run", "--config", filepath.Join(dir, "nope.yaml"), "--once"}, "nope.yaml"},
		{"bad output", []string{"run", "--config", "x.yaml", "-o", "yaml"}, "-o"},
		{"stray argument", []string{"run", "extra"}, "extra"},
		{"unset password variable", []string{"run", "--config", secretCfg, "--once"}, "TW_E2E_UNSET_TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tagwatch(t, nil, tc.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 with %q in stderr:\n%s", r.code, tc.want, r.stderr)
			}
		})
	}
}

func TestHistoryAfterSeveralCycles(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	cfg := w.config(stagingProduction)
	for i, tag := range []string{"1.0.0", "1.1.0-rc.1", "1.1.0"} {
		w.reg.PushImage(t, "team/app", t0.Add(time.Duration(i)*time.Hour), tag)
		if _, r := w.once(); r.code != 0 {
			t.Fatalf("cycle %d: exit %d\n%s", i, r.code, r.stderr)
		}
	}
	r := w.run("history", "--config", cfg, "-o", "json", "--cache-dir", filepath.Join(w.dir, "cache"))
	if r.code != 0 {
		t.Fatalf("history: exit %d\n%s", r.code, r.stderr)
	}
	var entries []struct{ Env, From, To, Digest, Commit string }
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("history -o json: %v\n%s", err, r.stdout)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Env+" "+e.From+"->"+e.To)
		if !strings.HasPrefix(e.Digest, "sha256:") || e.Commit == "" {
			t.Errorf("entry %+v lacks digest or commit", e)
		}
	}
	want := []string{ // newest first
		"production 1.0.0->1.1.0", "staging 1.1.0-rc.1->1.1.0",
		"staging 1.0.0->1.1.0-rc.1",
		"production 0.9.0->1.0.0", "staging 0.9.0->1.0.0",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	r = w.run("history", "--config", cfg, "--env", "production", "--cache-dir", filepath.Join(w.dir, "cache"))
	if r.code != 0 || strings.Count(r.stdout, "production") != 2 || strings.Contains(r.stdout, "staging") {
		t.Errorf("history --env production: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestDaemonHealthAndCleanStop(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	cfg := w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	addr := freeAddr(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "run", "--config", cfg, "--listen", addr, "-o", "json",
		"--cache-dir", filepath.Join(w.dir, "cache"), "--log-format", "json")
	cmd.Env = append(os.Environ(), tokenEnv+"="+w.git.Password)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reports := make(chan report, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rep report
			if json.Unmarshal(sc.Bytes(), &rep) == nil {
				reports <- rep
			}
		}
		close(reports)
	}()

	// The first cycle makes the changes; the daemon then becomes ready.
	select {
	case rep := <-reports:
		if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0", "production 0.9.0->1.0.0"}, moves(rep.Changes)); diff != "" {
			t.Errorf("first cycle (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatalf("no report from the daemon\n%s", stderr.String())
	}
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+addr+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q", code, body)
	}
	// A tag pushed while it runs is picked up by a later cycle.
	w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.0.1")
	for rep := range reports {
		if len(rep.Changes) > 0 {
			if diff := cmp.Diff([]string{"staging 1.0.0->1.0.1", "production 1.0.0->1.0.1"}, moves(rep.Changes)); diff != "" {
				t.Errorf("later cycle (-want +got):\n%s", diff)
			}
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for range reports {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGTERM: %v, want exit 0\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("logs do not say it stopped:\n%s", stderr.String())
	}
}

func TestDemo(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "demo")
	// No setup: not even git on the PATH.
	r := tagwatch(t, []string{"PATH=" + t.TempDir()}, "demo", "--keep", keep)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"Step 1.", "Step 2.", "Step 3.", "production  no change", "Tagwatch-Update: env=production", "The repository is kept in " + keep} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.stderr != "" {
		t.Errorf("demo wrote to stderr:\n%s", r.stderr)
	}
	r = tagwatch(t, nil, "history", "--repo", "file://"+filepath.Join(keep, "deploy.git"), "-o", "json", "--cache-dir", t.TempDir())
	var entries []json.RawMessage
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &entries) != nil || len(entries) != 5 {
		t.Errorf("history of the kept demo repository: exit %d, %d entries\n%s\n%s", r.code, len(entries), r.stdout, r.stderr)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, fmt.Sprint(strings.TrimSpace(string(b)))
}
