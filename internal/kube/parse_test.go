package kube

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// parsed is a Target as the tests compare it: the policies as their specs.
type parsed struct {
	Set         Set
	URL, Branch string
	Env, Path   string
	// Mode, WriteBranch, BranchTemplate (its text) and AutoMerge are the
	// environment's (DESIGN §9).
	Mode, WriteBranch string
	BranchTemplate    string
	AutoMerge         bool
	Gate              *gate.Gate
	WriteSecret       string
	PullSecrets       map[string]string
	Ignored           []string
	Watches           []parsedWatch
}

type parsedWatch struct {
	Image, Alias  string
	Spec          policy.Spec
	KustomizeName string
	Helm          *plan.Helm
	WriteDigest   bool
	Targets       []writeback.Target
}

func summarize(t *Target) *parsed {
	if t == nil {
		return nil
	}
	p := &parsed{Set: t.Set, URL: t.URL, Branch: t.Branch, Env: t.Env.Name, Path: t.Env.Path, Gate: t.Env.Gate,
		Mode: t.Env.Mode, WriteBranch: t.Env.Branch, AutoMerge: t.Env.AutoMerge,
		WriteSecret: t.WriteSecret, PullSecrets: t.PullSecrets, Ignored: t.Ignored}
	if t.Env.BranchTemplate != nil {
		p.BranchTemplate = t.Env.BranchTemplate.Text
	}
	for _, w := range t.Env.Watches {
		p.Watches = append(p.Watches, parsedWatch{Image: w.Image, Alias: w.Alias, Spec: w.Policy.Spec(), KustomizeName: w.KustomizeName,
			Helm: w.Helm, WriteDigest: w.WriteDigest, Targets: w.Targets})
	}
	return p
}

const repoURL = "https://git.example.com/platform/deploy.git"

func testApp(ann map[string]string, srcs ...AppSource) *App {
	if len(srcs) == 0 {
		srcs = []AppSource{{RepoURL: repoURL, Path: "envs/staging", TargetRevision: "main"}}
	}
	return &App{Namespace: "argocd", Name: "staging", Annotations: ann, Sources: srcs, Multi: len(srcs) > 1}
}

// semver is the spec policy.New makes of the defaults.
func semver(constraint string) policy.Spec {
	return policy.Spec{Strategy: policy.Semver, Constraint: constraint, Order: "asc"}
}

func iuSemver(constraint string) policy.Spec {
	return policy.Spec{Strategy: policy.Semver, Constraint: constraint, Order: "asc", Loose: true, ArgoCompat: true}
}

