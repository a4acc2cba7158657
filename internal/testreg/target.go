package testreg

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Target is a running registry and what a client needs to reach it.
type Target struct {
	Host   string // "127.0.0.1:PORT": the registry part of image names
	URL    string // "http://127.0.0.1:PORT" or "https://…"
	CAFile string // PEM of the certificate to trust ("" without TLS)
	User   string // basic auth user ("" without auth)
	Pass   string

	dir       string
	transport http.RoundTripper
	baseOnce  sync.Once
	base      v1.Image
	baseErr   error
}

// Prefix is Host, spelt as registry settings and image names want it.
func (tg *Target) Prefix() string { return tg.Host }

// Repo returns the full repository name of path on this registry.
func (tg *Target) Repo(path string) string { return tg.Host + "/" + path }

// CredentialsFile writes "user:pass" to a file and returns "file:/path", the
// form of a registry's credentials setting. It fails the test without auth.
func (tg *Target) CredentialsFile(t testing.TB) string {
	t.Helper()
	if tg.User == "" {
		t.Fatal("testreg: CredentialsFile on a registry without auth")
	}
	p := filepath.Join(t.TempDir(), "registry-credentials")
	if err := os.WriteFile(p, []byte(tg.User+":"+tg.Pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + p
}

// Transport is an http.RoundTripper that trusts CAFile.
func (tg *Target) Transport() http.RoundTripper { return tg.transport }

// RemoteOptions are ggcr options to talk to the registry directly.
func (tg *Target) RemoteOptions() []remote.Option {
	auth := authn.Anonymous
	if tg.User != "" {
		auth = &authn.Basic{Username: tg.User, Password: tg.Pass}
	}
	return []remote.Option{remote.WithTransport(tg.transport), remote.WithAuth(auth)}
}

func newTransport(caFile string) (http.RoundTripper, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	if caFile == "" {
		return t, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return t, nil
}

// baseImage is a small random image shared by everything pushed, so that
// pushes after the first upload only a config and a manifest.
func (tg *Target) baseImage(t testing.TB) v1.Image {
	t.Helper()
	tg.baseOnce.Do(func() { tg.base, tg.baseErr = random.Image(256, 1) })
	if tg.baseErr != nil {
		t.Fatal(tg.baseErr)
	}
	return tg.base
}

// NewImage returns an image with the given created time and platform
// ("linux/amd64"; "" leaves the platform unset), sharing its layer with every
// other image of the target. Distinct created times give distinct digests.
func (tg *Target) NewImage(t testing.TB, created time.Time, platform string) v1.Image {
	t.Helper()
	img, err := mutate.CreatedAt(tg.baseImage(t), v1.Time{Time: created})
	if err != nil {
		t.Fatal(err)
	}
	if platform != "" {
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	return img
}

// PushImage pushes an image created at created under every tag of repo
// (a path such as "team/app") and returns its digest.
func (tg *Target) PushImage(t testing.TB, repo string, created time.Time, tags ...string) string {
	t.Helper()
	return tg.Push(t, repo, tg.NewImage(t, created, "linux/amd64"), tags...)
}

// PushIndex pushes an index with one image per platform; platform i is
// created at created + i minutes. It returns the index digest.
func (tg *Target) PushIndex(t testing.TB, repo string, created time.Time, platforms []string, tags ...string) string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for i, p := range platforms {
		pl, err := v1.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		img := tg.NewImage(t, created.Add(time.Duration(i)*time.Minute), p)
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: pl}})
	}
	idx := mutate.IndexMediaType(mutate.AppendManifests(empty.Index, adds...), types.OCIImageIndex)
	return tg.Push(t, repo, idx, tags...)
}

// Push writes img (a v1.Image or v1.ImageIndex) under each tag of repo and
// returns its digest.
func (tg *Target) Push(t testing.TB, repo string, img remote.Taggable, tags ...string) string {
	t.Helper()
	if len(tags) == 0 {
		t.Fatal("testreg: Push without tags")
	}
	ctx := context.Background()
	first, err := name.NewTag(tg.Repo(repo) + ":" + tags[0])
	if err != nil {
		t.Fatal(err)
	}
	switch v := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(first, v, append(tg.RemoteOptions(), remote.WithContext(ctx))...)
	case v1.Image:
		err = remote.Write(first, v, append(tg.RemoteOptions(), remote.WithContext(ctx))...)
	default:
		t.Fatalf("testreg: cannot push %T", img)
	}
	if err != nil {
		t.Fatalf("testreg: pushing %s: %v", first, err)
	}
	if len(tags) > 1 {
		tg.Tag(t, repo, tags[0], tags[1:]...)
	}
	desc, err := remote.Head(first, tg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	return desc.Digest.String()
}

// Tag puts the manifest behind repo:src under each of tags (cheap: one
// manifest PUT per tag), as a registry's own retag would.
func (tg *Target) Tag(t testing.TB, repo, src string, tags ...string) {
	t.Helper()
	ref, err := name.ParseReference(tg.Repo(repo) + sep(src) + src)
	if err != nil {
		t.Fatal(err)
	}
	pusher, err := remote.NewPusher(tg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(ref, tg.RemoteOptions()...)
	if err != nil {
		t.Fatalf("testreg: reading %s: %v", ref, err)
	}
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(8)
	for _, tag := range tags {
		dst, err := name.NewTag(tg.Repo(repo) + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		g.Go(func() error {
			if err := pusher.Put(ctx, dst, desc); err != nil {
				return fmt.Errorf("testreg: tagging %s: %w", dst, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

func sep(src string) string {
	if strings.HasPrefix(src, "sha256:") {
		return "@"
	}
	return ":"
}
