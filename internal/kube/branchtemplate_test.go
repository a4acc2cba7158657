package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
)

// templated parses an Application of Image Updater's annotations with the
// image list and git-branch given, and returns its environment.
func templated(t *testing.T, list, gitBranch string) *plan.Environment {
	t.Helper()
	tg, errs := Parse(testApp(map[string]string{ImageUpdaterPrefix + "image-list": list, ImageUpdaterPrefix + "git-branch": gitBranch}), nil)
	if len(errs) > 0 {
		t.Fatalf("Parse: %v", errStrings(errs))
	}
	if tg.Env.BranchTemplate == nil || tg.Env.Mode != plan.ModeBranch || tg.Env.WriteBranch() != "" {
		t.Fatalf("mode %q, write branch %q, template %v: want a rendered branch", tg.Env.Mode, tg.Env.WriteBranch(), tg.Env.BranchTemplate)
	}
	return tg.Env
}

// change is a change of the environment's watch of image.
func change(t *testing.T, env *plan.Environment, image string, from, to policy.Current) plan.BranchChange {
	t.Helper()
	for _, w := range env.Watches {
		if w.Image == image {
			return plan.BranchChange{Watch: w, From: from, To: to}
		}
	}
	t.Fatalf("no watch of %s", image)
	return plan.BranchChange{}
}

func tag(t string) policy.Current { return policy.Current{Tag: t} }

