package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/testkube"
	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

func TestMain(m *testing.M) { os.Exit(testkube.Main(m)) }

// world is a real kube-apiserver with Argo CD's Application type, a
// namespace for Applications and one for Argo CD's Secrets, an in-process
// registry and a Source over them.
type world struct {
	t         *testing.T
	c         *testkube.Cluster
	ns        string // Applications
	argo      string // Argo CD's Secrets and ConfigMap
	reg       *testreg.Server
	src       *Source
	reports   chan reconcile.Summary
	sentinels int // flushEvents' count
}

func newWorld(t *testing.T, regOpts testreg.Options, opts ...Option) *world {
	t.Helper()
	c := testkube.Shared(t)
	c.InstallApplicationCRD(t)
	w := &world{t: t, c: c, ns: c.Namespace(t), argo: c.Namespace(t), reg: testreg.Start(t, regOpts), reports: make(chan reconcile.Summary, 16)}
	log := logrus.New()
	log.SetLevel(logrus.DebugLevel)
	log.SetOutput(testWriter{t})
	opts = append([]Option{WithNamespaces(w.ns), WithArgoCDNamespace(w.argo), WithLogger(logrus.NewEntry(log))}, opts...)
	src, err := New(c.AdminConfig(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); src.Stop() })
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	w.src = src
	return w
}

// testWriter sends the Source's logs to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// client is a registry client for the world's registry, with the Source's
// pull secrets.
func (w *world) client() *registry.Client {
	w.t.Helper()
	c, err := registry.New(registry.WithHosts(registry.Host{Prefix: w.reg.Prefix(), CAFile: w.reg.CAFile, RateLimit: 1000}),
		registry.WithCredentialFunc(w.src.Credentials), registry.WithKeychain(noKeychain{}))
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// loop is a reconcile loop over the Source, observed by it and by the
// world (reports).
func (w *world) loop(opts ...reconcile.Option) *reconcile.Loop {
	w.t.Helper()
	opts = append([]reconcile.Option{reconcile.WithCacheDir(w.t.TempDir()), reconcile.WithObserver(w.src),
		reconcile.WithObserver(observerFunc(func(s reconcile.Summary) { w.reports <- s })), reconcile.WithInterval(time.Hour)}, opts...)
	l, err := reconcile.New(w.client(), w.src, opts...)
	if err != nil {
		w.t.Fatal(err)
	}
	w.src.OnChange(l.Trigger)
	return l
}

type observerFunc func(reconcile.Summary)

func (f observerFunc) CycleDone(s reconcile.Summary) { f(s) }

// cycle runs one cycle and returns its summary (with the cycle's own
// error, if any, in Err).
func (w *world) cycle(l *reconcile.Loop) reconcile.Summary {
	w.t.Helper()
	_, _ = l.Cycle(context.Background())
	return <-w.reports
}

// image is the world's registry repository team/<name>.
func (w *world) image(name string) string { return w.reg.Repo("team/" + name) }

// push pushes one image under tags to team/<name>.
func (w *world) push(name string, tags ...string) string {
	w.t.Helper()
	return w.reg.PushImage(w.t, "team/"+name, time.Unix(1700000000, 0), tags...)
}

// application creates an Application in w.ns; source is spec.source.
func (w *world) application(name string, ann map[string]string, source map[string]any) *unstructured.Unstructured {
	w.t.Helper()
	return w.labelledApplication(name, nil, ann, source)
}

// labelledApplication is application with labels.
func (w *world) labelledApplication(name string, labels, ann map[string]string, source map[string]any) *unstructured.Unstructured {
	w.t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
		"metadata": map[string]any{"name": name, "namespace": w.ns},
		"spec": map[string]any{"project": "default", "source": source,
			"destination": map[string]any{"server": "https://kubernetes.default.svc", "namespace": name}},
	}}
	u.SetAnnotations(ann)
	u.SetLabels(labels)
	got, err := w.c.Dynamic(w.t).Resource(ApplicationResource).Namespace(w.ns).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil {
		w.t.Fatalf("creating Application %s: %v", name, err)
	}
	return got
}

// waitApps waits until the Source has seen the Applications named.
func (w *world) waitApps(names ...string) {
	w.t.Helper()
	w.eventually("the Source sees "+strings.Join(names, ", "), func() bool {
		for _, n := range names {
			if w.src.live(w.ns+"/"+n)() == nil {
				return false
			}
		}
		return true
	})
}

// setStatus sets an Application's status through the status subresource,
// as Argo CD's controller does.
func (w *world) setStatus(name string, status map[string]any) {
	w.t.Helper()
	apps := w.c.Dynamic(w.t).Resource(ApplicationResource).Namespace(w.ns)
	u, err := apps.Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	u.Object["status"] = status
	if _, err := apps.UpdateStatus(context.Background(), u, metav1.UpdateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// annotate sets an annotation of an Application (merge patch).
func (w *world) annotate(name, key, value string) {
	w.t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	if _, err := w.c.Dynamic(w.t).Resource(ApplicationResource).Namespace(w.ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// secret creates a Secret in ns.
func (w *world) secret(ns, name string, labels map[string]string, data map[string]string) {
	w.t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels}, StringData: data}
	if _, err := w.c.Clientset(w.t).CoreV1().Secrets(ns).Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		w.t.Fatal(err)
	}
}

// events returns "Type Reason: message" of the Events on an Application.
func (w *world) events(app string) []string {
	w.t.Helper()
	list, err := w.c.Clientset(w.t).CoreV1().Events(w.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + app})
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for _, e := range list.Items {
		out = append(out, e.Type+" "+e.Reason+": "+e.Message)
	}
	return out
}

// waitEvent waits for an Event of reason on app whose message holds
// every part, and returns it.
func (w *world) waitEvent(app, reason string, parts ...string) string {
	w.t.Helper()
	var found string
	w.eventually(fmt.Sprintf("a %s Event on %s with %q", reason, app, parts), func() bool {
		for _, e := range w.events(app) {
			if !strings.Contains(e, " "+reason+": ") {
				continue
			}
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(e, p)
			}
			if ok {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// eventCount is the sum of the counts of the Events of reason on app (the
// recorder counts a repeat up on one Event).
func (w *world) eventCount(app, reason string) int32 {
	w.t.Helper()
	list, err := w.c.Clientset(w.t).CoreV1().Events(w.ns).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.name=" + app})
	if err != nil {
		w.t.Fatal(err)
	}
	var n int32
	for _, e := range list.Items {
		if e.Reason == reason {
			n += e.Count
		}
	}
	return n
}

// flushEvents records a sentinel Event on app through the Source's
// recorder and waits until the API server has it. The recorder writes
// the Events one at a time, in the order recorded (one watcher of
// client-go's broadcaster, each write finished or given up before the
// next): the Events recorded before are written by then.
func (w *world) flushEvents(app string) {
	w.t.Helper()
	w.src.mu.RLock()
	st := w.src.apps[w.ns+"/"+app]
	w.src.mu.RUnlock()
	if st == nil {
		w.t.Fatalf("the Source has no Application %s", app)
	}
	w.sentinels++
	msg := fmt.Sprintf("sentinel %d", w.sentinels)
	w.src.events.record(st.ref, corev1.EventTypeNormal, "TestSentinel", msg)
	w.waitEvent(app, "TestSentinel", msg)
}

// eventually polls cond for up to 30 s (the informer, the event recorder
// and the authorizer are asynchronous); no timing is asserted.
func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			w.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// noKeychain keeps the machine's docker config out of the tests.
type noKeychain struct{}

func (noKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return authn.Anonymous, nil }
