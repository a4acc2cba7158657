package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheck: `tagwatch check` reports every problem of every entry at
// once, the config's own and those of the files and secrets it names,
// without any network (issue 15, point 7).
func TestCheck(t *testing.T) {
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte("not a certificate\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unroutable hosts: a check that reached for the network would hang or fail differently.
	bad := fmt.Sprintf(`git:
  url: https://git.invalid/deploy.git
  auth: {passwordEnv: TW_E2E_CHECK_UNSET}
registries:
  - {prefix: registry.invalid, caFile: %s, credentials: 'file:%s'}
environments:
  - name: staging
    path: envs/staging
    images:
      - image: registry.invalid/team/app
        strategy: newest
        ignoreTags: ['^v.*$']
        platforms: [amd64]
  - name: prod
    path: ../prod
    images:
      - {image: registry.invalid/team/app, constraint: '^^1'}
`, caFile, filepath.Join(dir, "missing-credentials"))
	cfg := filepath.Join(dir, "tagwatch.yaml")
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"3 git.auth.passwordEnv",
		"5 registries[0].credentials",
		"5 registries[0].caFile",
		"11 environments[0].images[0].strategy",
		"12 environments[0].images[0].ignoreTags[0]",
		"13 environments[0].images[0].platforms[0]",
		"15 environments[1].path",
		"17 environments[1].images[0].constraint",
	}
	r := tagwatch(t, nil, "check", "--config", cfg)
	if r.code != 2 {
		t.Errorf("exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d lines, want one per problem (%d):\n%s", len(lines), len(want), r.stdout)
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, cfg+":") {
			t.Errorf("line does not start with the file: %q", l)
		}
	}

	r = tagwatch(t, nil, "check", "--config", cfg, "-o", "json")
	var got []struct {
		File, Field, Problem string
		Line                 int
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 2 {
		t.Fatalf("-o json: exit %d, %v\n%s", r.code, err, r.stdout)
	}
	var fields []string
	for _, p := range got {
		fields = append(fields, fmt.Sprintf("%d %s", p.Line, p.Field))
		if p.File != cfg || p.Problem == "" {
			t.Errorf("entry %+v", p)
		}
	}
	if diff := cmp.Diff(want, fields); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}

	// JSON logs: the error of a run is one entry per problem (point 10).
	r = tagwatch(t, nil, "--log-format", "json", "run", "--once", "--config", cfg, "--cache-dir", filepath.Join(dir, "cache"))
	entries := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if r.code != 2 || len(entries) != 5 { // the config's own problems; files and secrets are check's
		t.Errorf("run: exit %d, %d log entries, want 5 (one per problem):\n%s", r.code, len(entries), r.stderr)
	}
	for _, e := range entries {
		var entry struct{ Msg, Field string }
		if err := json.Unmarshal([]byte(e), &entry); err != nil || strings.Contains(entry.Msg, "\n") || entry.Field == "" {
			t.Errorf("log entry %q: %v", e, err)
		}
	}

	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("git: {url: https://git.invalid/deploy.git}\nenvironments:\n  - {name: staging, path: envs/staging, images: [{image: registry.invalid/team/app}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = tagwatch(t, nil, "check", "--config", good)
	if r.code != 0 || !strings.Contains(r.stdout, "no problems found") {
		t.Errorf("good config: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := tagwatch(t, nil, "check", "--config", good, "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Errorf("good config -o json: exit %d, %q", r.code, r.stdout)
	}
	if r := tagwatch(t, nil, "check"); r.code != 2 {
		t.Errorf("without --config: exit %d, want 2", r.code)
	}

	// A local repository takes no credentials: run never reads its
	// passwordEnv, so check does not demand it.
	repo := filepath.Join(dir, "deploy.git")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "local.yaml")
	if err := os.WriteFile(local, []byte("git: {url: 'file://"+repo+"', auth: {passwordEnv: TW_E2E_CHECK_UNSET}}\nenvironments:\n"+
		"  - {name: staging, path: envs/staging, images: [{image: registry.invalid/team/app}]}\n"+
		"  - {name: prod, git: {url: '"+repo+"/', auth: {passwordFile: "+filepath.Join(dir, "missing-password")+"}}, path: envs/prod, images: [{image: registry.invalid/team/app}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := tagwatch(t, nil, "check", "--config", local); r.code != 0 || !strings.Contains(r.stdout, "no problems found") {
		t.Errorf("local repository without credentials: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// One writer per field, through two spellings of one repository:
	// check names both environments (issue 17).
	twice := filepath.Join(dir, "twice.yaml")
	if err := os.WriteFile(twice, []byte("git: {url: https://git.invalid/deploy.git}\nenvironments:\n"+
		"  - {name: prod, path: envs/prod, images: [{image: registry.invalid/team/app}]}\n"+
		"  - {name: prod-copy, git: {url: 'https://git.invalid/deploy/'}, path: envs/prod, images: [{image: registry.invalid/team/app}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = tagwatch(t, nil, "check", "--config", twice)
	wantLine := twice + `:4: environments[1].images[0]: the kustomization of envs/prod, images entry "registry.invalid/team/app" is written by both prod-copy (environments[1].images[0]) and prod (environments[0].images[0]) (their git URLs name one repository, https://git.invalid/deploy)`
	if r.code != 2 || !strings.HasPrefix(strings.TrimSpace(r.stdout), wantLine) || strings.Count(strings.TrimSpace(r.stdout), "\n") != 0 {
		t.Errorf("one field, two environments: exit %d, want 2 and one line starting\n%s\ngot:\n%s%s", r.code, wantLine, r.stdout, r.stderr)
	}
}

// TestTestUsesTheConfigPolicy: `test --config F --env E IMAGE` takes the
// environment's policy; a flag given as well overrides its field.
func TestTestUsesTheConfigPolicy(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	cfg := w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0-rc.1")
	image := w.reg.Repo("team/app")
	for _, tc := range []struct {
		env   string
		extra []string
		want  string
	}{
		{"staging", nil, "1.1.0-rc.1"},
		{"production", nil, "1.0.0"},
		{"production", []string{"--constraint", ">=1.0.0-0"}, "1.1.0-rc.1"},
	} {
		r := w.run(append([]string{"test", image, "--config", cfg, "--env", tc.env, "-o", "json"}, tc.extra...)...)
		var got struct{ Tag string }
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || r.code != 0 || got.Tag != tc.want {
			t.Errorf("%s %v: exit %d, tag %q, want %q\n%s", tc.env, tc.extra, r.code, got.Tag, tc.want, r.stderr)
		}
	}
	r := w.run("test", image, "--config", cfg, "--env", "production")
	if !strings.Contains(r.stdout, "from:       "+cfg+": environments[1].images[0]") || !strings.Contains(r.stdout, `constraint ">=1.0.0"`) {
		t.Errorf("text output does not say where the policy comes from:\n%s", r.stdout)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--env", "qa"}, `has no environment "qa" (it has staging, production)`},
		{[]string{"--env", "staging", "--config", ""}, "--env needs --config"},
	} {
		args := append([]string{"test", image, "--config", cfg}, tc.args...)
		if r := w.run(args...); r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want 2 with %q\n%s", tc.args, r.code, tc.want, r.stderr)
		}
	}
	if r := w.run("test", w.reg.Repo("team/other"), "--config", cfg, "--env", "staging"); r.code != 2 || !strings.Contains(r.stderr, "does not watch") {
		t.Errorf("unwatched image: exit %d\n%s", r.code, r.stderr)
	}
}
