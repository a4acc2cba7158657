package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestOverSSHScpLike pushes to a git.url in git's scp-like form,
// user@alias:path. The form carries no port, so the test's sshd on a random
// loopback port is reached through the alias in ~/.ssh/config (HostName,
// Port) of a HOME made for the run. Host keys are looked up under the
// address the alias resolves to ([127.0.0.1]:port), as OpenSSH does without
// HostKeyAlias; an entry under the alias is not accepted.
func TestOverSSHScpLike(t *testing.T) {
	const alias = "tagwatch-test-git"
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("team/app", "0.9.0")})
	ssh := testgit.StartSSH(t)
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	sshConfig := fmt.Sprintf("Host %s\n  HostName %s\n  Port %d\n", alias, ssh.Host, ssh.Port)
	if err := os.WriteFile(filepath.Join(home, ".ssh", "config"), []byte(sshConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	gitURL := fmt.Sprintf("%s@%s:%s", ssh.User, alias, w.bare)
	config := func(knownHosts string) string {
		cfg := fmt.Sprintf(`git:
  url: %s
  branch: main
  author: {name: tagwatch-e2e, email: e2e@example.com}
  auth: {sshKeyFile: %s, knownHostsFile: %s}
registries: [{prefix: %q, insecure: true, credentials: %q}]
environments:
  - name: dev
    path: envs/dev
    images:
      - {image: %s, kustomizeName: team/app, strategy: semver}
`, gitURL, ssh.KeyFile, knownHosts, w.reg.Host, w.reg.CredentialsFile(t), w.reg.Repo("team/app"))
		p := filepath.Join(t.TempDir(), "tagwatch.yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(cfg string, extra ...string) result {
		args := append([]string{"run", "--config", cfg, "--once", "--cache-dir", filepath.Join(t.TempDir(), "cache")}, extra...)
		return tagwatch(t, []string{"HOME=" + home}, args...)
	}
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	seed := testgit.Head(t, w.bare, "main")

	t.Run("known_hosts without the resolved address", func(t *testing.T) {
		// The server's own key, but filed under the alias only.
		kh := filepath.Join(t.TempDir(), "known_hosts")
		lines := fmt.Sprintf("%s %s\n[%s]:%d %s\n", alias, ssh.HostPublicKey, alias, ssh.Port, ssh.HostPublicKey)
		if err := os.WriteFile(kh, []byte(lines), 0o600); err != nil {
			t.Fatal(err)
		}
		r := run(config(kh))
		if r.code != 1 {
			t.Errorf("exit %d, want 1\nstderr:\n%s", r.code, r.stderr)
		}
		if !strings.Contains(r.stderr, fmt.Sprintf("ssh host key of [%s]:%d not accepted by known_hosts", ssh.Host, ssh.Port)) || !strings.Contains(r.stderr, gitURL) {
			t.Errorf("stderr does not say the host key was refused for %s:\n%s", gitURL, r.stderr)
		}
		if got := testgit.Head(t, w.bare, "main"); got != seed {
			t.Errorf("main moved from %s to %s", seed, got)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("push", func(t *testing.T) {
		r := run(config(ssh.KnownHosts), "-o", "json")
		if r.code != 0 {
			t.Fatalf("exit %d\n%s\nsshd:\n%s", r.code, r.stderr, ssh.Log())
		}
		image := w.reg.Repo("team/app")
		head := testgit.Head(t, w.bare, "main")
		if !strings.Contains(r.stdout, head) {
			t.Errorf("main is at %s, not a commit of the report:\n%s", head, r.stdout)
		}
		if parent := testgit.Head(t, w.bare, "main^"); parent != seed {
			t.Errorf("the commit's parent is %s, want the seed %s", parent, seed)
		}
		got := testgit.Show(t, w.bare, "main", "envs/dev/kustomization.yaml")
		if !strings.Contains(got, "newTag: 1.0.0") || !strings.Contains(got, "newName: "+image) {
			t.Errorf("kustomization after the push:\n%s", got)
		}
		trailers := testgit.Git(t, w.bare, "log", "-1", "--format=%(trailers:key=Tagwatch-Update,valueonly)", "main")
		want := "env=dev image=" + image + " from=0.9.0 to=1.0.0 digest=sha256:"
		if !strings.HasPrefix(trailers, want) {
			t.Errorf("Tagwatch-Update trailer %q, want %q<hex>", trailers, want)
		}
		if author := testgit.Git(t, w.bare, "log", "-1", "--format=%an <%ae>", "main"); author != "tagwatch-e2e <e2e@example.com>" {
			t.Errorf("author %q", author)
		}
	})
}
