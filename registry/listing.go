package registry

import (
	"strings"
)

// listing is what the client knows of how one registry host serves tag
// lists, learnt from its answers (and kept in the cache directory) so that
// a list costs as few round trips as the registry allows:
//
//   - Asked without ?n=, most registries (CNCF distribution 2.x, Harbor,
//     GAR, GHCR, ggcr's) answer every tag at once: one request. That is
//     the first question to a host nothing is known of.
//   - Others answer a page of their own size with a Link to the next
//     (Docker Hub and ECR 100 tags, Quay 50). Seen once, the host is asked
//     for pages of WithPageSize (default 1,000: ECR refuses more) from
//     then on, starting with the list under way when its page was smaller
//     (10,300 tags: 1 + 11 requests instead of 103), and, since it sends
//     Links, a full page without one is its last: no `?last=` probe after
//     it (ECR's `last` is an opaque cursor; a tag name there fails the
//     list).
//   - A registry that answers 400 to ?n= is never asked with it again.
//
// None of it decides whether a list is complete: a Link, or its absence,
// does (see ListTags). What is learnt only saves requests.
type listing struct {
	Paged    bool `json:"paged,omitempty"`    // ask ?n=: it pages on its own
	Links    bool `json:"links,omitempty"`    // it sends Links: a full page without one is the last
	RefusesN bool `json:"refusesN,omitempty"` // it answered 400 to ?n=: never send it
}

// knownListing is what is known in advance of the registries that page
// tag lists on their own: Docker Hub and ECR (private and public) answer
// 100 tags a page with a Link when asked without ?n=, and honour ?n= up to
// 1,000 (ECR refuses more). Asked ?n=1000, a list of 10,000 tags takes 10
// requests instead of 100.
func knownListing(host string) (listing, bool) {
	h, _, _ := strings.Cut(host, ":") // a port does not change who answers
	switch {
	case h == "index.docker.io" || h == "registry-1.docker.io" || h == "docker.io",
		h == "public.ecr.aws",
		strings.HasSuffix(h, ".amazonaws.com") && strings.Contains(h, ".dkr.ecr."),
		strings.HasSuffix(h, ".amazonaws.com.cn") && strings.Contains(h, ".dkr.ecr."):
		return listing{Paged: true, Links: true}, true
	}
	return listing{}, false
}

// listing returns what is known of host: learnt in this process, else
// from the cache directory, else knownListing.
func (c *Client) listing(host string) listing {
	if l, ok := c.listings.Load(host); ok {
		return l.(listing)
	}
	l, ok := knownListing(host)
	if c.cache != nil {
		if cached, found := c.cache.listing(host); found {
			l, ok = cached, true
		}
	}
	if ok {
		c.listings.Store(host, l)
	}
	return l
}

// learnListing records what a list of host taught, when it is news.
func (c *Client) learnListing(host string, l listing) {
	if old, ok := c.listings.Swap(host, l); ok && old.(listing) == l {
		return
	}
	if c.cache != nil {
		_ = c.cache.storeListing(host, l) // best effort: the cache is only a cache
	}
}
