package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const stagingProduction = `  - name: staging
    path: envs/staging
    images:
      - {image: REG/team/app, kustomizeName: team/app, strategy: semver, constraint: ">=1.0.0-0"}
  - name: production
    path: envs/production
    images:
      - {image: REG/team/app, kustomizeName: team/app, strategy: semver, constraint: ">=1.0.0"}
`

func twoOverlays(tag string) map[string]string {
	return map[string]string{
		"base/kustomization.yaml":            "resources: []\n",
		"envs/staging/kustomization.yaml":    kustomization("team/app", tag),
		"envs/production/kustomization.yaml": kustomization("team/app", tag),
	}
}

func TestPromotionPerEnvironment(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	w.config(stagingProduction)
	image := w.reg.Repo("team/app")

	steps := []struct {
		name string
		act  func()
		want []string
	}{
		{"push 1.0.0: both follow", func() { w.reg.PushImage(t, "team/app", t0, "1.0.0") },
			[]string{"staging 0.9.0->1.0.0", "production 0.9.0->1.0.0"}},
		{"push a release candidate: staging only", func() { w.reg.PushImage(t, "team/app", t0.Add(time.Hour), "1.1.0-rc.1") },
			[]string{"staging 1.0.0->1.1.0-rc.1"}},
		{"nothing new: nothing to do", func() {}, nil},
		{"promote by retag: production follows", func() { w.promote(image+":1.1.0-rc.1", "1.1.0") },
			[]string{"staging 1.1.0-rc.1->1.1.0", "production 1.0.0->1.1.0"}},
	}
	for _, st := range steps {
		st.act()
		rep, r := w.once()
		if r.code != 0 {
			t.Fatalf("%s: exit %d\n%s", st.name, r.code, r.stderr)
		}
		if diff := cmp.Diff(st.want, moves(rep.Changes)); diff != "" {
			t.Errorf("%s: changes (-want +got):\n%s", st.name, diff)
		}
		if len(rep.Commits) != len(st.want) {
			t.Errorf("%s: %d commits, want one per environment changed (%d)", st.name, len(rep.Commits), len(st.want))
		}
		for _, c := range rep.Changes {
			if c.Image != image || !strings.HasPrefix(c.Digest, "sha256:") || c.File != "envs/"+c.Env+"/kustomization.yaml" {
				t.Errorf("%s: change %+v", st.name, c)
			}
		}
	}
	if got := w.show("envs/production/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") || !strings.Contains(got, "newName: "+image) {
		t.Errorf("production kustomization:\n%s", got)
	}
	// Each cycle that changed something pushed once.
	if st := w.git.Stats(); st.ReceivePack != 3 {
		t.Errorf("%d pushes, want 3 (one per cycle with changes)", st.ReceivePack)
	}
}

func TestNamingSchemeWithExtract(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("team/app", "main-9-aaaaaaa")})
	w.config(`  - name: dev
    path: envs/dev
    images:
      - image: REG/team/app
        kustomizeName: team/app
        strategy: numerical
        allowTags: '^main-(?P<build>\d+)-[0-9a-f]{7}$'
        extract: '$build'
`)
	for i, tag := range []string{"main-9-aaaaaaa", "main-10-bbbbbbb", "main-2-ccccccc", "pr-99-ddddddd", "main-x-eeeeeee"} {
		w.reg.PushImage(t, "team/app", t0.Add(time.Duration(i)*time.Minute), tag)
	}
	rep, r := w.once()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"dev main-9-aaaaaaa->main-10-bbbbbbb"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestDigestOfMutableTag(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("team/app", "latest")})
	w.config(`  - name: dev
    path: envs/dev
    images:
      - {image: REG/team/app, kustomizeName: team/app, strategy: digest, constraint: latest}
`)
	for i := range 2 {
		d := w.reg.PushImage(t, "team/app", t0.Add(time.Duration(i)*time.Hour), "latest")
		rep, r := w.once()
		if r.code != 0 {
			t.Fatalf("push %d: exit %d\n%s", i, r.code, r.stderr)
		}
		if len(rep.Changes) != 1 || rep.Changes[0].Digest != d || rep.Changes[0].To != "latest" {
			t.Fatalf("push %d: changes %+v, want latest@%s", i, rep.Changes, d)
		}
		if got := w.show("envs/dev/kustomization.yaml"); !strings.Contains(got, d) {
			t.Errorf("push %d: kustomization does not pin %s:\n%s", i, d, got)
		}
	}
	// The tag did not move: nothing to do.
	if rep, _ := w.once(); len(rep.Changes) != 0 {
		t.Errorf("unchanged digest: changes %+v", rep.Changes)
	}
}

