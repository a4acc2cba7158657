package testkube_test

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tagwatch/tagwatch/internal/testkube"
)

func TestMain(m *testing.M) { os.Exit(testkube.Main(m)) }

// TestVersionMatchesBuildScript keeps Version and the version
// hack/servers/build.sh builds in step.
func TestVersionMatchesBuildScript(t *testing.T) {
	if got := buildVersion(t, "KUBE_VERSION"); got != testkube.Version {
		t.Errorf("hack/servers/versions.env builds kube-apiserver %s, testkube.Version is %s", got, testkube.Version)
	}
}

func buildVersion(t *testing.T, key string) string {
	t.Helper()
	f, err := os.Open("../../hack/servers/versions.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+"="); ok {
			return v
		}
	}
	t.Fatalf("no %s= in versions.env", key)
	return ""
}

func application(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Application",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"project": "default",
			"source": map[string]any{
				"repoURL":        "http://127.0.0.1:3000/platform/deploy.git",
				"path":           "envs/staging",
				"targetRevision": "main",
			},
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": "staging"},
		},
	}}
}

func TestApplicationRoundTripAndStatus(t *testing.T) {
	c := testkube.Shared(t)
	c.InstallApplicationCRD(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	apps := c.Dynamic(t).Resource(testkube.ApplicationResource).Namespace(ns)

	want := application(ns, "staging")
	if _, err := apps.Create(ctx, want, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := apps.Get(ctx, "staging", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Object["spec"], got.Object["spec"]); diff != "" {
		t.Errorf("spec read back (-want +got):\n%s", diff)
	}

	// Argo CD's controller reports through the status subresource.
	status := map[string]any{
		"sync":   map[string]any{"status": "Synced", "revision": "0123abcd"},
		"health": map[string]any{"status": "Healthy"},
	}
	got.Object["status"] = status
	if _, err := apps.UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = apps.Get(ctx, "staging", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(status, got.Object["status"]); diff != "" {
		t.Errorf("status after UpdateStatus (-want +got):\n%s", diff)
	}

	// With the subresource, an update of the object leaves status alone.
	if err := unstructured.SetNestedField(got.Object, "Degraded", "status", "health", "status"); err != nil {
		t.Fatal(err)
	}
	if _, err := apps.Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = apps.Get(ctx, "staging", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h, _, _ := unstructured.NestedString(got.Object, "status", "health", "status"); h != "Healthy" {
		t.Errorf("status.health.status after a plain Update = %q, want Healthy (status subresource not enabled?)", h)
	}
}

func TestUserWithoutRolesIsForbidden(t *testing.T) {
	c := testkube.Shared(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	user, err := kubernetes.NewForConfig(c.UserConfig())
	if err != nil {
		t.Fatal(err)
	}
	_, err = user.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("%s listing secrets: err = %v, want Forbidden", testkube.User, err)
	}
	if _, err := c.Clientset(t).CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); err != nil {
		t.Errorf("%s listing secrets: %v", testkube.AdminUser, err)
	}
}

func TestServiceAccountTokenWithRBAC(t *testing.T) {
	c := testkube.Shared(t)
	c.InstallApplicationCRD(t)
	ns := c.Namespace(t)
	ctx := context.Background()
	token := c.ServiceAccountToken(t, ns, "tagwatch")

	cfg := c.RESTConfigForToken(token)
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	review, err := cs.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := review.Status.UserInfo.Username, testkube.ServiceAccountUser(ns, "tagwatch"); got != want {
		t.Errorf("the token authenticates as %q, want %q", got, want)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	apps := dc.Resource(testkube.ApplicationResource).Namespace(ns)
	if _, err := apps.List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing applications before the role binding: err = %v, want Forbidden", err)
	}

	admin := c.Clientset(t)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "tagwatch", Namespace: ns},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{"argoproj.io"}, Resources: []string{"applications"},
			Verbs: []string{"get", "list", "watch"},
		}},
	}
	if _, err := admin.RbacV1().Roles(ns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "tagwatch", Namespace: ns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "tagwatch"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "tagwatch", Namespace: ns}},
	}
	if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The authorizer reads roles from an informer: the binding takes effect
	// within moments, not at once.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err = apps.List(ctx, metav1.ListOptions{}); err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listing applications with the role bound: %v", err)
	}
	if _, err := apps.Create(ctx, application(ns, "x"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("creating an application with a read-only role: err = %v, want Forbidden", err)
	}
	if _, err := cs.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("listing secrets with a role for applications: err = %v, want Forbidden", err)
	}
}

func TestKubeconfig(t *testing.T) {
	c := testkube.Shared(t)
	ns := c.Namespace(t)
	file := c.WriteKubeconfig(t, c.AdminToken, ns)

	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: file}, &clientcmd.ConfigOverrides{})
	gotNS, _, err := loader.Namespace()
	if err != nil {
		t.Fatal(err)
	}
	if gotNS != ns {
		t.Errorf("kubeconfig namespace = %q, want %q", gotNS, ns)
	}
	cfg, err := loader.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Verifies the server's certificate with CAData, and that the build
	// stamped the version clients parse.
	v, err := cs.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != testkube.Version {
		t.Errorf("server version = %q, want %q", v.GitVersion, testkube.Version)
	}
}

// TestStartStop runs a cluster of the test's own and checks that Stop ends
// it.
func TestStartStop(t *testing.T) {
	c := testkube.Start(t)
	rc := c.Clientset(t).Discovery().RESTClient()
	readyz := func() error {
		_, err := rc.Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	}
	if err := readyz(); err != nil {
		t.Fatalf("GET /readyz: %v", err)
	}
	c.Stop()
	if err := readyz(); err == nil {
		t.Errorf("%s still answers after Stop", c.Host)
	}
}
