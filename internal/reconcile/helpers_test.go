package reconcile

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/registry"
)

// testRegistry is ggcr's in-process registry on 127.0.0.1.
type testRegistry struct {
	t    testing.TB
	host string
}

func newTestRegistry(t testing.TB) *testRegistry {
	t.Helper()
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return &testRegistry{t: t, host: strings.TrimPrefix(srv.URL, "http://")}
}

// push pushes a random image under each tag of repo (a path under host) and
// returns its digest.
func (r *testRegistry) push(repo string, tags ...string) string {
	r.t.Helper()
	img, err := random.Image(64, 1)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, tag := range tags {
		ref, err := name.NewTag(r.host+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			r.t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			r.t.Fatal(err)
		}
	}
	d, err := img.Digest()
	if err != nil {
		r.t.Fatal(err)
	}
	return d.String()
}

func (r *testRegistry) client() *registry.Client {
	r.t.Helper()
	c, err := registry.New(registry.WithHosts(registry.Host{Prefix: r.host, Insecure: true}))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

// expandHost replaces REG in s with the registry's host.
func (r *testRegistry) expand(s string) string { return strings.ReplaceAll(s, "REG", r.host) }

// newLoop makes a Loop of cfg's plans, through plan.FromConfig as `run` does.
func newLoop(t testing.TB, cfg *config.Config, src Source, opts ...Option) (*Loop, error) {
	t.Helper()
	set, err := plan.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return New(src, Static(set.Plans), opts...)
}

func parseConfig(t testing.TB, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// countingSource counts ListTags calls by repository, and Digest calls.
type countingSource struct {
	Source
	mu      sync.Mutex
	lists   map[string]int
	digests int
}

func (c *countingSource) Digest(ctx context.Context, repo, tag string) (string, error) {
	c.mu.Lock()
	c.digests++
	c.mu.Unlock()
	return c.Source.Digest(ctx, repo, tag)
}

func (c *countingSource) ListTags(ctx context.Context, repo string) ([]string, error) {
	c.mu.Lock()
	if c.lists == nil {
		c.lists = map[string]int{}
	}
	c.lists[repo]++
	c.mu.Unlock()
	return c.Source.ListTags(ctx, repo)
}

// hookedRepo runs before() ahead of each Publish, to race it.
type hookedRepo struct {
	Repo
	before func()
}

func (h hookedRepo) Publish(ctx context.Context, edits []gitrepo.Edit) (gitrepo.PublishResult, error) {
	if h.before != nil {
		h.before()
	}
	return h.Repo.Publish(ctx, edits)
}

// kustomization is an overlay whose images entry for name is at tag.
func kustomization(name, tag string) string {
	return "resources:\n  - ../../base\nimages:\n  - name: " + name + "\n    newTag: " + tag + " # kept by tagwatch\n"
}

// retag tags, in repo, the image behind tag src as each of tags.
func (r *testRegistry) retag(repo, src string, tags ...string) {
	r.t.Helper()
	ref, err := name.NewTag(r.host+"/"+repo+":"+src, name.Insecure)
	if err != nil {
		r.t.Fatal(err)
	}
	desc, err := remote.Get(ref)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, tag := range tags {
		dst, err := name.NewTag(r.host+"/"+repo+":"+tag, name.Insecure)
		if err != nil {
			r.t.Fatal(err)
		}
		if err := remote.Tag(dst, desc); err != nil {
			r.t.Fatal(err)
		}
	}
}

// errWalk is the history walk of walkFails.
var errWalk = errors.New("object not found (a history the test breaks)")

// walkFails is a Repo whose history cannot be read.
type walkFails struct{ Repo }

func (walkFails) Walk(context.Context, int, func(gitrepo.CommitInfo) error) (bool, error) {
	return false, errWalk
}
