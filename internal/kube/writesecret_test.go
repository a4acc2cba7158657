package kube

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestGitSecretFailsItsApplicationAlone: two Applications write one
// repository, which Argo CD's repository Secret opens; one of them names,
// with write-back-method git:secret, a Secret that does not exist. The
// other is updated and pushed; the one naming it gets ImageUpdateFailed
// naming the Secret, and nothing of it is written (with the repository
// Secret's credentials or any). A Secret without credentials fails it the
// same way. Once the Secret holds credentials, the next cycle writes it,
// with them: the repository Secret has gone bad by then, and the other
// Application is written with them too.
func TestGitSecretFailsItsApplicationAlone(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": seed, "b/kustomization.yaml": seed})
	srv := testgit.ServeHTTPAuth(t, bare, "deploy", "s3cr3t-token")
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"},
		map[string]string{"url": srv.URL, "username": "deploy", "password": "s3cr3t-token"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source(srv.URL, "a"))
	w.application("b", map[string]string{iu + "image-list": img, iu + "write-back-method": "git:secret:" + w.argo + "/write",
		iu + "write-back-target": "kustomization"}, source(srv.URL, "b"))
	w.waitApps("a", "b")
	l := w.loop()
	secret := iu + "write-back-method: git:secret:" + w.argo + "/write: "

	sum := w.cycle(l)
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("without the Secret (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	wantErr := []string{"b: " + secret + "reading Secret " + w.argo + `/write: secrets "write" not found`}
	if diff := cmp.Diff(wantErr, errorsOf(sum)); diff != "" {
		t.Errorf("errors without the Secret (-want +got):\n%s", diff)
	}
	if len(sum.Pushes) != 1 || sum.Pushes[0].Err != nil || sum.Err != nil {
		t.Errorf("pushes %+v, cycle error %v: want a's pushed", sum.Pushes, sum.Err)
	}
	if got := testgit.Show(t, bare, "main", "b/kustomization.yaml") + "\n"; got != seed {
		t.Errorf("b was written:\n%s", got)
	}
	w.waitEvent("b", ReasonImageUpdateFailed, "git:secret:"+w.argo+"/write", `secrets "write" not found`)
	w.waitEvent("a", ReasonImagesUpdated, img+" 1.0.0 -> 1.1.0")

	// A Secret without credentials: the same, a moving on alone.
	w.secret(w.argo, "write", nil, map[string]string{"username": "deploy"})
	w.push("app", "1.2.0")
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"a 1.1.0->1.2.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("with a Secret without credentials (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	wantErr = []string{"b: " + secret + "Secret " + w.argo + "/write holds neither password (with username) nor sshPrivateKey"}
	if diff := cmp.Diff(wantErr, errorsOf(sum)); diff != "" {
		t.Errorf("errors with a Secret without credentials (-want +got):\n%s", diff)
	}
	w.waitEvent("b", ReasonImageUpdateFailed, "git:secret:"+w.argo+"/write", "holds neither password")

	// The Secret fixed, the repository Secret gone bad: b is written, with
	// the git:secret's credentials.
	rotate(t, w, w.argo, "write", "password", "s3cr3t-token")
	rotate(t, w, w.argo, "repo", "password", "wrong")
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"b 1.0.0->1.2.0 b/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("with the Secret (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if len(sum.Report.Errors) != 0 {
		t.Errorf("errors with the Secret: %v", errorsOf(sum))
	}
	w.waitEvent("b", ReasonImagesUpdated, img+" 1.0.0 -> 1.2.0")
	for _, e := range w.events("a") {
		if strings.Contains(e, ReasonImageUpdateFailed) {
			t.Errorf("a failed for b's Secret: %s", e)
		}
	}
}

// TestGitSecretOneReadPerCycle: an Application's precondition and its
// repository's credentials read the git:secret Secret once per cycle,
// from the cycle's memo: a Secret that appears (or goes) within a cycle
// changes neither before the next, so the repository is never opened with
// other credentials for an Application whose precondition passed, nor
// with the Secret's for one whose precondition failed.
func TestGitSecretOneReadPerCycle(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	const repoURL = "https://git.example/team/deploy.git" // never reached: no cycle runs
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"},
		map[string]string{"url": repoURL, "username": "deploy", "password": "repo-pass"})
	w.application("b", map[string]string{iu + "image-list": w.image("app"), iu + "write-back-method": "git:secret:" + w.argo + "/write",
		iu + "write-back-target": "kustomization"}, source(repoURL, "b"))
	w.waitApps("b")
	ctx := context.Background()
	cycle := func() (*plan.Plan, *plan.Environment) { // Plans starts a cycle
		t.Helper()
		for _, p := range w.src.Plans() {
			if e := p.Env("b"); e != nil {
				return p, e
			}
		}
		t.Fatal("no environment b")
		return nil, nil
	}
	user := func(p *plan.Plan) string {
		t.Helper()
		a, err := p.Repo.Auth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return a.Username
	}

	p, e := cycle()
	if e.Precheck == nil {
		t.Fatal("an Application with git:secret has no precondition")
	}
	if err := e.Precheck(ctx); err == nil || !strings.Contains(err.Error(), `secrets "write" not found`) {
		t.Fatalf("precondition without the Secret: %v", err)
	}
	w.secret(w.argo, "write", nil, map[string]string{"username": "writer", "password": "write-pass"})
	if got := user(p); got != "deploy" {
		t.Errorf("the Secret made within the cycle was read: user %q, want the repository Secret's", got)
	}

	p, e = cycle()
	if err := e.Precheck(ctx); err != nil {
		t.Fatalf("precondition with the Secret: %v", err)
	}
	if err := w.c.Clientset(t).CoreV1().Secrets(w.argo).Delete(ctx, "write", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := user(p); got != "writer" {
		t.Errorf("the Secret deleted within the cycle was read again: user %q, want the Secret's", got)
	}
}
