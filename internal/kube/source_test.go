package kube

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

const iu = ImageUpdaterPrefix

func source(url, path string) map[string]any {
	return map[string]any{"repoURL": url, "path": path, "targetRevision": "main"}
}

func changes(s reconcile.Summary) []string {
	var out []string
	for _, c := range s.Report.Changes {
		out = append(out, fmt.Sprintf("%s %s->%s %s", c.Env, c.From, c.To, strings.Join(c.Files, ",")))
	}
	slices.Sort(out)
	return out
}

func errorsOf(s reconcile.Summary) []string {
	var out []string
	for _, e := range s.Report.Errors {
		out = append(out, e.Env+": "+e.Error)
	}
	return out
}

// TestImageUpdaterWriteBackTargets: Argo CD Image Updater's annotations end
// to end, one Application per write-back target (the default parameter
// override file, for a kustomize and a Helm Application; kustomization;
// helmvalues) and one with tagwatch.dev/ annotations, all in one
// repository: one commit each, one push.
func TestImageUpdaterWriteBackTargets(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0", "2.0.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{
		"envs/default/kustomization.yaml": "resources: []\n",
		"envs/helm/Chart.yaml":            "apiVersion: v2\nname: app\nversion: 0.1.0\n",
		"envs/kust/kustomization.yaml":    "images:\n  - name: team/app\n    newTag: 1.0.0\n",
		"envs/values/values.yaml":         "image:\n  repository: " + img + "\n  tag: 1.0.0 # the app\n",
		"envs/own/kustomization.yaml":     "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
	})
	url := "file://" + bare
	w.application("default", map[string]string{iu + "image-list": "app=" + img + ":^1"}, source(url, "envs/default"))
	helm := source(url, "envs/helm")
	helm["helm"] = map[string]any{"valueFiles": []any{"values.yaml"}}
	w.application("helm", map[string]string{iu + "image-list": "app=" + img + ":^1", iu + "app.helm.image-tag": "app.tag"}, helm)
	w.application("kust", map[string]string{iu + "image-list": "app=" + img + ":^1", iu + "write-back-target": "kustomization",
		iu + "app.kustomize.image-name": "team/app"}, source(url, "envs/kust"))
	w.application("values", map[string]string{iu + "image-list": "app=" + img + ":^1", iu + "write-back-target": "helmvalues:values.yaml",
		iu + "app.helm.image-name": "image.repository", iu + "app.helm.image-tag": "image.tag"}, source(url, "envs/values"))
	w.application("own", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/app.constraint": "^1"}, source(url, "envs/own"))
	// Argo CD reports what runs: the value the new override file moves from.
	w.setStatus("default", map[string]any{"sourceType": "Kustomize", "summary": map[string]any{"images": []any{img + ":1.0.0"}}})
	w.waitApps("default", "helm", "kust", "values", "own")
	w.eventually("the status of default is seen", func() bool { return len(w.src.live(w.ns+"/default")().Images) == 1 })

	sum := w.cycle(w.loop())
	want := []string{
		"default 1.0.0->1.1.0 envs/default/.argocd-source-default.yaml",
		"helm ->1.1.0 envs/helm/.argocd-source-helm.yaml",
		"kust 1.0.0->1.1.0 envs/kust/kustomization.yaml",
		"own 1.0.0->1.1.0 envs/own/kustomization.yaml",
		"values 1.0.0->1.1.0 envs/values/values.yaml",
	}
	if diff := cmp.Diff(want, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if len(sum.Pushes) != 1 || len(sum.Report.Commits) != 5 {
		t.Errorf("pushes %+v, commits %v: want one push of five commits", sum.Pushes, sum.Report.Commits)
	}
	for file, content := range map[string]string{
		"envs/default/.argocd-source-default.yaml": "kustomize:\n  images:\n  - " + img + ":1.1.0",
		"envs/helm/.argocd-source-helm.yaml": "helm:\n  parameters:\n  - name: image.name\n    value: " + img + "\n    forcestring: true\n" +
			"  - name: app.tag\n    value: 1.1.0\n    forcestring: true",
		"envs/kust/kustomization.yaml":    "images:\n  - name: team/app\n    newName: " + img + "\n    newTag: 1.1.0",
		"envs/values/values.yaml":         "image:\n  repository: " + img + "\n  tag: 1.1.0 # the app",
		"envs/default/kustomization.yaml": "resources: []",
	} {
		if got := testgit.Show(t, bare, "main", file); got != content {
			t.Errorf("%s:\n%s\nwant:\n%s", file, got, content)
		}
	}
	w.waitEvent("default", ReasonImagesUpdated, img+" 1.0.0 -> 1.1.0", "envs/default/.argocd-source-default.yaml", "commit ")

	// Nothing left to do: an idle cycle sends no Event.
	before := len(w.events("default"))
	sum = w.cycle(w.loop())
	if len(sum.Report.Changes)+len(sum.Report.Errors) != 0 {
		t.Errorf("second cycle: %v %v", changes(sum), errorsOf(sum))
	}
	if got := len(w.events("default")); got != before {
		t.Errorf("an idle cycle recorded Events: %v", w.events("default"))
	}
}

// TestTwoRepositories: Applications in two repositories, one push each.
func TestTwoRepositories(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := map[string]string{"k/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"}
	one, two := testgit.NewBare(t, seed), testgit.NewBare(t, seed)
	for name, bare := range map[string]string{"one": one, "two": two} {
		w.application(name, map[string]string{"tagwatch.dev/images": "app=" + img}, source("file://"+bare, "k"))
	}
	w.waitApps("one", "two")
	l := w.loop()
	if _, err := l.Cycle(context.Background(), reconcile.DryRun(true)); err != nil {
		t.Fatal(err)
	}
	if dry := <-w.reports; len(dry.Report.Changes) != 2 {
		t.Fatalf("dry run: %v", changes(dry))
	}
	sum := w.cycle(l)
	if diff := cmp.Diff([]string{"one 1.0.0->1.1.0 k/kustomization.yaml", "two 1.0.0->1.1.0 k/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if len(sum.Pushes) != 2 || sum.Pushes[0].Repository == sum.Pushes[1].Repository {
		t.Errorf("pushes: %+v, want one per repository", sum.Pushes)
	}
	for _, bare := range []string{one, two} {
		if got := testgit.Subjects(t, bare, "main"); len(got) != 2 {
			t.Errorf("%s: commits %v, want the seed and one", bare, got)
		}
	}
	// The dry run recorded no Event: the real cycle's is the only one.
	var commit string
	for _, c := range sum.Report.Changes {
		if c.Env == "one" {
			commit = c.Commit
		}
	}
	w.waitEvent("one", ReasonImagesUpdated, fmt.Sprintf("commit %.12s", commit))
	var updated []string
	for _, e := range w.events("one") {
		if strings.Contains(e, ReasonImagesUpdated) {
			updated = append(updated, e)
		}
	}
	if len(updated) != 1 {
		t.Errorf("ImagesUpdated Events: %q, want the real cycle's alone", updated)
	}
}

// TestInvalidAnnotationsIsolated: an Application with a bad annotation is
// skipped with a Warning Event naming the key; the others are served. A
// second Application claiming an environment name gets one too.
func TestInvalidAnnotationsIsolated(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{
		"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
		"b/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
		"c/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
	})
	url := "file://" + bare
	w.application("good", map[string]string{iu + "image-list": img}, source(url, "a"))
	w.application("bad", map[string]string{iu + "image-list": img, iu + "update-strategy": "newest"}, source(url, "b"))
	w.waitApps("good", "bad")
	w.application("thief", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/environment": "good"}, source(url, "c"))
	w.waitApps("thief")
	w.waitEvent("bad", ReasonInvalidAnnotations, iu+`update-strategy: "newest" is not semver`)

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"good ->1.1.0 a/.argocd-source-good.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	w.waitEvent("thief", ReasonInvalidAnnotations, `tagwatch.dev/environment: the environment name "good" is already used by Application `+w.ns+"/good")
	for _, e := range w.events("good") {
		if strings.Contains(e, ReasonInvalidAnnotations) {
			t.Errorf("the first Application holding the name got %s", e)
		}
	}

	// Fixed: the Application is served at the next cycle.
	w.annotate("bad", iu+"update-strategy", "semver")
	w.eventually("the fix is seen", func() bool {
		w.src.mu.RLock()
		defer w.src.mu.RUnlock()
		return w.src.apps[w.ns+"/bad"].target != nil
	})
	sum = w.cycle(w.loop())
	if diff := cmp.Diff([]string{"bad ->1.1.0 b/.argocd-source-bad.yaml"}, changes(sum)); diff != "" {
		t.Errorf("after the fix (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
}

// TestGitCredentialsFromSecrets: the git remote wants a password; Argo CD's
// repository Secret gives it, write-back-method git:secret names another
// that wins, and both are read at every cycle: a rotated Secret applies at
// once, and the secrets never reach the report or an Event.
func TestGitCredentialsFromSecrets(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0", "1.2.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{
		"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
		"b/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
	})
	srv := testgit.ServeHTTPAuth(t, bare, "deploy", "s3cr3t-token")
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"},
		map[string]string{"url": srv.URL, "username": "deploy", "password": "s3cr3t-token"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/app.constraint": "1.1.0"}, source(srv.URL, "a"))
	w.waitApps("a")
	l := w.loop()
	sum := w.cycle(l)
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Fatalf("with the repository Secret (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}

	// The repository Secret goes bad; git:secret names a good one, of
	// another Application writing the same repository.
	rotate(t, w, w.argo, "repo", "password", "wrong")
	w.secret(w.argo, "write", nil, map[string]string{"username": "deploy", "password": "s3cr3t-token"})
	w.application("b", map[string]string{iu + "image-list": img + ":1.2.0", iu + "write-back-method": "git:secret:" + w.argo + "/write",
		iu + "write-back-target": "kustomization"}, source(srv.URL, "b"))
	w.waitApps("b")
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"b 1.0.0->1.2.0 b/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Fatalf("with git:secret (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}

	// Rotated to a wrong password: the next cycle fails, naming no secret.
	rotate(t, w, w.argo, "write", "password", "wrong-too")
	w.annotate("b", iu+"image-list", img+":1.1.0")
	w.eventually("the annotation is seen", func() bool {
		return strings.Contains(w.src.live(w.ns + "/b")().Annotations[iu+"image-list"], "1.1.0")
	})
	sum = w.cycle(l)
	if len(sum.Report.Errors) == 0 {
		t.Fatalf("a wrong password went through: %v", changes(sum))
	}
	msg := w.waitEvent("b", ReasonImageUpdateFailed)
	for _, secret := range []string{"s3cr3t-token", "wrong-too"} {
		if strings.Contains(fmt.Sprint(sum.Report), secret) || strings.Contains(msg, secret) {
			t.Errorf("the secret %q is in the report or the Event", secret)
		}
	}
}

func rotate(t *testing.T, w *world, ns, name, key, value string) {
	t.Helper()
	secrets := w.c.Clientset(t).CoreV1().Secrets(ns)
	s, err := secrets.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Data[key] = []byte(value)
	if _, err := secrets.Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestPullSecret: the registry wants credentials; the pull-secret
// annotation's .dockerconfigjson gives them, for that image alone.
func TestPullSecret(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true, User: "puller", Pass: "pull-pass"})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	auth := base64.StdEncoding.EncodeToString([]byte("puller:pull-pass"))
	w.secret(w.argo, "regcred", nil, map[string]string{".dockerconfigjson": fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, w.reg.Host, auth)})
	w.application("a", map[string]string{iu + "image-list": "app=" + img, iu + "write-back-target": "kustomization"}, source("file://"+bare, "a"))
	w.waitApps("a")
	l := w.loop()
	sum := w.cycle(l)
	if len(sum.Report.Errors) != 1 || !strings.Contains(sum.Report.Errors[0].Error, "unauthorized") {
		t.Fatalf("without a pull secret: %v %v", changes(sum), errorsOf(sum))
	}
	w.annotate("a", iu+"app.pull-secret", "pullsecret:"+w.argo+"/regcred")
	w.eventually("the pull secret is seen", func() bool { return w.src.live(w.ns + "/a")().Annotations[iu+"app.pull-secret"] != "" })
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("with the pull secret (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
}

// TestPullSecretConflict: two Applications watch one image with two
// different pull-secrets. The registry client asks with one pull secret
// per image repository, so the one created later (b-second; a tie in
// creation time goes by name) is left out with InvalidAnnotations naming
// its annotation and the first; the first keeps updating with its own
// secret (the other's credentials are wrong: were they used, it would
// fail).
func TestPullSecretConflict(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true, User: "puller", Pass: "pull-pass"})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": seed, "b/kustomization.yaml": seed})
	dockerConfig := func(user, pass string) map[string]string {
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
		return map[string]string{".dockerconfigjson": fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, w.reg.Host, auth)}
	}
	w.secret(w.argo, "regcred", nil, dockerConfig("puller", "pull-pass"))
	w.secret(w.argo, "othercred", nil, dockerConfig("puller", "wrong"))
	ann := func(secret string) map[string]string {
		return map[string]string{iu + "image-list": "app=" + img, iu + "write-back-target": "kustomization",
			iu + "app.pull-secret": "pullsecret:" + w.argo + "/" + secret}
	}
	w.application("a-first", ann("regcred"), source("file://"+bare, "a"))
	w.waitApps("a-first")
	w.application("b-second", ann("othercred"), source("file://"+bare, "b"))
	w.waitApps("b-second")

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"a-first 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if len(sum.Report.Errors) != 0 {
		t.Errorf("errors: %v", errorsOf(sum))
	}
	if got := testgit.Show(t, bare, "main", "b/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("b-second wrote:\n%s", got)
	}
	w.waitEvent("b-second", ReasonInvalidAnnotations, iu+"app.pull-secret: pullsecret:"+w.argo+"/othercred differs from pullsecret:"+w.argo+"/regcred of Application "+w.ns+"/a-first, which watches the same image repository "+img)
	for _, e := range w.events("a-first") {
		if strings.Contains(e, ReasonInvalidAnnotations) || strings.Contains(e, ReasonImageUpdateFailed) {
			t.Errorf("a-first: %s", e)
		}
	}
}

