package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// tagRef parses repo and tag into a reference with its settings.
func (c *Client) tagRef(repo, tag string) (target, name.Tag, error) {
	t, err := c.resolve(repo)
	if err != nil {
		return target{}, name.Tag{}, err
	}
	ref, err := name.NewTag(t.repo.Name()+":"+tag, t.r.nameOpts...)
	if err != nil {
		return target{}, name.Tag{}, fmt.Errorf("tag %q of %s: %w", truncate(tag, 200), t.repo.Name(), err)
	}
	return t, ref, nil
}

// Digest returns the digest behind repo:tag now: a HEAD request, shared by
// concurrent callers. It always asks the registry, also on hosts
// with ImmutableTags or a TagTTL: a caller that wants the digest of a tag,
// like the digest strategy following a mutable tag, must see the tag move.
// ImmutableTags and TagTTL save the HEADs of Describe only.
func (c *Client) Digest(ctx context.Context, repo, tag string) (string, error) {
	defer c.busy()()
	t, ref, err := c.tagRef(repo, tag)
	if err != nil {
		return "", err
	}
	return c.digest(ctx, t, ref)
}

func (c *Client) digest(ctx context.Context, t target, ref name.Tag) (string, error) {
	return shared(ctx, c, "digest", ref.Name(), func(ctx context.Context) (string, error) { return c.head(ctx, t, ref) })
}

func (c *Client) head(ctx context.Context, t target, ref name.Tag) (string, error) {
	what := "reading the digest of " + ref.Name()
	cn, err := c.conn(ctx, t)
	if err != nil {
		return "", wrapErr(what, err)
	}
	desc, err := cn.puller.Head(ctx, ref)
	if err != nil && strings.Contains(err.Error(), "did not include Docker-Content-Digest") {
		// Some registries answer HEAD without the digest: GET the manifest,
		// whose digest ggcr computes from the body.
		var full *remote.Descriptor
		if full, err = cn.puller.Get(ctx, ref); err == nil {
			desc = &full.Descriptor
		}
	}
	if err != nil {
		return "", wrapErr(what, err)
	}
	d := desc.Digest.String()
	c.learnTag(t, ref.Name(), d)
	return d, nil
}

// knownTag returns the digest last seen behind ref, and when.
func (c *Client) knownTag(ref string) (tagEntry, bool) {
	if e, ok := c.tagsSeen.Load(ref); ok {
		return e.(tagEntry), true
	}
	if c.cache != nil {
		if e, ok := c.cache.tag(ref); ok {
			c.tagsSeen.LoadOrStore(ref, e) // so that learnTag knows what the cache holds
			return e, true
		}
	}
	return tagEntry{}, false
}

// learnTag records that the registry said digest is behind ref now. The
// cache is told when that is news, or, on a host with a TagTTL, when it
// was last confirmed.
func (c *Client) learnTag(t target, ref, digest string) {
	e := tagEntry{digest: digest, seen: time.Now()}
	old, ok := c.tagsSeen.Swap(ref, e)
	if c.cache != nil && (!ok || old.(tagEntry).digest != digest || t.r.host.TagTTL > 0) {
		c.cache.storeTag(ref, e)
	}
}

// cacheHit tells the observer that metadata of t came from the cache.
func (c *Client) cacheHit(t target) {
	if ob := c.o.observer; ob != nil {
		ob.CacheHit(t.repo.RegistryStr())
	}
}

func (c *Client) knownMeta(digest string) (Meta, bool) {
	if m, ok := c.mem.Load(digest); ok {
		return m.(Meta), true
	}
	if c.cache != nil {
		if m, ok := c.cache.meta(digest); ok {
			c.mem.Store(digest, m)
			return m, true
		}
	}
	return Meta{}, false
}

func (c *Client) learnMeta(m Meta) {
	if _, known := c.mem.Swap(m.Digest, m); !known && c.cache != nil {
		c.cache.storeMeta(m)
	}
}

// Describe returns digest, created time and platforms of repo:tag, using the cache.
//
// A tag seen before costs one HEAD, then the digest-keyed cache answers;
// no HEAD on a host with ImmutableTags, nor within its TagTTL of when the
// tag was last seen (read, or checked with a HEAD). A tag never seen is
// read with one manifest GET by tag (no HEAD first, it would only repeat
// the digest), then one config blob GET per image (for an index: manifest
// and config of each platform, attestations skipped), unless the digest is
// already cached.
func (c *Client) Describe(ctx context.Context, repo, tag string) (Meta, error) {
	defer c.busy()()
	t, ref, err := c.tagRef(repo, tag)
	if err != nil {
		return Meta{}, err
	}
	m, err := shared(ctx, c, "describe", ref.Name(), func(ctx context.Context) (Meta, error) { return c.describe(ctx, t, ref) })
	m.Platforms = slices.Clone(m.Platforms)
	return m, err
}

