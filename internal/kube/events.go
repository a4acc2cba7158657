package kube

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/tagwatch/tagwatch/internal/reconcile"
)

// The reasons of the Events tagwatch records on Applications (DESIGN §6).
const (
	ReasonImagesUpdated      = "ImagesUpdated"      // Normal: each change and its commit
	ReasonImageUpdateFailed  = "ImageUpdateFailed"  // Warning: the errors of a cycle
	ReasonInvalidAnnotations = "InvalidAnnotations" // Warning: the Application is skipped
	ReasonConflictingTargets = "ConflictingTargets" // Warning: a field another environment claims too
	ReasonAnnotationsIgnored = "AnnotationsIgnored" // Warning: annotations read and not acted on
)

// maxMessage bounds an Event's message (the API server refuses long ones).
const maxMessage = 1000

// eventSink records Events: through client-go's recorder, which
// aggregates repeats into one Event with a count (the daemon); or at once,
// each Event named after its object, reason and message so that a repeat
// by the next process counts up the same Event (`run --once`, which exits
// right after); or not at all (read-only commands).
type eventSink struct {
	mode EventMode
	core kubernetes.Interface
	b    record.EventBroadcaster
	rec  record.EventRecorder
	log  *logrus.Entry

	mu        sync.Mutex
	announced map[string]string // Application → the InvalidAnnotations or AnnotationsIgnored message last recorded
	failed    map[string]string // Application → the ImageUpdateFailed message of its latest cycle
	conflicts map[string]string // Application → the ConflictingTargets message of its latest cycle
}

// EventMode is how a Source records Events.
type EventMode int

// Event modes.
const (
	EventsAggregated EventMode = iota // client-go's recorder, in the background (a daemon)
	EventsAtOnce                      // each written before record returns (a process about to exit)
	EventsOff                         // none (read-only commands)
)

func newEventSink(core kubernetes.Interface, mode EventMode, log *logrus.Entry) *eventSink {
	e := &eventSink{mode: mode, core: core, log: log,
		announced: map[string]string{}, failed: map[string]string{}, conflicts: map[string]string{}}
	if mode == EventsAggregated {
		e.b = record.NewBroadcaster()
		e.b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: core.CoreV1().Events("")})
		e.rec = e.b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "tagwatch"})
	}
	return e
}

// forget drops what was recorded for a deleted Application.
func (e *eventSink) forget(app string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.announced, app)
	delete(e.failed, app)
	delete(e.conflicts, app)
}

func (e *eventSink) shutdown() {
	if e.b != nil {
		e.b.Shutdown()
	}
}

func (e *eventSink) record(ref *corev1.ObjectReference, typ, reason, msg string) {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-1] + "…"
	}
	log := e.log.WithFields(logrus.Fields{"application": ref.Namespace + "/" + ref.Name, "reason": reason})
	switch e.mode {
	case EventsAggregated:
		e.rec.Event(ref, typ, reason, msg)
	case EventsAtOnce:
		if err := e.write(ref, typ, reason, msg); err != nil {
			log.WithError(err).Warn("recording an Event")
		}
	}
	log.Debug(msg)
}

// write creates the Event; when a previous process made it already, its
// lastTimestamp moves (RBAC gives create and patch, not get: its count
// stays).
func (e *eventSink) write(ref *corev1.ObjectReference, typ, reason, msg string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	sum := sha256.Sum256([]byte(string(ref.UID) + "\x00" + reason + "\x00" + msg))
	name := fmt.Sprintf("%.200s.%x", ref.Name, sum[:8])
	events := e.core.CoreV1().Events(ref.Namespace)
	now := metav1.Now()
	_, err := events.Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ref.Namespace},
		InvolvedObject: *ref, Type: typ, Reason: reason, Message: msg, Count: 1,
		FirstTimestamp: now, LastTimestamp: now, Source: corev1.EventSource{Component: "tagwatch"},
	}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		patch := fmt.Sprintf(`{"lastTimestamp":%q}`, now.UTC().Format(time.RFC3339))
		_, err = events.Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	}
	return err
}

