package kube

import (
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// App is what tagwatch reads of an Argo CD Application (argoproj.io/v1alpha1):
// plain data, taken from the unstructured object by appFrom, so the parsers
// are pure functions of it.
type App struct {
	Namespace, Name string
	Annotations     map[string]string
	// Sources are spec.sources[], or spec.source alone (Multi false).
	Sources []AppSource
	Multi   bool
	// SourceType is status.sourceType: Kustomize, Helm, Directory, Plugin.
	SourceType string
	// Images are status.summary.images: the images it runs (name:tag[@digest]).
	Images []string
	// Health is status.health.status; Sync status.sync.status; Revision
	// status.sync.revision, or status.sync.revisions[] of a multi-source
	// Application.
	Health, Sync string
	Revision     string
	Revisions    []string
}

// AppSource is one source of an Application.
type AppSource struct {
	RepoURL, Path, TargetRevision string
	Name                          string // spec.sources[].name
	Chart                         string // a Helm repository's chart: no git repository to write
	Kustomize, Helm               bool   // has a kustomize or helm block
}

// Key is "namespace/name".
func (a *App) Key() string { return a.Namespace + "/" + a.Name }

// appFrom reads an Application object. Fields of the wrong type read as
// empty: the parsers report what is missing.
func appFrom(u *unstructured.Unstructured) *App {
	a := &App{Namespace: u.GetNamespace(), Name: u.GetName(), Annotations: u.GetAnnotations()}
	obj := u.Object
	if srcs, ok, _ := unstructured.NestedSlice(obj, "spec", "sources"); ok && len(srcs) > 0 {
		a.Multi = true
		for _, s := range srcs {
			if m, ok := s.(map[string]any); ok {
				a.Sources = append(a.Sources, sourceFrom(m))
			}
		}
	} else if m, ok, _ := unstructured.NestedMap(obj, "spec", "source"); ok {
		a.Sources = []AppSource{sourceFrom(m)}
	}
	a.SourceType = str(obj, "status", "sourceType")
	if imgs, ok, _ := unstructured.NestedStringSlice(obj, "status", "summary", "images"); ok {
		a.Images = imgs
	}
	a.Health = str(obj, "status", "health", "status")
	a.Sync = str(obj, "status", "sync", "status")
	a.Revision = str(obj, "status", "sync", "revision")
	if revs, ok, _ := unstructured.NestedStringSlice(obj, "status", "sync", "revisions"); ok {
		a.Revisions = revs
	}
	return a
}

func sourceFrom(m map[string]any) AppSource {
	s := AppSource{
		RepoURL: str(m, "repoURL"), Path: str(m, "path"), TargetRevision: str(m, "targetRevision"),
		Name: str(m, "name"), Chart: str(m, "chart"),
	}
	_, s.Kustomize = m["kustomize"]
	_, s.Helm = m["helm"]
	return s
}

func str(obj map[string]any, fields ...string) string {
	v, _, _ := unstructured.NestedString(obj, fields...)
	return v
}
