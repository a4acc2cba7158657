// Package promote moves an image to new tags, in its repository or in
// another repository or registry, without ever moving a tag that points at
// another image by accident: every destination is looked at first, and
// when one holds another digest nothing is written (unless forced).
// Promotion is retagging: the tag appearing is what watchers act on.
package promote

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tagwatch/tagwatch/registry"
)

// Registry is what a promotion needs of a registry client
// (*registry.Client).
type Registry interface {
	// Lookup returns the digest behind "repo:tag", "" when there is no such tag.
	Lookup(ctx context.Context, ref string) (string, error)
	// Copy writes src under the tag dst by digest, with what is attached.
	Copy(ctx context.Context, src, dst string) (registry.CopyResult, error)
}

// Options of a promotion.
type Options struct {
	Force  bool // move tags that point at another image
	DryRun bool // decide and report; write nothing
}

// Action is what happens to one destination.
type Action string

// Actions.
const (
	Create    Action = "create"    // the tag is new
	Unchanged Action = "unchanged" // the tag already points at the image: nothing to do
	Move      Action = "move"      // the tag points at another image; moved (Force)
	Refuse    Action = "refuse"    // the tag points at another image; left alone
)

// Step is one destination of a promotion.
type Step struct {
	Dst    string // "repo:tag"
	Action Action
	Before string   // the digest the tag pointed at; "" when new
	Done   bool     // written (not in a dry run, not Unchanged or Refuse)
	Copied []string // attached artifacts copied along (signatures, attestations)
}

// Result is a whole promotion.
type Result struct {
	Src    string // the source as given
	Digest string // the digest promoted
	Steps  []Step
}

// MovedError is a refused promotion: a destination tag points at another
// image. Nothing was written.
type MovedError struct {
	Refused []Step
	Digest  string // the image being promoted
}

func (e *MovedError) Error() string {
	var parts []string
	for _, s := range e.Refused {
		parts = append(parts, fmt.Sprintf("%s points at %s, not at %s", s.Dst, s.Before, e.Digest))
	}
	return fmt.Sprintf("refusing to move an existing tag to another image: %s; nothing was written (--force moves it)", strings.Join(parts, "; "))
}

// Destinations resolves NEWTAG arguments against src: a bare tag ("1.4.0")
// names a tag of src's repository, anything else a full "repo:tag" in any
// repository or registry, its registry written out
// ("registry.example.com/prod/app:1.4.0", "docker.io/library/app:1.4.0").
func Destinations(src string, newTags []string) ([]string, error) {
	ref, err := name.ParseReference(src)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", src, err)
	}
	if _, isTag := ref.(name.Tag); isTag && !strings.Contains(src[strings.LastIndex(src, "/")+1:], ":") {
		return nil, fmt.Errorf("image %q: give the tag to promote (IMAGE:TAG or IMAGE@DIGEST)", src)
	}
	repo := ref.Context().Name()
	var out []string
	for _, t := range newTags {
		if !strings.ContainsAny(t, ":/@") {
			if _, err := name.NewTag(repo+":"+t, name.StrictValidation); err != nil {
				return nil, fmt.Errorf("new tag %q: %w", t, err)
			}
			out = append(out, repo+":"+t)
			continue
		}
		if strings.Contains(t, "@") || !strings.Contains(t[strings.LastIndex(t, "/")+1:], ":") {
			return nil, fmt.Errorf("new tag %q: a tag (1.4.0) or a repository with its tag (registry.example.com/prod/app:1.4.0), not a digest", t)
		}
		dst, err := name.NewTag(t, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("new tag %q: %w (another repository is written with its registry: docker.io/library/nginx:1.27)", t, err)
		}
		out = append(out, dst.Name())
	}
	return out, nil
}

// Promote looks at every destination, then, unless one must be refused or
// it is a dry run, copies src to those that do not hold its digest yet.
// The result says what happened (or would) to each; a refusal is a
// *MovedError and writes nothing.
func Promote(ctx context.Context, reg Registry, src string, dsts []string, o Options) (Result, error) {
	res := Result{Src: src}
	digest, err := sourceDigest(ctx, reg, src)
	if err != nil {
		return res, err
	}
	res.Digest = digest
	var refused []Step
	for _, dst := range dsts {
		before, err := reg.Lookup(ctx, dst)
		if err != nil {
			return res, fmt.Errorf("looking at %s: %w", dst, err)
		}
		s := Step{Dst: dst, Before: before}
		switch {
		case before == "":
			s.Action = Create
		case before == digest:
			s.Action = Unchanged
		case o.Force:
			s.Action = Move
		default:
			s.Action = Refuse
			refused = append(refused, s)
		}
		res.Steps = append(res.Steps, s)
	}
	if len(refused) > 0 {
		return res, &MovedError{Refused: refused, Digest: digest}
	}
	if o.DryRun {
		return res, nil
	}
	// Pin the source by digest: the tag could move while we copy.
	pinned := src
	if ref, err := name.ParseReference(src); err == nil {
		pinned = ref.Context().Name() + "@" + digest
	}
	for i := range res.Steps {
		s := &res.Steps[i]
		if s.Action == Unchanged {
			continue
		}
		cr, err := reg.Copy(ctx, pinned, s.Dst)
		if err != nil {
			return res, fmt.Errorf("promoting to %s: %w", s.Dst, err)
		}
		s.Done, s.Copied = true, cr.Attached
	}
	return res, nil
}

// sourceDigest is the digest behind src: the one given, or the tag's now.
func sourceDigest(ctx context.Context, reg Registry, src string) (string, error) {
	ref, err := name.ParseReference(src)
	if err != nil {
		return "", fmt.Errorf("image %q: %w", src, err)
	}
	if d, ok := ref.(name.Digest); ok {
		return d.DigestStr(), nil
	}
	d, err := reg.Lookup(ctx, src)
	switch {
	case err != nil:
		return "", fmt.Errorf("looking at %s: %w", src, err)
	case d == "":
		return "", fmt.Errorf("looking at %s: %w", src, registry.ErrNotFound)
	}
	return d, nil
}
