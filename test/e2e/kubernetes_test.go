package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testkube"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// kubeWorld is deploy/ applied to a real kube-apiserver, the ServiceAccount
// tagwatch/tagwatch's token in a kubeconfig, a registry, a git remote that
// wants a password, and Argo CD's repository Secret for it.
type kubeWorld struct {
	t          *testing.T
	c          *testkube.Cluster
	reg        *testreg.Server
	bare       string
	git        *testgit.HTTPServer
	kubeconfig string
	dir        string
}

// applyDeploy builds deploy/ with kustomize's own API and creates every
// object, as `kubectl apply -k deploy/` would on a fresh cluster.
func applyDeploy(t *testing.T, c *testkube.Cluster) []*unstructured.Unstructured {
	t.Helper()
	res, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../../deploy")
	if err != nil {
		t.Fatalf("kustomize build deploy/: %v", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Clientset(t).Discovery()))
	dyn := c.Dynamic(t)
	var objs []*unstructured.Unstructured
	for _, r := range res.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		gvk := u.GroupVersionKind()
		mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		ri := dyn.Resource(mapping.Resource)
		var created *unstructured.Unstructured
		if mapping.Scope.Name() == meta.RESTScopeNameNamespace {
			created, err = ri.Namespace(u.GetNamespace()).Create(context.Background(), u, metav1.CreateOptions{})
		} else {
			created, err = ri.Create(context.Background(), u, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("creating %s %s/%s: %v", gvk.Kind, u.GetNamespace(), u.GetName(), err)
		}
		objs = append(objs, created)
	}
	return objs
}

var deployOnce struct {
	sync.Once
	objs []*unstructured.Unstructured
}

func newKubeWorld(t *testing.T) *kubeWorld {
	t.Helper()
	c := testkube.Shared(t)
	c.InstallApplicationCRD(t)
	deployOnce.Do(func() {
		// Argo CD's namespace exists where tagwatch is installed.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}}
		if _, err := c.Clientset(t).CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		deployOnce.objs = applyDeploy(t, c)
	})
	if deployOnce.objs == nil {
		t.Fatal("deploy/ was not applied")
	}
	w := &kubeWorld{t: t, c: c, reg: testreg.Start(t, testreg.Options{TLS: true}), dir: t.TempDir()}
	w.kubeconfig = c.WriteKubeconfig(t, c.ServiceAccountToken(t, "tagwatch", "tagwatch"), "tagwatch")
	return w
}

// repo makes the git remote (password-protected, files seeded, "REG" the
// registry's host) and Argo CD's repository Secret giving its password.
func (w *kubeWorld) repo(secretName string, files map[string]string) string {
	w.t.Helper()
	seed := map[string]string{}
	for k, v := range files {
		seed[k] = strings.ReplaceAll(v, "REG", w.reg.Host)
	}
	w.bare = testgit.NewBare(w.t, seed)
	w.git = testgit.ServeHTTPAuth(w.t, w.bare, "tagwatch", "repo-"+secretName+"-token")
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secretName, Namespace: "argocd",
		Labels: map[string]string{"argocd.argoproj.io/secret-type": "repository"}},
		StringData: map[string]string{"url": w.git.URL, "username": "tagwatch", "password": "repo-" + secretName + "-token"}}
	if _, err := w.c.Clientset(w.t).CoreV1().Secrets("argocd").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	return w.git.URL
}

// application creates an Application in argocd.
func (w *kubeWorld) application(name, repoURL, path string, ann map[string]string) {
	w.t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": "argocd"},
		"spec": map[string]any{"project": "default", "source": map[string]any{"repoURL": repoURL, "path": path, "targetRevision": "main"},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name}},
	}}
	u.SetAnnotations(ann)
	if _, err := w.c.Dynamic(w.t).Resource(testkube.ApplicationResource).Namespace("argocd").Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
	w.t.Cleanup(func() {
		_ = w.c.Dynamic(w.t).Resource(testkube.ApplicationResource).Namespace("argocd").Delete(context.Background(), name, metav1.DeleteOptions{})
	})
}