// TestConflictingTargets: two Applications on one folder claim one images
// entry: a ConflictingTargets Event on both, and neither writes it, until
// the conflict is resolved: one of them is deleted, and at the next cycle
// the other writes the field.
func TestConflictingTargets(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"shared/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	for _, name := range []string{"left", "right"} {
		w.application(name, map[string]string{"tagwatch.dev/images": "app=" + img}, source("file://"+bare, "shared"))
	}
	w.waitApps("left", "right")
	l := w.loop()
	sum := w.cycle(l)
	if len(sum.Report.Changes) != 0 || len(sum.Pushes) != 0 {
		t.Errorf("a shared field was written: %v", changes(sum))
	}
	for _, name := range []string{"left", "right"} {
		w.waitEvent(name, ReasonConflictingTargets, "shared/kustomization.yaml", "left and right")
	}
	if got := testgit.Show(t, bare, "main", "shared/kustomization.yaml"); !strings.Contains(got, "1.0.0") {
		t.Errorf("the shared field changed:\n%s", got)
	}

	// Resolved: right is deleted, left writes the field at the next cycle.
	if err := w.c.Dynamic(t).Resource(ApplicationResource).Namespace(w.ns).Delete(context.Background(), "right", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.eventually("the Source drops right", func() bool { return w.src.live(w.ns+"/right")() == nil })
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"left 1.0.0->1.1.0 shared/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("after right is deleted (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if got := testgit.Show(t, bare, "main", "shared/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("left did not write the field:\n%s", got)
	}
	w.waitEvent("left", ReasonImagesUpdated, img+" 1.0.0 -> 1.1.0 (shared/kustomization.yaml")
}

// TestTriggerOnAnnotationChange: with an interval of an hour, changing an
// Application's constraint runs a cycle of its images (the trigger), and
// the new constraint applies.
func TestTriggerOnAnnotationChange(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0", "2.0.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/app.constraint": "^1"}, source("file://"+bare, "a"))
	w.waitApps("a")
	l := w.loop(reconcile.WithDebounce(0))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	first := <-w.reports // the first full cycle, at once
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(first)); diff != "" {
		t.Fatalf("first cycle (-want +got):\n%s", diff)
	}
	w.annotate("a", "tagwatch.dev/app.constraint", "^2")
	next := <-w.reports // no interval passes: only the trigger runs a cycle
	if next.Scope == nil {
		t.Errorf("the cycle after the change was a full one, not the trigger's")
	}
	if diff := cmp.Diff([]string{"a 1.1.0->2.0.0 a/kustomization.yaml"}, changes(next)); diff != "" {
		t.Errorf("triggered cycle (-want +got):\n%s", diff)
	}
}

