package registry

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Retag writes the manifest (or index) behind src ("repo:tag" or "repo@digest")
// under each of tags in the same repository, copying no blobs. It returns the digest.
func (c *Client) Retag(ctx context.Context, src string, tags ...string) (string, error) {
	if len(tags) == 0 {
		return "", errors.New("retag: no new tags given")
	}
	ref, err := name.ParseReference(src)
	if err != nil {
		return "", fmt.Errorf("retag: source %q: %w", src, err)
	}
	t, err := c.resolve(ref.Context().Name())
	if err != nil {
		return "", err
	}
	if ref, err = name.ParseReference(src, t.r.nameOpts...); err != nil {
		return "", fmt.Errorf("retag: source %q: %w", src, err)
	}
	dsts := make([]name.Tag, 0, len(tags))
	for _, tag := range tags {
		dst, err := name.NewTag(t.repo.Name()+":"+tag, t.r.nameOpts...)
		if err != nil {
			return "", fmt.Errorf("retag: new tag %q: %w", tag, err)
		}
		dsts = append(dsts, dst)
	}
	desc, err := t.r.puller.Get(ctx, ref)
	if err != nil {
		return "", wrapErr("retag: reading "+ref.Name(), err)
	}
	digest := desc.Digest.String()
	defer c.forgetRepo(t.repo.Name())
	for _, dst := range dsts {
		if err := t.r.pusher.Put(ctx, dst, desc); err != nil {
			return "", wrapErr(fmt.Sprintf("retag: writing %s", dst.Name()), err)
		}
		c.learnTag(dst.Name(), digest)
	}
	return digest, nil
}

// forgetRepo drops what the current cycle knows of repo after we changed it.
func (c *Client) forgetRepo(repo string) {
	cy := c.cyc.Load()
	cy.mu.Lock()
	defer cy.mu.Unlock()
	delete(cy.lists, repo)
	for k := range cy.digests {
		if strings.HasPrefix(k, repo+":") {
			delete(cy.digests, k)
		}
	}
	for k := range cy.metas {
		if strings.HasPrefix(k, repo+":") {
			delete(cy.metas, k)
		}
	}
}
