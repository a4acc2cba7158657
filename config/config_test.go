package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwatch/tagwatch/policy"
)

var ignoreLines = cmpopts.IgnoreUnexported(Config{}, Image{})

func TestLoadFullExample(t *testing.T) {
	got, err := Load("../docs/examples/tagwatch.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File: "../docs/examples/tagwatch.yaml",
		Git: Git{
			URL:    "https://git.example.com/platform/deploy.git",
			Branch: "main",
			Author: Author{Name: "tagwatch", Email: "tagwatch@example.com"},
			Auth: GitAuth{
				Username:       "git",
				PasswordEnv:    "GIT_TOKEN",
				SSHKeyFile:     "/etc/tagwatch/id_ed25519",
				KnownHostsFile: "/etc/tagwatch/known_hosts",
			},
		},
		Registries: []Registry{{
			Prefix: "registry.example.com", CAFile: "/etc/tagwatch/ca.pem",
			Credentials: "env:REGISTRY_AUTH", RateLimit: 20,
		}},
		Interval: Duration{2 * time.Minute},
		Environments: []Environment{
			{Name: "staging", Path: "envs/staging", Images: []Image{{
				Image: "registry.example.com/team/app", KustomizeName: "team/app", Alias: "app",
				Strategy: "semver", Constraint: ">=1.0.0-0", AllowTags: `^\d+\.\d+\.\d+(-rc\.\d+)?$`,
				IgnoreTags: []string{"*-debug"}, Order: "asc", Platforms: []string{"linux/amd64"},
			}}},
			{Name: "production", Path: "envs/production", Images: []Image{{
				Image: "registry.example.com/team/app", KustomizeName: "registry.example.com/team/app", Alias: "app",
				Strategy: "semver", Constraint: "^1", Order: "asc",
			}}},
		},
	}
	if diff := cmp.Diff(want, got, ignoreLines); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if l := got.Line("environments[1].images[0].constraint"); l != 37 {
		t.Errorf("Line(constraint) = %d, want 37", l)
	}
	if l := got.Line("environments[1].images[0].writeDigest"); l != 35 {
		t.Errorf("Line of an unwritten field = %d, want 35 (its image)", l)
	}
}

func TestLoadExamples(t *testing.T) {
	files, _ := filepath.Glob("../docs/examples/*.yaml")
	if len(files) < 3 {
		t.Fatalf("examples: %v", files)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := Load(f); err != nil {
				t.Error(err)
			}
		})
	}
}

const minimal = `git:
  url: https://git.example.com/deploy.git
environments:
  - name: staging
    path: envs/staging
    images:
      - image: registry.example.com/team/app
`