// trusted reports whether a tag seen as e may be taken without a HEAD.
func trusted(h Host, e tagEntry, now time.Time) bool {
	return h.ImmutableTags || h.TagTTL > 0 && now.Sub(e.seen) < h.TagTTL && !e.seen.After(now)
}

func (c *Client) describe(ctx context.Context, t target, ref name.Tag) (Meta, error) {
	what := "reading metadata of " + ref.Name()
	cn, err := c.conn(ctx, t)
	if err != nil {
		return Meta{}, wrapErr(what, err)
	}
	var desc *remote.Descriptor
	if e, seen := c.knownTag(ref.Name()); seen {
		// ImmutableTags, or seen within the TagTTL: the digest seen before
		// (in this process or in the cache directory) is trusted without a
		// HEAD.
		d := e.digest
		if !trusted(t.r.host, e, time.Now()) {
			if d, err = c.digest(ctx, t, ref); err != nil {
				return Meta{}, err
			}
		}
		if m, ok := c.knownMeta(d); ok {
			c.cacheHit(t)
			return m, nil
		}
		if desc, err = cn.puller.Get(ctx, t.repo.Digest(d)); err != nil {
			return Meta{}, wrapErr(what, err)
		}
	} else {
		if desc, err = cn.puller.Get(ctx, ref); err != nil {
			return Meta{}, wrapErr(what, err)
		}
		d := desc.Digest.String()
		c.learnTag(t, ref.Name(), d)
		if m, ok := c.knownMeta(d); ok {
			c.cacheHit(t)
			return m, nil
		}
	}
	m, err := c.metaOf(desc)
	if err != nil {
		return Meta{}, wrapErr(what, err)
	}
	c.learnMeta(m)
	return m, nil
}

// metaOf reads the config(s) behind desc.
func (c *Client) metaOf(desc *remote.Descriptor) (Meta, error) {
	switch {
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return Meta{}, err
		}
		return imageMeta(desc.Digest.String(), img, nil)
	case desc.MediaType.IsIndex():
		return c.indexMeta(desc)
	}
	return Meta{}, fmt.Errorf("unsupported media type %q", desc.MediaType)
}

func imageMeta(digest string, img v1.Image, p *v1.Platform) (Meta, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return Meta{}, fmt.Errorf("reading config of %s: %w", digest, err)
	}
	plat := cf.Platform() // nil when the config names no OS
	if p != nil && p.OS != "" {
		plat = p
	}
	m := Meta{Digest: digest, Created: cf.Created.UTC()}
	if plat != nil && plat.String() != "" {
		m.Platforms = []Platform{{Platform: plat.String(), Created: m.Created}}
	}
	return m, nil
}

func (c *Client) indexMeta(desc *remote.Descriptor) (Meta, error) {
	idx, err := desc.ImageIndex()
	if err != nil {
		return Meta{}, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return Meta{}, err
	}
	m := Meta{Digest: desc.Digest.String()}
	var mu sync.Mutex
	g := errgroup.Group{}
	g.SetLimit(4)
	for _, child := range im.Manifests {
		if !child.MediaType.IsImage() || isAttestation(child) {
			continue
		}
		g.Go(func() error {
			cm, ok := c.knownMeta(child.Digest.String())
			if !ok {
				img, err := idx.Image(child.Digest)
				if err != nil {
					return err
				}
				if cm, err = imageMeta(child.Digest.String(), img, child.Platform); err != nil {
					return err
				}
				c.learnMeta(cm)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, p := range cm.Platforms {
				if child.Platform != nil && child.Platform.OS != "" {
					p.Platform = child.Platform.String()
				}
				m.Platforms = append(m.Platforms, p)
			}
			if cm.Created.After(m.Created) {
				m.Created = cm.Created
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Meta{}, err
	}
	slices.SortFunc(m.Platforms, func(a, b Platform) int { return strings.Compare(a.Platform, b.Platform) })
	return m, nil
}

// isAttestation reports buildkit's attestation manifests ("unknown/unknown").
func isAttestation(d v1.Descriptor) bool {
	if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
		return true
	}
	return d.Platform != nil && d.Platform.OS == "unknown"
}
