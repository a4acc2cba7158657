package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// local is a world without servers for Git: a file:// remote, and a
// config whose passwordEnv names a variable that is not set (a file://
// remote takes no credentials, so tagwatch must not ask for it).
type local struct {
	t     *testing.T
	bare  string
	dir   string
	cfg   string
	cache string
}

func newLocal(t *testing.T, bare, registry, environments string) *local {
	t.Helper()
	l := &local{t: t, bare: bare, dir: t.TempDir()}
	l.cache = filepath.Join(l.dir, "cache")
	l.cfg = filepath.Join(l.dir, "tagwatch.yaml")
	cfg := fmt.Sprintf(`git:
  url: file://%s
  branch: main
  author: {name: tagwatch-e2e, email: e2e@example.com}
  auth: {passwordEnv: TW_E2E_NEVER_SET}
registries:
  - {prefix: %s, insecure: true}
environments:
%s`, bare, registry, strings.ReplaceAll(environments, "REG", registry))
	if err := os.WriteFile(l.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *local) once() (report, result) {
	l.t.Helper()
	r := tagwatch(l.t, nil, "run", "--config", l.cfg, "--once", "-o", "json", "--cache-dir", l.cache)
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		l.t.Fatalf("exit %d, stdout is not one JSON report: %v\nstdout:\n%s\nstderr:\n%s", r.code, err, r.stdout, r.stderr)
	}
	return rep, r
}

// newTag is the tag of the kustomization at path in the remote.
func (l *local) newTag(path string) string {
	l.t.Helper()
	for _, line := range strings.Split(testgit.Show(l.t, l.bare, "main", path), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "newTag: "); ok {
			return v
		}
	}
	return ""
}

// pages makes tagwatch, in l's cache directory, know host as a registry
// that pages tag lists on its own, as it learns from a Link: it asks that
// host for pages of 1,000 (?n=) instead of the whole list.
func (l *local) pages(host string) {
	l.t.Helper()
	sum := sha256.Sum256([]byte(host))
	p := filepath.Join(l.cache, "registry", "v1", "listing", hex.EncodeToString(sum[:])+".json")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		l.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"host":"`+host+`","paged":true}`), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

// TestFaultInjection is the scenario of issue 14: a registry that honours
// ?n= but sends no Link, 2,500 tags (1.0.0 … 3.49.9; the first page of
// 1,000 ends at 1.99.9), staging at 1.0.0 and production at 3.49.9 with
// allowDowngrade. Before the fix, 8 of 60 runs under 20% faults wrote
// 1.0.0 -> 1.99.9 and exited 0, and production went 3.49.9 -> 1.99.9.
// Every run must now move staging to 3.49.9 or report an error and write
// nothing: no wrong tag, no downgrade. Since issue 13 tagwatch asks a
// registry it knows nothing of for the whole list, which this one answers
// at once; the runs below make it known to page (l.pages), so that it is
// asked ?n=1000 and the `?last=` probes issue 14 was about are made.
func TestFaultInjection(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{NoLink: true})
	var tags []string
	for i := range 2500 {
		tags = append(tags, fmt.Sprintf("%d.%d.%d", 1+i/1000, i/10%100, i%10))
	}
	srv.PushImage(t, "team/app", t0, tags[0])
	srv.Tag(t, "team/app", tags[0], tags[1:]...)
	const envs = `  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: production
    path: envs/production
    images: [{image: REG/team/app, kustomizeName: team/app, allowDowngrade: true}]
