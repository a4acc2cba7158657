package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// historyRepo makes a remote whose history holds two tagwatch commits and a
// human one, and returns the bare repository and a clone of it.
func historyRepo(t *testing.T) (bare string, clone *testgit.Clone) {
	t.Helper()
	bare = testgit.NewBare(t, nil)
	clone = testgit.NewClone(t, bare)
	for i, msg := range []string{
		audit.Message("staging", []audit.Change{{Env: "staging", Image: "r.example.com/team/app", To: "1.0.0", Digest: "sha256:aa"}}),
		"docs: a human change\n",
		audit.Message("production", []audit.Change{{Env: "production", Image: "r.example.com/team/app", From: "0.9.0", To: "1.0.0", Digest: "sha256:aa"}}),
	} {
		if _, err := clone.CommitAndPush("f.txt", string(rune('a'+i)), msg); err != nil {
			t.Fatal(err)
		}
	}
	return bare, clone
}

func TestHistoryCommand(t *testing.T) {
	bare, clone := historyRepo(t)
	cache := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "tagwatch.yaml")
	if err := os.WriteFile(cfg, []byte("git: {url: 'file://"+bare+"', branch: main}\nenvironments:\n  - name: staging\n    path: envs/staging\n    images: [{image: r.example.com/team/app}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	type row struct{ Env, Image, From, To string }
	for _, tc := range []struct {
		name string
		args []string
		want []row
	}{
		{"local clone", []string{"--repo", clone.Dir}, []row{
			{"production", "r.example.com/team/app", "0.9.0", "1.0.0"}, {"staging", "r.example.com/team/app", "", "1.0.0"},
		}},
		{"bare repository", []string{"--repo", bare}, []row{
			{"production", "r.example.com/team/app", "0.9.0", "1.0.0"}, {"staging", "r.example.com/team/app", "", "1.0.0"},
		}},
		{"remote URL", []string{"--repo", "file://" + bare, "--cache-dir", cache, "--env", "staging"}, []row{
			{"staging", "r.example.com/team/app", "", "1.0.0"},
		}},
		{"config", []string{"--config", cfg, "--cache-dir", cache, "--image", "app", "--env", "production"}, []row{
			{"production", "r.example.com/team/app", "0.9.0", "1.0.0"},
		}},
		{"no match", []string{"--repo", clone.Dir, "--image", "other"}, []row{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := execute(t, append([]string{"history", "-o", "json"}, tc.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v in %q", err, out)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("history -o json (-want +got):\n%s", diff)
			}
		})
	}

	out, err := execute(t, "history", "--repo", clone.Dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[1], "0.9.0 → 1.0.0") || !strings.Contains(lines[2], "(none) → 1.0.0") {
		t.Errorf("history table:\n%s", out)
	}
}

func TestHistoryUsage(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("git: {url: x}\nenvironments: []\nbogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"bad output", []string{"history", "-o", "yaml", "--repo", dir}, exitUsage},
		{"config and repo", []string{"history", "--config", bad, "--repo", dir}, exitUsage},
		{"bad config", []string{"history", "--config", bad}, exitUsage},
		{"missing config", []string{"history", "--config", filepath.Join(dir, "nope.yaml")}, exitUsage},
		{"not a repository", []string{"history", "--repo", dir}, exitFailed},
		{"argument", []string{"history", "extra"}, exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := run(tc.args); got != tc.want {
				t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
			}
		})
	}
}

func TestHistoryShallowClone(t *testing.T) {
	bare, clone := historyRepo(t)
	shallow := filepath.Join(t.TempDir(), "shallow")
	testgit.Git(t, "", "clone", "--quiet", "--depth", "1", "file://"+bare, shallow)
	if !isShallow(shallow) || isShallow(clone.Dir) {
		t.Fatalf("isShallow: shallow clone %v, full clone %v", isShallow(shallow), isShallow(clone.Dir))
	}
	out, err := execute(t, "history", "--repo", shallow, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"env": "production"`) || strings.Contains(out, `"env": "staging"`) {
		t.Errorf("history of a depth-1 clone = %s; want the head's change only", out)
	}
}

// TestHistoryConfigOverHTTP: --config reads the password from the variable
// the config names and clones over smart HTTP with basic auth; without the
// variable it fails with exit status 2, never printing a secret.
func TestHistoryConfigOverHTTP(t *testing.T) {
	bare, _ := historyRepo(t)
	srv := testgit.ServeHTTP(t, bare)
	cfg := filepath.Join(t.TempDir(), "tagwatch.yaml")
	y := "git:\n  url: " + srv.URL + "\n  auth: {username: " + srv.Username + ", passwordEnv: TAGWATCH_TEST_GIT_TOKEN}\n" +
		"environments:\n  - name: staging\n    path: envs/staging\n    images: [{image: r.example.com/team/app}]\n"
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := run([]string{"history", "--config", cfg, "--cache-dir", t.TempDir()}); got != exitUsage {
		t.Errorf("history without the token: exit %d, want %d", got, exitUsage)
	}
	t.Setenv("TAGWATCH_TEST_GIT_TOKEN", srv.Password)
	out, err := execute(t, "history", "--config", cfg, "--cache-dir", t.TempDir(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.JSONEntry
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 2 {
		t.Fatalf("history over HTTP = %s (%v); want 2 entries", out, err)
	}
	if strings.Contains(out, srv.Password) {
		t.Errorf("output holds the password: %s", out)
	}
}

// TestHistoryConfigManyRepositories: history --config reads every
// repository of the config, names each entry's repository and merges them
// newest first; --env keeps one environment's.
func TestHistoryConfigManyRepositories(t *testing.T) {
	first, _ := historyRepo(t)
	second := testgit.NewBare(t, nil)
	c := testgit.NewClone(t, second)
	if _, err := c.CommitAndPush("g.txt", "x", audit.Message("web", []audit.Change{{Env: "web", Image: "r.example.com/team/web", From: "1", To: "2"}})); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "tagwatch.yaml")
	y := "git: {url: file://" + first + "}\nenvironments:\n" +
		"  - {name: staging, path: envs/staging, images: [{image: r.example.com/team/app}]}\n" +
		"  - {name: production, path: envs/production, images: [{image: r.example.com/team/app}]}\n" +
		"  - {name: web, git: {url: file://" + second + "}, path: envs/web, images: [{image: r.example.com/team/web}]}\n"
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := execute(t, "history", "--config", cfg, "--cache-dir", t.TempDir(), "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.JSONEntry
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	var rows []string
	for i, e := range got {
		rows = append(rows, e.Repository+" "+e.Env)
		if i > 0 && e.Time.After(got[i-1].Time) {
			t.Errorf("entry %d is newer than the one before it: %s", i, out)
		}
	}
	slices.Sort(rows)
	want := []string{"file://" + first + " production", "file://" + first + " staging", "file://" + second + " web"}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("history --config (-want +got):\n%s", diff)
	}
	text, err := execute(t, "history", "--config", cfg, "--cache-dir", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, "REPOSITORY") || !strings.Contains(text, "file://"+second) {
		t.Errorf("the table of several repositories has no REPOSITORY column:\n%s", text)
	}
	out, err = execute(t, "history", "--config", cfg, "--cache-dir", t.TempDir(), "--env", "web", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || len(got) != 1 || got[0].Env != "web" {
		t.Errorf("history --env web = %s (%v); want web's entry only", out, err)
	}
}