func TestParseOwnAnnotations(t *testing.T) {
	no := cmpopts.EquateEmpty()
	for _, tc := range []struct {
		name string
		app  *App
		want *parsed
		errs []string
	}{
		{name: "not watched", app: testApp(map[string]string{"team": "a"})},
		{
			name: "one image, defaults from the source",
			app:  testApp(map[string]string{"tagwatch.dev/images": "app=registry.example.com/team/app"}),
			want: &parsed{Set: SetOwn, URL: repoURL, Branch: "main", Env: "staging", Path: "envs/staging",
				Watches: []parsedWatch{{Image: "registry.example.com/team/app", Alias: "app", Spec: semver("")}}},
		},
		{
			name: "every field",
			app: testApp(map[string]string{
				"tagwatch.dev/images":                "app=registry.example.com/team/app, web=ghcr.io/org/web",
				"tagwatch.dev/environment":           "staging-eu",
				"tagwatch.dev/path":                  "overlays/eu/",
				"tagwatch.dev/branch":                "deploy",
				"tagwatch.dev/repository":            "git@git.example.com:platform/other.git",
				"tagwatch.dev/from":                  "dev",
				"tagwatch.dev/soak":                  "30m",
				"tagwatch.dev/require-healthy":       "true",
				"tagwatch.dev/app.strategy":          "semver",
				"tagwatch.dev/app.constraint":        ">=1.0.0-0",
				"tagwatch.dev/app.semverLoose":       "true",
				"tagwatch.dev/app.allowTags":         `^\d+\.\d+\.\d+(-rc\.\d+)?$`,
				"tagwatch.dev/app.ignoreTags":        "*-debug, regexp:^tmp-",
				"tagwatch.dev/app.kustomizeName":     "team/app",
				"tagwatch.dev/app.writeDigest":       "true",
				"tagwatch.dev/app.allowDowngrade":    "false",
				"tagwatch.dev/app.helm.file":         "values.yaml",
				"tagwatch.dev/app.helm.repository":   "image.repository",
				"tagwatch.dev/app.helm.tag":          "image.tag",
				"tagwatch.dev/app.helm.digest":       "image.digest",
				"tagwatch.dev/web.strategy":          "numerical",
				"tagwatch.dev/web.allowTags":         `^main-(?P<ts>\d+)$`,
				"tagwatch.dev/web.extract":           "$ts",
				"tagwatch.dev/web.order":             "desc",
				"tagwatch.dev/web.platforms":         "linux/amd64,linux/arm64",
				"tagwatch.dev/web.helm.file":         "../shared/values.yaml",
				"tagwatch.dev/web.helm.image":        "web.image",
				"argocd-image-updater.argoproj.io/x": "ignored",
			}),
			want: &parsed{Set: SetOwn, URL: "git@git.example.com:platform/other.git", Branch: "deploy", Env: "staging-eu", Path: "overlays/eu",
				Gate: &gate.Gate{From: "dev", Soak: 30 * time.Minute, RequireHealthy: true},
				Watches: []parsedWatch{
					{Image: "registry.example.com/team/app", Alias: "app", KustomizeName: "team/app", WriteDigest: true,
						Spec: policy.Spec{Strategy: policy.Semver, Constraint: ">=1.0.0-0", Loose: true, AllowTags: `^\d+\.\d+\.\d+(-rc\.\d+)?$`,
							IgnoreTags: []string{"*-debug", "regexp:^tmp-"}, Order: "asc"},
						Helm: &plan.Helm{File: "values.yaml", Repository: "image.repository", Tag: "image.tag", Digest: "image.digest"}},
					{Image: "ghcr.io/org/web", Alias: "web",
						Spec: policy.Spec{Strategy: policy.Numerical, AllowTags: `^main-(?P<ts>\d+)$`, Extract: "$ts", Order: "desc",
							Platforms: []string{"linux/amd64", "linux/arm64"}},
						Helm: &plan.Helm{File: "../shared/values.yaml", Image: "web.image"}},
				}},
		},
		{
			name: "HEAD is the default branch; an empty path the root",
			app: testApp(map[string]string{"tagwatch.dev/images": "app=nginx"},
				AppSource{RepoURL: repoURL, TargetRevision: "HEAD"}),
			want: &parsed{Set: SetOwn, URL: repoURL, Env: "staging", Path: ".",
				Watches: []parsedWatch{{Image: "nginx", Alias: "app", Spec: semver("")}}},
		},
		{
			name: "multi-source: the one with a path, or the one named",
			app: testApp(map[string]string{"tagwatch.dev/images": "app=nginx", "tagwatch.dev/source": "overlay"},
				AppSource{RepoURL: "https://charts.example.com", Chart: "app"},
				AppSource{RepoURL: repoURL, Path: "a", Name: "base"},
				AppSource{RepoURL: "https://git.example.com/other.git", Path: "b", Name: "overlay", TargetRevision: "v1"}),
			want: &parsed{Set: SetOwn, URL: "https://git.example.com/other.git", Branch: "v1", Env: "staging", Path: "b",
				Watches: []parsedWatch{{Image: "nginx", Alias: "app", Spec: semver("")}}},
		},
		{
			name: "both sets: tagwatch.dev wins, and says so",
			app: testApp(map[string]string{"tagwatch.dev/images": "app=nginx",
				"argocd-image-updater.argoproj.io/image-list": "nginx:^1"}),
			want: &parsed{Set: SetOwn, URL: repoURL, Branch: "main", Env: "staging", Path: "envs/staging",
				Ignored: []string{"the argocd-image-updater.argoproj.io/ annotations: tagwatch.dev/images is set, and tagwatch.dev/ wins"},
				Watches: []parsedWatch{{Image: "nginx", Alias: "app", Spec: semver("")}}},
		},
		{
			name: "bad values, every one named",
			app: testApp(map[string]string{
				"tagwatch.dev/images":             "app=registry.example.com/team/app:1.0, x, web=ghcr.io/org/web, Bad.Alias=nginx, dup=ghcr.io/org/web",
				"tagwatch.dev/environment":        "Staging",
				"tagwatch.dev/path":               "../out",
				"tagwatch.dev/branch":             "a..b",
				"tagwatch.dev/soak":               "soon",
				"tagwatch.dev/require-healthy":    "yes",
				"tagwatch.dev/enviroment":         "x",
				"tagwatch.dev/web.constriant":     "^1",
				"tagwatch.dev/web.constraint":     "not a range",
				"tagwatch.dev/web.strategy":       "newest",
				"tagwatch.dev/web.ignoreTags":     "^v1$",
				"tagwatch.dev/web.writeDigest":    "1",
				"tagwatch.dev/web.helm.tag":       "image.tag",
				"tagwatch.dev/other.strategy":     "semver",
				"tagwatch.dev/web.allowDowngrade": "TRUE",
			}),
			errs: []string{
				`tagwatch.dev/branch: "a..b" is not a branch name`,
				`tagwatch.dev/enviroment: unknown annotation (did you mean "environment"?) (application-wide: images, environment, path, branch, repository, source, from, soak, require-healthy, mode, auto-merge; per image: <alias>.<field>)`,
				`tagwatch.dev/environment: "Staging" is not an environment name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`,
				"tagwatch.dev/from: required with soak and require-healthy: the environment this one is promoted from",
				`tagwatch.dev/images: app: "registry.example.com/team/app:1.0" names a tag or digest; write the repository alone (the policy picks the tag)`,
				`tagwatch.dev/images: "x" is not <alias>=<image>`,
				`tagwatch.dev/images: alias "Bad.Alias": letters, digits, '-' and '_' only (it names annotations <alias>.<field>)`,
				"tagwatch.dev/images: ghcr.io/org/web is watched twice (aliases web and dup)",
				`tagwatch.dev/other.strategy: "other" is not an alias of tagwatch.dev/images`,
				`tagwatch.dev/path: "../out" leaves the repository`,
				`tagwatch.dev/require-healthy: "yes" is not true or false`,
				`tagwatch.dev/soak: "soon" is not a duration like 30m or 1h`,
				`tagwatch.dev/web.allowDowngrade: "TRUE" is not true or false`,
				`tagwatch.dev/web.constriant: unknown field "constriant" (did you mean "constraint"?) (fields: strategy, constraint, semverLoose, allowTags, ignoreTags, extract, order, platforms, kustomizeName, writeDigest, allowDowngrade, helm.file, helm.image, helm.repository, helm.tag, helm.digest)`,
				"tagwatch.dev/web.helm.tag: needs tagwatch.dev/web.helm.file: the values file the field is in",
				`tagwatch.dev/web.ignoreTags: "^v1$": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^v1$" to use it as a regular expression, or the glob "v1"`,
				`tagwatch.dev/web.strategy: "newest": not one of semver, newest-build, alphabetical, numerical, digest`,
				`tagwatch.dev/web.writeDigest: "1" is not true or false`,
			},
		},
		{
			name: "bad constraint, helm and source",
			app: testApp(map[string]string{
				"tagwatch.dev/images":         "web=ghcr.io/org/web",
				"tagwatch.dev/from":           "staging",
				"tagwatch.dev/web.constraint": "not a range",
				"tagwatch.dev/web.helm.file":  "/abs/values.yaml",
				"tagwatch.dev/web.helm.image": "a..b",
				"tagwatch.dev/web.helm.tag":   "image.tag",
				"tagwatch.dev/source":         "x",
			}, AppSource{RepoURL: repoURL, TargetRevision: "0123456789abcdef0123456789abcdef01234567"}),
			errs: []string{
				`tagwatch.dev/branch: spec.source.targetRevision is the commit 0123456789abcdef0123456789abcdef01234567, which cannot be written to: set the branch to write`,
				"tagwatch.dev/from: staging cannot be promoted from itself",
				`tagwatch.dev/web.constraint: "not a range": improper constraint: "not a range"`,
				`tagwatch.dev/web.helm.file: "/abs/values.yaml": want a values file relative to the environment's folder, inside the repository`,
				`tagwatch.dev/web.helm.image: "a..b" is not a dotted path like image.tag`,
				"tagwatch.dev/web.helm.image: writes the whole reference; do not also set helm.repository, helm.tag or helm.digest",
			},
		},
		{
			name: "no usable source",
			app: testApp(map[string]string{"tagwatch.dev/images": "app=nginx"},
				AppSource{RepoURL: "https://charts.example.com", Chart: "app"}, AppSource{RepoURL: repoURL, Path: "a"}, AppSource{RepoURL: repoURL, Path: "b"}),
			errs: []string{"tagwatch.dev/source: 2 sources of spec.sources have a path: name the one to write (spec.sources[].name)"},
		},
		{
			name: "a chart repository is not a git repository",
			app: testApp(map[string]string{"tagwatch.dev/images": "app=nginx"},
				AppSource{RepoURL: "https://charts.example.com", Chart: "app", TargetRevision: "1.0.0"}),
			errs: []string{`tagwatch.dev/repository: the source is the Helm chart "app" of a chart repository, not a git repository: set tagwatch.dev/repository and tagwatch.dev/path to the git repository and folder to write`},
		},
		{
			name: "repository URL",
			app:  testApp(map[string]string{"tagwatch.dev/images": "app=nginx", "tagwatch.dev/repository": "https://me:pw@git.example.com/x.git"}),
			errs: []string{"tagwatch.dev/repository: the URL holds a password; put credentials in git.auth (passwordEnv or passwordFile) instead"},
		},
		{
			name: "no images",
			app:  testApp(map[string]string{"tagwatch.dev/images": " , "}),
			errs: []string{"tagwatch.dev/images: no image: want <alias>=<image>[,<alias>=<image>…]"},
		},
		{
			name: "an Application name that is no environment name needs the annotation",
			app:  &App{Namespace: "argocd", Name: "Web_App", Annotations: map[string]string{"tagwatch.dev/images": "app=nginx"}, Sources: []AppSource{{RepoURL: repoURL, Path: "a"}}},
			errs: []string{`tagwatch.dev/environment: the Application's name "Web_App" is not an environment name ([a-z0-9][a-z0-9.-]*): set this annotation`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := Parse(tc.app, func() *App { return tc.app })
			if tc.errs != nil {
				if diff := cmp.Diff(tc.errs, errStrings(errs)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errStrings(errs))
			}
			if diff := cmp.Diff(tc.want, summarize(got), no); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
		})
	}
}

