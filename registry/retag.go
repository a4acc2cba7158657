package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
)

// Retag writes the manifest (or index) behind src ("repo:tag" or "repo@digest")
// under each of tags in the same repository, copying no blobs. It returns the digest.
func (c *Client) Retag(ctx context.Context, src string, tags ...string) (string, error) {
	if len(tags) == 0 {
		return "", errors.New("retag: no new tags given")
	}
	defer c.busy()()
	t, ref, err := c.parseSource("retag", src)
	if err != nil {
		return "", err
	}
	dsts := make([]name.Tag, 0, len(tags))
	for _, tag := range tags {
		dst, err := name.NewTag(t.repo.Name()+":"+tag, t.r.nameOpts...)
		if err != nil {
			return "", fmt.Errorf("retag: new tag %q: %w", truncate(tag, 200), err)
		}
		dsts = append(dsts, dst)
	}
	_, desc, err := c.getSource(ctx, "retag", t, ref)
	if err != nil {
		return "", err
	}
	digest := desc.Digest.String()
	for _, dst := range dsts {
		if err := t.r.pusher.Put(ctx, dst, desc); err != nil {
			return "", wrapErr(fmt.Sprintf("retag: writing %s", dst.Name()), err)
		}
		c.learnTag(t, dst.Name(), digest)
	}
	return digest, nil
}