// config writes the config of deploy/'s ConfigMap, with the world's
// registry (its CA) and extra top-level YAML.
func (w *kubeWorld) config(extra string) string {
	w.t.Helper()
	var cm *unstructured.Unstructured
	for _, o := range deployOnce.objs {
		if o.GetKind() == "ConfigMap" && o.GetName() == "tagwatch" {
			cm = o
		}
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "tagwatch.yaml")
	cfg := data + fmt.Sprintf("registries:\n  - {prefix: %s, caFile: %s}\n", w.reg.Host, w.reg.CAFile) + extra
	p := filepath.Join(w.t.TempDir(), "tagwatch.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return p
}

// TestDeployManifests: deploy/ as it is, on a real API server: the
// Deployment is what the docs promise, and tagwatch run with the
// ServiceAccount's token under that RBAC reads Applications and Argo CD's
// repository Secrets, writes Events, and is refused a Secret outside
// Argo CD's namespace.
func TestDeployManifests(t *testing.T) {
	w := newKubeWorld(t)
	var dep *unstructured.Unstructured
	for _, o := range deployOnce.objs {
		if o.GetKind() == "Deployment" {
			dep = o
		}
	}
	if dep == nil {
		t.Fatal("deploy/ has no Deployment")
	}
	spec := dep.Object["spec"].(map[string]any)
	tmpl := spec["template"].(map[string]any)["spec"].(map[string]any)
	ctr := tmpl["containers"].([]any)[0].(map[string]any)
	for path, want := range map[string]any{
		"replicas": int64(2), "serviceAccountName": "tagwatch", "runAsNonRoot": true, "readOnlyRootFilesystem": true,
		"liveness": "/healthz", "readiness": "/readyz", "cache": "emptyDir",
	} {
		var got any
		switch path {
		case "replicas":
			got = spec["replicas"]
		case "serviceAccountName":
			got = tmpl["serviceAccountName"]
		case "runAsNonRoot":
			got = tmpl["securityContext"].(map[string]any)["runAsNonRoot"]
		case "readOnlyRootFilesystem":
			got = ctr["securityContext"].(map[string]any)["readOnlyRootFilesystem"]
		case "liveness":
			got, _, _ = unstructured.NestedString(ctr, "livenessProbe", "httpGet", "path")
		case "readiness":
			got, _, _ = unstructured.NestedString(ctr, "readinessProbe", "httpGet", "path")
		case "cache":
			for _, v := range tmpl["volumes"].([]any) {
				if m := v.(map[string]any); m["name"] == "cache" {
					if _, ok := m["emptyDir"]; ok {
						got = "emptyDir"
					}
				}
			}
		}
		if got != want {
			t.Errorf("Deployment %s = %v, want %v", path, got, want)
		}
	}

	w.reg.PushImage(t, "team/app", time.Unix(1700000000, 0), "1.0.0")
	w.reg.Tag(t, "team/app", "1.0.0", "1.1.0")
	url := w.repo("deploy-repo", map[string]string{
		"envs/a/kustomization.yaml": "images:\n  - name: REG/team/app\n    newTag: 1.0.0\n",
		"envs/b/kustomization.yaml": "images:\n  - name: REG/team/app\n    newTag: 1.0.0\n",
		"envs/c/kustomization.yaml": "images:\n  - name: REG/team/app\n    newTag: 1.0.0\n",
	})
	image := w.reg.Repo("team/app")
	w.application("deploy-a", url, "envs/a", map[string]string{"argocd-image-updater.argoproj.io/image-list": image,
		"argocd-image-updater.argoproj.io/write-back-target": "kustomization"})
	// A Secret outside Argo CD's namespace: the RBAC of deploy/ refuses it,
	// and so deploy-c, in the repository of deploy-a and deploy-b (as
	// spelt otherwise), fails alone.
	other := w.c.Namespace(t)
	w.application("deploy-b", url, "envs/b", map[string]string{"tagwatch.dev/images": "app=" + image})
	w.application("deploy-c", url, "envs/c", map[string]string{"argocd-image-updater.argoproj.io/image-list": image,
		"argocd-image-updater.argoproj.io/write-back-method": "git:secret:" + other + "/creds",
		"argocd-image-updater.argoproj.io/write-back-target": "kustomization",
		"argocd-image-updater.argoproj.io/git-repository":    url + "/"})

	cfg := w.config("") // --once runs without electing
	r := tagwatch(t, nil, "run", "--config", cfg, "--kubeconfig", w.kubeconfig, "--once", "-o", "json", "--cache-dir", filepath.Join(w.dir, "cache"))
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a report: %v\n%s\n%s", err, r.stdout, r.stderr)
	}
	if got := moves(rep.Changes); strings.Join(got, ",") != "deploy-a 1.0.0->1.1.0,deploy-b 1.0.0->1.1.0" {
		t.Errorf("changes %v, errors %+v\n%s", got, rep.Errors, r.stderr)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Env != "deploy-c" || !strings.Contains(rep.Errors[0].Error, "reading Secret "+other+"/creds") ||
		!strings.Contains(rep.Errors[0].Error, "forbidden") || r.code != 1 {
		t.Errorf("exit %d, errors %+v: want deploy-c's alone, the Secret outside argocd refused", r.code, rep.Errors)
	}
	if got := testgit.Show(t, w.bare, "main", "envs/c/kustomization.yaml"); !strings.Contains(got, "newTag: 1.0.0") {
		t.Errorf("deploy-c was written:\n%s", got)
	}
	if strings.Contains(r.stderr, "repo-deploy-repo-token") {
		t.Errorf("the git password is in the logs")
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
	waitEvent(t, w.c, "deploy-a", "ImagesUpdated")
	waitEvent(t, w.c, "deploy-c", "ImageUpdateFailed")
	// --once wrote its Events before it exited: deploy-c's failure is its
	// alone.
	for _, name := range []string{"deploy-a", "deploy-b"} {
		list, err := w.c.Clientset(t).CoreV1().Events("argocd").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			if e.Reason == "ImageUpdateFailed" {
				t.Errorf("%s failed: %s", name, e.Message)
			}
		}
	}
}

// waitEvent waits for an Event of reason on the Application name in argocd.
func waitEvent(t *testing.T, c *testkube.Cluster, name, reason string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list, err := c.Clientset(t).CoreV1().Events("argocd").List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range list.Items {
			if e.Reason == reason {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s Event on %s", reason, name)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replica is one `tagwatch run` of a Deployment's replicas.
type replica struct {
	*daemon
	name string
	addr string // of --listen, once logged
}

var listenRE = regexp.MustCompile(`"addr":"([^"]+)"`)

func (w *kubeWorld) startReplica(name, cfg string) *replica {
	w.t.Helper()
	rp := &replica{name: name, daemon: startTagwatch(w.t, []string{"POD_NAMESPACE=tagwatch"},
		"run", "--config", cfg, "--kubeconfig", w.kubeconfig, "-o", "json", "--log-format", "json",
		"--cache-dir", filepath.Join(w.dir, name), "--listen", "127.0.0.1:0", "--shutdown-grace", "5s")}
	w.t.Cleanup(func() {
		if w.t.Failed() {
			w.t.Logf("replica %s:\n%s", name, rp.stderr.String())
		}
	})
	return rp
}

func (rp *replica) leading() bool {
	return strings.Contains(rp.stderr.String(), "leading: this replica writes")
}

// get fetches a path of the replica's --listen address.
func (rp *replica) get(t *testing.T, path string) (int, string) {
	t.Helper()
	if rp.addr == "" {
		m := listenRE.FindStringSubmatch(rp.stderr.String())
		if m == nil {
			t.Fatalf("replica %s logged no listen address", rp.name)
		}
		rp.addr = m[1]
	}
	resp, err := http.Get("http://" + rp.addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTwoReplicasOneWriter: two replicas under deploy/'s RBAC elect one
// writer on the Lease; the other runs no cycle but answers /readyz
// (standby) with tagwatch_leader 0. When the writer is killed (no chance to
// give the Lease up), the other takes over once the Lease expires, and
// writes.
func TestTwoReplicasOneWriter(t *testing.T) {
	w := newKubeWorld(t)
	w.reg.PushImage(t, "team/web", time.Unix(1700000000, 0), "1.0.0")
	url := w.repo("replicas-repo", map[string]string{"web/kustomization.yaml": "images:\n  - name: REG/team/web\n    newTag: 1.0.0\n"})
	w.application("replicas-web", url, "web", map[string]string{"tagwatch.dev/images": "web=" + w.reg.Repo("team/web")})
	cfg := w.config("")
	if err := os.WriteFile(cfg, []byte(strings.Replace(readFile(t, cfg), "interval: 2m", "interval: 1s", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	a, b := w.startReplica("a", cfg), w.startReplica("b", cfg)

	// The first report comes from the writer.
	var leader, follower *replica
	select {
	case <-a.reports:
		leader, follower = a, b
	case <-b.reports:
		leader, follower = b, a
	case <-time.After(60 * time.Second):
		t.Fatalf("no replica ran a cycle\na:\n%s\nb:\n%s", a.stderr.String(), b.stderr.String())
	}
	// A new tag: the writer takes it, in one commit.
	w.reg.Tag(t, "team/web", "1.0.0", "1.1.0")
	waitFor(t, "the writer's change", func() bool {
		return strings.Contains(testgit.Show(t, w.bare, "main", "web/kustomization.yaml"), "1.1.0")
	})
	for i := 0; i < 3; i++ { // a few more of the writer's cycles
		<-leader.reports
	}
	if n := len(follower.reports); n != 0 || follower.leading() || !leader.leading() {
		t.Errorf("the follower ran %d cycles (leading %v); the leader leading %v", n, follower.leading(), leader.leading())
	}
	if got := testgit.Subjects(t, w.bare, "main"); len(got) != 2 {
		t.Errorf("commits %v: want the seed and one change", got)
	}
	code, body := follower.get(t, "/readyz")
	if code != 200 || !strings.Contains(body, "standby") {
		t.Errorf("the follower's /readyz: %d %q", code, body)
	}
	if _, metrics := follower.get(t, "/metrics"); !strings.Contains(metrics, "tagwatch_leader 0") {
		t.Errorf("the follower's tagwatch_leader is not 0")
	}
	if _, metrics := leader.get(t, "/metrics"); !strings.Contains(metrics, "tagwatch_leader 1") {
		t.Errorf("the leader's tagwatch_leader is not 1")
	}
	if !strings.Contains(leader.stderr.String(), `"leader":true`) || !strings.Contains(follower.stderr.String(), `"leader":false`) {
		t.Errorf("the logs carry no leader field")
	}

	// The writer dies without giving the Lease up; the follower takes over.
	killed := time.Now()
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-follower.reports:
		if !ok {
			t.Fatalf("the follower ended:\n%s", follower.stderr.String())
		}
		t.Logf("the follower's first cycle %s after the leader was killed (Lease duration 15s)", time.Since(killed).Round(100*time.Millisecond))
	case <-time.After(90 * time.Second): // the Lease lasts 15 s
		t.Fatalf("the follower did not take over\n%s", follower.stderr.String())
	}
	w.reg.Tag(t, "team/web", "1.0.0", "1.2.0")
	waitFor(t, "the new writer's change", func() bool {
		return strings.Contains(testgit.Show(t, w.bare, "main", "web/kustomization.yaml"), "1.2.0")
	})
	if got := testgit.Subjects(t, w.bare, "main"); len(got) != 3 {
		t.Errorf("commits %v: want the seed and two changes", got)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestApplicationCommands: `test --application` shows what an Application's
// annotations pick and where it would be written (writing nothing);
// `rollback --application` rolls its environment back, and the rollback
// sticks.
func TestApplicationCommands(t *testing.T) {
	w := newKubeWorld(t)
	w.reg.PushImage(t, "team/api", time.Unix(1700000000, 0), "1.0.0")
	w.reg.PushImage(t, "team/api", time.Unix(1700000100, 0), "1.1.0")
	url := w.repo("commands-repo", map[string]string{"api/kustomization.yaml": "resources: []\n"})
	image := w.reg.Repo("team/api")
	w.application("commands-api", url, "api", map[string]string{"argocd-image-updater.argoproj.io/image-list": "api=" + image + ":^1"})
	cfg := w.config("")
	env := []string{"XDG_CACHE_HOME=" + t.TempDir()}

	r := tagwatch(t, env, "test", "--application", "argocd/commands-api", "--config", cfg, "--kubeconfig", w.kubeconfig, "-o", "json")
	if r.code != 0 {
		t.Fatalf("test --application: exit %d\n%s", r.code, r.stderr)
	}
	var out struct {
		Environment string `json:"environment"`
		Images      []struct {
			Image, Policy, Tag, Decision, From, To string
			Files, Targets                         []string
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if len(out.Images) != 1 {
		t.Fatalf("images: %+v", out)
	}
	im := out.Images[0]
	want := fmt.Sprintf("%s semver, constraint \"^1\", loose, allowTags \"\" 1.1.0 update ->1.1.0 [api/.argocd-source-commands-api.yaml]", out.Environment)
	got := fmt.Sprintf("%s %s %s %s %s->%s %v", out.Environment, im.Policy, im.Tag, im.Decision, im.From, im.To, im.Files)
	if strings.Replace(want, `, allowTags ""`, "", 1) != got {
		t.Errorf("test --application:\n got %s\nwant %s", got, strings.Replace(want, `, allowTags ""`, "", 1))
	}
	if len(testgit.Subjects(t, w.bare, "main")) != 1 {
		t.Errorf("test --application wrote to Git")
	}
	r = tagwatch(t, env, "test", "--application", "argocd/commands-api", "--config", cfg, "--kubeconfig", w.kubeconfig)
	if !strings.Contains(r.stdout, "writes:      api/.argocd-source-commands-api.yaml: (none) -> 1.1.0") {
		t.Errorf("text output:\n%s", r.stdout)
	}

	cache := filepath.Join(w.dir, "cache")
	once := func() report {
		t.Helper()
		r := tagwatch(t, nil, "run", "--config", cfg, "--kubeconfig", w.kubeconfig, "--once", "-o", "json", "--cache-dir", cache)
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("%v\n%s\n%s", err, r.stdout, r.stderr)
		}
		return rep
	}
	if got := moves(once().Changes); strings.Join(got, ",") != "commands-api ->1.1.0" {
		t.Fatalf("first cycle: %v", got)
	}
	r = tagwatch(t, nil, "rollback", "--application", "argocd/commands-api", "--config", cfg, "--kubeconfig", w.kubeconfig,
		"--to", "1.0.0", "--cache-dir", cache, image)
	if r.code != 0 || !strings.Contains(r.stdout, "rolled back commands-api") {
		t.Fatalf("rollback --application: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if got := testgit.Show(t, w.bare, "main", "api/.argocd-source-commands-api.yaml"); !strings.Contains(got, image+":1.0.0") {
		t.Errorf("after the rollback:\n%s", got)
	}
	rep := once()
	if len(rep.Changes) != 0 || len(rep.Held) != 1 || !strings.Contains(rep.Held[0].Reason, "rolled back") {
		t.Errorf("after the rollback, a cycle: %+v", rep)
	}
	if r := tagwatch(t, nil, "rollback", "--application", "argocd/nope", "--config", cfg, "--kubeconfig", w.kubeconfig, image); r.code != 2 ||
		!strings.Contains(r.stderr, "no Application argocd/nope") {
		t.Errorf("an unknown Application: exit %d\n%s", r.code, r.stderr)
	}
}
