package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const twoRepos = `git:
  url: https://git.example.com/platform/deploy.git
  branch: main
  author: {name: bot, email: bot@example.com}
  auth: {passwordEnv: GIT_TOKEN}
environments:
  - name: staging
    path: envs/staging
    images: [{image: registry.example.com/team/app}]
  - name: team-b
    git: {url: https://git.example.com/team-b/deploy.git}
    path: envs/prod
    images: [{image: registry.example.com/team/app}]
  - name: release
    git: {branch: release, author: {name: releaser, email: r@example.com}}
    path: envs/prod
    images: [{image: registry.example.com/team/app}]
`

// TestEffectiveGit: an environment's git block overrides the top level
// field by field; author and auth are taken whole.
func TestEffectiveGit(t *testing.T) {
	c, err := Parse("t.yaml", []byte(twoRepos))
	if err != nil {
		t.Fatal(err)
	}
	top := c.Git
	want := []Git{
		top,
		{URL: "https://git.example.com/team-b/deploy.git", Branch: "main", Author: top.Author, Auth: top.Auth},
		{URL: top.URL, Branch: "release", Author: Author{Name: "releaser", Email: "r@example.com"}, Auth: top.Auth},
	}
	for i, e := range c.Environments {
		if diff := cmp.Diff(want[i], c.EffectiveGit(e)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", e.Name, diff)
		}
	}
}

func TestEnvironmentGitErrors(t *testing.T) {
	for _, tc := range []struct {
		name, env string
		want      []string
	}{
		{"credentials to another host", "    git: {url: https://other.example.org/deploy.git}\n", []string{
			"t.yaml:7: environments[0].git.auth: the top-level git.auth (for git.example.com) would be sent to other.example.org: set auth here (auth: {} is not enough; name the credentials for this host)",
		}},
		{"own credentials for another host", "    git: {url: https://other.example.org/deploy.git, auth: {passwordEnv: OTHER}}\n", nil},
		{"same host inherits", "    git: {url: https://git.example.com/b.git}\n", nil},
		{"bad url", "    git: {url: 'ftp://x/y.git', auth: {passwordEnv: X}}\n", []string{
			`t.yaml:7: environments[0].git.url: scheme "ftp" is not supported; use https://, http://, ssh://, user@host:path, file:// or a local path`,
		}},
		{"bad branch", "    git: {branch: 'a..b'}\n", []string{`t.yaml:7: environments[0].git.branch: "a..b" is not a valid branch name`}},
		{"unknown field", "    git: {ur: x}\n", []string{
			`t.yaml:7: environments[0].git.ur: unknown field (did you mean "url"?) (valid: url, branch, author, auth, provider, signing)`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "git: {url: https://git.example.com/deploy.git, auth: {passwordEnv: T}}\nenvironments:\n  - name: e\n    path: envs/e\n    images: [{image: r.example.com/app}]\n" + tc.env
			// A comment line puts the environment's git block on line 7.
			y = strings.Replace(y, "  - name: e\n", "  - name: e\n    # the git block follows\n", 1)
			_, err := Parse("t.yaml", []byte(y))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s\n%s", diff, y)
			}
		})
	}
}