// TestPromotionHealth: an Application promoted from another waits for it
// to be Healthy and Synced, read from the status Argo CD's controller sets
// through the status subresource.
func TestPromotionHealth(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{
		"staging/kustomization.yaml":    "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
		"production/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n",
	})
	url := "file://" + bare
	w.application("staging", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "staging"))
	w.application("production", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/from": "staging",
		"tagwatch.dev/require-healthy": "true"}, source(url, "production"))
	w.application("elsewhere", map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/from": "staging"},
		source("file://"+testgit.NewBare(t, map[string]string{"p/kustomization.yaml": "resources: []\n"}), "p"))
	w.waitApps("staging", "production", "elsewhere")
	l := w.loop()
	sum := w.cycle(l)
	if diff := cmp.Diff([]string{"staging 1.0.0->1.1.0 staging/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Fatalf("first cycle (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	w.waitEvent("elsewhere", ReasonInvalidAnnotations, `tagwatch.dev/from: "staging" is not an environment of the same repository and branch`)

	sum = w.cycle(l)
	if len(sum.Report.Held) != 1 || !strings.Contains(sum.Report.Held[0].Reason, "staging's health is unknown") &&
		!strings.Contains(sum.Report.Held[0].Reason, "staging is ") {
		t.Fatalf("production before staging reports health: %+v", sum.Report.Held)
	}
	commit := testgit.Head(t, bare, "main")
	seed := testgit.Git(t, bare, "rev-parse", "main~1")
	// Healthy and Synced, but at the revision before staging's change.
	w.setStatus("staging", map[string]any{"health": map[string]any{"status": "Healthy"}, "sync": map[string]any{"status": "Synced", "revision": seed}})
	w.eventually("staging's older revision is seen", func() bool { return w.src.live(w.ns+"/staging")().Health == "Healthy" })
	sum = w.cycle(l)
	if len(sum.Report.Held) != 1 || !strings.Contains(sum.Report.Held[0].Reason, "staging is synced at "+seed[:10]+", which does not hold "+commit[:10]+" yet") {
		t.Errorf("production with staging synced before its change: %+v %v", sum.Report.Held, changes(sum))
	}
	w.setStatus("staging", map[string]any{"health": map[string]any{"status": "Healthy"}, "sync": map[string]any{"status": "Synced", "revision": commit}})
	w.eventually("staging's status is seen", func() bool { return w.src.live(w.ns+"/staging")().Revision == commit })
	if env, problems, ok := w.src.Environment(w.ns + "/staging"); !ok || env != "staging" || len(problems) != 0 {
		t.Fatalf("the Application staging serves environment %q (problems %v, known %v), want staging", env, problems, ok)
	}
	var health string
	for _, p := range w.src.Plans() {
		if e := p.Env("staging"); e != nil {
			h, err := e.Health(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			health = fmt.Sprintf("%s %s %s", h.Health, h.Sync, h.Revision)
		}
	}
	if health != "Healthy Synced "+commit {
		t.Errorf("staging's health = %q", health)
	}
	sum = w.cycle(l)
	if diff := cmp.Diff([]string{"production 1.0.0->1.1.0 production/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("production with staging Healthy and Synced at its change (-want +got):\n%s\nheld %+v", diff, sum.Report.Held)
	}
}

// TestDeletedApplication: a deleted Application's environment leaves the
// plans; an Application without either images annotation is not watched.
func TestDeletedApplication(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	img := w.image("app")
	url := "file://" + testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "resources: []\n"})
	w.application("gone", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "a"))
	w.application("plain", map[string]string{"team": "a"}, source(url, "a"))
	w.waitApps("gone", "plain")
	envs := func() []string {
		var out []string
		for _, p := range w.src.Plans() {
			for _, e := range p.Envs {
				out = append(out, e.Name)
			}
		}
		return out
	}
	if diff := cmp.Diff([]string{"gone"}, envs()); diff != "" {
		t.Fatalf("environments (-want +got):\n%s", diff)
	}
	if err := w.c.Dynamic(t).Resource(ApplicationResource).Namespace(w.ns).Delete(context.Background(), "gone", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	w.eventually("the deleted Application leaves the plans", func() bool { return len(envs()) == 0 })
	if _, _, ok := w.src.Environment(w.ns + "/gone"); ok {
		t.Error("the Source still has the deleted Application")
	}
	if env, probs, ok := w.src.Environment(w.ns + "/plain"); !ok || env != "" || len(probs) != 0 {
		t.Errorf("an Application without annotations: %q %v %v", env, probs, ok)
	}
}
