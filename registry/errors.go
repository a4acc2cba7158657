package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// More sentinel errors.
var (
	// ErrTooManyTags is wrapped when a tag list exceeds WithMaxPages or WithMaxTags.
	ErrTooManyTags = errors.New("too many tags")
	// ErrRateLimited is wrapped when a registry still answers 429 after the retries.
	ErrRateLimited = errors.New("rate limited by registry")
	// ErrIncompleteList is wrapped when a tag list failed after some of it
	// was read: the part read is never returned.
	ErrIncompleteList = errors.New("tag list incomplete")
	// ErrBodyTooLarge is wrapped when an answer is larger than WithMaxBodySize.
	ErrBodyTooLarge = errors.New("registry answer too large")
	// ErrPlainHTTP is wrapped when a request would go over plain HTTP where
	// it may not (see Host.Insecure).
	ErrPlainHTTP = errors.New("plain HTTP refused")
)

// wrapErr translates ggcr's errors once, at the boundary: what names the
// operation and repository, then a sentinel callers branch on where one
// applies, then ggcr's text (URLs are redacted by ggcr; credentials are never
// part of it).
func wrapErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var terr *transport.Error
	if errors.As(err, &terr) {
		switch {
		case terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden:
			return fmt.Errorf("%s: %w (HTTP %d; check the credentials for this registry): %w", what, ErrUnauthorized, terr.StatusCode, err)
		case terr.StatusCode == http.StatusNotFound || hasCode(terr, transport.NameUnknownErrorCode, transport.ManifestUnknownErrorCode):
			return fmt.Errorf("%s: %w: %w", what, ErrNotFound, err)
		case terr.StatusCode == http.StatusTooManyRequests:
			return fmt.Errorf("%s: %w: %w", what, ErrRateLimited, err)
		}
	}
	if !errors.Is(err, ErrPlainHTTP) && strings.Contains(err.Error(), ErrPlainHTTP.Error()) {
		// ggcr's ping joins the errors of its https and http attempts as
		// text: keep the sentinel of ours among them.
		return fmt.Errorf("%s: %w: %w", what, ErrPlainHTTP, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func hasCode(terr *transport.Error, codes ...transport.ErrorCode) bool {
	for _, d := range terr.Errors {
		for _, c := range codes {
			if d.Code == c {
				return true
			}
		}
	}
	return false
}