func hexSHA256(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestBranchTemplate: Image Updater's write-branch templates render its
// data: .Images (Name without the registry host, Alias as written in
// image-list, OldTag, NewTag: digests under the digest strategy) in
// image-list's order, .SHA256 as Image Updater computes it, and the
// Application's name and namespace. The expectations of the first three
// cases are Image Updater's own (its test of TemplateBranchName,
// 0fcc2782… included), so a migrated annotation names the same branches.
func TestBranchTemplate(t *testing.T) {
	const digestA, digestB = "sha256:aaaa", "sha256:bbbb"
	for _, tc := range []struct {
		name, list, tpl string
		changes         func(env *plan.Environment) []plan.BranchChange
		want            string
	}{
		{
			name: "names and new tags", list: "foo/bar, bar/baz", tpl: "main:image-updater{{range .Images}}-{{.Name}}-{{.NewTag}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "foo/bar", tag("1.0"), tag("1.1")), change(t, env, "bar/baz", tag("2.0"), tag("2.1"))}
			},
			want: "image-updater-foo/bar-1.1-bar/baz-2.1",
		},
		{
			name: "alias", list: "bar=0001.dkr.ecr.us-east-1.amazonaws.com/bar", tpl: "main:image-updater{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "0001.dkr.ecr.us-east-1.amazonaws.com/bar", tag("1.0"), tag("1.1"))}
			},
			want: "image-updater-bar-1.1",
		},
		{
			name: "Image Updater's hash", list: "foo/bar", tpl: "main:image-updater-{{.SHA256}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "foo/bar", tag("1.0"), tag("1.1"))}
			},
			want: "image-updater-0fcc2782543e4bb067c174c21bf44eb947f3e55c0d62c403e359c1c209cbd041",
		},
		{
			name: "the hash of two images, in image-list's order", list: "web=ghcr.io/org/web, app=registry.example.com:5000/team/app", tpl: ":u-{{.SHA256}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "ghcr.io/org/web", tag("2.0"), tag("2.1")), change(t, env, "registry.example.com:5000/team/app", tag("1.0"), tag("1.1"))}
			},
			want: "u-" + hexSHA256("org/web-2.0-2.1,team/app-1.0-1.1,"),
		},
		{
			name: "names without the registry host, Docker Hub's library/ as written",
			list: "nginx, docker.io/library/redis, library/busybox, registry.example.com:5000/team/app, localhost/tool", tpl: ":x{{range .Images}}-{{.Name}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				var cs []plan.BranchChange
				for _, w := range env.Watches {
					cs = append(cs, plan.BranchChange{Watch: w, From: tag("1"), To: tag("2")})
				}
				return cs
			},
			want: "x-nginx-redis-library/busybox-team/app-tool",
		},
		{
			name: "the alias as written: none when image-list gives none", list: "registry.example.com/team/app, web=ghcr.io/org/web", tpl: "main:a{{range .Images}}-_{{.Alias}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "registry.example.com/team/app", tag("1"), tag("2")), change(t, env, "ghcr.io/org/web", tag("1"), tag("2"))}
			},
			want: "a-_-_web",
		},
		{
			name: "old and new tags", list: "app=registry.example.com/team/app", tpl: "main:{{range .Images}}{{.Alias}}-{{.OldTag}}-to-{{.NewTag}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "registry.example.com/team/app", policy.Current{Tag: "1.0.0", Digest: digestA}, policy.Current{Tag: "1.1.0", Digest: digestB})}
			},
			want: "app-1.0.0-to-1.1.0",
		},
		{
			name: "digests under the digest strategy", list: "app=registry.example.com/team/app",
			// A digest holds a ':', which no branch name may: the template cuts it.
			tpl: "main:d{{range .Images}}-{{slice .OldTag 7}}-{{slice .NewTag 7}}{{end}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				env.Watches[0].Policy = mustPolicy(t, policy.Spec{Strategy: policy.Digest, Constraint: "stable"})
				return []plan.BranchChange{change(t, env, "registry.example.com/team/app", policy.Current{Tag: "stable", Digest: digestA}, policy.Current{Tag: "stable", Digest: digestB})}
			},
			want: "d-aaaa-bbbb",
		},
		{
			name: "the Application", list: "app=registry.example.com/team/app", tpl: "main:image-updater-{{.AppNamespace}}-{{.AppName}}",
			changes: func(env *plan.Environment) []plan.BranchChange {
				return []plan.BranchChange{change(t, env, "registry.example.com/team/app", tag("1"), tag("2"))}
			},
			want: "image-updater-argocd-staging",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := templated(t, tc.list, tc.tpl)
			got, err := env.RenderBranch(tc.changes(env))
			if err != nil || got != tc.want {
				t.Errorf("RenderBranch = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// mustPolicy compiles spec.
func mustPolicy(t *testing.T, spec policy.Spec) *policy.Policy {
	t.Helper()
	p, err := policy.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBranchTemplateRenders: the same changes name the same branch (a
// second cycle finds the branch it made), other changes another; a long
// render is cut to 255 bytes; a render that is no branch name is refused
// with plan.ErrBranchTemplate.
func TestBranchTemplateRenders(t *testing.T) {
	env := templated(t, "app=registry.example.com/team/app", "main:image-updater-{{.SHA256}}")
	one := []plan.BranchChange{change(t, env, "registry.example.com/team/app", tag("1.0.0"), tag("1.1.0"))}
	a, errA := env.RenderBranch(one)
	b, errB := env.RenderBranch([]plan.BranchChange{change(t, env, "registry.example.com/team/app", tag("1.0.0"), tag("1.1.0"))})
	c, errC := env.RenderBranch([]plan.BranchChange{change(t, env, "registry.example.com/team/app", tag("1.0.0"), tag("1.2.0"))})
	if errA != nil || errB != nil || errC != nil || a != b || a == c {
		t.Errorf("renders %q %q %q (%v %v %v): want the first two equal, the third another", a, b, c, errA, errB, errC)
	}

	long := templated(t, "app=registry.example.com/team/app", "main:image-updater-{{.SHA256}}-{{.SHA256}}-{{.SHA256}}-{{.SHA256}}")
	got, err := long.RenderBranch(one)
	if err != nil || len(got) != plan.MaxBranchLen || !strings.HasPrefix(got, a+"-") {
		t.Errorf("long render %q (%d bytes), %v: want the first 255 bytes", got, len(got), err)
	}

	for _, tpl := range []string{"main:{{range .Images}}{{.NewTag}}{{end}}..lock", "main:{{range .Images}}{{.OldTag}} {{.NewTag}}{{end}}", "main:{{if false}}x{{end}}"} {
		env := templated(t, "app=registry.example.com/team/app", tpl)
		if got, err := env.RenderBranch(one); !errors.Is(err, plan.ErrBranchTemplate) || !strings.Contains(err.Error(), "is not a valid branch name") {
			t.Errorf("%s renders %q, %v: want it refused", tpl, got, err)
		}
	}
}
