// Package resolve turns a repository and a policy into the tags the policy
// ranks: it lists the repository's tags and fetches the metadata the policy
// needs for the tags that pass the policy's name filters only. Every listed
// tag is handed on, so that Select counts and explains each one it drops
// ("4 removed by allowTags"), exactly as it does for a --tags-file.
//
// It is the one place where registry and policy meet, so both the reconcile
// loop and `tagwatch test` use it. Names that are not valid tags are dropped
// as the list is read (Found.Invalid counts them), before the policy sees
// them:
//
//	tags, err := resolve.Candidates(ctx, client, pol, "registry.example.com/team/app")
//	if err != nil { … }
//	res := pol.Select(tags, policy.Current{Tag: inGit})
//
// A Memo over the registry client remembers the answers for as long as the
// caller keeps it (the reconcile loop: one cycle), so that several
// environments watching one image cost one list:
//
//	src := resolve.NewMemo(client)
//
// What it costs, per call, with a *registry.Client as Source:
//   - one tag list (one per Memo);
//   - semver, alphabetical, numerical without platforms: nothing more;
//   - digest: one HEAD for the followed tag, every cycle (immutableTags or not);
//   - newest-build or any platforms filter: registry.Client.Describe for each
//     surviving tag (a HEAD per tag once the digest-keyed cache is warm;
//     none on a host with ImmutableTags, nor for tags seen within its
//     TagTTL), as many at once as the client lets the host have.
package resolve

import (
	"context"
	"errors"

	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
	"golang.org/x/sync/errgroup"
)

// Source is what Candidates needs from a registry client; *registry.Client
// implements it.
type Source interface {
	ListTags(ctx context.Context, repo string) ([]string, error)
	Describe(ctx context.Context, repo, tag string) (registry.Meta, error)
	Digest(ctx context.Context, repo, tag string) (string, error)
}

// DefaultConcurrency is how many resolutions (Find calls) the reconcile
// loop runs at once.
const DefaultConcurrency = 8

// fanOut bounds the metadata requests one Find has outstanding. It is not
// what bounds the requests on the wire: registry.Client does that per
// registry host, adaptively (registry.MaxConcurrency at most), and a bound
// here below that would leave it idle.
const fanOut = 2 * registry.MaxConcurrency

// Found is what Find found: the candidates and the names it dropped.
type Found struct {
	Tags    []policy.Tag
	Invalid Invalid // names of the list that are not valid tags
}

// Candidates is Find's candidates alone.
func Candidates(ctx context.Context, src Source, pol *policy.Policy, repo string) ([]policy.Tag, error) {
	f, err := Find(ctx, src, pol, repo)
	return f.Tags, err
}

// Find lists the tags of repo, drops the names that are not valid tags
// (counted in Found.Invalid) and returns every other one, in the
// registry's order; those that pass pol's name filters (pol.Key) carry
// Digest (pol.NeedsDigest) or Digest, Created and Platforms
// (pol.NeedsMetadata). pol.Select drops the others again and counts them
// under the rule that dropped them: the live path and the offline one
// (`tagwatch test --tags-file`) explain a selection the same way.
//
// A tag that disappears between the list and its metadata request
// (registry.ErrNotFound) is left out: it is no candidate any more. Any other
// error fails the whole call, since ranking over partial metadata could pick
// the wrong tag; Source errors name the repository and tag (registry.Client's do).
func Find(ctx context.Context, src Source, pol *policy.Policy, repo string) (Found, error) {
	all, err := src.ListTags(ctx, repo)
	if err != nil {
		return Found{}, err
	}
	valid, invalid := ValidNames(all)
	tags := make([]policy.Tag, len(valid))
	for i, n := range valid {
		tags[i].Name = n
	}
	needMeta, needDigest := pol.NeedsMetadata(), pol.NeedsDigest()
	if !needMeta && !needDigest {
		return Found{Tags: tags, Invalid: invalid}, nil
	}
	gone := make([]bool, len(tags))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fanOut)
	for i := range tags {
		if _, ok := pol.Key(tags[i].Name); !ok {
			continue // dropped by a name rule: Select counts it, no metadata needed
		}
		g.Go(func() error {
			err := fill(gctx, src, repo, &tags[i], needMeta)
			if errors.Is(err, registry.ErrNotFound) {
				gone[i] = true
				return nil
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return Found{}, err
	}
	kept := tags[:0]
	for i, t := range tags {
		if !gone[i] {
			kept = append(kept, t)
		}
	}
	return Found{Tags: kept, Invalid: invalid}, nil
}

func fill(ctx context.Context, src Source, repo string, t *policy.Tag, needMeta bool) error {
	if !needMeta {
		d, err := src.Digest(ctx, repo, t.Name)
		if err != nil {
			return err
		}
		t.Digest = d
		return nil
	}
	m, err := src.Describe(ctx, repo, t.Name)
	if err != nil {
		return err
	}
	t.Digest, t.Created = m.Digest, m.Created
	for _, p := range m.Platforms {
		t.Platforms = append(t.Platforms, policy.Platform{Platform: p.Platform, Created: p.Created})
	}
	return nil
}
