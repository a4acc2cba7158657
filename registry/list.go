package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ListTags lists every tag of repo ("host/path"), or fails: a list is
// complete or it is an error, never a part of the tags. Concurrent callers
// asking for the same repository share one walk.
//
// The first request asks for the whole list (no ?n=), which most
// registries answer in one go; a host known to page on its own (it sent a
// Link before, or it is Docker Hub or ECR: see listing) is asked for pages
// of WithPageSize, as is every host when WithPageSize is given. A first
// answer with a Link and fewer tags than that starts the walk over with
// ?n=. Pagination
// (Link headers) is followed to the end, within WithMaxPages and
// WithMaxTags (beyond them the error wraps ErrTooManyTags, raised while the
// page is read). A page that brings no tag not seen before ends the walk:
// some registries answer a `last` at or past the end with the first page
// again. A page without a Link is the last, with one exception: a page of
// exactly the ?n= asked, from a host that has sent no Link, is followed by
// a `?last=` request, since some registries (go-containerregistry's)
// honour ?n= but never send Link; when that answer repeats tags already
// read (the registry ignores last, or repeats its first page at the end),
// the whole list is asked for without ?n=, and the host is not paged
// again. Any request that fails after the first
// page (a Link page or that probe: an error status, a reset, a truncated
// body, 429 after the retries) fails the whole list with an error
// wrapping ErrIncompleteList and the cause. The result is in the
// registry's order without duplicates; the caller owns the slice.
func (c *Client) ListTags(ctx context.Context, repo string) ([]string, error) {
	t, err := c.resolve(repo)
	if err != nil {
		return nil, err
	}
	tags, err := shared(ctx, c, "list", t.repo.Name(), func(ctx context.Context) ([]string, error) { return c.listTags(ctx, t) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(tags), nil
}

// tagWalk collects the tags of the pages of one list.
type tagWalk struct {
	max   int
	tags  []string
	seen  map[string]struct{}
	fresh int // tags of the current page not seen before
}

// add records tag; past the bound it fails, so that the page being read
// stops there.
func (w *tagWalk) add(tag string) error {
	if _, dup := w.seen[tag]; dup {
		return nil
	}
	if len(w.tags) == w.max {
		return fmt.Errorf("%w: more than %d tags", ErrTooManyTags, w.max)
	}
	w.seen[tag] = struct{}{}
	w.tags = append(w.tags, tag)
	w.fresh++
	return nil
}

func (c *Client) listTags(ctx context.Context, t target) ([]string, error) {
	what := "listing tags of " + t.repo.Name()
	cn, err := c.conn(ctx, t)
	if err != nil {
		return nil, wrapErr(what, err)
	}
	host := t.repo.RegistryStr()
	known := c.listing(host)
	askN := (c.o.pageSizeSet || known.Paged) && !known.RefusesN
	w := &tagWalk{max: c.o.maxTags, seen: map[string]struct{}{}}
	first := &url.URL{
		Scheme: t.repo.Scheme(), // ggcr's scheme transport switches to what the ping found
		Host:   host,
		Path:   "/v2/" + t.repo.RepositoryStr() + "/tags/list",
	}
	if askN {
		first.RawQuery = "n=" + strconv.Itoa(c.o.pageSize)
	}
	linked := known.Links // a host that sends Links ends its list with a page without one
	next := first
	probing := false // next asks ?last=, with no Link to say there is more
	// wholeList makes next the whole list, asked without ?n=, and has the
	// host never paged again.
	wholeList := func() {
		known.RefusesN, known.Paged = true, false
		c.learnListing(host, known)
		askN, next = false, &url.URL{Scheme: first.Scheme, Host: first.Host, Path: first.Path}
	}
	for pages := 0; next != nil; pages++ {
		if pages == c.o.maxPages {
			return nil, fmt.Errorf("%s: %w: more than %d pages", what, ErrTooManyTags, c.o.maxPages)
		}
		w.fresh = 0
		n, link, got, err := c.listPage(ctx, cn.client, next, w)
		switch {
		case errors.Is(err, ErrTooManyTags):
			return nil, fmt.Errorf("%s: %w", what, err)
		case err != nil && pages > 0:
			return nil, fmt.Errorf("%w: %d tags read in %d pages, then: %w", ErrIncompleteList, len(w.tags)-w.fresh, pages, wrapErr(what, err))
		case err != nil && askN && next == first && isStatus(err, http.StatusBadRequest):
			// A registry that refuses ?n= (or this size of it): ask for
			// the whole list instead, and never send it ?n= again.
			wholeList()
			pages--
			continue
		case err != nil:
			return nil, wrapErr(what, err)
		}
		if link != nil && !linked {
			// It pages and sends Links: larger pages from now on (unless
			// it refuses ?n=), and no probes.
			linked = true
			learnt := known
			learnt.Links, learnt.Paged = true, !known.RefusesN
			if learnt != known {
				known = learnt
				c.learnListing(host, known)
			}
			if !askN && known.Paged && pages == 0 && n < c.o.pageSize {
				// Its pages are small (Docker Hub's 100): start over,
				// asking for pages of pageSize. One request more, then
				// one per pageSize tags instead of one per page of its
				// own.
				askN = true
				first = &url.URL{Scheme: first.Scheme, Host: first.Host, Path: first.Path, RawQuery: "n=" + strconv.Itoa(c.o.pageSize)}
				next = first
				w = &tagWalk{max: c.o.maxTags, seen: map[string]struct{}{}}
				pages = -1
				continue
			}
		}
		probed := probing
		probing = false
		switch {
		case w.fresh == 0 && probed && n > 0:
			// The answer to ?last= repeats tags already read: the registry
			// ignores last, or answers a last at the end with the first
			// page (ggcr's). Which, only the whole list tells: ask for it,
			// once, without ?n=, and never page this host again.
			wholeList()
		case w.fresh == 0:
			next = nil // an empty or repeated page, or a probe that found nothing: the end
		case link != nil:
			next = link
		case askN && !linked && n == c.o.pageSize:
			// A full page without a Link from a host that sends none:
			// some registries (ggcr's own pkg/registry) honour ?n= but
			// never send Link. Ask for what follows the last tag; a
			// repeated page then is handled above.
			probe := *got
			probe.RawQuery = url.Values{"last": {w.tags[len(w.tags)-1]}, "n": {strconv.Itoa(c.o.pageSize)}}.Encode()
			next, probing = &probe, true
		default:
			next = nil
		}
	}
	return w.tags, nil
}

// isStatus reports whether err is a registry answer with that HTTP status.
func isStatus(err error, status int) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && terr.StatusCode == status
}

// listPage reads one page at u into w. It returns how many tags the page
// held, the next page's URL from its Link header (nil without one) and the
// URL the page was actually read from (scheme as the ping found it).
func (c *Client) listPage(ctx context.Context, hc *http.Client, u *url.URL, w *tagWalk) (int, *url.URL, *url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return 0, nil, nil, err
	}
	n, err := decodeTags(resp.Body, w.add)
	if err != nil {
		return 0, nil, nil, err
	}
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10) // the rest, if short, so that the connection is reused
	got := resp.Request.URL
	link, err := nextLink(resp.Header.Get("Link"), got)
	return n, link, got, err
}

