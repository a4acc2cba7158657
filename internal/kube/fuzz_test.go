package kube

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
)

// checkParsed holds what Parse promises, whatever the annotations: every
// error names a key the Application has (or a field of it), and a Target
// has a valid environment name and folder and compiled, writable watches.
func checkParsed(t *testing.T, a *App, target *Target, errs []*AnnotationError) {
	t.Helper()
	if target != nil && len(errs) > 0 {
		t.Fatalf("both a target and errors: %v", errStrings(errs))
	}
	for _, e := range errs {
		_, annotated := a.Annotations[e.Key]
		known := annotated || strings.HasPrefix(e.Key, "spec.") || strings.HasPrefix(e.Key, OwnPrefix) || strings.HasPrefix(e.Key, ImageUpdaterPrefix)
		if !known || e.Problem == "" {
			t.Fatalf("error %q names no key of the Application", e.Error())
		}
	}
	if target == nil {
		return
	}
	if !envNameRE.MatchString(target.Env.Name) {
		t.Fatalf("environment name %q", target.Env.Name)
	}
	if _, err := cleanDir(target.Env.Path); err != nil || target.Env.Path == "" {
		t.Fatalf("path %q: %v", target.Env.Path, err)
	}
	if len(target.Env.Watches) == 0 {
		t.Fatal("a target without watches")
	}
	for _, w := range target.Env.Watches {
		if w.Policy == nil {
			t.Fatalf("%s: no policy", w.Image)
		}
		if _, err := name.NewRepository(w.Image); err != nil {
			t.Fatalf("image %q: %v", w.Image, err)
		}
		for _, tg := range w.Targets {
			if err := tg.Validate(); err != nil {
				t.Fatalf("%s: target %+v: %v", w.Image, tg, err)
			}
		}
	}
}

func FuzzParseOwn(f *testing.F) {
	f.Add("app=registry.example.com/team/app", "constraint", "^1", "envs/a", "main")
	f.Add("a=nginx,b=ghcr.io/x/y", "ignoreTags", "*-debug,regexp:^x", "", "HEAD")
	f.Add("app=nginx", "helm.file", "../v.yaml", "..", "a..b")
	f.Fuzz(func(t *testing.T, images, field, value, dir, branch string) {
		ann := map[string]string{OwnPrefix + "images": images, OwnPrefix + "app." + field: value, OwnPrefix + "app.helm.tag": "image.tag"}
		a := &App{Namespace: "argocd", Name: "staging", Annotations: ann,
			Sources: []AppSource{{RepoURL: repoURL, Path: dir, TargetRevision: branch}}}
		target, errs := Parse(a, func() *App { return a })
		checkParsed(t, a, target, errs)
	})
}

func FuzzParseImageUpdater(f *testing.F) {
	f.Add("app=registry.example.com/team/app:^1", "app.update-strategy", "latest", "kustomization:../base", "git:secret:argocd/x")
	f.Add("nginx:1.x, web=ghcr.io/o/w:main", "web.update-strategy", "digest", "helmvalues:/v.yaml", "git")
	f.Add("a=b:c:d", "allow-tags", "regexp:(", "", "argocd")
	f.Fuzz(func(t *testing.T, list, key, value, target, method string) {
		ann := map[string]string{
			ImageUpdaterPrefix + "image-list": list, ImageUpdaterPrefix + key: value,
			ImageUpdaterPrefix + "write-back-target": target, ImageUpdaterPrefix + "write-back-method": method,
		}
		a := &App{Namespace: "argocd", Name: "staging", Annotations: ann,
			Sources: []AppSource{{RepoURL: repoURL, Path: "envs/staging", TargetRevision: "main"}}}
		tg, errs := Parse(a, func() *App { return a })
		checkParsed(t, a, tg, errs)
		if tg != nil {
			for _, ref := range tg.PullSecrets {
				if _, err := parsePullSecret(ref); err != nil {
					t.Fatalf("pull secret %q accepted: %v", ref, err)
				}
			}
		}
	})
}

// FuzzBranchTemplate: whatever git-branch holds, a template Parse accepts
// renders, for any change, either a valid branch name of at most 255
// bytes or an error wrapping plan.ErrBranchTemplate; it never panics.
func FuzzBranchTemplate(f *testing.F) {
	f.Add("main:image-updater{{range .Images}}-{{.Name}}-{{.NewTag}}{{end}}", "1.0.0", "1.1.0")
	f.Add(":image-updater-{{.SHA256}}", "", "sha256:abc")
	f.Add("main:{{slice .AppName 3}}{{index .Images 2}}", "a b", "..")
	f.Add("main:x{{printf \"%300s\" .SHA256}}", "1", "2")
	f.Fuzz(func(t *testing.T, gitBranch, from, to string) {
		a := &App{Namespace: "argocd", Name: "staging", Annotations: map[string]string{
			ImageUpdaterPrefix + "image-list": "app=registry.example.com/team/app", ImageUpdaterPrefix + "git-branch": gitBranch},
			Sources: []AppSource{{RepoURL: repoURL, Path: "envs/staging", TargetRevision: "main"}}}
		tg, errs := Parse(a, func() *App { return a })
		checkParsed(t, a, tg, errs)
		if tg == nil || tg.Env.BranchTemplate == nil {
			return
		}
		b, err := tg.Env.RenderBranch([]plan.BranchChange{{Watch: tg.Env.Watches[0], From: policy.Current{Tag: from}, To: policy.Current{Tag: to}}})
		switch {
		case err != nil && !errors.Is(err, plan.ErrBranchTemplate):
			t.Fatalf("render error %v is no ErrBranchTemplate", err)
		case err == nil && (len(b) > plan.MaxBranchLen || plan.CheckBranchName(b) != nil):
			t.Fatalf("render %q accepted", b)
		}
	})
}