func errStrings(errs []*AnnotationError) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

func TestParseHealth(t *testing.T) {
	app := testApp(map[string]string{"tagwatch.dev/images": "app=nginx"},
		AppSource{RepoURL: "https://charts.example.com", Chart: "app"}, AppSource{RepoURL: repoURL, Path: "a"})
	live := *app
	target, errs := Parse(app, func() *App { return &live })
	if errs != nil {
		t.Fatal(errStrings(errs))
	}
	live.Health, live.Sync, live.Revision, live.Revisions = "Healthy", "Synced", "", []string{"1.2.3", "abc123"}
	h, err := target.Env.Health(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&gate.Health{Health: "Healthy", Sync: "Synced", Revision: "abc123"}, h); diff != "" {
		t.Errorf("health of the second source's revision (-want +got):\n%s", diff)
	}
}

func TestParseImageUpdaterAnnotations(t *testing.T) {
	const iu = "argocd-image-updater.argoproj.io/"
	no := cmpopts.EquateEmpty()
	override := func(name string) writeback.Target {
		return writeback.Target{Kind: writeback.ArgoSource, Path: "envs/staging/.argocd-source-staging.yaml", Name: name}
	}
	helmOverride := writeback.Target{Kind: writeback.ArgoSource, Path: "envs/staging/.argocd-source-staging.yaml", RepositoryField: "image.name", TagField: "image.tag"}
	base := func(watches ...parsedWatch) *parsed {
		return &parsed{Set: SetImageUpdater, URL: repoURL, Branch: "main", Env: "staging", Path: "envs/staging", PullSecrets: map[string]string{}, Watches: watches}
	}
	for _, tc := range []struct {
		name string
		app  *App
		want *parsed
		errs []string
	}{
		{
			name: "the image list: loose semver, the default override file (kustomize)",
			app:  testApp(map[string]string{iu + "image-list": "nginx:~1.27, app=registry.example.com:5000/team/app, web=ghcr.io/org/web:^2"}),
			want: base(
				parsedWatch{Image: "nginx", Alias: "nginx", Spec: iuSemver("~1.27"), Targets: []writeback.Target{override("nginx")}},
				parsedWatch{Image: "registry.example.com:5000/team/app", Alias: "app", Spec: iuSemver(""), Targets: []writeback.Target{override("registry.example.com:5000/team/app")}},
				parsedWatch{Image: "ghcr.io/org/web", Alias: "web", Spec: iuSemver("^2"), Targets: []writeback.Target{override("ghcr.io/org/web")}},
			),
		},
		{
			name: "per-image keys over the Application-wide defaults",
			app: testApp(map[string]string{
				iu + "image-list":               "app=registry.example.com/team/app, web=ghcr.io/org/web:main, api=ghcr.io/org/api",
				iu + "update-strategy":          "latest",
				iu + "allow-tags":               "regexp:^1\\.",
				iu + "ignore-tags":              "*-debug,*-rc*",
				iu + "pull-secret":              "pullsecret:argocd/regcred",
				iu + "force-update":             "true",
				iu + "app.update-strategy":      "semver",
				iu + "app.allow-tags":           "any",
				iu + "app.platforms":            "linux/amd64",
				iu + "app.kustomize.image-name": "team/app",
				iu + "app.pull-secret":          "secret:argocd/creds#auth",
				iu + "app.force-update":         "false",
				iu + "web.update-strategy":      "digest",
				iu + "api.update-strategy":      "name",
				iu + "api.pull-secret":          "env:API_PULL",
				iu + "git-commit-user":          "bot",
				iu + "web.tag-match":            "x",
				iu + "nope.update-strategy":     "semver",
				"tagwatch.dev/from":             "dev",
				"tagwatch.dev/environment":      "stage",
				iu + "write-back-method":        "git:secret:argocd/git-creds",
				iu + "git-branch":               "release",
				iu + "git-repository":           "ssh://git@git.example.com/platform/deploy.git",
			}),
			want: &parsed{Set: SetImageUpdater, URL: "ssh://git@git.example.com/platform/deploy.git", Branch: "release", Env: "stage", Path: "envs/staging",
				Gate: &gate.Gate{From: "dev"}, WriteSecret: "argocd/git-creds",
				PullSecrets: map[string]string{
					"registry.example.com/team/app": "secret:argocd/creds#auth", "ghcr.io/org/web": "pullsecret:argocd/regcred", "ghcr.io/org/api": "env:API_PULL",
				},
				Ignored: []string{
					iu + "git-commit-user: the commit author is git.author of tagwatch's config",
					iu + `nope.update-strategy: "nope" is not an alias of ` + iu + "image-list",
					iu + "web.tag-match: not an annotation tagwatch reads",
				},
				Watches: []parsedWatch{
					{Image: "registry.example.com/team/app", Alias: "app",
						Spec:    policy.Spec{Strategy: policy.Semver, Loose: true, ArgoCompat: true, AllowTags: "any", IgnoreTags: []string{"*-debug", "*-rc*"}, Platforms: []string{"linux/amd64"}, Order: "asc"},
						Targets: []writeback.Target{{Kind: writeback.ArgoSource, Path: "envs/staging/.argocd-source-staging.yaml", Name: "team/app"}}},
					{Image: "ghcr.io/org/web", Alias: "web",
						Spec:    policy.Spec{Strategy: policy.Digest, Constraint: "main", ArgoCompat: true, AllowTags: "regexp:^1\\.", IgnoreTags: []string{"*-debug", "*-rc*"}, Order: "asc"},
						Targets: []writeback.Target{override("ghcr.io/org/web")}},
					{Image: "ghcr.io/org/api", Alias: "api",
						Spec:    policy.Spec{Strategy: policy.Alphabetical, ArgoCompat: true, AllowTags: "regexp:^1\\.", IgnoreTags: []string{"*-debug", "*-rc*"}, Order: "asc"},
						Targets: []writeback.Target{override("ghcr.io/org/api")}},
				}},
		},
		{
			name: "helm: parameters in the override file, names from helm.image-name and helm.image-tag",
			app: func() *App {
				a := testApp(map[string]string{
					iu + "image-list":          "app=registry.example.com/team/app, web=ghcr.io/org/web",
					iu + "app.helm.image-name": "app.image.repository",
					iu + "app.helm.image-tag":  "app.image.tag",
					iu + "web.helm.image-spec": "web.image",
				})
				a.SourceType = "Helm"
				return a
			}(),
			want: base(
				parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""),
					Targets: []writeback.Target{{Kind: writeback.ArgoSource, Path: "envs/staging/.argocd-source-staging.yaml", RepositoryField: "app.image.repository", TagField: "app.image.tag"}}},
				parsedWatch{Image: "ghcr.io/org/web", Alias: "web", Spec: iuSemver(""),
					Targets: []writeback.Target{{Kind: writeback.ArgoSource, Path: "envs/staging/.argocd-source-staging.yaml", ImageField: "web.image"}}},
			),
		},
		{
			name: "helm by the source's helm block, default parameter names",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app"}, AppSource{RepoURL: repoURL, Path: "envs/staging", TargetRevision: "main", Helm: true}),
			want: base(parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""), Targets: []writeback.Target{helmOverride}}),
		},
		{
			name: "write-back-target kustomization, relative",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "write-back-target": "kustomization:../base", iu + "app.kustomize.image-name": "team/app"}),
			want: base(parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""),
				Targets: []writeback.Target{{Kind: writeback.Kustomize, Path: "envs/base", Name: "team/app"}}}),
		},
		{
			name: "write-back-target kustomization, the Application's path",
			app:  testApp(map[string]string{iu + "image-list": "registry.example.com/team/app", iu + "write-back-target": "kustomization"}),
			want: base(parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""),
				Targets: []writeback.Target{{Kind: writeback.Kustomize, Path: "envs/staging", Name: "registry.example.com/team/app"}}}),
		},
		{
			name: "write-back-target helmvalues, from the root",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "write-back-target": "helmvalues:/charts/app/values-staging.yaml", iu + "app.helm.image-tag": "image.version"}),
			want: base(parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""),
				Targets: []writeback.Target{{Kind: writeback.Helm, Path: "charts/app/values-staging.yaml", RepositoryField: "image.name", TagField: "image.version"}}}),
		},
		{
			name: "write-back-target helmvalues, default file",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "write-back-target": "helmvalues", iu + "app.helm.image-spec": "image.full"}),
			want: base(parsedWatch{Image: "registry.example.com/team/app", Alias: "app", Spec: iuSemver(""),
				Targets: []writeback.Target{{Kind: writeback.Helm, Path: "envs/staging/values.yaml", ImageField: "image.full"}}}),
		},
		{
			name: "refused and invalid",
			app: testApp(map[string]string{
				iu + "image-list":           "app=registry.example.com/team/app:not-a-range, d=ghcr.io/org/d, bad name",
				iu + "write-back-method":    "argocd",
				iu + "write-back-target":    "kustomization:/../out",
				iu + "app.update-strategy":  "newest",
				iu + "app.allow-tags":       "^1\\.",
				iu + "d.update-strategy":    "digest",
				iu + "app.pull-secret":      "ext:/bin/creds",
				iu + "git-branch":           "main:image-updater-{{.Sha}}",
				"tagwatch.dev/app.strategy": "semver",
				"tagwatch.dev/imagez":       "x",
			}),
			errs: []string{
				iu + `app.allow-tags: "^1\\." is neither regexp:<RE> nor any: Argo CD Image Updater matches no tag with it; write regexp:^1\.`,
				iu + "app.pull-secret: ext: (a script printing credentials) is refused: tagwatch runs no scripts; use pullsecret:, secret: or env: instead",
				iu + `app.update-strategy: "newest" is not semver, latest (newest-build), name (alphabetical) or digest`,
				iu + `git-branch: the write branch template "image-updater-{{.Sha}}": there is no .Sha: the data is .Images (each with .Name, .Alias, .OldTag, .NewTag), .SHA256, .AppName and .AppNamespace`,
				iu + `image-list: "bad name": "bad name" is not an image repository`,
				iu + `image-list: "not-a-range": improper constraint: "not-a-range"`,
				iu + "image-list: ghcr.io/org/d: the digest strategy follows a tag: write <image>:<tag>",
				iu + "write-back-method: argocd (changing the Application in the cluster) is refused: tagwatch writes to Git only; set git, git:repocreds or git:secret:<namespace>/<name>",
				iu + `write-back-target: /../out: "../out" leaves the repository`,
				"tagwatch.dev/app.strategy: per-image tagwatch.dev/ annotations need tagwatch.dev/images (this Application's images are in argocd-image-updater.argoproj.io/image-list)",
				`tagwatch.dev/imagez: unknown annotation (did you mean "images"?) (application-wide: images, environment, path, branch, repository, source, from, soak, require-healthy, mode, auto-merge)`,
			},
		},
		{
			name: "an invalid regexp and a bad constraint",
			app: testApp(map[string]string{
				iu + "image-list":        "app=registry.example.com/team/app:>>1",
				iu + "allow-tags":        "regexp:(",
				iu + "pull-secret":       "pullsecret:argocd",
				iu + "write-back-method": "git:secret:Bad/x",
				iu + "write-back-target": "helm",
			}),
			errs: []string{
				iu + "allow-tags: \"regexp:(\": error parsing regexp: missing closing ): `(`",
				iu + "image-list: \">>1\": improper constraint: \">>1\"",
				iu + "pull-secret: pullsecret:argocd: want <namespace>/<name>",
				iu + `write-back-method: git:secret:Bad/x: "Bad" is not a namespace name`,
				iu + `write-back-target: "helm" is not kustomization[:<dir>] or helmvalues[:<file>]`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := Parse(tc.app, func() *App { return tc.app })
			if tc.errs != nil {
				if diff := cmp.Diff(tc.errs, errStrings(errs)); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errStrings(errs))
			}
			if diff := cmp.Diff(tc.want, summarize(got), no); diff != "" {
				t.Errorf("target (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeployed: the value an image runs, from status.summary.images, by
// repository (normalised) or kustomize image name; read when asked.
func TestDeployed(t *testing.T) {
	app := testApp(map[string]string{
		"argocd-image-updater.argoproj.io/image-list":               "nginx, app=registry.example.com/team/app, web=ghcr.io/org/web",
		"argocd-image-updater.argoproj.io/app.kustomize.image-name": "team/app",
	})
	live := *app
	target, errs := Parse(app, func() *App { return &live })
	if errs != nil {
		t.Fatal(errStrings(errs))
	}
	live.Images = []string{"docker.io/library/nginx:1.27.0", "team/app:1.0.0@sha256:0123", "other:1"}
	var got []string
	for _, w := range target.Env.Watches {
		cur, ok := w.Deployed()
		got = append(got, fmt.Sprintf("%s %v %s %s", w.Alias, ok, cur.Tag, cur.Digest))
	}
	want := []string{"nginx true 1.27.0 ", "app true 1.0.0 sha256:0123", "web false  "}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("deployed (-want +got):\n%s", diff)
	}
}

// TestParseWriteModes: tagwatch.dev/mode and auto-merge, and Argo CD Image
// Updater's git-branch base:write-branch, map onto DESIGN §9's modes.
func TestParseWriteModes(t *testing.T) {
	const iu = ImageUpdaterPrefix
	own := func(extra map[string]string) *App {
		ann := map[string]string{"tagwatch.dev/images": "app=registry.example.com/team/app"}
		for k, v := range extra {
			ann[k] = v
		}
		return testApp(ann)
	}
	iuApp := func(extra map[string]string) *App {
		ann := map[string]string{iu + "image-list": "app=registry.example.com/team/app"}
		for k, v := range extra {
			ann[k] = v
		}
		return testApp(ann)
	}
	for _, tc := range []struct {
		name              string
		app               *App
		branch            string
		mode, writeBranch string
		branchTemplate    string
		autoMerge         bool
		errs              []string
	}{
		{name: "push by default", app: own(nil), branch: "main"},
		{name: "pull request", app: own(map[string]string{"tagwatch.dev/mode": "pull-request", "tagwatch.dev/auto-merge": "true"}),
			branch: "main", mode: plan.ModePullRequest, autoMerge: true},
		{name: "push, said", app: own(map[string]string{"tagwatch.dev/mode": "push"}), branch: "main", mode: plan.ModePush},
		{name: "image updater's write branch",
			app:    testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "git-branch": "release:image-updater-staging"}),
			branch: "release", mode: plan.ModeBranch, writeBranch: "image-updater-staging"},
		{name: "image updater's write branch on the default branch",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "git-branch": ":image-updater-staging"}),
			mode: plan.ModeBranch, writeBranch: "image-updater-staging", branch: "main"},
		{name: "image updater's write branch template",
			app:    iuApp(map[string]string{iu + "git-branch": "main:image-updater{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}"}),
			branch: "main", mode: plan.ModeBranch, branchTemplate: "image-updater{{range .Images}}-{{.Alias}}-{{.NewTag}}{{end}}"},
		{name: "image updater's write branch template on the source's branch",
			app:  iuApp(map[string]string{iu + "git-branch": ":image-updater-{{.SHA256}}"}),
			mode: plan.ModeBranch, branchTemplate: "image-updater-{{.SHA256}}", branch: "main"},
		{name: "a template that does not parse",
			app:  iuApp(map[string]string{iu + "git-branch": "main:image-updater{{range .Images}}-{{.Name}}"}),
			errs: []string{iu + `git-branch: the write branch template "image-updater{{range .Images}}-{{.Name}}": template: git-branch:1: unexpected EOF`}},
		{name: "a template reading a field Image Updater has not",
			app:  iuApp(map[string]string{iu + "git-branch": "main:image-updater-{{.TargetKey}}"}),
			errs: []string{iu + `git-branch: the write branch template "image-updater-{{.TargetKey}}": there is no .TargetKey: the data is .Images (each with .Name, .Alias, .OldTag, .NewTag), .SHA256, .AppName and .AppNamespace`}},
		{name: "a field of an image Image Updater has not",
			app:  iuApp(map[string]string{iu + "git-branch": "main:u{{range .Images}}-{{.Tag}}{{end}}"}),
			errs: []string{iu + `git-branch: the write branch template "u{{range .Images}}-{{.Tag}}{{end}}": there is no .Tag: the data is .Images (each with .Name, .Alias, .OldTag, .NewTag), .SHA256, .AppName and .AppNamespace`}},
		{name: "a template and a pull request",
			app:  iuApp(map[string]string{iu + "git-branch": "main:image-updater-{{.SHA256}}", OwnPrefix + "mode": "pull-request"}),
			errs: []string{`tagwatch.dev/mode: pull-request is set, and so is ` + iu + `git-branch with a write branch template (a branch per change set, no pull request): give one`}},
		{name: "a template on a base that is no branch",
			app:  iuApp(map[string]string{iu + "git-branch": "a..b:image-updater-{{.SHA256}}"}),
			errs: []string{iu + `git-branch: "a..b" is not a branch name`}},
		{name: "bad values", app: own(map[string]string{"tagwatch.dev/mode": "pr", "tagwatch.dev/auto-merge": "yes please"}), errs: []string{
			`tagwatch.dev/auto-merge: "yes please" is not true or false`,
			`tagwatch.dev/mode: "pr" is not push or pull-request`,
		}},
		{name: "auto-merge without a pull request", app: own(map[string]string{"tagwatch.dev/auto-merge": "true"}), errs: []string{
			"tagwatch.dev/auto-merge: asks the forge to merge pull requests: set tagwatch.dev/mode: pull-request too",
		}},
		{name: "a write branch that is no branch",
			app:  testApp(map[string]string{iu + "image-list": "app=registry.example.com/team/app", iu + "git-branch": "main:a..b"}),
			errs: []string{iu + `git-branch: "a..b" is not a branch name`}},
		{name: "a write branch HEAD",
			app:  iuApp(map[string]string{iu + "git-branch": "main:HEAD"}),
			errs: []string{iu + `git-branch: "HEAD" is not a branch name`}},
		{name: "a write branch refs/heads/…",
			app:  iuApp(map[string]string{iu + "git-branch": "main:refs/heads/x"}),
			errs: []string{iu + `git-branch: "refs/heads/x" is not a branch name`}},
		{name: "a write branch starting with -",
			app:  iuApp(map[string]string{iu + "git-branch": "main:-x"}),
			errs: []string{iu + `git-branch: "-x" is not a branch name`}},
		{name: "a base HEAD: the remote's default branch",
			app:  iuApp(map[string]string{iu + "git-branch": "HEAD:image-updater-staging"}),
			mode: plan.ModeBranch, writeBranch: "image-updater-staging"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, errs := Parse(tc.app, nil)
			var msgs []string
			for _, e := range errs {
				msgs = append(msgs, e.Error())
			}
			if diff := cmp.Diff(tc.errs, msgs); diff != "" {
				t.Fatalf("errors (-want +got):\n%s", diff)
			}
			if tc.errs != nil {
				return
			}
			p := summarize(got)
			if p.Branch != tc.branch || p.Mode != tc.mode || p.WriteBranch != tc.writeBranch || p.AutoMerge != tc.autoMerge || p.BranchTemplate != tc.branchTemplate {
				t.Errorf("branch %q, mode %q, write branch %q, template %q, auto-merge %v; want %q, %q, %q, %q, %v", p.Branch, p.Mode, p.WriteBranch, p.BranchTemplate, p.AutoMerge,
					tc.branch, tc.mode, tc.writeBranch, tc.branchTemplate, tc.autoMerge)
			}
		})
	}
}
