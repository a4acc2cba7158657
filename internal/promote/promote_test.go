package promote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tagwatch/tagwatch/internal/promote"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type anonymous struct{}

func (anonymous) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }

func client(t *testing.T, hosts ...registry.Host) *registry.Client {
	t.Helper()
	c, err := registry.New(registry.WithKeychain(anonymous{}), registry.WithRetry(1, 0), registry.WithHosts(hosts...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// digestOf is the digest behind ref now ("" when missing), asked directly.
func digestOf(t *testing.T, tg *testreg.Target, ref string) string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	d, err := remote.Head(r, tg.RemoteOptions()...)
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// signed pushes to repo of tg a two-platform index under tag, with a
// cosign signature tag and an OCI referrer (an SBOM artifact whose subject
// is the index), and returns the index digest and the referrer's.
func signed(t *testing.T, tg *testreg.Target, repo, tag string) (idx, referrer string) {
	t.Helper()
	idx = tg.PushIndex(t, repo, t0, []string{"linux/amd64", "linux/arm64"}, tag)
	sig := tg.NewImage(t, t0.Add(time.Minute), "")
	tg.Push(t, repo, sig, strings.Replace(idx, ":", "-", 1)+".sig")
	h, err := v1.NewHash(idx)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := random.Image(32, 1)
	if err != nil {
		t.Fatal(err)
	}
	art := mutate.Subject(sbom, v1.Descriptor{MediaType: "application/vnd.oci.image.index.v1+json", Digest: h, Size: 1}).(v1.Image)
	d, err := art.Digest()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewDigest(tg.Repo(repo) + "@" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, art, tg.RemoteOptions()...); err != nil {
		t.Fatal(err)
	}
	return idx, d.String()
}

// TestPromoteAcrossRegistries: a copy by digest from one registry to
// another takes every platform, the cosign signature and the OCI referrer
// along, and the tag points at the same digest.
func TestPromoteAcrossRegistries(t *testing.T) {
	for _, srcReferrers := range []bool{true, false} {
		src := testreg.Start(t, testreg.Options{Referrers: srcReferrers})
		dst := testreg.Start(t, testreg.Options{})
		idx, ref := signed(t, src.Target, "team/app", "1.4.0-rc.1")
		c := client(t)
		res, err := promote.Promote(context.Background(), c, src.Repo("team/app:1.4.0-rc.1"), []string{dst.Repo("prod/app:1.4.0")}, promote.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Digest != idx || len(res.Steps) != 1 || res.Steps[0].Action != promote.Create || !res.Steps[0].Done {
			t.Fatalf("result %+v", res)
		}
		if got := digestOf(t, dst.Target, dst.Repo("prod/app:1.4.0")); got != idx {
			t.Errorf("destination tag at %q, want %s", got, idx)
		}
		sigTag := strings.Replace(idx, ":", "-", 1) + ".sig"
		want := []string{sigTag, ref}
		if diff := cmp.Diff(want, res.Steps[0].Copied); diff != "" {
			t.Errorf("referrers API %v: attached (-want +got):\n%s", srcReferrers, diff)
		}
		if digestOf(t, dst.Target, dst.Repo("prod/app:"+sigTag)) == "" || digestOf(t, dst.Target, dst.Repo("prod/app@"+ref)) == "" {
			t.Errorf("signature or referrer missing at the destination")
		}
		// Every platform's manifest is there, so a pull of either works.
		ix, err := remote.Index(mustRef(t, dst.Repo("prod/app:1.4.0")), dst.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := ix.IndexManifest()
		for _, m := range im.Manifests {
			if digestOf(t, dst.Target, dst.Repo("prod/app@"+m.Digest.String())) == "" {
				t.Errorf("platform %s missing at the destination", m.Platform)
			}
		}
		// The destination (no referrers API) lists the referrer through the
		// fallback tag ggcr keeps.
		h, _ := name.NewDigest(dst.Repo("prod/app@" + idx))
		refs, err := remote.Referrers(h, dst.RemoteOptions()...)
		if err != nil {
			t.Fatal(err)
		}
		rm, _ := refs.IndexManifest()
		if len(rm.Manifests) != 1 || rm.Manifests[0].Digest.String() != ref {
			t.Errorf("destination referrers of %s: %+v", idx, rm.Manifests)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestPromoteNeverMovesByAccident: a new tag that points at another image
// is refused (both digests named, nothing written, not even the other
// tags); the same image is a no-op; --force moves; a dry run writes nothing.
func TestPromoteNeverMovesByAccident(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	rc := srv.PushImage(t, "team/app", t0, "1.1.0-rc.1")
	old := srv.PushImage(t, "team/app", t0.Add(-time.Hour), "1.1.0", "1.0.0")
	c := client(t)
	src := srv.Repo("team/app:1.1.0-rc.1")
	dsts, err := promote.Destinations(src, []string{"stable", "1.1.0"})
	if err != nil {
		t.Fatal(err)
	}

	srv.ResetCounts()
	res, err := promote.Promote(context.Background(), c, src, dsts, promote.Options{})
	var moved *promote.MovedError
	if !errors.As(err, &moved) {
		t.Fatalf("err = %v, want a MovedError", err)
	}
	for _, d := range []string{rc, old, srv.Repo("team/app:1.1.0")} {
		if !strings.Contains(err.Error(), d) {
			t.Errorf("refusal %q does not name %s", err, d)
		}
	}
	if n := srv.Count("PUT", ""); n != 0 || digestOf(t, srv.Target, srv.Repo("team/app:stable")) != "" {
		t.Errorf("a refused promotion wrote %d times: %q", n, srv.Requests())
	}
	if got := actions(res); got != "create refuse" {
		t.Errorf("steps %q, want create refuse", got)
	}

	res, err = promote.Promote(context.Background(), c, src, dsts, promote.Options{Force: true, DryRun: true})
	if err != nil || actions(res) != "create move" || srv.Count("PUT", "") != 0 {
		t.Errorf("forced dry run: %s, %v, %q", actions(res), err, srv.Requests())
	}
	res, err = promote.Promote(context.Background(), c, src, dsts, promote.Options{Force: true})
	if err != nil || actions(res) != "create move" {
		t.Fatalf("forced: %s, %v", actions(res), err)
	}
	for _, tag := range []string{"stable", "1.1.0"} {
		if got := digestOf(t, srv.Target, srv.Repo("team/app:"+tag)); got != rc {
			t.Errorf("%s at %s, want %s", tag, got, rc)
		}
	}
	srv.ResetCounts()
	res, err = promote.Promote(context.Background(), c, src, dsts, promote.Options{})
	if err != nil || actions(res) != "unchanged unchanged" || srv.Count("PUT", "") != 0 {
		t.Errorf("again: %s, %v, %q", actions(res), err, srv.Requests())
	}
	if got := digestOf(t, srv.Target, srv.Repo("team/app:1.0.0")); got != old {
		t.Errorf("an unrelated tag moved")
	}
}

func actions(r promote.Result) string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, string(s.Action))
	}
	return strings.Join(out, " ")
}

func TestDestinations(t *testing.T) {
	got, err := promote.Destinations("registry.example.com/team/app:1.0.0", []string{"1.1.0", "registry.example.com/team/app:stable", "prod.example.com/app:1.1.0", "docker.io/library/nginx:1.27"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"registry.example.com/team/app:1.1.0", "registry.example.com/team/app:stable", "prod.example.com/app:1.1.0", "index.docker.io/library/nginx:1.27"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{
		{"registry.example.com/team/app", "1.1.0"},
		{"registry.example.com/team/app:1.0.0", "not a tag"},
		{"registry.example.com/team/app:1.0.0", "prod.example.com/app"},
		{"registry.example.com/team/app:1.0.0", "nginx:1.27"}, // another repository names its registry
		{"registry.example.com/team/app:1.0.0", "prod.example.com/app@sha256:" + strings.Repeat("a", 64)},
	} {
		if _, err := promote.Destinations(bad[0], bad[1:]); err == nil {
			t.Errorf("Destinations(%q) accepted", bad)
		}
	}
}
