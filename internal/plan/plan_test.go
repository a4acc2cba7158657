package plan

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/webhook"
)

const manyRepos = `git: {url: https://git.example.com/deploy.git, branch: main, auth: {passwordEnv: PLAN_TEST_TOKEN}}
registries: [{prefix: r.example.com, rateLimit: 5}]
interval: 30s
environments:
  - name: a
    path: envs/a
    images: [{image: r.example.com/app, helm: {file: values.yaml, tag: image.tag}}]
  - name: b
    git: {url: https://git.example.com/other.git}
    path: envs/b
    images: [{image: r.example.com/app, kustomizeName: app, writeDigest: true}]
  - name: c
    git: {branch: release}
    path: envs/c
    images: [{image: r.example.com/web, alias: w, strategy: digest, constraint: stable}]
  - name: d
    path: envs/d
    images: [{image: r.example.com/app}]
`

func TestFromConfigGroupsByRepositoryAndBranch(t *testing.T) {
	cfg, err := config.Parse("t.yaml", []byte(manyRepos))
	if err != nil {
		t.Fatal(err)
	}
	set, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type envOf struct{ Key, Envs string }
	var got []envOf
	for _, p := range set.Plans {
		var names []string
		for _, e := range p.Envs {
			names = append(names, e.Name)
		}
		got = append(got, envOf{p.Repo.URL + "@" + p.Repo.Branch, strings.Join(names, ",")})
	}
	want := []envOf{
		{"https://git.example.com/deploy.git@main", "a,d"},
		{"https://git.example.com/other.git@main", "b"},
		{"https://git.example.com/deploy.git@release", "c"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
	if set.Interval.String() != "30s" || len(set.Hosts) != 1 || set.Hosts[0].RateLimit != 5 {
		t.Errorf("interval %v, hosts %+v", set.Interval, set.Hosts)
	}
	a, b, c := set.Plans[0].Envs[0].Watches[0], set.Plans[1].Envs[0].Watches[0], set.Plans[2].Envs[0].Watches[0]
	if a.Name() != "r.example.com/app" || a.Alias != "app" || a.Helm == nil || a.Helm.Tag != "image.tag" || a.WantsDigest() {
		t.Errorf("watch a: %+v", a)
	}
	if b.Name() != "app" || !b.WantsDigest() {
		t.Errorf("watch b: %+v", b)
	}
	if c.Alias != "w" || !c.WantsDigest() || c.Policy.Spec().Constraint != "stable" {
		t.Errorf("watch c: %+v", c)
	}
	// The policy is the one config compiled: compiled once.
	if a.Policy != cfg.Environments[0].Images[0].Policy() {
		t.Errorf("FromConfig compiled the policy again")
	}
	// Credentials are read when the repository is opened, not before.
	if _, err := set.Plans[0].Repo.Options(context.Background()); err == nil || !strings.Contains(err.Error(), "PLAN_TEST_TOKEN is not set") {
		t.Errorf("Options without the variable: %v", err)
	}
	t.Setenv("PLAN_TEST_TOKEN", "tok")
	opts, err := set.Plans[0].Repo.Options(context.Background())
	if err != nil || len(opts) != 3 {
		t.Errorf("Options = %d options, %v; want auth, branch and author", len(opts), err)
	}
}

// TestFromConfigOneWorkingCopyPerRepository: environments whose git URLs
// spell one repository differently (issue 17: .git, a trailing "/", the
// host's case, the default port, scp-like with an absolute path and
// ssh://, file:// and a local path) are one plan, one working copy, shown with the URL the first of
// them wrote.
func TestFromConfigOneWorkingCopyPerRepository(t *testing.T) {
	env := func(name, url string) string {
		return "  - name: " + name + "\n    git: {url: '" + url + "'}\n    path: envs/" + name + "\n    images: [{image: r.example.com/app}]\n"
	}
	y := "git: {url: https://git.example.com/org/deploy.git, branch: main}\nenvironments:\n" +
		env("a", "https://git.example.com/org/deploy.git") +
		env("b", "https://Git.Example.com:443/org/deploy/") +
		env("c", "git@git.example.com:/org/deploy.git") +
		env("d", "ssh://git@git.example.com:22/org/deploy") +
		env("e", "file:///srv/git/deploy.git") +
		env("f", "/srv/git/deploy.git/") +
		env("g", "http://git.example.com/org/deploy.git")
	cfg, err := config.Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	type envOf struct{ URL, Envs string }
	var got []envOf
	for _, p := range set.Plans {
		var names []string
		for _, e := range p.Envs {
			names = append(names, e.Name)
		}
		got = append(got, envOf{p.Repo.URL, strings.Join(names, ",")})
	}
	want := []envOf{
		{"https://git.example.com/org/deploy.git", "a,b"},
		{"git@git.example.com:/org/deploy.git", "c,d"},
		{"file:///srv/git/deploy.git", "e,f"},
		{"http://git.example.com/org/deploy.git", "g"}, // another scheme: not merged
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plans (-want +got):\n%s", diff)
	}
}

// TestCheck: names are keys across every plan and source, and a repository
// and branch, however its URL is spelled, has one plan; problems name both
// places.
func TestCheck(t *testing.T) {
	repo := func(url, branch string) Repo {
		return Repo{URL: url, Branch: branch, Author: gitrepo.Author{Name: "a", Email: "a@b"}}
	}
	plans := []*Plan{
		{Repo: repo("https://g/a.git", "main"), Envs: []*Environment{{Name: "prod", Origin: "tagwatch.yaml: environments[0]"}}},
		{Repo: repo("https://g/b.git", "main"), Envs: []*Environment{{Name: "prod", Origin: "Application argocd/prod"}}},
		{Repo: repo("https://G/a/", "main"), Envs: []*Environment{{Name: "dev", Origin: "tagwatch.yaml: environments[1]"}}},
	}
	err := Check(plans)
	want := `environment name "prod" is used twice: tagwatch.yaml: environments[0] and Application argocd/prod; https://G/a/ (branch "main") has two plans; merge them`
	if err == nil || err.Error() != want {
		t.Errorf("Check = %v\nwant %s", err, want)
	}
	if err := Check(plans[:1]); err != nil {
		t.Errorf("Check of one plan = %v", err)
	}
}

func TestFromConfigRefusesAnUnvalidatedConfig(t *testing.T) {
	cfg := &config.Config{Git: config.Git{URL: "x"}, Environments: []config.Environment{{Name: "e", Path: "p", Images: []config.Image{{Image: "r/app"}}}}}
	if _, err := FromConfig(cfg); !errors.Is(err, config.ErrInvalid) {
		t.Errorf("FromConfig = %v, want config.ErrInvalid", err)
	}
}

// TestWebhookTypesAgree: the config accepts exactly the types the
// receiver serves.
func TestWebhookTypesAgree(t *testing.T) {
	if diff := cmp.Diff(webhook.Types(), config.WebhookTypes); diff != "" {
		t.Errorf("config.WebhookTypes (-receiver +config):\n%s", diff)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                         "index.docker.io/library/nginx",
		"registry.example.com/team/app": "registry.example.com/team/app",
		"127.0.0.1:5000/app":            "127.0.0.1:5000/app",
		"Not A Name":                    "Not A Name",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}
