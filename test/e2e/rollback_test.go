package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRollbackCommand: `tagwatch rollback` moves an environment back with
// a Tagwatch-Rollback trailer, the next cycles hold the image with the
// reason, `--clear` lifts it, and `history` shows both.
func TestRollbackCommand(t *testing.T) {
	w := newWorld(t, twoOverlays("1.0.0"))
	cfg := w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.1.0")
	image := w.reg.Repo("team/app")
	if rep, r := w.once(); len(rep.Changes) != 2 {
		t.Fatalf("first cycle: %+v\n%s", rep, r.stderr)
	}
	cache := filepath.Join(w.dir, "cache")
	r := w.run("rollback", "--config", cfg, "--env", "production", image, "--cache-dir", cache)
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back production: "+image+" 1.1.0 -> 1.0.0") {
		t.Fatalf("rollback: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := w.show("envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("production after the rollback:\n%s", got)
	}
	rep, _ := w.once()
	if len(rep.Changes) != 0 || len(rep.Held) != 1 || rep.Held[0].Env != "production" || !strings.HasPrefix(rep.Held[0].Reason, "rolled back in ") {
		t.Errorf("after the rollback: %+v", rep)
	}
	r = w.run("rollback", "--config", cfg, "--env", "production", "app", "--clear", "--cache-dir", cache)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "cleared production: "+image) {
		t.Fatalf("rollback --clear: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if rep, _ := w.once(); !cmp.Equal([]string{"production 1.0.0->1.1.0"}, moves(rep.Changes)) {
		t.Errorf("after --clear: %+v", rep)
	}
	r = w.run("history", "--config", cfg, "--env", "production", "-o", "json", "--cache-dir", cache)
	var entries []struct{ Kind, From, To string }
	if err := json.Unmarshal([]byte(r.stdout), &entries); err != nil {
		t.Fatalf("history: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	var kinds []string
	for _, e := range entries {
		kinds = append(kinds, e.Kind+" "+e.From+"->"+e.To)
	}
	if diff := cmp.Diff([]string{"update 1.0.0->1.1.0", "cleared ->", "rollback 1.1.0->1.0.0", "update 1.0.0->1.1.0"}, kinds); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	// Nothing to roll back: a usage error, exit 2.
	if r := w.run("rollback", "--config", cfg, "--env", "staging", image, "--to", "1.1.0", "--cache-dir", cache); r.code != 2 {
		t.Errorf("a rollback to the value in Git: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

// TestTestShowsTheGate: `tagwatch test --config F --env E IMAGE` shows the
// environment's promotion gate as a cycle would find it now.
func TestTestShowsTheGate(t *testing.T) {
	w := newWorld(t, twoOverlays("1.0.0"))
	cfg := w.config(strings.Replace(stagingProduction, "  - name: production\n", "  - name: production\n    promotion: {from: staging, soak: 1h}\n", 1))
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.1.0")
	if rep, r := w.once(); !cmp.Equal([]string{"staging 1.0.0->1.1.0"}, moves(rep.Changes)) {
		t.Fatalf("first cycle: %+v\n%s", rep, r.stderr)
	}
	r := tagwatch(t, []string{tokenEnv + "=" + w.git.Password, "XDG_CACHE_HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()},
		"test", w.reg.Repo("team/app"), "--config", cfg, "--env", "production")
	if r.code != 0 || !strings.Contains(r.stdout, "gate:       from staging, closed (held): waiting: staging has run sha256:") || !strings.Contains(r.stdout, " of 1h") {
		t.Errorf("test --env production: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	r = tagwatch(t, []string{tokenEnv + "=" + w.git.Password, "XDG_CACHE_HOME=" + t.TempDir()},
		"test", w.reg.Repo("team/app"), "--config", cfg, "--env", "production", "-o", "json")
	var out struct {
		Gate struct {
			From   string
			Open   bool
			Reason string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Gate.From != "staging" || out.Gate.Open || !strings.HasPrefix(out.Gate.Reason, "waiting:") {
		t.Errorf("test -o json: %v %+v\n%s", err, out, r.stderr)
	}
}
