package kube

import (
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestRepoCredsInheritance: Argo CD's repository Secret may carry only the
// url, its credentials coming from the repo-creds Secret whose url is the
// longest prefix of the repository's. Three repo-creds Secrets match; only
// the longest has the right password, and it is neither the first nor the
// last listed (Secrets are listed by name).
func TestRepoCredsInheritance(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	srv := testgit.ServeHTTPAuth(t, bare, "deploy", "s3cr3t-token")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Scheme + "://" + u.Host
	creds := func(name, url, password string) {
		w.secret(w.argo, name, map[string]string{secretTypeLabel: "repo-creds"},
			map[string]string{"url": url, "username": "deploy", "password": password})
	}
	creds("a-short", "http://127.0.0.1", "wrong-short")
	creds("m-long", host+"/", "s3cr3t-token")
	creds("z-medium", host, "wrong-medium")
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"}, map[string]string{"url": srv.URL, "type": "git"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source(srv.URL, "a"))
	w.waitApps("a")

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
}