`
	seed := map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "1.0.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "3.49.9"),
	}

	t.Run("every ?last= request fails", func(t *testing.T) {
		bare := testgit.NewBare(t, seed)
		proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
			if r.URL.Query().Has("last") {
				return &testreg.Fault{Status: http.StatusInternalServerError}
			}
			return nil
		})
		l := newLocal(t, bare, proxy.Host, envs)
		l.pages(proxy.Host)
		before := testgit.Head(t, bare, "main")
		rep, r := l.once()
		if r.code != 1 || len(rep.Changes) != 0 || len(rep.Commits) != 0 || len(rep.Errors) != 2 {
			t.Errorf("exit %d, report %+v; want exit 1, an error for each environment, nothing written", r.code, rep)
		}
		for _, e := range rep.Errors {
			if !strings.Contains(e.Error, "tag list incomplete") {
				t.Errorf("error %q does not say the list was incomplete", e.Error)
			}
		}
		if after := testgit.Head(t, bare, "main"); after != before {
			t.Errorf("the remote moved to %s", after)
		}
	})

	t.Run("the whole list at once", func(t *testing.T) {
		bare := testgit.NewBare(t, seed)
		proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
			if q := r.URL.Query(); q.Has("last") || q.Has("n") {
				return &testreg.Fault{Status: http.StatusInternalServerError}
			}
			return nil
		})
		l := newLocal(t, bare, proxy.Host, envs)
		rep, r := l.once()
		if r.code != 0 || len(rep.Errors) != 0 || len(rep.Changes) != 1 || rep.Changes[0].Env != "staging" || rep.Changes[0].To != "3.49.9" {
			t.Errorf("exit %d, report %+v; want staging 1.0.0 -> 3.49.9 and nothing else", r.code, rep)
		}
		if staging, production := l.newTag("envs/staging/kustomization.yaml"), l.newTag("envs/production/kustomization.yaml"); staging != "3.49.9" || production != "3.49.9" {
			t.Errorf("Git holds staging %s, production %s", staging, production)
		}
		lists := 0
		for _, q := range proxy.Requests() {
			if strings.Contains(q, "/tags/list") {
				lists++
			}
		}
		if lists != 1 || proxy.Faults() != 0 {
			t.Errorf("%d list requests, %d faults: %q; want 1 list request, no ?n= or ?last=", lists, proxy.Faults(), proxy.Requests())
		}
	})

	t.Run("60 runs with random faults on a fifth of the requests", func(t *testing.T) {
		if testing.Short() {
			t.Skip("60 runs of the binary")
		}
		bare := testgit.NewBare(t, seed)
		proxy := testreg.StartFaultProxy(t, srv.Target, testreg.RandomFaults(14, 0.2))
		l := newLocal(t, bare, proxy.Host, envs)
		l.pages(proxy.Host)
		var wrong, failed, moved, quiet int
		for run := range 60 {
			rep, r := l.once()
			switch {
			case r.code == 1 && len(rep.Errors) > 0:
				failed++
			case r.code == 0 && len(rep.Errors) == 0:
			default:
				t.Errorf("run %d: exit %d with %d errors:\n%s", run, r.code, len(rep.Errors), r.stderr)
			}
			for _, c := range rep.Changes {
				if c.Env != "staging" || c.From != "1.0.0" || c.To != "3.49.9" {
					wrong++
					t.Errorf("run %d: wrong change %s %s -> %s", run, c.Env, c.From, c.To)
				} else {
					moved++
				}
			}
			if len(rep.Changes) == 0 && len(rep.Errors) == 0 {
				quiet++
			}
			staging, production := l.newTag("envs/staging/kustomization.yaml"), l.newTag("envs/production/kustomization.yaml")
			if !slices.Contains([]string{"1.0.0", "3.49.9"}, staging) || production != "3.49.9" {
				wrong++
				t.Errorf("run %d: Git holds staging %s, production %s", run, staging, production)
			}
		}
		if moved != 1 {
			t.Errorf("staging moved %d times, want once", moved)
		}
		t.Logf("60 runs, %d requests, %d faults injected: %d reported errors (exit 1, nothing written), %d clean runs, staging moved 1.0.0 -> 3.49.9 %d time(s), %d wrong picks",
			len(proxy.Requests()), proxy.Faults(), failed, quiet, moved, wrong)
	})
}

// TestAbsoluteSymlinks pins issue 14's fourth point end to end: an
// environment's kustomization and values file are links committed with
// absolute targets (/envs/shared/…). In a checkout by git they point
// outside the repository; go-git's checkout used to re-root them into the
// cache, and tagwatch edited and committed envs/shared. Fresh cache or
// warm, the environment now fails alone, naming the link, and nothing is
// written.
func TestAbsoluteSymlinks(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", t0, "1.0.0", "1.0.1")
	shared := kustomization(srv.Repo("team/app"), "1.0.0")
	values := "image:\n  repository: " + srv.Repo("team/app") + "\n  tag: \"1.0.0\"\n"
	bare := testgit.NewBareWithLinks(t, map[string]string{
		"envs/shared/kustomization.yaml": shared,
		"envs/shared/values.yaml":        values,
		"envs/helm/README.md":            "values.yaml is a link\n",
		"envs/ok/kustomization.yaml":     kustomization(srv.Repo("team/app"), "1.0.0"),
	}, map[string]string{
		"envs/prod/kustomization.yaml": "/envs/shared/kustomization.yaml",
		"envs/helm/values.yaml":        "/envs/shared/values.yaml",
	})
	l := newLocal(t, bare, srv.Host, `  - name: prod
    path: envs/prod
    images: [{image: REG/team/app}]
  - name: helm
    path: envs/helm
    images: [{image: REG/team/app, helm: {file: values.yaml, repository: image.repository, tag: image.tag}}]
  - name: ok
    path: envs/ok
    images: [{image: REG/team/app}]
`)
	for _, cache := range []string{"fresh", "warm"} {
		rep, r := l.once()
		if r.code != 1 {
			t.Errorf("%s cache: exit %d, want 1\n%s", cache, r.code, r.stderr)
		}
		var failed []string
		for _, e := range rep.Errors {
			failed = append(failed, e.Env)
			if !strings.Contains(e.Error, "points to the absolute path") {
				t.Errorf("%s cache: %s: %q does not name the absolute link", cache, e.Env, e.Error)
			}
		}
		slices.Sort(failed)
		if !slices.Equal(failed, []string{"helm", "prod"}) {
			t.Errorf("%s cache: errors for %q, want helm and prod", cache, failed)
		}
		for _, c := range rep.Changes {
			if c.Env != "ok" || cache == "warm" {
				t.Errorf("%s cache: change %+v", cache, c)
			}
		}
		if got := testgit.Show(t, bare, "main", "envs/shared/kustomization.yaml"); got+"\n" != shared {
			t.Errorf("%s cache: envs/shared/kustomization.yaml was edited:\n%s", cache, got)
		}
		if got := testgit.Show(t, bare, "main", "envs/shared/values.yaml"); got+"\n" != values {
			t.Errorf("%s cache: envs/shared/values.yaml was edited:\n%s", cache, got)
		}
	}
	if got := l.newTag("envs/ok/kustomization.yaml"); got != "1.0.1" {
		t.Errorf("the environment without links was not updated: %s", got)
	}
}