func TestDefaults(t *testing.T) {
	got, err := Parse("tagwatch.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File:     "tagwatch.yaml",
		Git:      Git{URL: "https://git.example.com/deploy.git", Author: Author{Name: "tagwatch", Email: "tagwatch@localhost"}},
		Interval: Duration{2 * time.Minute},
		Environments: []Environment{{Name: "staging", Path: "envs/staging", Images: []Image{{
			Image: "registry.example.com/team/app", KustomizeName: "registry.example.com/team/app",
			Alias: "app", Strategy: "semver", Order: "asc",
		}}}},
	}
	if diff := cmp.Diff(want, got, ignoreLines); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestFields(t *testing.T) {
	const y = `git:
  url: /srv/git/deploy.git
  author: {name: bot}
  auth: {passwordFile: token}
registries:
  - prefix: r.example.com
  - prefix: r.example.com/team
    rateLimit: 2.5
    immutableTags: true
    tagTTL: 10m
interval: 30s
environments:
  - name: prod-eu-1
    path: envs/prod
    images:
      - image: r.example.com/team/app
        alias: web
        strategy: numerical
        allowTags: '^b(?P<n>\d+)$'
        extract: '$n'
        order: desc
        semverLoose: true
        allowDowngrade: true
        helm: {file: values.yaml, image: app.image}
      - image: r.example.com/argo
        semverLoose: true
        argoCompat: true
        allowTags: 'regexp:^1\.'
      - image: nginx
        strategy: digest
        constraint: stable
        writeDigest: true
        helm: {file: ../charts/values.yaml, repository: a.repo, tag: a.tag, digest: a.digest}
`
	got, err := Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		File: "t.yaml",
		Git: Git{
			URL:    "/srv/git/deploy.git",
			Author: Author{Name: "bot", Email: "tagwatch@localhost"},
			Auth:   GitAuth{PasswordFile: "token"},
		},
		Registries: []Registry{
			{Prefix: "r.example.com"},
			{Prefix: "r.example.com/team", RateLimit: 2.5, ImmutableTags: true, TagTTL: Duration{10 * time.Minute}},
		},
		Interval: Duration{30 * time.Second},
		Environments: []Environment{{Name: "prod-eu-1", Path: "envs/prod", Images: []Image{
			{
				Image: "r.example.com/team/app", KustomizeName: "r.example.com/team/app", Alias: "web",
				Strategy: "numerical", AllowTags: `^b(?P<n>\d+)$`, Extract: "$n", Order: "desc",
				SemverLoose: true, AllowDowngrade: true, Helm: &Helm{File: "values.yaml", Image: "app.image"},
			},
			{
				Image: "r.example.com/argo", KustomizeName: "r.example.com/argo", Alias: "argo", Strategy: "semver",
				Order: "asc", SemverLoose: true, ArgoCompat: true, AllowTags: `regexp:^1\.`,
			},
			{
				Image: "nginx", KustomizeName: "nginx", Alias: "nginx", Strategy: "digest", Constraint: "stable",
				Order: "asc", WriteDigest: true,
				Helm: &Helm{File: "../charts/values.yaml", Repository: "a.repo", Tag: "a.tag", Digest: "a.digest"},
			},
		}}},
	}
	if diff := cmp.Diff(want, got, ignoreLines); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
}

func TestLoadResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	y := strings.Replace(minimal, "url: https://git.example.com/deploy.git",
		"url: ./deploy\n  auth: {passwordFile: secrets/token, sshKeyFile: /abs/key}", 1) +
		"registries:\n  - prefix: r.example.com\n    credentials: file:auth.txt\n    caFile: ca.pem\n" +
		"  - prefix: ghcr.io\n    credentials: dockerconfig:pull/.dockerconfigjson\n"
	path := filepath.Join(dir, "tagwatch.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{c.Git.URL, c.Git.Auth.PasswordFile, c.Git.Auth.SSHKeyFile, c.Registries[0].Credentials, c.Registries[0].CAFile, c.Registries[1].Credentials}
	want := []string{
		filepath.Join(dir, "deploy"), filepath.Join(dir, "secrets/token"), "/abs/key",
		"file:" + filepath.Join(dir, "auth.txt"), filepath.Join(dir, "ca.pem"), "dockerconfig:" + filepath.Join(dir, "pull/.dockerconfigjson"),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("resolved paths (-want +got):\n%s", diff)
	}
}

