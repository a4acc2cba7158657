package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestPromoteSafely: through the binary, against two Debian docker-registry
// instances with htpasswd auth whose credentials come from --config: a
// promotion across registries copies the image by digest (every platform,
// and its cosign signature); a NEWTAG pointing at another image is refused
// with exit 1 and both digests, unless --force; --dry-run writes nothing
// (issue 15, point 4: promote moved an existing tag with exit 0).
func TestPromoteSafely(t *testing.T) {
	a := testreg.StartDistribution(t, testreg.DistributionOptions{Auth: true})
	b := testreg.StartDistribution(t, testreg.DistributionOptions{Auth: true, TLS: true}) // its CA from the config's caFile
	dir := t.TempDir()
	cfg := filepath.Join(dir, "tagwatch.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`git: {url: https://git.invalid/deploy.git}
registries:
  - {prefix: %q, insecure: true, credentials: %q}
  - {prefix: %q, caFile: %q, credentials: %q}
environments:
  - {name: prod, path: envs/prod, images: [{image: %s}]}
`, a.Host, a.CredentialsFile(t), b.Host, b.CAFile, b.CredentialsFile(t), b.Repo("prod/app"))), 0o600); err != nil {
		t.Fatal(err)
	}
	idx := a.PushIndex(t, "team/app", t0, []string{"linux/amd64", "linux/arm64"}, "1.4.0-rc.1")
	sigTag := strings.Replace(idx, ":", "-", 1) + ".sig"
	a.Push(t, "team/app", a.NewImage(t, t0.Add(1), ""), sigTag)
	other := b.PushImage(t, "prod/app", t0.Add(-1), "1.3.0")
	digest := func(tg *testreg.Target, ref string) string {
		t.Helper()
		r, err := name.ParseReference(ref, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		d, err := remote.Head(r, tg.RemoteOptions()...)
		if err != nil {
			return ""
		}
		return d.Digest.String()
	}
	promote := func(args ...string) result {
		t.Helper()
		return tagwatch(t, []string{"XDG_CACHE_HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}, append([]string{"promote", "--config", cfg}, args...)...)
	}
	src := a.Repo("team/app:1.4.0-rc.1")

	r := promote(src, b.Repo("prod/app:1.4.0"), b.Repo("prod/app:1.3.0"))
	if r.code != 1 || !strings.Contains(r.stderr, b.Repo("prod/app:1.3.0")+" points at "+other+", not at "+idx) || r.stdout != "" {
		t.Errorf("onto an existing tag: exit %d, want 1 naming both digests\nstdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if digest(b, b.Repo("prod/app:1.4.0")) != "" || digest(b, b.Repo("prod/app:1.3.0")) != other {
		t.Fatalf("a refused promotion wrote")
	}
	r = promote(src, b.Repo("prod/app:1.4.0"), "--dry-run")
	if r.code != 0 || strings.TrimSpace(r.stdout) != idx || !strings.Contains(r.stderr, "would promote") || digest(b, b.Repo("prod/app:1.4.0")) != "" {
		t.Errorf("dry run: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	r = promote(src, b.Repo("prod/app:1.4.0"))
	if r.code != 0 || strings.TrimSpace(r.stdout) != idx {
		t.Fatalf("across registries: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if got := digest(b, b.Repo("prod/app:1.4.0")); got != idx {
		t.Errorf("destination at %q, want %s", got, idx)
	}
	if digest(b, b.Repo("prod/app:"+sigTag)) == "" {
		t.Errorf("the signature was not copied\n%s", r.stderr)
	}
	parse := func(s string) name.Reference {
		t.Helper()
		r, err := name.ParseReference(s, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	ix, err := remote.Index(parse(b.Repo("prod/app:1.4.0")), b.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := ix.IndexManifest()
	for _, m := range im.Manifests {
		if _, err := remote.Image(parse(b.Repo("prod/app@"+m.Digest.String())), b.RemoteOptions()...); err != nil {
			t.Errorf("platform %s: %v", m.Platform, err)
		}
	}
	if r := promote(src, b.Repo("prod/app:1.4.0")); r.code != 0 || !strings.Contains(r.stderr, "unchanged") {
		t.Errorf("again: exit %d\n%s", r.code, r.stderr)
	}
	if r := promote(src, b.Repo("prod/app:1.3.0"), "--force"); r.code != 0 || digest(b, b.Repo("prod/app:1.3.0")) != idx {
		t.Errorf("--force: exit %d\n%s", r.code, r.stderr)
	}
	// Without --config, no credentials: the registry says so.
	if r := tagwatch(t, []string{"XDG_CACHE_HOME=" + t.TempDir(), "DOCKER_CONFIG=" + t.TempDir()}, "promote", "--insecure", src, "1.4.0"); r.code != 1 || !strings.Contains(r.stderr, "unauthorized") {
		t.Errorf("without credentials: exit %d\n%s", r.code, r.stderr)
	}
}
