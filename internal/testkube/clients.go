package testkube

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testenv"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// AdminConfig returns a client configuration for AdminUser (a new copy each
// call, free to change).
func (c *Cluster) AdminConfig() *rest.Config { return c.RESTConfigForToken(c.AdminToken) }

// UserConfig returns a client configuration for User, who has no roles.
func (c *Cluster) UserConfig() *rest.Config { return c.RESTConfigForToken(c.UserToken) }

// RESTConfigForToken returns a client configuration that authenticates with
// a bearer token: AdminToken, UserToken or a ServiceAccountToken.
func (c *Cluster) RESTConfigForToken(token string) *rest.Config {
	return &rest.Config{
		Host:            c.Host,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: append([]byte(nil), c.CAData...)},
		// The default 5 QPS makes tests wait for nothing.
		QPS: 1000, Burst: 1000,
	}
}

// WriteKubeconfig writes a kubeconfig file for the cluster that
// authenticates with token, its current context set to namespace (when not
// empty), into a directory of t's, and returns its path: for commands such
// as `tagwatch run --kubeconfig F`.
func (c *Cluster) WriteKubeconfig(t testing.TB, token, namespace string) string {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["testkube"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData}
	cfg.AuthInfos["testkube"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["testkube"] = &clientcmdapi.Context{Cluster: "testkube", AuthInfo: "testkube", Namespace: namespace}
	cfg.CurrentContext = "testkube"
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, file); err != nil {
		t.Fatalf("testkube: writing a kubeconfig: %v", err)
	}
	return file
}

// Clientset returns a typed client for AdminUser.
func (c *Cluster) Clientset(t testing.TB) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(c.AdminConfig())
	if err != nil {
		t.Fatalf("testkube: %v", err)
	}
	return cs
}

// Dynamic returns a dynamic client for AdminUser.
func (c *Cluster) Dynamic(t testing.TB) *dynamic.DynamicClient {
	t.Helper()
	dc, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		t.Fatalf("testkube: %v", err)
	}
	return dc
}

var notDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// Namespace creates a namespace of its own for t, named after the test with
// a random suffix, and returns its name. It is not deleted: without a
// controller manager a deleted namespace never goes away.
func (c *Cluster) Namespace(t testing.TB) string {
	t.Helper()
	base := strings.Trim(notDNS.ReplaceAllString(strings.ToLower(t.Name()), "-"), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: base + "-" + testenv.RandomHex(3)}}
	if _, err := c.Clientset(t).CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("testkube: creating namespace %s: %v", ns.Name, err)
	}
	return ns.Name
}

// ServiceAccountToken creates the service account namespace/name unless it
// exists, and returns a token for it from the TokenRequest API, valid for
// an hour. The account has no roles until the test binds some; it
// authenticates as system:serviceaccount:<namespace>:<name>.
func (c *Cluster) ServiceAccountToken(t testing.TB, namespace, name string) string {
	t.Helper()
	ctx := context.Background()
	sas := c.Clientset(t).CoreV1().ServiceAccounts(namespace)
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := sas.Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("testkube: creating service account %s/%s: %v", namespace, name, err)
	}
	hour := int64(3600)
	tr, err := sas.CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &hour},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("testkube: requesting a token for service account %s/%s: %v", namespace, name, err)
	}
	return tr.Status.Token
}

// ServiceAccountUser is the user name a service account's token
// authenticates as, for RBAC subjects and messages.
func ServiceAccountUser(namespace, name string) string {
	return fmt.Sprintf("system:serviceaccount:%s:%s", namespace, name)
}