func TestNoDowngradeHolds(t *testing.T) {
	files := twoOverlays("0.9.0")
	files["envs/staging/kustomization.yaml"] = kustomization("team/app", "2.0.0")
	w := newWorld(t, files)
	w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.5.0")
	rep, r := w.once()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"staging 2.0.0->1.5.0"}, moves(rep.Held)); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"production 0.9.0->1.5.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := w.show("envs/staging/kustomization.yaml"); got+"\n" != kustomization("team/app", "2.0.0") {
		t.Errorf("staging changed:\n%s", got)
	}
}

func TestMalformedOverlayFailsAlone(t *testing.T) {
	files := twoOverlays("0.9.0")
	const broken = "images:\n  - name: team/app\n    newTag: [0.9.0\n"
	files["envs/staging/kustomization.yaml"] = broken
	w := newWorld(t, files)
	w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	rep, r := w.once()
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (a target failed)\n%s", r.code, r.stderr)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Env != "staging" || !strings.Contains(rep.Errors[0].Error, "envs/staging/kustomization.yaml") {
		t.Errorf("errors %+v, want one naming staging's kustomization", rep.Errors)
	}
	if diff := cmp.Diff([]string{"production 0.9.0->1.0.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := w.show("envs/staging/kustomization.yaml"); got+"\n" != broken {
		t.Errorf("the malformed file changed:\n%s", got)
	}
}

func TestRacingForeignCommit(t *testing.T) {
	// A proxy in front of the git server lets a person push in the middle
	// of tagwatch's push: just before the server advertises the branch for
	// the push, or just before the pack and ref update arrive.
	for _, tc := range []struct {
		name  string
		match func(*http.Request) bool
	}{
		{"before the advertisement", func(r *http.Request) bool {
			return r.Method == http.MethodGet && r.URL.Query().Get("service") == "git-receive-pack"
		}},
		{"before the ref update", func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, twoOverlays("0.9.0"))
			upstream, err := url.Parse(w.git.URL)
			if err != nil {
				t.Fatal(err)
			}
			foreign := testgit.NewClone(t, w.bare)
			var once sync.Once
			var foreignCommit string
			proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: upstream.Scheme, Host: upstream.Host})
			srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, req *http.Request) {
				if tc.match(req) {
					once.Do(func() {
						h, err := foreign.CommitAndPush("envs/staging/kustomization.yaml", kustomization("team/app", "1.0.0"), "staging: 1.0.0 by hand")
						if err != nil {
							t.Error(err)
						}
						foreignCommit = h
					})
				}
				proxy.ServeHTTP(rw, req)
			}))
			defer srv.Close()
			w.gitURL = srv.URL + upstream.Path
			w.config(stagingProduction)
			w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0")

			rep, r := w.once()
			if r.code != 0 {
				t.Fatalf("exit %d\n%s", r.code, r.stderr)
			}
			if foreignCommit == "" || !testgit.IsAncestor(t, w.bare, foreignCommit, "main") {
				t.Fatalf("the foreign commit %q is not in main", foreignCommit)
			}
			// The edits were re-applied on the foreign commit: staging moves on from 1.0.0.
			if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0", "production 0.9.0->1.1.0"}, moves(rep.Changes)); diff != "" {
				t.Errorf("changes after the race (-want +got):\n%s", diff)
			}
			if got := w.show("envs/staging/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
				t.Errorf("staging:\n%s", got)
			}
		})
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	w.config(stagingProduction)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	head := testgit.Head(t, w.bare, "main")
	rep, r := w.once("--dry-run")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0", "production 0.9.0->1.0.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("dry run changes (-want +got):\n%s", diff)
	}
	if len(rep.Commits) != 0 {
		t.Errorf("dry run commits %v", rep.Commits)
	}
	if got := testgit.Head(t, w.bare, "main"); got != head {
		t.Errorf("dry run moved main from %s to %s", head, got)
	}
	if st := w.git.Stats(); st.ReceivePack != 0 {
		t.Errorf("dry run pushed %d times", st.ReceivePack)
	}
	// Text output says what would change.
	r = w.run("run", "--config", w.dir+"/tagwatch.yaml", "--once", "--dry-run", "--cache-dir", w.dir+"/cache")
	if r.code != 0 || !strings.Contains(r.stdout, "would update production: "+w.reg.Repo("team/app")+" 0.9.0 -> 1.0.0") {
		t.Errorf("text dry run: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestHelmValuesAndMarkers(t *testing.T) {
	w := newWorld(t, map[string]string{
		"envs/prod/values.yaml": "image:\n  repository: REG/team/app # the chart's image\n  tag: \"1.0.0\"\n",
		"envs/prod/cronjob.yaml": "apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n            - name: migrate\n" +
			"              image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
	})
	w.config(`  - name: prod
    path: envs/prod
    images:
      - image: REG/team/app
        constraint: ^1
        writeDigest: true
        helm: {file: values.yaml, repository: image.repository, tag: image.tag}
`)
	d := w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.2.0")
	rep, r := w.once()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"prod 1.0.0->1.2.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"envs/prod/values.yaml":  "  tag: \"1.2.0@" + d + "\"",
		"envs/prod/cronjob.yaml": "image: " + w.reg.Repo("team/app") + ":1.2.0@" + d + " # {\"$tagwatch\": \"app\"}",
	}
	for file, line := range want {
		if got := w.show(file); !strings.Contains(got, line) {
			t.Errorf("%s lacks %q:\n%s", file, line, got)
		}
	}
	if got := w.show("envs/prod/values.yaml"); !strings.Contains(got, "# the chart's image") {
		t.Errorf("a comment was lost:\n%s", got)
	}
}

