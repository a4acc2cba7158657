package webhook

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// Path is where tagwatch serves the handler: POST /webhooks/registry?type=T.
const Path = "/webhooks/registry"

// MaxBodyBytes caps a request body (1 MiB); a larger one is refused with
// 413 after reading at most one byte more.
const MaxBodyBytes = 1 << 20

// The webhook types, the values of ?type=.
const (
	TypeDistribution = "distribution" // CNCF distribution notifications (docker-registry)
	TypeDockerHub    = "dockerhub"    // Docker Hub repository webhooks
	TypeGitHub       = "github"       // GitHub package / registry_package events
	TypeHarbor       = "harbor"       // Harbor PUSH_ARTIFACT (default payload format)
	TypeQuay         = "quay"         // Quay repository push notifications
	TypeCloudEvents  = "cloudevents"  // ECR via EventBridge, or structured-mode CloudEvents
	TypeGeneric      = "generic"      // {"image": …, "tag": …}, signed
)

// provider is what serving one type needs: how a request proves its
// origin and how its body becomes events.
type provider struct {
	auth   authScheme
	header string // the signature header, for auth == signature
	parse  func(h http.Header, body []byte) ([]Event, error)
}

// providers is never written after initialisation.
var providers = map[string]provider{
	TypeDistribution: {auth: sharedSecret, parse: parseDistribution},
	TypeDockerHub:    {auth: sharedSecret, parse: parseDockerHub},
	TypeGitHub:       {auth: signature, header: "X-Hub-Signature-256", parse: parseGitHub},
	TypeHarbor:       {auth: sharedSecret, parse: parseHarbor},
	TypeQuay:         {auth: sharedSecret, parse: parseQuay},
	TypeCloudEvents:  {auth: sharedSecret, parse: parseCloudEvents},
	TypeGeneric:      {auth: signature, header: "X-Tagwatch-Signature", parse: parseGeneric},
}

// Types returns the webhook types, sorted: what a config's webhooks[].type
// may say.
func Types() []string {
	ts := make([]string, 0, len(providers))
	for t := range providers {
		ts = append(ts, t)
	}
	slices.Sort(ts)
	return ts
}

// Result is the outcome of one request, as the metric
// tagwatch_webhook_events_total{type,result} counts it.
type Result string

const (
	ResultAccepted     Result = "accepted"     // 202: authenticated and understood (maybe no event in it)
	ResultUnauthorized Result = "unauthorized" // 401 bad secret, 404 type not configured, 503 secret unreadable
	ResultInvalid      Result = "invalid"      // 400 bad payload, 404 unknown type, 405 not POST
	ResultTooLarge     Result = "too_large"    // 413 body over MaxBodyBytes
)

// UnknownType is the type an Observer is given for a request whose ?type=
// is not one of Types(), so that a metric label stays bounded.
const UnknownType = "unknown"

// Sink receives the events of an accepted request, in payload order and
// each once (past 1,000 events, only those of repositories not yet named),
// before the 202 is written. It must not block: hand the events to a
// channel or a debouncer and return. It is only called with at least one
// event, and may be called concurrently.
type Sink func(typ string, events []Event)

// Observer is told the outcome of every request, exactly once per
// request. typ is one of Types() or UnknownType.
type Observer func(typ string, result Result)

// Handler serves POST /webhooks/registry?type=T. Build it with NewHandler;
// it keeps no state between requests and is safe for concurrent use.
type Handler struct {
	sink     Sink
	secrets  map[string]SecretFunc
	insecure bool
	observe  Observer
}

// Option configures a Handler.
type Option func(*Handler) error

// WithSecret serves typ, authenticating its requests with the secret
// that fn returns at request time.
func WithSecret(typ string, fn SecretFunc) Option {
	return func(h *Handler) error {
		if _, ok := providers[typ]; !ok {
			return fmt.Errorf("webhook type %q: must be one of %s", typ, strings.Join(Types(), ", "))
		}
		if fn == nil {
			return fmt.Errorf("webhook type %q: nil secret", typ)
		}
		if _, dup := h.secrets[typ]; dup {
			return fmt.Errorf("webhook type %q: secret given twice", typ)
		}
		h.secrets[typ] = fn
		return nil
	}
}