// TestOneWriterPerField: two environments writing the same kustomization
// entry or Helm field are refused at load, naming both, whatever their
// policies (the same policy too: one environment per folder and image)
// and however their git URLs spell the repository. A repository written
// on its default branch by one environment and on a named branch by
// another is refused: they may be one branch.
func TestOneWriterPerField(t *testing.T) {
	const top = "git: {url: https://git.example.com/deploy.git}\n"
	const prod = "environments:\n" +
		"  - name: prod-v1\n    path: envs/prod\n    images: [{image: r.example.com/app, constraint: ^1, helm: {file: values.yaml, tag: image.tag}}]\n"
	const tail = ": one environment writes a field, so neither would (one environment per folder and image)"
	const kustomization = `the kustomization of envs/prod, images entry "r.example.com/app" is written by both `
	for _, tc := range []struct {
		name, top, second string
		want              []string
	}{
		{"same folder, other policy", top, "  - name: prod-v2\n    path: envs/prod/\n    images: [{image: r.example.com/app, constraint: ^2}]\n", []string{
			`t.yaml:8: environments[1].images[0]: ` + kustomization + `prod-v2 (environments[1].images[0]) and prod-v1 (environments[0].images[0])` + tail,
		}},
		{"same folder, same policy", top, "  - name: prod-copy\n    path: ./envs/prod\n    images: [{image: r.example.com/app, constraint: ^1}]\n", []string{
			`t.yaml:8: environments[1].images[0]: ` + kustomization + `prod-copy (environments[1].images[0]) and prod-v1 (environments[0].images[0])` + tail,
		}},
		{"one Helm field from another folder", top, "  - name: other\n    path: envs/other\n    images: [{image: r.example.com/web}, {image: r.example.com/app, helm: {file: ../prod/values.yaml, tag: image.tag}}]\n", []string{
			`t.yaml:8: environments[1].images[1]: envs/prod/values.yaml, field image.tag is written by both other (environments[1].images[1]) and prod-v1 (environments[0].images[0])` + tail,
		}},
		{"same folder, other image", top, "  - name: web\n    path: envs/prod\n    images: [{image: r.example.com/web}]\n", nil},
		{"same folder, another branch", "git: {url: https://git.example.com/deploy.git, branch: main}\n", "  - name: next\n    git: {branch: next}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", nil},
		{"same folder, another repository", top, "  - name: mirror\n    git: {url: https://git.example.com/mirror.git}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", nil},
		{"same folder, another scheme", top, "  - name: mirror\n    git: {url: http://git.example.com/deploy.git}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", nil},

		// One repository spelled two ways (issue 17: they were two plans).
		{"without .git", top, "  - name: prod-v2\n    git: {url: https://git.example.com/deploy}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:9: environments[1].images[0]: ` + kustomization + `prod-v2 (environments[1].images[0]) and prod-v1 (environments[0].images[0]) (their git URLs name one repository, https://git.example.com/deploy)` + tail,
		}},
		{"host case, default port, trailing slash", top, "  - name: prod-v2\n    git: {url: 'HTTPS://Git.Example.com:443/deploy.git/'}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:9: environments[1].images[0]: ` + kustomization + `prod-v2 (environments[1].images[0]) and prod-v1 (environments[0].images[0]) (their git URLs name one repository, https://git.example.com/deploy)` + tail,
		}},
		{"scp-like and ssh://", "git: {url: 'ssh://git@git.example.com/deploy.git', branch: main}\n", "  - name: prod-v2\n    git: {url: 'git@git.example.com:deploy.git'}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:7: environments[1].git.url: environment prod-v2 writes ssh://git@git.example.com/~/deploy and environment prod-v1 writes ssh://git.example.com/deploy: one repository on a forge, maybe two on a plain ssh server (a path without a leading / is in the user's home directory); write its URL the same way in both`,
		}},
		{"scp-like with an absolute path and ssh://", "git: {url: 'ssh://git@git.example.com/deploy.git', branch: main}\n", "  - name: prod-v2\n    git: {url: 'git@git.example.com:/deploy.git'}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:9: environments[1].images[0]: ` + kustomization + `prod-v2 (environments[1].images[0]) and prod-v1 (environments[0].images[0]) (their git URLs name one repository, ssh://git.example.com/deploy)` + tail,
		}},
		{"file:// and a local path", "git: {url: 'file:///srv/git/deploy.git'}\n", "  - name: prod-v2\n    git: {url: /srv/git/deploy.git/}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:9: environments[1].images[0]: ` + kustomization + `prod-v2 (environments[1].images[0]) and prod-v1 (environments[0].images[0]) (their git URLs name one repository, file:///srv/git/deploy.git)` + tail,
		}},
		{"local: with and without .git", "git: {url: 'file:///srv/git/deploy.git'}\n", "  - name: prod-v2\n    git: {url: /srv/git/deploy}\n    path: envs/prod\n    images: [{image: r.example.com/app}]\n", nil},

		// The default branch and a named one (issue 17: "" and main were two plans).
		{"default branch and a named one", top, "  - name: prod-v2\n    git: {branch: main}\n    path: envs/other\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:7: environments[1].git.branch: environment prod-v2 writes branch main of https://git.example.com/deploy, and environment prod-v1 its default branch (it names none): if the default branch is main, two working copies would write one branch, each blind to the other's fields; write the branch the same way in both (name it in both, or once at the top level)`,
		}},
		{"a named branch, then the default one, spelled apart", top, "  - name: a\n    git: {url: https://git.example.com/other.git, branch: main}\n    path: envs/a\n    images: [{image: r.example.com/app}]\n" +
			"  - name: b\n    git: {url: https://git.example.com/other}\n    path: envs/b\n    images: [{image: r.example.com/app}]\n", []string{
			`t.yaml:11: environments[2].git.url: environment a writes branch main of https://git.example.com/other, and environment b its default branch (it names none): if the default branch is main, two working copies would write one branch, each blind to the other's fields; write the branch the same way in both (name it in both, or once at the top level)`,
		}},
		{"another spelling inherits the top-level branch", "git: {url: https://git.example.com/deploy.git, branch: main}\n", "  - name: prod-v2\n    git: {url: 'https://git.example.com/deploy'}\n    path: envs/other\n    images: [{image: r.example.com/app}]\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(tc.top+prod+tc.second))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPromotionErrors(t *testing.T) {
	env := func(name, extra string) string {
		return "  - name: " + name + "\n    path: envs/" + name + "\n    images: [{image: r.example.com/app}]\n" + extra
	}
	for _, tc := range []struct {
		name, envs string
		want       []string
	}{
		{"chain", env("dev", "") + env("staging", "    promotion: {from: dev, soak: 10m}\n") + env("production", "    promotion: {from: staging, soak: 30m}\n"), nil},
		{"unknown", env("production", "    promotion: {from: stagign}\n"), []string{`t.yaml:6: environments[0].promotion.from: "stagign" is not an environment of this config`}},
		{"itself", env("production", "    promotion: {from: production}\n"), []string{`t.yaml:6: environments[0].promotion.from: production cannot be promoted from itself`}},
		{"cycle", env("a", "    promotion: {from: b}\n") + env("b", "    promotion: {from: a}\n"), []string{
			`t.yaml:6: environments[0].promotion.from: promotion cycle: a <- b <- a`,
			`t.yaml:10: environments[1].promotion.from: promotion cycle: b <- a <- b`,
		}},
		{"another repository", env("staging", "    git: {url: https://git.example.com/other.git}\n") + env("production", "    promotion: {from: staging}\n"), []string{
			`t.yaml:10: environments[1].promotion.from: staging is in another repository or branch (https://git.example.com/other.git, its default branch); the gate reads its history, so both must be in one repository and branch`,
		}},
		{"negative soak", env("staging", "") + env("production", "    promotion: {from: staging, soak: -1m}\n"), []string{
			`t.yaml:9: environments[1].promotion.soak: -1m0s is negative`,
		}},
		{"requireHealthy outside Kubernetes", env("staging", "") + env("production", "    promotion: {from: staging, requireHealthy: true}\n"), []string{
			`t.yaml:9: environments[1].promotion.requireHealthy: reads the Argo CD Application of staging: environments from Applications set it with the annotation tagwatch.dev/require-healthy`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte("git: {url: https://git.example.com/deploy.git}\nenvironments:\n"+tc.envs))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}
