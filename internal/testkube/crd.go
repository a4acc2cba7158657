package testkube

import (
	"context"
	_ "embed"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// ApplicationResource is the resource of Argo CD's Application type as
// InstallApplicationCRD defines it.
var ApplicationResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

//go:embed application-crd.yaml
var applicationCRD []byte

// InstallApplicationCRD defines Argo CD's Application type
// (argoproj.io/v1alpha1, namespaced, any fields, a status subresource)
// unless it is defined, and waits until the cluster serves it. Tests of a
// Shared cluster may all call it.
func (c *Cluster) InstallApplicationCRD(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.ApplyApplicationCRD(ctx); err != nil {
		t.Fatalf("testkube: %v", err)
	}
}

// ApplyApplicationCRD is InstallApplicationCRD for programs that are not
// tests (benchmarks).
func (c *Cluster) ApplyApplicationCRD(ctx context.Context) error {
	return c.installCRD(ctx, applicationCRD, ApplicationResource)
}

func (c *Cluster) installCRD(ctx context.Context, manifest []byte, served schema.GroupVersionResource) error {
	var crd unstructured.Unstructured
	js, err := yaml.YAMLToJSON(manifest)
	if err != nil {
		return err
	}
	if err := crd.UnmarshalJSON(js); err != nil {
		return err
	}
	dc, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	crds := dc.Resource(crdResource)
	if _, err := crds.Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Established: the API server accepts the type. A list answering
		// says its handler serves it too.
		got, err := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err == nil && established(got) {
			if _, err = dc.Resource(served).List(ctx, metav1.ListOptions{Limit: 1}); err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRD %s not served: %w (last: %v)", crd.GetName(), ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func established(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