func TestRootPath(t *testing.T) {
	c, err := Parse("t.yaml", []byte(strings.Replace(minimal, "path: envs/staging", "path: .", 1)+"        helm: {file: values.yaml, tag: image.tag}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Environments[0].Path != "." {
		t.Errorf("path = %q, want .", c.Environments[0].Path)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "token")
	if err := os.WriteFile(file, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TAGWATCH_TEST_TOKEN", "from-env")
	t.Setenv("TAGWATCH_TEST_EMPTY", "")
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		auth    GitAuth
		want    string
		wantErr string
	}{
		{name: "none"},
		{name: "env", auth: GitAuth{PasswordEnv: "TAGWATCH_TEST_TOKEN"}, want: "from-env"},
		{name: "file", auth: GitAuth{PasswordFile: file}, want: "s3cret"},
		{name: "unset env", auth: GitAuth{PasswordEnv: "TAGWATCH_TEST_UNSET"}, wantErr: "environment variable TAGWATCH_TEST_UNSET is not set"},
		{name: "empty env", auth: GitAuth{PasswordEnv: "TAGWATCH_TEST_EMPTY"}, wantErr: "environment variable TAGWATCH_TEST_EMPTY is empty"},
		{name: "empty file", auth: GitAuth{PasswordFile: empty}, wantErr: empty + " is empty"},
		{name: "missing file", auth: GitAuth{PasswordFile: filepath.Join(dir, "nope")}, wantErr: "open " + filepath.Join(dir, "nope") + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.auth.Password()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("Password() error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Password() = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestPolicySpec(t *testing.T) {
	im := Image{Strategy: "numerical", Constraint: "c", SemverLoose: true, AllowTags: "a", ArgoCompat: true, IgnoreTags: []string{"i"},
		Extract: "$1", Order: "desc", Platforms: []string{"linux/arm64"}, AllowDowngrade: true}
	want := policy.Spec{Strategy: policy.Numerical, Constraint: "c", Loose: true, AllowTags: "a", ArgoCompat: true, IgnoreTags: []string{"i"},
		Extract: "$1", Order: "desc", Platforms: []string{"linux/arm64"}, AllowDowngrade: true}
	if diff := cmp.Diff(want, im.PolicySpec()); diff != "" {
		t.Errorf("PolicySpec (-want +got):\n%s", diff)
	}
}

func TestDefaultAlias(t *testing.T) {
	for in, want := range map[string]string{
		"registry.example.com/team/app": "app", "nginx": "nginx", "localhost:5000/a/b/": "b", "": "",
	} {
		if got := DefaultAlias(in); got != want {
			t.Errorf("DefaultAlias(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.Duration != 90*time.Minute {
		t.Errorf("UnmarshalText(1h30m) = %v, %v", d, err)
	}
	if b, _ := d.MarshalText(); string(b) != "1h30m0s" {
		t.Errorf("MarshalText = %s", b)
	}
}

func TestValidateAfterChange(t *testing.T) {
	c, err := Parse("t.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate of a loaded config = %v", err)
	}
	c.Environments[0].Name = "Bad"
	err = c.Validate()
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Error() != `t.yaml:4: environments[0].name: "Bad" must match [a-z0-9][a-z0-9-]*` {
		t.Errorf("Validate = %v", err)
	}
}

// TestGitPassword: file:// URLs and local paths take no credentials, so
// their passwordEnv need not be set (issue 14); remote URLs still need it.
func TestGitPassword(t *testing.T) {
	t.Setenv("TAGWATCH_TEST_TOKEN", "from-env")
	unset := GitAuth{PasswordEnv: "TAGWATCH_TEST_UNSET"}
	for _, tc := range []struct {
		url     string
		auth    GitAuth
		want    string
		wantErr bool
	}{
		{url: "file:///srv/git/deploy.git", auth: unset},
		{url: "/srv/git/deploy.git", auth: unset},
		{url: "./deploy", auth: unset},
		{url: "https://git.example.com/deploy.git", auth: unset, wantErr: true},
		{url: "ssh://git@git.example.com/deploy.git", auth: unset, wantErr: true},
		{url: "git@git.example.com:deploy.git", auth: unset, wantErr: true},
		{url: "https://git.example.com/deploy.git", auth: GitAuth{PasswordEnv: "TAGWATCH_TEST_TOKEN"}, want: "from-env"},
		{url: "https://git.example.com/deploy.git"},
	} {
		got, err := Git{URL: tc.url, Auth: tc.auth}.Password()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("Git{URL: %q}.Password() = %q, %v; want %q, error %v", tc.url, got, err, tc.want, tc.wantErr)
		}
	}
}