func TestOverSSH(t *testing.T) {
	w := newWorld(t, twoOverlays("0.9.0"))
	ssh := testgit.StartSSH(t)
	cfg := fmt.Sprintf(`git:
  url: %s
  branch: main
  auth: {sshKeyFile: %s, knownHostsFile: %s}
registries: [{prefix: %q, insecure: true, credentials: %q}]
environments:
%s`, ssh.URL(w.bare), ssh.KeyFile, ssh.KnownHosts, w.reg.Host, w.reg.CredentialsFile(t), w.expand(stagingProduction))
	if err := os.WriteFile(filepath.Join(w.dir, "tagwatch.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	rep, r := w.once()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\nsshd:\n%s", r.code, r.stderr, ssh.Log())
	}
	if diff := cmp.Diff([]string{"staging 0.9.0->1.0.0", "production 0.9.0->1.0.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got := testgit.Head(t, w.bare, "main"); got != rep.Commits[len(rep.Commits)-1] {
		t.Errorf("main is at %s, want the last commit %v", got, rep.Commits)
	}
}

func TestNewestBuildWithPlatforms(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("team/app", "main-aaaa")})
	w.config(`  - name: dev
    path: envs/dev
    images:
      - {image: REG/team/app, kustomizeName: team/app, strategy: newest-build, allowTags: '^main-', platforms: [linux/arm64]}
`)
	w.reg.PushIndex(t, "team/app", t0, []string{"linux/amd64", "linux/arm64"}, "main-aaaa")
	w.reg.PushIndex(t, "team/app", t0.Add(2*time.Hour), []string{"linux/amd64", "linux/arm64"}, "main-bbbb")
	w.reg.PushImage(t, "team/app", t0.Add(3*time.Hour), "main-cccc") // newer, but amd64 only
	w.reg.PushIndex(t, "team/app", t0.Add(4*time.Hour), []string{"linux/arm64"}, "pr-dddd")
	rep, r := w.once()
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"dev main-aaaa->main-bbbb"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}
