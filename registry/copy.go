package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Lookup returns the digest a tag reference ("repo:tag") points at now,
// asking the registry (never a cache), and "" when the tag does not exist.
func (c *Client) Lookup(ctx context.Context, ref string) (string, error) {
	t, tag, err := c.parseTag(ref)
	if err != nil {
		return "", err
	}
	d, err := c.head(ctx, t, tag)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	return d, err
}

// CopyResult is what Copy wrote besides the image.
type CopyResult struct {
	Digest string // the digest of the image (or index) copied
	// Attached are the artifacts copied along, by their tag
	// ("sha256-<hex>.sig") or digest (an OCI referrer): signatures,
	// attestations, SBOMs.
	Attached []string
}

// cosignSuffixes are the tags cosign stores beside an image: sha256-<hex><suffix>.
var cosignSuffixes = []string{".sig", ".att", ".sbom"}

// Copy writes the image or index behind src ("repo:tag" or "repo@digest")
// under the tag dst ("repo:tag"), by digest: the manifest bytes, so the
// digest, stay the same.
//
// In the same repository that is one manifest PUT (a retag). Into another
// repository or registry the manifest is pushed by digest first, with
// every blob and, for an index, every platform's manifest; then what is
// attached to the digest: cosign's tags (sha256-<hex>.sig, .att, .sbom)
// and the OCI referrers of the source (its referrers API, or the
// referrers tag schema where it has none; the destination's fallback tag
// is kept by ggcr where it lacks the API); the tag is written last, so a
// watcher sees it only once its signatures are there.
func (c *Client) Copy(ctx context.Context, src, dst string) (CopyResult, error) {
	defer c.busy()()
	st, ref, err := c.parseSource("copy", src)
	if err != nil {
		return CopyResult{}, err
	}
	dt, dtag, err := c.parseTag(dst)
	if err != nil {
		return CopyResult{}, err
	}
	cn, desc, err := c.getSource(ctx, "copy", st, ref)
	if err != nil {
		return CopyResult{}, err
	}
	res := CopyResult{Digest: desc.Digest.String()}
	if st.repo.Name() != dt.repo.Name() {
		if err := dt.r.pusher.Push(ctx, dt.repo.Digest(res.Digest), desc); err != nil {
			return res, wrapErr("copy: writing "+dt.repo.Name()+"@"+res.Digest, err)
		}
		if res.Attached, err = c.copyAttached(ctx, cn.puller, st, dt, res.Digest); err != nil {
			return res, err
		}
	}
	if err := dt.r.pusher.Put(ctx, dtag, desc); err != nil {
		return res, wrapErr("copy: writing "+dtag.Name(), err)
	}
	c.learnTag(dt, dtag.Name(), res.Digest)
	return res, nil
}

// parseSource parses src ("repo:tag" or "repo@digest") with the options
// of its registry; op names the operation in errors.
func (c *Client) parseSource(op, src string) (target, name.Reference, error) {
	ref, err := name.ParseReference(src)
	if err != nil {
		return target{}, nil, fmt.Errorf("%s: source %q: %w", op, src, err)
	}
	t, err := c.resolve(ref.Context().Name())
	if err != nil {
		return target{}, nil, err
	}
	if ref, err = name.ParseReference(src, t.r.nameOpts...); err != nil {
		return target{}, nil, fmt.Errorf("%s: source %q: %w", op, src, err)
	}
	return t, ref, nil
}

// getSource reads the manifest (or index) descriptor behind ref, in t's
// repository, and returns it with the connection it was read on.
func (c *Client) getSource(ctx context.Context, op string, t target, ref name.Reference) (*conn, *remote.Descriptor, error) {
	cn, err := c.conn(ctx, t)
	if err != nil {
		return nil, nil, wrapErr(op+": reading "+ref.Name(), err)
	}
	desc, err := cn.puller.Get(ctx, ref)
	if err != nil {
		return nil, nil, wrapErr(op+": reading "+ref.Name(), err)
	}
	return cn, desc, nil
}

// copyAttached copies what is attached to digest in st's repository (read
// with puller) into dt's: cosign's tags and OCI referrers.
func (c *Client) copyAttached(ctx context.Context, puller *remote.Puller, st, dt target, digest string) ([]string, error) {
	var done []string
	base := strings.Replace(digest, ":", "-", 1)
	for _, suffix := range cosignSuffixes {
		tag := st.repo.Tag(base + suffix)
		desc, err := puller.Get(ctx, tag)
		if err != nil {
			if errors.Is(wrapErr("", err), ErrNotFound) {
				continue
			}
			return done, wrapErr("copy: reading "+tag.Name(), err)
		}
		if err := dt.r.pusher.Push(ctx, dt.repo.Tag(base+suffix), desc); err != nil {
			return done, wrapErr("copy: writing "+dt.repo.Tag(base+suffix).Name(), err)
		}
		done = append(done, base+suffix)
	}
	idx, err := remote.Referrers(st.repo.Digest(digest), remote.Reuse(puller), remote.WithContext(ctx))
	if err != nil {
		return done, wrapErr("copy: listing the referrers of "+st.repo.Name()+"@"+digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return done, wrapErr("copy: listing the referrers of "+st.repo.Name()+"@"+digest, err)
	}
	for _, r := range im.Manifests {
		rd := r.Digest.String()
		desc, err := puller.Get(ctx, st.repo.Digest(rd))
		if err != nil {
			return done, wrapErr("copy: reading the referrer "+st.repo.Name()+"@"+rd, err)
		}
		if err := dt.r.pusher.Push(ctx, dt.repo.Digest(rd), desc); err != nil {
			return done, wrapErr("copy: writing the referrer "+dt.repo.Name()+"@"+rd, err)
		}
		done = append(done, rd)
	}
	return done, nil
}

// parseTag parses a "repo:tag" reference with the settings of its registry.
func (c *Client) parseTag(ref string) (target, name.Tag, error) {
	parsed, err := name.NewTag(ref)
	if err != nil {
		return target{}, name.Tag{}, fmt.Errorf("tag %q: %w", ref, err)
	}
	if last := ref[strings.LastIndex(ref, "/")+1:]; !strings.Contains(last, ":") {
		return target{}, name.Tag{}, fmt.Errorf("tag %q: give the tag (REPOSITORY:TAG)", ref)
	}
	return c.tagRef(parsed.Context().Name(), parsed.TagStr())
}
