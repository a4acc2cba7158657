package registry

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
)

// ListTags lists every tag of repo ("host/path"). Within one cycle (see
// NewCycle) the list is fetched once and shared by concurrent callers.
//
// Pagination (Link headers) is followed to the end, within WithMaxPages and
// WithMaxTags (beyond them the error wraps ErrTooManyTags). A page that
// brings no tag not seen before ends the walk: some registries answer a
// `last` at or past the end with the first page again. A full page without
// a Link is followed by one speculative `?last=` request, since some
// registries honour ?n= but never send Link. The result is in the
// registry's order without duplicates; the caller owns the slice.
func (c *Client) ListTags(ctx context.Context, repo string) ([]string, error) {
	t, err := c.resolve(repo)
	if err != nil {
		return nil, err
	}
	key := t.repo.Name()
	tags, err := shared(ctx, c, "list", func(cy *cycle) map[string]result[[]string] { return cy.lists }, key,
		func(ctx context.Context) ([]string, error) { return c.listTags(ctx, t) })
	return slices.Clone(tags), err
}

func (c *Client) listTags(ctx context.Context, t target) ([]string, error) {
	what := "listing tags of " + t.repo.Name()
	lister, err := t.r.puller.Lister(ctx, t.repo)
	if err != nil {
		return nil, wrapErr(what, err)
	}
	var tags []string
	seen := map[string]struct{}{}
	probing := false
	for pages := 0; lister.HasNext(); pages++ {
		if pages == c.o.maxPages {
			return nil, fmt.Errorf("%s: %w: more than %d pages", what, ErrTooManyTags, c.o.maxPages)
		}
		page, err := lister.Next(ctx)
		if err != nil {
			if probing {
				break // the speculative page failed: keep what the registry listed
			}
			return nil, wrapErr(what, err)
		}
		fresh := 0
		for _, tag := range page.Tags {
			if _, dup := seen[tag]; dup {
				continue
			}
			seen[tag] = struct{}{}
			tags = append(tags, tag)
			fresh++
		}
		if len(tags) > c.o.maxTags {
			return nil, fmt.Errorf("%s: %w: more than %d tags", what, ErrTooManyTags, c.o.maxTags)
		}
		if fresh == 0 {
			break // an empty or repeated page, or a probe that found nothing: the end
		}
		probing = false
		if page.Next == "" && len(page.Tags) == c.o.pageSize {
			// A full page without a Link: some registries (ggcr's own
			// pkg/registry) honour ?n= but never send Link. Ask for what
			// follows the last tag; a registry that ignores `last` repeats
			// itself and the walk ends above.
			page.Next = nextPageURL(t, page.Tags[len(page.Tags)-1], c.o.pageSize)
			probing = true
		}
	}
	return tags, nil
}

// nextPageURL is the tag list page after last, on the registry itself.
func nextPageURL(t target, last string, n int) string {
	u := url.URL{
		Scheme:   t.repo.Scheme(), // ggcr's scheme transport switches to what the ping found
		Host:     t.repo.RegistryStr(),
		Path:     "/v2/" + t.repo.RepositoryStr() + "/tags/list",
		RawQuery: url.Values{"last": {last}, "n": {strconv.Itoa(n)}}.Encode(),
	}
	return u.String()
}
