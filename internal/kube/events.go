package kube

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
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

// eventSink records Events through client-go's recorder, which aggregates
// repeats into one Event with a count.
type eventSink struct {
	b   record.EventBroadcaster
	rec record.EventRecorder
	log *logrus.Entry

	mu        sync.Mutex
	announced map[string]string // Application → the InvalidAnnotations or AnnotationsIgnored message last recorded
	failed    map[string]string // Application → the ImageUpdateFailed message of its latest cycle
	conflicts map[string]string // Application → the ConflictingTargets message of its latest cycle
}

func newEventSink(core kubernetes.Interface, log *logrus.Entry) *eventSink {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: core.CoreV1().Events("")})
	return &eventSink{
		b: b, rec: b.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "tagwatch"}), log: log,
		announced: map[string]string{}, failed: map[string]string{}, conflicts: map[string]string{},
	}
}

func (e *eventSink) shutdown() { e.b.Shutdown() }

func (e *eventSink) record(ref *corev1.ObjectReference, typ, reason, msg string) {
	if len(msg) > maxMessage {
		msg = msg[:maxMessage-1] + "…"
	}
	e.rec.Event(ref, typ, reason, msg)
	e.log.WithFields(logrus.Fields{"application": ref.Namespace + "/" + ref.Name, "reason": reason}).Debug(msg)
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
// (reconcile.Observer): ImagesUpdated for changes, ImageUpdateFailed for
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
		if app, ok := envApp[c.Env]; ok {
			updated[app] = append(updated[app], fmt.Sprintf("%s %s -> %s (%s, commit %.12s)", c.Image, orNone(c.From), c.To, c.File, c.Commit))
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
