package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := NewHealth(time.Minute)
	h.now = func() time.Time { return now }
	s, err := Listen("127.0.0.1:0", h.Handler())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	base := "http://" + s.Addr().String()
	get := func(p string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	steps := []struct {
		name      string
		do        func()
		wantReady int
		wantBody  string
	}{
		{"before any cycle", func() {}, 503, "no cycle has completed yet"},
		{"after a successful cycle", func() { h.Cycle(nil) }, 200, "latest cycle completed"},
		{"a failed cycle within maxAge", func() { now = now.Add(30 * time.Second); h.Cycle(errors.New("push rejected")) }, 200, "latest cycle failed: push rejected"},
		{"success too old", func() { now = now.Add(time.Minute) }, 503, "limit 1m0s"},
		{"recovered", func() { h.Cycle(nil) }, 200, "latest cycle completed"},
		{"a follower, its success long ago", func() { now = now.Add(time.Hour); h.SetStandby("another replica holds the Lease tagwatch/tagwatch") },
			200, "standby: another replica holds the Lease tagwatch/tagwatch"},
		{"leading again", func() { h.SetStandby("") }, 503, "limit 1m0s"},
	}
	for _, st := range steps {
		st.do()
		if code, body := get("/healthz"); code != 200 || body != "ok\n" {
			t.Errorf("%s: /healthz = %d %q, want 200 ok", st.name, code, body)
		}
		code, body := get("/readyz")
		if code != st.wantReady || !strings.Contains(body, st.wantBody) {
			t.Errorf("%s: /readyz = %d %q, want %d containing %q", st.name, code, body, st.wantReady, st.wantBody)
		}
	}
}