// WithInsecure(true) also serves the types that have no secret, without
// authentication (config: insecureWebhooks: true). Types with a secret
// still require it.
func WithInsecure(insecure bool) Option {
	return func(h *Handler) error { h.insecure = insecure; return nil }
}

// WithObserver is told the Result of every request.
func WithObserver(o Observer) Option {
	return func(h *Handler) error { h.observe = o; return nil }
}

// NewHandler returns a Handler that hands accepted events to sink.
func NewHandler(sink Sink, opts ...Option) (*Handler, error) {
	if sink == nil {
		return nil, errors.New("webhook: nil sink")
	}
	h := &Handler{sink: sink, secrets: map[string]SecretFunc{}, observe: func(string, Result) {}}
	for _, o := range opts {
		if err := o(h); err != nil {
			return nil, fmt.Errorf("webhook: %w", err)
		}
	}
	if h.observe == nil {
		h.observe = func(string, Result) {}
	}
	return h, nil
}

// ServeHTTP answers 202 (accepted), 400 (payload invalid), 401 (missing or
// wrong secret), 404 (unknown or unconfigured type), 405 (not POST), 413
// (body over 1 MiB) or 503 (the secret could not be read). Refusals say
// why in one line of text, never with the secret; nothing reaches the
// sink unless the answer is 202.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	typ := r.URL.Query().Get("type")
	p, known := providers[typ]
	label := typ
	if !known {
		label = UnknownType
	}
	refuse := func(code int, res Result, format string, args ...any) {
		h.observe(label, res)
		reply(w, code, fmt.Sprintf(format, args...))
	}

	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		refuse(http.StatusMethodNotAllowed, ResultInvalid, "method %s not allowed: webhooks are POSTed", r.Method)
		return
	}
	if !known {
		refuse(http.StatusNotFound, ResultInvalid, "unknown webhook type %q: ?type= must be one of %s", truncate(typ, 40), strings.Join(Types(), ", "))
		return
	}
	secretFn, configured := h.secrets[typ]
	if !configured && !h.insecure {
		refuse(http.StatusNotFound, ResultUnauthorized, "webhook type %q is not configured on this tagwatch", typ)
		return
	}
	var secret string
	if configured {
		var err error
		if secret, err = secretFn(); err != nil || secret == "" {
			refuse(http.StatusServiceUnavailable, ResultUnauthorized, "the secret of webhook type %q cannot be read; see tagwatch's configuration", typ)
			return
		}
		if p.auth == sharedSecret {
			if err := checkShared(r, secret); err != nil {
				refuse(http.StatusUnauthorized, ResultUnauthorized, "%v", err)
				return
			}
		}
	}

	body, err := readBody(r)
	switch {
	case errors.Is(err, errTooLarge):
		refuse(http.StatusRequestEntityTooLarge, ResultTooLarge, "body larger than %d bytes", MaxBodyBytes)
		return
	case err != nil:
		refuse(http.StatusBadRequest, ResultInvalid, "reading body: %v", err)
		return
	}
	if configured && p.auth == signature {
		if err := checkSignature(r.Header, p.header, body, secret); err != nil {
			refuse(http.StatusUnauthorized, ResultUnauthorized, "%v", err)
			return
		}
	}

	events, err := p.parse(r.Header, body)
	if err != nil {
		refuse(http.StatusBadRequest, ResultInvalid, "%s payload: %v", typ, err)
		return
	}
	if len(events) > 0 {
		h.sink(typ, events)
	}
	h.observe(label, ResultAccepted)
	reply(w, http.StatusAccepted, fmt.Sprintf("accepted: %d event(s)", len(events)))
}

var errTooLarge = errors.New("body too large")

// readBody reads at most MaxBodyBytes+1 bytes: one more than allowed tells
// a body that is too large, and nothing more is ever buffered.
func readBody(r *http.Request) ([]byte, error) {
	if r.ContentLength > MaxBodyBytes {
		return nil, errTooLarge
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > MaxBodyBytes {
		return nil, errTooLarge
	}
	return body, nil
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
