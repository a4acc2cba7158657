package forge_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"reflect"
	"sync"
	"testing"
)

// exchange is one recorded HTTP request and its answer. The request holds
// what must match: method, path, query (as a set) and the JSON body's
// fields given (others may be there too).
type exchange struct {
	Request struct {
		Method string            `json:"method"`
		Path   string            `json:"path"`
		Query  map[string]string `json:"query"`
		Body   map[string]any    `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	} `json:"response"`
}

// replay serves the exchanges of testdata/name, in order, on 127.0.0.1, and
// fails the test on a request that is not the next one recorded, or when
// some were not asked for. It also checks every request carries the
// token header given (auth: the header's name and value).
func replay(t *testing.T, name, authHeader, authValue string) *httptest.Server {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var script []exchange
	if err := json.Unmarshal(data, &script); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var mu sync.Mutex
	next := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		if next >= len(script) {
			t.Errorf("%s: unexpected request %s %s (all %d exchanges done)", name, r.Method, r.URL, len(script))
			http.Error(w, "unexpected", http.StatusTeapot)
			return
		}
		ex := script[next]
		next++
		if err := match(ex, r, body); err != nil {
			t.Errorf("%s: exchange %d: %v", name, next, err)
		}
		if got := r.Header.Get(authHeader); got != authValue {
			t.Errorf("%s: exchange %d: header %s = %q, want %q", name, next, authHeader, got, authValue)
		}
		for k, v := range ex.Response.Headers {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ex.Response.Status)
		w.Write(ex.Response.Body)
	}))
	t.Cleanup(func() {
		srv.Close()
		mu.Lock()
		defer mu.Unlock()
		if next != len(script) {
			t.Errorf("%s: %d of %d exchanges were asked for", name, next, len(script))
		}
	})
	return srv
}

func match(ex exchange, r *http.Request, body []byte) error {
	want := ex.Request
	if r.Method != want.Method || r.URL.Path != want.Path {
		return fmt.Errorf("got %s %s, want %s %s", r.Method, r.URL.Path, want.Method, want.Path)
	}
	q := url.Values{}
	for k, v := range want.Query {
		q.Set(k, v)
	}
	if got := r.URL.Query(); !reflect.DeepEqual(map[string][]string(got), map[string][]string(q)) && !(len(got) == 0 && len(q) == 0) {
		return fmt.Errorf("%s %s: query %v, want %v", r.Method, r.URL.Path, got, q)
	}
	if len(want.Body) == 0 {
		return nil
	}
	var got map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(body), &got); err != nil {
		return fmt.Errorf("%s %s: body %q is not a JSON object: %v", r.Method, r.URL.Path, body, err)
	}
	for k, v := range want.Body {
		if !reflect.DeepEqual(got[k], v) {
			return fmt.Errorf("%s %s: body field %s = %#v, want %#v", r.Method, r.URL.Path, k, got[k], v)
		}
	}
	return nil
}
