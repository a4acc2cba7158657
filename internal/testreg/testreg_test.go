package testreg_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

func list(t *testing.T, tg *testreg.Target, repo string) []string {
	t.Helper()
	r, err := name.NewRepository(tg.Repo(repo))
	if err != nil {
		t.Fatal(err)
	}
	tags, err := remote.List(r, tg.RemoteOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(tags)
	return tags
}

func TestStart(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{User: "u", Pass: "p", PageSize: 2})
	now := time.Now()
	d := srv.PushImage(t, "a/b", now, "1", "2")
	srv.Tag(t, "a/b", "1", "3", "4", "5")
	srv.Target.Tag(t, "a/b", d, "6")
	if got := list(t, srv.Target, "a/b"); !slices.Equal(got, []string{"1", "2", "3", "4", "5", "6"}) {
		t.Errorf("tags = %q", got)
	}
	if n := srv.Count("GET", "/tags/list"); n != 3 {
		t.Errorf("%d list requests: %q", n, srv.Requests())
	}
	idx := srv.PushIndex(t, "a/c", now, []string{"linux/amd64", "linux/arm64"}, "multi")
	if !strings.HasPrefix(idx, "sha256:") {
		t.Errorf("index digest %q", idx)
	}

	resp, err := http.Get(srv.URL + "/v2/a/b/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("anonymous: %s %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestStartTLSFaults(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{TLS: true})
	srv.PushImage(t, "a/b", time.Now(), "1")
	srv.Inject(testreg.Fault{Method: "GET", Path: "/tags/list", Status: 429, RetryAfter: "3"})
	req, _ := http.NewRequest("GET", srv.URL+"/v2/a/b/tags/list", nil)
	resp, err := (&http.Client{Transport: srv.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("fault not injected: %s", resp.Status)
	}
	if got := list(t, srv.Target, "a/b"); !slices.Equal(got, []string{"1"}) {
		t.Errorf("after the fault: %q", got)
	}
}

func TestStartDistribution(t *testing.T) {
	for _, opts := range []testreg.DistributionOptions{{}, {TLS: true, Auth: true}} {
		tg := testreg.StartDistribution(t, opts)
		tg.PushImage(t, "a/b", time.Now(), "1", "2")
		if got := list(t, tg, "a/b"); !slices.Equal(got, []string{"1", "2"}) {
			t.Errorf("%+v: tags = %q", opts, got)
		}
		if opts.Auth && !strings.HasPrefix(tg.CredentialsFile(t), "file:/") {
			t.Error("CredentialsFile")
		}
	}
}

func TestFaultProxy(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "a/b", time.Now(), "1", "2")
	var next *testreg.Fault
	proxy := testreg.StartFaultProxy(t, srv.Target, func(r *http.Request) *testreg.Fault {
		if strings.HasSuffix(r.URL.Path, "/tags/list") {
			return next
		}
		return nil
	})
	if got := list(t, proxy.Target, "a/b"); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("through the proxy: %q", got)
	}
	for _, f := range []testreg.Fault{{Status: 500}, {Reset: true}, {Truncate: true}} {
		next = &f
		resp, err := http.Get(proxy.URL + "/v2/a/b/tags/list")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == 200 {
				t.Errorf("fault %+v: a whole answer", f)
			}
		}
	}
	if n := proxy.Faults(); n != 3 {
		t.Errorf("%d faults injected, want 3", n)
	}
	if reqs := proxy.Requests(); len(reqs) < 4 {
		t.Errorf("requests seen: %q", reqs)
	}
}
