package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLiveExplainsLikeOffline: `test` against the registry, `test
// --tags-file` over the same names and `run` say the same about an
// allowTags that matches none of the 4 tags (issue 15, point 2: the live
// path said "the repository has no tags", seen 0, removed none).
func TestLiveExplainsLikeOffline(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("REG/team/app", "1.0.0")})
	cfg := w.config(`  - name: dev
    path: envs/dev
    images:
      - {image: REG/team/app, allowTags: '^v\d'}
`)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0", "latest", "1.1.0.sig")
	tagsFile := filepath.Join(w.dir, "tags.txt")
	if err := os.WriteFile(tagsFile, []byte("1.0.0\n1.1.0\n1.1.0.sig\nlatest\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	image := w.reg.Repo("team/app")
	explain := func(r result) []string {
		t.Helper()
		if r.code != 0 {
			t.Fatalf("exit %d\n%s", r.code, r.stderr)
		}
		var keep []string
		for _, l := range strings.Split(r.stdout, "\n") {
			for _, k := range []string{"tag:", "decision:", "seen:", "removed:", "candidates:"} {
				if strings.HasPrefix(l, k) {
					keep = append(keep, l)
				}
			}
		}
		return keep
	}
	for _, strategy := range []string{"semver", "newest-build"} {
		live := explain(w.run("test", image, "--config", cfg, "--strategy", strategy, "--allow-tags", `^v\d`, "--current", "1.0.0"))
		if strategy == "semver" {
			offline := explain(w.run("test", image, "--tags-file", tagsFile, "--allow-tags", `^v\d`, "--current", "1.0.0"))
			if strings.Join(live, "\n") != strings.Join(offline, "\n") {
				t.Errorf("live and offline differ:\nlive:\n%s\noffline:\n%s", strings.Join(live, "\n"), strings.Join(offline, "\n"))
			}
		}
		text := strings.Join(live, "\n")
		for _, want := range []string{"seen:       4 tags", "removed:    cosign 1, allowTags 3", "4 tags seen: 1 removed by cosign, 3 removed by allowTags"} {
			if !strings.Contains(text, want) {
				t.Errorf("%s: live explanation lacks %q:\n%s", strategy, want, text)
			}
		}
	}
	_, r := w.once()
	if !strings.Contains(r.stderr, "4 tags seen: 1 removed by cosign, 3 removed by allowTags") || strings.Contains(r.stderr, "no tags") {
		t.Errorf("run does not explain the allowTags:\n%s", r.stderr)
	}
}

// TestIgnoreTagsRegexp: `regexp:` entries drop what they match, through the
// binary, offline and against the registry alike (issue 15, point 5).
func TestIgnoreTagsRegexp(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("REG/team/app", "1.0.0")})
	cfg := w.config(`  - name: dev
    path: envs/dev
    images:
      - {image: REG/team/app, ignoreTags: ['regexp:-(debug|test)$', '*-old']}
`)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0", "1.2.0-debug", "1.3.0-test", "1.4.0-old")
	rep, r := w.once()
	if r.code != 0 || len(rep.Changes) != 1 || rep.Changes[0].To != "1.1.0" {
		t.Fatalf("exit %d, changes %+v\n%s", r.code, rep.Changes, r.stderr)
	}
	r = w.run("test", w.reg.Repo("team/app"), "--config", cfg, "--ignore-tags", "regexp:-(debug|test)$", "--ignore-tags", "*-old")
	if r.code != 0 || !strings.Contains(r.stdout, "removed:    ignoreTags 3") {
		t.Errorf("test: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = w.run("test", w.reg.Repo("team/app"), "--config", cfg, "--ignore-tags", "^v")
	if r.code != 2 || !strings.Contains(r.stderr, `write "regexp:^v"`) {
		t.Errorf("test --ignore-tags ^v: exit %d, want 2 with the fix\n%s", r.code, r.stderr)
	}
}
