package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const stagingOnly = `  - name: staging
    path: envs/staging
    images:
      - {image: REG/team/app, kustomizeName: team/app, strategy: semver, constraint: ">=1.0.0-0"}
`

// configMap lays a config out as the kubelet mounts a ConfigMap:
// dir/tagwatch.yaml -> ..data/tagwatch.yaml, ..data -> ..<version>/, and
// update swaps ..data atomically to a new version directory.
type configMap struct {
	t   *testing.T
	dir string
	n   int
}

func newConfigMap(t *testing.T, content string) *configMap {
	c := &configMap{t: t, dir: t.TempDir()}
	c.update(content)
	if err := os.Symlink(filepath.Join("..data", "tagwatch.yaml"), filepath.Join(c.dir, "tagwatch.yaml")); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *configMap) path() string { return filepath.Join(c.dir, "tagwatch.yaml") }

func (c *configMap) update(content string) {
	c.t.Helper()
	c.n++
	version := filepath.Join(c.dir, "..v"+string(rune('0'+c.n)))
	if err := os.Mkdir(version, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(version, "tagwatch.yaml"), []byte(content), 0o644); err != nil {
		c.t.Fatal(err)
	}
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(version), tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
}

// until reads the daemon's reports until one has changes, and returns them.
func (d *daemon) untilChanges(t *testing.T, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if rep := d.next(t, time.Until(deadline)); len(rep.Changes) > 0 {
			return moves(rep.Changes)
		}
	}
	t.Fatalf("no change within %s\n%s", within, d.stderr.String())
	return nil
}

// waitLog waits until the daemon's logs hold n entries containing s.
func (d *daemon) waitLog(t *testing.T, s string, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Count(d.stderr.String(), s) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the logs do not say %q %d times within %s:\n%s", s, n, within, d.stderr.String())
}

// TestReloadOnConfigMapChange: the daemon picks up a ConfigMap update (a
// symlink swap) between cycles; a bad config is logged, one entry per
// problem, and the running one kept (issue 15, point 8).
func TestReloadOnConfigMapChange(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	read := func(cfg string) string {
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	staging, both := read(w.config(stagingOnly)), read(w.config(stagingProduction))
	cm := newConfigMap(t, staging)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	d := w.startDaemon(cm.path(), nil, "--config-poll", "100ms")
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0"}, d.untilChanges(t, time.Minute)); diff != "" {
		t.Errorf("first cycle (-want +got):\n%s", diff)
	}

	bad := strings.Replace(staging, `constraint: ">=1.0.0-0"`, `constraint: "^^1", colour: blue`, 1)
	cm.update(bad)
	d.waitLog(t, "config not reloaded", 2, time.Minute)
	var entries int
	for _, l := range strings.Split(d.stderr.String(), "\n") {
		var e struct{ Msg, Field string }
		if json.Unmarshal([]byte(l), &e) == nil && strings.HasPrefix(e.Msg, "config not reloaded") {
			entries++
			if e.Field == "" || strings.Contains(e.Msg, "\n") {
				t.Errorf("log entry %q: want one problem with its field", l)
			}
		}
	}
	if entries != 2 {
		t.Errorf("%d log entries for the bad config, want one per problem (2)", entries)
	}
	// The old config keeps running.
	w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.0.1")
	if diff := cmp.Diff([]string{"staging 1.0.0->1.0.1"}, d.untilChanges(t, time.Minute)); diff != "" {
		t.Errorf("after the bad config (-want +got):\n%s", diff)
	}

	cm.update(both)
	d.waitLog(t, `"msg":"config reloaded"`, 1, time.Minute)
	if diff := cmp.Diff([]string{"production 0.9.0->1.0.1"}, d.untilChanges(t, time.Minute)); diff != "" {
		t.Errorf("after the reload (-want +got):\n%s", diff)
	}
}

// TestReloadOnSIGHUP: with file polling off, SIGHUP reloads; the new
// interval applies.
func TestReloadOnSIGHUP(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	cfg := w.config(stagingOnly)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	d := w.startDaemon(cfg, nil, "--config-poll", "0")
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0"}, d.untilChanges(t, time.Minute)); diff != "" {
		t.Errorf("first cycle (-want +got):\n%s", diff)
	}
	both := strings.Replace(string(mustRead(t, w.config(stagingProduction))), "interval: 1s", "interval: 2s", 1)
	if err := os.WriteFile(cfg, []byte(both), 0o600); err != nil {
		t.Fatal(err)
	}
	// Longer than the default --config-poll (5s): six cycles of 1s. A
	// daemon that ignored --config-poll 0 would have reloaded by then.
	const cycleDone = `"msg":"cycle done"`
	d.waitLog(t, cycleDone, strings.Count(d.stderr.String(), cycleDone)+6, time.Minute)
	if strings.Contains(d.stderr.String(), "config reloaded") {
		t.Fatalf("reloaded without SIGHUP while polling is off")
	}
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	d.waitLog(t, `"msg":"config reloaded"`, 1, time.Minute)
	if !strings.Contains(d.stderr.String(), `"interval":"2s","level":"info","msg":"config reloaded"`) {
		t.Errorf("the reload does not log the new interval:\n%s", d.stderr.String())
	}
	if diff := cmp.Diff([]string{"production 0.9.0->1.0.0"}, d.untilChanges(t, time.Minute)); diff != "" {
		t.Errorf("after SIGHUP (-want +got):\n%s", diff)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
