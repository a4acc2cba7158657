package preflight_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/preflight"
)

// files writes the files a config can refer to, good and bad, into a
// temporary directory and returns their paths by name.
func files(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	encBlock, err := ssh.MarshalPrivateKeyWithPassphrase(key, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ecKey.PublicKey, ecKey)
	if err != nil {
		t.Fatal(err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	content := map[string][]byte{
		"key":          pem.EncodeToMemory(block),
		"encryptedKey": pem.EncodeToMemory(encBlock),
		"notAKey":      []byte("hello\n"),
		"knownHosts":   []byte("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"),
		"ca":           pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"token":        []byte("t0ken\n"),
		"empty":        []byte("\n"),
		"userPass":     []byte("robot:s3cret\n"),
		"pullSecret":   []byte(`{"auths":{"registry.example.com":{"auth":"` + auth + `"}}}`),
	}
	out := map[string]string{"missing": filepath.Join(dir, "missing")}
	for name, b := range content {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		out[name] = p
	}
	repo := filepath.Join(dir, "deploy.git")
	if err := os.Mkdir(repo, 0o755); err != nil {
		t.Fatal(err)
	}
	out["repo"] = repo
	return out
}

func parse(t *testing.T, y string) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const envs = `environments:
  - name: staging
    path: envs/staging
    images: [{image: registry.example.com/team/app}]
`

func TestCheckFindsEveryProblem(t *testing.T) {
	f := files(t)
	t.Setenv("TW_PREFLIGHT_TOKEN", "t0ken")
	t.Setenv("TW_PREFLIGHT_EMPTY", "")
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/known_hosts
	t.Setenv("SSH_AUTH_SOCK", "")
	y := fmt.Sprintf(`git:
  url: ssh://git@git.example.com/deploy.git
  auth: {sshKeyFile: %s}
registries:
  - {prefix: registry.example.com, credentials: 'dockerconfig:%s', caFile: %s}
  - {prefix: ghcr.io, credentials: 'dockerconfig:%s'}
  - {prefix: quay.io, credentials: 'file:%s', caFile: %s}
  - {prefix: r.example.com, credentials: 'env:TW_PREFLIGHT_UNSET'}
webhooks:
  - {type: github, secret: 'env:TW_PREFLIGHT_EMPTY'}
  - {type: generic, secret: 'file:%s'}
  - {type: quay, secret: 'env:TW_PREFLIGHT_TOKEN'}
environments:
  - name: staging
    git: {url: 'file://%s', auth: {passwordFile: %s}}
    path: envs/staging
    images: [{image: registry.example.com/team/app}]
  - name: prod
    git: {url: %s, auth: {sshKeyFile: %s, knownHostsFile: %s}}
    path: envs/prod
    images: [{image: registry.example.com/team/app}]
  - name: qa
    git: {url: 'ssh://git@git.example.com/qa.git', auth: {sshKeyFile: %s, knownHostsFile: %s}}
    path: envs/qa
    images: [{image: registry.example.com/team/app}]
  - name: web
    git: {url: 'https://git.example.com/web.git', auth: {passwordFile: %s}}
    path: envs/web
    images: [{image: registry.example.com/team/app}]
`, f["encryptedKey"], f["pullSecret"], f["ca"], f["pullSecret"], f["userPass"], f["notAKey"],
		f["missing"], f["missing"], f["empty"], f["missing"], f["notAKey"], f["knownHosts"], f["notAKey"], f["knownHosts"], f["empty"])
	got := []string{}
	for _, p := range preflight.Check(parse(t, y)) {
		if strings.Contains(p.Error(), "s3cret") || strings.Contains(p.Error(), "t0ken") {
			t.Errorf("a secret in %v", p)
		}
		got = append(got, fmt.Sprintf("%d %s: %v", p.Line, p.Field, p.Err))
	}
	want := []string{
		"3 git.auth.sshKeyFile: " + f["encryptedKey"] + " is encrypted: tagwatch needs a private key without a passphrase",
		"3 git.auth.knownHostsFile: not set, and the default " + filepath.Join(os.Getenv("HOME"), ".ssh", "known_hosts") + " cannot be read (no such file or directory): ssh host keys are always verified; add the host's key with ssh-keyscan",
		"6 registries[1].credentials: credentials from dockerconfig:" + f["pullSecret"] + ": no auths entry for ghcr.io (it has registry.example.com)",
		"7 registries[2].caFile: " + f["notAKey"] + " holds no PEM certificate",
		"8 registries[3].credentials: credentials: environment variable TW_PREFLIGHT_UNSET is not set",
		"10 webhooks[0].secret: environment variable TW_PREFLIGHT_EMPTY is empty",
		"11 webhooks[1].secret: open " + f["missing"] + ": no such file or directory",
		// Local repositories (staging, prod): their credentials are not read, so not checked.
		"15 environments[0].git.url: the local repository " + f["missing"] + ": no such file or directory",
		"19 environments[1].git.url: the local repository " + f["missing"] + ": no such file or directory",
		"23 environments[2].git.auth.sshKeyFile: " + f["notAKey"] + " is not a private key tagwatch can read (OpenSSH, PEM RSA, ECDSA or Ed25519)",
		"27 environments[3].git.auth.passwordFile: " + f["empty"] + " is empty",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestCheckGoodConfig(t *testing.T) {
	f := files(t)
	t.Setenv("TW_PREFLIGHT_TOKEN", "t0ken")
	y := fmt.Sprintf(`git:
  url: %s
  auth: {passwordEnv: TW_PREFLIGHT_TOKEN}
registries:
  - {prefix: registry.example.com, credentials: 'dockerconfig:%s', caFile: %s}
  - {prefix: quay.io, credentials: 'file:%s'}
webhooks:
  - {type: generic, secret: 'file:%s'}
`, f["repo"], f["pullSecret"], f["ca"], f["userPass"], f["token"]) + envs
	if ps := preflight.Check(parse(t, y)); len(ps) != 0 {
		t.Errorf("problems in a good config: %v", ps)
	}
	// An ssh remote with a key and known hosts.
	y = fmt.Sprintf("git:\n  url: git@git.example.com:team/deploy.git\n  auth: {sshKeyFile: %s, knownHostsFile: %s}\n", f["key"], f["knownHosts"]) + envs
	if ps := preflight.Check(parse(t, y)); len(ps) != 0 {
		t.Errorf("problems in a good ssh config: %v", ps)
	}
}

// TestCheckCredentialsWhereUsed: an auth block is checked for the
// repositories that use it (each environment's effective git), as run
// reads it: never for a file:// URL or a local path, which take no
// credentials (issue: check demanded passwordEnv that run never reads).
func TestCheckCredentialsWhereUsed(t *testing.T) {
	f := files(t)
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/known_hosts
	t.Setenv("SSH_AUTH_SOCK", "")
	env := func(name, git string) string {
		y := "  - name: " + name + "\n"
		if git != "" {
			y += "    git: " + git + "\n"
		}
		return y + "    path: envs/" + name + "\n    images: [{image: registry.example.com/team/app}]\n"
	}
	for _, tc := range []struct {
		name, y string
		want    []string
	}{
		{"file:// without its password variable",
			"git: {url: 'file://" + f["repo"] + "', auth: {passwordEnv: TW_PREFLIGHT_UNSET}}\nenvironments:\n" + env("staging", ""), nil},
		{"local path with a missing password file and ssh key",
			"git: {url: " + f["repo"] + ", auth: {passwordFile: " + f["missing"] + ", sshKeyFile: " + f["missing"] + "}}\nenvironments:\n" + env("staging", ""), nil},
		{"an environment's own local repository",
			"git: {url: https://git.example.com/deploy.git, auth: {passwordEnv: TW_PREFLIGHT_TOKEN}}\nenvironments:\n" +
				env("staging", "") + env("local", "{url: '"+f["repo"]+"', auth: {passwordEnv: TW_PREFLIGHT_UNSET}}"), nil},
		{"the top level's auth, used by a remote",
			"git: {url: https://git.example.com/deploy.git, auth: {passwordEnv: TW_PREFLIGHT_UNSET}}\nenvironments:\n" +
				env("staging", "") + env("local", "{url: '"+f["repo"]+"', auth: {passwordEnv: TW_PREFLIGHT_TOKEN}}"),
			[]string{"1 git.auth.passwordEnv: environment variable TW_PREFLIGHT_UNSET is not set"}},
		{"the top level's auth, used by local repositories only",
			"git: {url: " + f["repo"] + ", auth: {passwordEnv: TW_PREFLIGHT_UNSET}}\nenvironments:\n" +
				env("staging", "") + env("web", "{url: https://git.example.com/web.git, auth: {passwordEnv: TW_PREFLIGHT_UNSET_WEB}}"),
			[]string{"7 environments[1].git.auth.passwordEnv: environment variable TW_PREFLIGHT_UNSET_WEB is not set"}},
		{"the top level's auth, used by no environment",
			"git: {url: https://git.example.com/deploy.git, auth: {passwordEnv: TW_PREFLIGHT_UNSET}}\nenvironments:\n" +
				env("staging", "{url: 'file://"+f["repo"]+"', auth: {username: local}}"),
			[]string{"1 git.auth.passwordEnv: environment variable TW_PREFLIGHT_UNSET is not set"}},
		{"an ssh repository inheriting the top level's ssh auth",
			"git: {url: https://git.example.com/deploy.git, auth: {sshKeyFile: " + f["key"] + ", knownHostsFile: " + f["knownHosts"] + "}}\nenvironments:\n" +
				env("staging", "{url: 'ssh://git@git.example.com/deploy.git'}"), nil},
		{"an ssh repository inheriting auth without ssh settings",
			"git: {url: https://git.example.com/deploy.git, auth: {passwordEnv: TW_PREFLIGHT_TOKEN}}\nenvironments:\n" +
				env("staging", "") + env("ssh", "{url: 'git@git.example.com:deploy.git'}"),
			[]string{
				"1 git.auth.knownHostsFile: not set, and the default " + filepath.Join(os.Getenv("HOME"), ".ssh", "known_hosts") + " cannot be read (no such file or directory): ssh host keys are always verified; add the host's key with ssh-keyscan",
				"1 git.auth.sshKeyFile: an ssh URL needs a private key (sshKeyFile) or a running ssh-agent (SSH_AUTH_SOCK is not set)",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TW_PREFLIGHT_TOKEN", "t0ken")
			var got []string
			for _, p := range preflight.Check(parse(t, tc.y)) {
				got = append(got, fmt.Sprintf("%d %s: %v", p.Line, p.Field, p.Err))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s\n%s", diff, tc.y)
			}
		})
	}
}

// TestCheckSigningAndProvider: a signing key that cannot be read or
// parsed, and a forge token that is not set, are problems at their fields;
// a good key and a set token are not.
func TestCheckSigningAndProvider(t *testing.T) {
	f := files(t)
	t.Setenv("TW_PREFLIGHT_TOKEN", "t0ken")
	y := fmt.Sprintf(`git:
  url: https://git.example.com/platform/deploy.git
  provider: {kind: gitea, tokenEnv: TW_PREFLIGHT_UNSET_FORGE}
  signing: {key: 'file:%s', format: ssh}
environments:
  - name: staging
    git: {url: https://git.example.com/platform/other.git, provider: {kind: github, tokenFile: %s}, signing: {key: 'file:%s', format: openpgp}}
    path: envs/staging
    images: [{image: registry.example.com/team/app}]
`, f["notAKey"], f["missing"], f["key"])
	var got []string
	for _, p := range preflight.Check(parse(t, y)) {
		got = append(got, fmt.Sprintf("%d %s: %v", p.Line, p.Field, p.Err))
	}
	want := []string{
		"3 git.provider.tokenEnv: environment variable TW_PREFLIGHT_UNSET_FORGE is not set",
		"4 git.signing.key: the signing key is not an ssh private key: ssh: no key found",
		"7 environments[0].git.signing.key: the signing key is not an OpenPGP key but another PEM key (an SSH key goes with format: ssh)",
		"7 environments[0].git.provider.tokenFile: open " + f["missing"] + ": no such file or directory",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	y = fmt.Sprintf("git:\n  url: https://git.example.com/p/d.git\n  provider: {kind: gitea, tokenEnv: TW_PREFLIGHT_TOKEN}\n  signing: {key: 'file:%s', format: ssh}\n", f["key"]) + envs
	if ps := preflight.Check(parse(t, y)); len(ps) != 0 {
		t.Errorf("problems in a good config: %v", ps)
	}
}

// TestCheckApplicationsSelector: the label selector of Kubernetes mode is
// checked with Kubernetes' own parser, offline.
func TestCheckApplicationsSelector(t *testing.T) {
	for sel, want := range map[string]string{
		"team=payments,tier in (web, api),!legacy": "",
		"=payments": `t.yaml:1: applications.selector: selector "=payments": `,
		"a b":       `t.yaml:1: applications.selector: selector "a b": `,
		"x in (a":   `t.yaml:1: applications.selector: selector "x in (a": `,
	} {
		ps := preflight.Check(parse(t, fmt.Sprintf("applications: {selector: %q}\n", sel)))
		switch {
		case want == "" && len(ps) != 0:
			t.Errorf("%q: problems %v", sel, ps)
		case want != "" && (len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), want)):
			t.Errorf("%q: problems %v, want one starting %q", sel, ps, want)
		}
	}
}

// TestCheckWebhookSecretAsTheHandlerReadsIt: a secret file holding only a
// newline is set and readable, but the webhook handler trims it to nothing
// and refuses every request: check says so.
func TestCheckWebhookSecretAsTheHandlerReadsIt(t *testing.T) {
	blank := filepath.Join(t.TempDir(), "hook")
	if err := os.WriteFile(blank, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := "git: {url: https://git.example.com/deploy.git}\nwebhooks:\n  - {type: generic, secret: 'file:" + blank + "'}\n" +
		"environments:\n  - {name: staging, path: envs/staging, images: [{image: registry.example.com/team/app}]}\n"
	var got []string
	for _, p := range preflight.Check(parse(t, y)) {
		got = append(got, fmt.Sprintf("%d %s: %v", p.Line, p.Field, p.Err))
	}
	if diff := cmp.Diff([]string{"3 webhooks[0].secret: " + blank + " is empty"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
