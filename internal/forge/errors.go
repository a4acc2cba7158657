package forge

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Conditions an *APIError matches (errors.Is).
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrRateLimited  = errors.New("rate limited")
)

// APIError is a forge API call that failed.
type APIError struct {
	Forge      string // gitea, github, gitlab
	Repository string // owner/name
	Op         string // "opening a pull request from tagwatch/production"
	Status     int    // the HTTP status; 0 when none came back
	Message    string // the forge's own message, without the token
	RetryAfter time.Duration
	err        error // a condition above, or the transport's error
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s in %s: ", e.Forge, e.Op, e.Repository)
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d %s: ", e.Status, http.StatusText(e.Status))
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(hint)
		if e.Message != "" {
			b.WriteString(" (")
			b.WriteString(e.Message)
			b.WriteString(")")
		}
	} else {
		b.WriteString(e.Message)
	}
	return b.String()
}

func (e *APIError) hint() string {
	switch e.err {
	case ErrUnauthorized:
		return "the forge refused the token: check git.provider.tokenEnv or tokenFile, and that the token has not expired"
	case ErrForbidden:
		return "the token may not do this: see docs/pull-requests.md for the scopes it needs, and the branch protection rules"
	case ErrNotFound:
		return "no such repository or pull request, or the token cannot see the repository"
	case ErrRateLimited:
		if e.RetryAfter > 0 {
			return fmt.Sprintf("rate limited by the forge: tagwatch tries again at the next cycle (the forge asks to wait %s)", e.RetryAfter.Round(time.Second))
		}
		return "rate limited by the forge: tagwatch tries again at the next cycle"
	case ErrConflict:
		return "conflict"
	}
	return ""
}

// Unwrap returns the condition (ErrUnauthorized…) or the cause.
func (e *APIError) Unwrap() error { return e.err }

// apiError builds the APIError of a call that got status (0: none) and
// message, or failed with cause; token is scrubbed from the text.
func apiError(forge, repo, op string, status int, message, token string, cause error) *APIError {
	e := &APIError{Forge: forge, Repository: repo, Op: op, Status: status, Message: scrub(strings.TrimSpace(message), token)}
	switch status {
	case http.StatusUnauthorized:
		e.err = ErrUnauthorized
	case http.StatusForbidden:
		e.err = ErrForbidden
	case http.StatusNotFound:
		e.err = ErrNotFound
	case http.StatusConflict:
		e.err = ErrConflict
	case http.StatusTooManyRequests:
		e.err = ErrRateLimited
	case 0:
		e.err = scrubErr(cause, token)
		if e.Message == "" && cause != nil {
			e.Message = scrub(cause.Error(), token)
		}
	}
	return e
}

func scrub(s, token string) string {
	if token == "" {
		return s
	}
	return strings.ReplaceAll(s, token, "REDACTED")
}

// scrubErr keeps err for errors.Is, with the token taken out of its text.
func scrubErr(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return &scrubbed{msg: scrub(err.Error(), token), err: err}
}

type scrubbed struct {
	msg string
	err error
}

func (s *scrubbed) Error() string { return s.msg }
func (s *scrubbed) Unwrap() error { return s.err }
