package webhook

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
)

// seed adds every sample of testdata/<typ>/ and a few broken bodies.
func seed(f *testing.F, typ string, add func(body []byte)) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", typ, "*.json"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no samples for %s", typ)
	}
	for _, file := range files {
		add(readTestdata(f, typ, filepath.Base(file)))
	}
	for _, b := range []string{"", "{}", "[]", "null", `{"events":[{}]}`, `{"a":` + "\x00"} {
		add([]byte(b))
	}
}

// checkParse holds for every parser and every input: no panic, either an
// ErrInvalidPayload and no events, or events that are canonical, distinct
// and bounded by the input.
func checkParse(t *testing.T, typ string, h http.Header, body []byte) {
	evs, err := providers[typ].parse(h, body)
	if err != nil {
		if !errors.Is(err, ErrInvalidPayload) {
			t.Fatalf("error %q does not wrap ErrInvalidPayload", err)
		}
		if evs != nil {
			t.Fatalf("events %v returned with error %v", evs, err)
		}
		return
	}
	if len(evs) > len(body)/4+1 || len(evs) > maxEvents+distinctRepos(evs) {
		t.Fatalf("%d events from %d bytes", len(evs), len(body))
	}
	seen := map[Event]bool{}
	for _, ev := range evs {
		if seen[ev] {
			t.Fatalf("event %v twice", ev)
		}
		seen[ev] = true
		if n := len(ev.Repository) + len(ev.Tag) + len(ev.Digest); n > len(body)+64 {
			t.Fatalf("event of %d bytes from a body of %d", n, len(body))
		}
		if repo, err := normaliseRepository(ev.Repository); err != nil || repo != ev.Repository {
			t.Fatalf("repository %q is not canonical (%q, %v)", ev.Repository, repo, err)
		}
		if _, err := newEvent("x", ev.Repository, ev.Tag, ev.Digest); err != nil {
			t.Fatalf("event %v does not validate: %v", ev, err)
		}
		if ev.Tag == "" && typ != TypeGeneric && typ != TypeCloudEvents {
			t.Fatalf("%s event without a tag: %v", typ, ev)
		}
	}
}

func distinctRepos(evs []Event) int {
	repos := map[string]bool{}
	for _, ev := range evs {
		repos[ev.Repository] = true
	}
	return len(repos)
}

func fuzzParser(f *testing.F, typ string) {
	seed(f, typ, func(b []byte) { f.Add(b) })
	f.Fuzz(func(t *testing.T, body []byte) { checkParse(t, typ, nil, body) })
}

func FuzzParseDistribution(f *testing.F) { fuzzParser(f, TypeDistribution) }
func FuzzParseDockerHub(f *testing.F)    { fuzzParser(f, TypeDockerHub) }
func FuzzParseHarbor(f *testing.F)       { fuzzParser(f, TypeHarbor) }
func FuzzParseQuay(f *testing.F)         { fuzzParser(f, TypeQuay) }
func FuzzParseCloudEvents(f *testing.F)  { fuzzParser(f, TypeCloudEvents) }
func FuzzParseGeneric(f *testing.F)      { fuzzParser(f, TypeGeneric) }

func FuzzParseGitHub(f *testing.F) {
	seed(f, TypeGitHub, func(b []byte) {
		for _, kind := range []string{"", "package", "registry_package", "ping"} {
			f.Add(b, kind)
		}
	})
	f.Fuzz(func(t *testing.T, body []byte, kind string) {
		checkParse(t, TypeGitHub, http.Header{"X-Github-Event": {kind}}, body)
	})
}

// FuzzHandler: whatever the request, the answer is one of the contract's
// statuses, the observer hears of it once, and the sink is called only
// with a 202.
func FuzzHandler(f *testing.F) {
	for _, typ := range Types() {
		body := readTestdata(f, typ, samples[typ].file)
		f.Add(typ, body, "Bearer "+testSecret, Sign(testSecret, body))
		f.Add(typ, body, testSecret, "sha256=00")
		f.Add(typ, []byte("{"), "", "")
	}
	f.Fuzz(func(t *testing.T, typ string, body []byte, auth, sig string) {
		rec := &recorder{}
		h, err := NewHandler(rec.sink, WithObserver(rec.observe),
			WithSecret(TypeDistribution, staticSecret(testSecret)), WithSecret(TypeGitHub, staticSecret(testSecret)),
			WithSecret(TypeGeneric, staticSecret(testSecret)), WithSecret(TypeQuay, staticSecret(testSecret)))
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest("POST", Path+"?type="+url.QueryEscape(typ), bytes.NewReader(body))
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Hub-Signature-256", sig)
		r.Header.Set("X-Tagwatch-Signature", sig)
		w := serve(h, r)
		sunk, obs := rec.take()
		switch w.Code {
		case 202, 400, 401, 404, 413:
		default:
			t.Fatalf("status %d", w.Code)
		}
		if len(obs) != 1 {
			t.Fatalf("observer called %d times", len(obs))
		}
		if len(sunk) > 0 && w.Code != 202 {
			t.Fatalf("sink called with status %d", w.Code)
		}
		if w.Code == 202 {
			if _, known := providers[typ]; !known {
				t.Fatalf("unknown type %q accepted", typ)
			}
		}
		sent := bytes.Contains(body, []byte(testSecret)) || bytes.Contains([]byte(typ), []byte(testSecret))
		if !sent && bytes.Contains(w.Body.Bytes(), []byte(testSecret)) {
			t.Fatalf("answer %q echoes the secret", w.Body)
		}
	})
}
