package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPullRequestFields: git.provider, git.signing (also in an
// environment's git block, overriding the top level's as a whole),
// environments[].mode and autoMerge; errors name the field.
func TestPullRequestFields(t *testing.T) {
	head := "git:\n  url: https://git.example.com/platform/deploy.git\n  auth: {passwordEnv: GIT_TOKEN}\n"
	env := "environments:\n  - name: e\n    path: envs/e\n    images: [{image: r.example.com/app}]\n"
	for _, tc := range []struct {
		name, git, env string
		want           []string
	}{
		{"pull-request with a provider", "  provider: {kind: gitea, tokenEnv: FORGE_TOKEN}\n  signing: {key: 'env:SIGNING_KEY', format: ssh}\n", "    mode: pull-request\n    autoMerge: true\n", nil},
		{"pull-request without a provider", "", "    mode: pull-request\n", []string{
			"t.yaml:8: environments[0].mode: pull-request mode needs git.provider (the forge the pull request is opened on: kind gitea, github or gitlab)"}},
		{"unknown mode", "", "    mode: merge-request\n", []string{`t.yaml:8: environments[0].mode: "merge-request" is not one of push, pull-request`}},
		{"autoMerge in push mode", "", "    autoMerge: true\n", []string{
			"t.yaml:8: environments[0].autoMerge: only pull-request mode has a pull request to merge (set mode: pull-request)"}},
		{"bad provider", "  provider: {kind: bitbucket, url: 'ftp://x', tokenEnv: 'A-B', tokenFile: /t}\n", "", []string{
			`t.yaml:4: git.provider.kind: "bitbucket" is not one of gitea, github, gitlab`,
			`t.yaml:4: git.provider.url: "ftp://x" is not an http(s) URL of the forge`,
			`t.yaml:4: git.provider.tokenFile: set tokenEnv or tokenFile, not both`,
			`t.yaml:4: git.provider.tokenEnv: "A-B" is not an environment variable name`,
		}},
		{"provider without kind", "  provider: {tokenEnv: T}\n", "", []string{"t.yaml:4: git.provider.kind: required: one of gitea, github, gitlab"}},
		{"signing key written inline", "  signing: {key: '-----BEGIN OPENSSH PRIVATE KEY-----', format: ssh}\n", "", []string{
			"t.yaml:4: git.signing.key: must be file:/path or env:VAR (where the private key is); never the key itself"}},
		{"signing without format", "  signing: {key: 'file:/k'}\n", "", []string{"t.yaml:4: git.signing.format: required: one of ssh, openpgp"}},
		{"signing format", "  signing: {key: 'file:/k', format: x509}\n", "", []string{`t.yaml:4: git.signing.format: "x509" is not one of ssh, openpgp`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := head + tc.git + env + tc.env
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

func TestEnvironmentOverridesProviderAndSigning(t *testing.T) {
	y := `git:
  url: https://git.example.com/platform/deploy.git
  branch: main
  provider: {kind: gitea, tokenEnv: A}
  signing: {key: 'file:/a', format: ssh}
environments:
  - name: a
    path: envs/a
    images: [{image: r.example.com/app}]
  - name: b
    git: {url: https://github.com/acme/deploy.git, provider: {kind: github, tokenEnv: B}, signing: {key: 'env:K', format: openpgp}}
    path: envs/b
    mode: pull-request
    images: [{image: r.example.com/app}]
  - name: c
    git: {branch: release, provider: {kind: gitea, tokenEnv: C}}
    path: envs/c
    images: [{image: r.example.com/app}]
  - name: d
    git: {provider: {kind: gitlab}}
    path: envs/d
    images: [{image: r.example.com/app}]
`
	_, err := Parse("t.yaml", []byte(y))
	want := "t.yaml:20: environments[3].git.provider: differs from the provider of environments[0] (a), in the same repository and branch: they share one"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	c, err := Parse("t.yaml", []byte(strings.Replace(y, "provider: {kind: gitlab}", "author: {name: d, email: d@example.com}", 1)))
	if err != nil {
		t.Fatal(err)
	}
	type ps struct {
		Provider Provider
		Signing  Signing
	}
	var got []ps
	for _, e := range c.Environments {
		g := c.EffectiveGit(e)
		got = append(got, ps{*g.Provider, *g.Signing})
	}
	wantPS := []ps{
		{Provider{Kind: "gitea", TokenEnv: "A"}, Signing{Key: "file:/a", Format: "ssh"}},
		{Provider{Kind: "github", TokenEnv: "B"}, Signing{Key: "env:K", Format: "openpgp"}},
		{Provider{Kind: "gitea", TokenEnv: "C"}, Signing{Key: "file:/a", Format: "ssh"}},
		{Provider{Kind: "gitea", TokenEnv: "A"}, Signing{Key: "file:/a", Format: "ssh"}},
	}
	if diff := cmp.Diff(wantPS, got); diff != "" {
		t.Errorf("effective provider and signing (-want +got):\n%s", diff)
	}
}

func TestToken(t *testing.T) {
	t.Setenv("TW_FORGE", "forge-token")
	t.Setenv("TW_GIT", "git-token")
	for _, tc := range []struct {
		name string
		g    Git
		want string
	}{
		{"tokenEnv", Git{Provider: &Provider{TokenEnv: "TW_FORGE"}, Auth: GitAuth{PasswordEnv: "TW_GIT"}}, "forge-token"},
		{"the git password", Git{Provider: &Provider{}, Auth: GitAuth{PasswordEnv: "TW_GIT"}}, "git-token"},
	} {
		if got, err := tc.g.Token(); err != nil || got != tc.want {
			t.Errorf("%s: Token() = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := (Git{Provider: &Provider{TokenEnv: "TW_UNSET_FORGE_TOKEN"}}).Token(); err == nil || !strings.Contains(err.Error(), "TW_UNSET_FORGE_TOKEN is not set") {
		t.Errorf("unset tokenEnv: %v", err)
	}
}