// decodeTags streams the tag list document {"name": …, "tags": […]} from r,
// calling add for each tag as it is read: an error from add stops the read
// there. It returns how many tags the document held. Members other than
// "tags" are skipped; a document that is cut short or is not a tag list is
// an error.
//
// Streaming costs CPU: BenchmarkDecodeTags reads a page of 1,000 tags in
// about 220 µs where reading it whole (BenchmarkUnmarshalTags) takes 100 to
// 140 µs; a list request takes milliseconds. It pays for the bound: a 200 MB
// answer of 8.7 million tags stops after the millionth, at 169 MB of peak
// RSS instead of 1.6 GB.
func decodeTags(r io.Reader, add func(string) error) (int, error) {
	dec := json.NewDecoder(r)
	bad := func(what string) (int, error) { return 0, fmt.Errorf("tag list: %s", what) }
	if tok, err := dec.Token(); err != nil {
		return 0, fmt.Errorf("tag list: %w", eof(err))
	} else if tok != json.Delim('{') {
		return bad("not a JSON object")
	}
	n, sawTags := 0, false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return 0, fmt.Errorf("tag list: %w", eof(err))
		}
		if key, _ := tok.(string); key != "tags" {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, fmt.Errorf("tag list: %w", eof(err))
			}
			continue
		}
		if sawTags {
			return bad(`two "tags" members`)
		}
		sawTags = true
		if tok, err = dec.Token(); err != nil {
			return 0, fmt.Errorf("tag list: %w", eof(err))
		}
		if tok == nil {
			continue // "tags": null, as some registries answer for none
		}
		if tok != json.Delim('[') {
			return bad(`"tags" is not an array`)
		}
		for dec.More() {
			var tag *string
			if err := dec.Decode(&tag); err != nil {
				return 0, fmt.Errorf("tag list: %w", eof(err))
			}
			if tag == nil {
				return bad("null among the tags")
			}
			n++
			if err := add(*tag); err != nil {
				return 0, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return 0, fmt.Errorf("tag list: %w", eof(err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return 0, fmt.Errorf("tag list: %w", eof(err))
	}
	return n, nil
}

// eof says that a document that ended early was cut short.
func eof(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// nextLink parses a Link header (`<url>; rel="next"`) against the URL of the
// page that carried it. A link to another origin (scheme or host) is
// refused: a registry must not send us elsewhere.
func nextLink(link string, page *url.URL) (*url.URL, error) {
	if link == "" {
		return nil, nil
	}
	start, end := strings.IndexByte(link, '<'), strings.IndexByte(link, '>')
	if start != 0 || end < 0 {
		return nil, fmt.Errorf("malformed Link header %q", truncate(link, 200))
	}
	if end == 1 {
		return nil, nil
	}
	u, err := url.Parse(link[1:end])
	if err != nil {
		return nil, fmt.Errorf("the Link header: %w", err)
	}
	abs := page.ResolveReference(u)
	if abs.Scheme != page.Scheme || abs.Host != page.Host {
		return nil, fmt.Errorf("pagination Link to %s://%s does not match registry %s://%s: refused", abs.Scheme, abs.Host, page.Scheme, page.Host)
	}
	return abs, nil
}

// truncate shortens s to at most n bytes (and a count of what was cut), for
// error messages that repeat what a registry sent.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…(%d more bytes)", s[:n], len(s)-n)
}