// announce records what is wrong with an Application (InvalidAnnotations:
// its annotations, or a clash with another environment) or ignored in it,
// when that changed since it was last recorded.
func (s *Source) announce(st *appState) {
	key := st.app.Key()
	s.mu.RLock()
	probs := slices.Clone(s.problems[key])
	s.mu.RUnlock()
	for _, e := range st.errs {
		probs = append(probs, e.Error())
	}
	var reason, msg string
	switch {
	case len(probs) > 0:
		reason, msg = ReasonInvalidAnnotations, "skipped: "+strings.Join(probs, "; ")
	case st.target != nil && len(st.target.Ignored) > 0:
		reason, msg = ReasonAnnotationsIgnored, "ignored: "+strings.Join(st.target.Ignored, "; ")
	}
	ev := s.events
	ev.mu.Lock()
	last := ev.announced[key]
	ev.announced[key] = reason + msg
	ev.mu.Unlock()
	if msg == "" || last == reason+msg {
		return
	}
	if reason == ReasonInvalidAnnotations {
		s.o.log.WithField("application", key).Warn(msg)
	}
	ev.record(st.ref, corev1.EventTypeWarning, reason, msg)
}

// CycleDone records the cycle's Events on the Applications
// (reconcile.Observer): ImagesUpdated for changes committed by this cycle
// (not those still waiting on their branch or pull request, recorded
// when made), ImageUpdateFailed for
// errors and ConflictingTargets for shared fields. A failure is recorded
// when it differs from the Application's previous cycle, so an idle
// cluster sends nothing. The cycle's credentials are dropped.
func (s *Source) CycleDone(sum reconcile.Summary) {
	s.endCycle()
	s.mu.RLock()
	envApp, repoApps := s.envApp, s.repoApps
	refs := map[string]*corev1.ObjectReference{}
	inScope := map[string]bool{}
	scope := map[string]bool{}
	for _, k := range sum.Scope {
		scope[k] = true
	}
	for key, st := range s.apps {
		refs[key] = st.ref
		if st.target == nil {
			continue
		}
		for _, w := range st.target.Env.Watches {
			inScope[key] = inScope[key] || sum.Scope == nil || scope[w.Key]
		}
	}
	s.mu.RUnlock()

	updated := map[string][]string{}
	for _, c := range sum.Report.Changes {
		if c.Commit == "" || c.Pending {
			continue // a dry run's; or made by an earlier cycle, waiting on its branch or pull request
		}
		if app, ok := envApp[c.Env]; ok {
			on := ""
			if c.Branch != "" {
				on = ", on branch " + c.Branch // a write branch's, or a pull request's
			}
			updated[app] = append(updated[app], fmt.Sprintf("%s %s -> %s (%s%s, commit %.12s)", c.Image, orNone(c.From), c.To, c.File, on, c.Commit))
		}
	}
	failed, conflicts := map[string][]string{}, map[string][]string{}
	for _, e := range sum.Report.Errors {
		var ce *reconcile.ConflictError
		if errors.As(e.Err, &ce) {
			for _, env := range ce.Envs {
				if app, ok := envApp[env]; ok {
					conflicts[app] = append(conflicts[app], ce.Error())
				}
			}
			continue
		}
		apps := repoApps[e.Repository] // a repository's failure is every Application's there
		if e.Env != "" {
			apps = nil
			if app, ok := envApp[e.Env]; ok {
				apps = []string{app}
			}
		}
		for _, app := range apps {
			msg := e.Error
			if e.Image != "" {
				msg = e.Image + ": " + msg
			}
			failed[app] = append(failed[app], msg)
		}
	}
	ev := s.events
	for _, app := range sortedApps(updated) {
		if ref := refs[app]; ref != nil {
			ev.record(ref, corev1.EventTypeNormal, ReasonImagesUpdated, strings.Join(updated[app], "; "))
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for app, ref := range refs {
		if !inScope[app] {
			continue
		}
		for _, k := range []struct {
			last   map[string]string
			now    []string
			reason string
		}{{ev.failed, failed[app], ReasonImageUpdateFailed}, {ev.conflicts, conflicts[app], ReasonConflictingTargets}} {
			msg := strings.Join(dedupe(k.now), "; ")
			if msg == k.last[app] {
				continue
			}
			k.last[app] = msg
			if msg != "" {
				ev.record(ref, corev1.EventTypeWarning, k.reason, msg)
			}
		}
	}
}

func sortedApps(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
