package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Event says that a tag of an image repository was pushed. It is a hint:
// the loop asks the registry anyway, so a wrong Tag or Digest costs a
// listing, never a wrong decision.
type Event struct {
	// Repository is the normalised repository name, as
	// name.NewRepository(…).Name() gives it and as a tagwatch config's
	// image field normalises: "registry.example.com/team/app",
	// "index.docker.io/library/nginx", "127.0.0.1:5000/team/app".
	Repository string `json:"repository"`
	Tag        string `json:"tag,omitempty"`    // "" when the payload names none (generic, CloudEvents data)
	Digest     string `json:"digest,omitempty"` // "sha256:…" when the payload gives it
}

// ErrInvalidPayload is wrapped by every error a parser returns: the body
// is not JSON, or not the payload the type promises. The handler answers
// it with 400 and the error's text.
var ErrInvalidPayload = errors.New("invalid payload")

// invalid returns an error wrapping ErrInvalidPayload; its text is the
// formatted message alone (it goes back to the sender as it is).
func invalid(format string, args ...any) error {
	return &payloadError{msg: fmt.Sprintf(format, args...)}
}

type payloadError struct{ msg string }

func (e *payloadError) Error() string        { return e.msg }
func (e *payloadError) Is(target error) bool { return target == ErrInvalidPayload }

// newEvent validates and normalises one event. field names the JSON field
// the repository came from, for the error.
func newEvent(field, repository, tag, digest string) (Event, error) {
	repo, err := normaliseRepository(repository)
	if err != nil {
		return Event{}, invalid("%s: %v", field, err)
	}
	if tag != "" && !validTag(tag) {
		return Event{}, invalid("%s: %q is not a valid tag", field, tag)
	}
	if digest != "" {
		if _, err := v1.NewHash(digest); err != nil {
			return Event{}, invalid("%s: %q is not a valid digest (want sha256:<64 hex>)", field, digest)
		}
	}
	return Event{Repository: repo, Tag: tag, Digest: digest}, nil
}

// validTag reports whether tag matches the OCI distribution spec's
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func validTag(tag string) bool {
	if len(tag) == 0 || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		c := tag[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// normaliseRepository turns an image repository (no tag, no digest) into
// its canonical name. Empty path components ("a//b") are refused, which
// go-containerregistry's weak validation lets through.
func normaliseRepository(s string) (string, error) {
	if s == "" {
		return "", errors.New("missing repository")
	}
	if last := s[strings.LastIndex(s, "/")+1:]; strings.ContainsAny(last, ":@") {
		return "", fmt.Errorf("%q names a tag or digest: want the repository alone", s)
	}
	r, err := name.NewRepository(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a valid image repository (%v)", s, err)
	}
	for _, part := range strings.Split(r.RepositoryStr(), "/") {
		if part == "" {
			return "", fmt.Errorf("%q is not a valid image repository", s)
		}
	}
	return r.Name(), nil
}

// maxEvents bounds what one payload yields per repository: past it, an
// event whose repository is already listed is dropped (its tag is a hint,
// and the loop lists that repository anyway). A 1 MiB list of tags thus
// costs a bounded slice, not one event per tag.
const maxEvents = 1000

// eventList collects events in payload order, each once: one payload
// naming a tag twice triggers once.
type eventList struct {
	events []Event
	seen   map[Event]bool
	repos  map[string]bool
}

func (l *eventList) add(ev Event) {
	if l.seen == nil {
		l.seen, l.repos = map[Event]bool{}, map[string]bool{}
	}
	if l.seen[ev] || len(l.events) >= maxEvents && l.repos[ev.Repository] {
		return
	}
	l.seen[ev], l.repos[ev.Repository] = true, true
	l.events = append(l.events, ev)
}

// decode unmarshals a JSON body into v and turns encoding/json's errors
// into messages that name the field and what is wrong, without Go type
// names.
func decode(body []byte, v any) error {
	if len(strings.TrimSpace(string(body))) == 0 {
		return invalid("empty body: want a JSON object")
	}
	err := json.Unmarshal(body, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		return invalid("malformed JSON at byte %d: %s", syn.Offset, strings.TrimPrefix(syn.Error(), "json: "))
	case errors.As(err, &typ) && typ.Field != "":
		return invalid("field %s: want %s, got JSON %s", typ.Field, jsonKind(typ.Type.Kind().String()), typ.Value)
	case errors.As(err, &typ):
		return invalid("want a JSON object, got JSON %s", typ.Value)
	}
	return invalid("malformed JSON: %s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonKind names a Go kind as the JSON type it decodes from.
func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "bool":
		return "a boolean"
	}
	return "a number"
}
