package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
)

// ApplicationResource is Argo CD's Application type.
var ApplicationResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "applications"}

// Source is the Argo CD Applications of a cluster as plans, merged with
// the plans of a config file (reconcile.Targets). A shared informer per
// namespace keeps the Applications; an Application is parsed when its
// annotations or source change, not when only its status does, and an
// Application added or changed triggers a cycle of its images.
type Source struct {
	o      options
	dyn    dynamic.Interface
	core   kubernetes.Interface
	events *eventSink

	mu       sync.RWMutex
	base     []*plan.Plan
	apps     map[string]*appState // by namespace/name
	gen      uint64               // counts changes of apps and base
	built    uint64               // the gen plans were built at
	plans    []*plan.Plan
	envApp   map[string]string   // environment name → Application (namespace/name), of plans
	repoApps map[string][]string // repository (display URL) → Applications
	pull     map[string]string   // image repository (plan.Watch.Key) → pull-secret reference
	problems map[string][]string // Application → the problems found assembling plans
	trigger  func(repos ...string)

	creds atomic.Pointer[cycleCreds] // the cycle's credentials memo
	stop  context.CancelFunc
}

// appState is one Application as the informer has it, and as parsed.
type appState struct {
	app     *App
	ref     *corev1.ObjectReference // for Events
	created time.Time
	sig     string // what parsing depends on: when it is unchanged, only the status changed
	target  *Target
	errs    []*AnnotationError
}

// Option configures a Source.
type Option func(*options) error

type options struct {
	namespaces      []string
	selector        string
	argocdNamespace string
	author          gitrepo.Author
	gitAuth         func(context.Context) (gitrepo.Auth, error) // config's git.auth; nil: none
	gitAuthHost     string                                      // the host it is for; "": none
	signer          gitrepo.Signer                              // config's git.signing; nil: unsigned
	forge           *plan.Forge                                 // config's git.provider; nil: none
	forgeScope      scope                                       // the repositories the forge serves
	knownHostsFile  string
	log             *logrus.Entry
	syncTimeout     time.Duration
	events          EventMode
}

// WithEvents sets how Events are recorded (default EventsAggregated).
func WithEvents(m EventMode) Option {
	return func(o *options) error {
		if m < EventsAggregated || m > EventsOff {
			return fmt.Errorf("event mode %d: unknown", m)
		}
		o.events = m
		return nil
	}
}

// WithNamespaces sets where Applications are watched (default [argocd]).
func WithNamespaces(ns ...string) Option {
	return func(o *options) error {
		for _, n := range ns {
			if !dnsLabelRE.MatchString(n) {
				return fmt.Errorf("namespace %q: not a namespace name", n)
			}
		}
		o.namespaces = slices.Clone(ns)
		return nil
	}
}

// WithSelector watches only the Applications with these labels.
func WithSelector(s string) Option {
	return func(o *options) error {
		if err := CheckSelector(s); err != nil {
			return err
		}
		o.selector = s
		return nil
	}
}

// WithArgoCDNamespace is where Argo CD's repository Secrets and known
// hosts ConfigMap are read (default argocd).
func WithArgoCDNamespace(ns string) Option {
	return func(o *options) error {
		if !dnsLabelRE.MatchString(ns) {
			return fmt.Errorf("the Argo CD namespace %q: not a namespace name", ns)
		}
		o.argocdNamespace = ns
		return nil
	}
}

// WithGitDefaults sets the commit author of Applications' repositories, and
// the credentials (config git.auth) used when no Secret gives any: for the
// repositories on authURL's host only (none when it has no host: an
// annotation must not send them elsewhere). A knownHostsFile wins over Argo CD's known hosts ConfigMap.
func WithGitDefaults(author gitrepo.Author, auth func(context.Context) (gitrepo.Auth, error), authURL, knownHostsFile string) Option {
	return func(o *options) error {
		if author != (gitrepo.Author{}) {
			o.author = author
		}
		o.gitAuth, o.gitAuthHost, o.knownHostsFile = auth, config.GitHost(authURL), knownHostsFile
		return nil
	}
}

// WithWriteDefaults sets what the config's git block gives Applications'
// repositories beside credentials: the signer of every commit (git.signing;
// nil: unsigned) and the forge of pull requests (git.provider; nil: none),
// for the repositories on the forge's host only, where its token belongs:
// the host of git.provider.url, else the kind's public service, else (a
// Gitea without url) the host of gitURL (git.url). See forgeScopeOf.
func WithWriteDefaults(signer gitrepo.Signer, f *plan.Forge, gitURL string) Option {
	return func(o *options) error {
		o.signer, o.forge, o.forgeScope = signer, f, forgeScopeOf(f, gitURL)
		return nil
	}
}

// WithLogger sets the logger; default: discard.
func WithLogger(e *logrus.Entry) Option {
	return func(o *options) error {
		if e == nil {
			return errors.New("nil logger")
		}
		o.log = e
		return nil
	}
}

// New makes a Source reading the cluster of cfg; Start starts it.
func New(cfg *rest.Config, opts ...Option) (*Source, error) {
	o := options{namespaces: []string{"argocd"}, argocdNamespace: "argocd", log: discardLogger(), syncTimeout: time.Minute,
		author: gitrepo.Author{Name: "tagwatch", Email: "tagwatch@localhost"}}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("kube: %w", err)
		}
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		// client-go's default (5 per second) would take 100 s to record
		// the Events of a first cycle over 500 Applications.
		cfg.QPS, cfg.Burst = 50, 100
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	core, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	// Events have a client (and rate limit) of their own: a burst of them
	// never delays the credentials a cycle reads.
	evCore, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("kube: %w", err)
	}
	s := &Source{o: o, dyn: dyn, core: core, apps: map[string]*appState{}, problems: map[string][]string{}}
	s.events = newEventSink(evCore, o.events, o.log)
	return s, nil
}

// Start lists the Applications of every namespace and keeps watching them,
// until Stop or ctx ends. It returns when every namespace is listed, or
// with the first namespace that cannot be (Forbidden: the role is missing).
func (s *Source) Start(ctx context.Context) error {
	lopts := metav1.ListOptions{LabelSelector: s.o.selector, Limit: 1}
	for _, ns := range s.o.namespaces {
		// One list first: a clear error, where an informer retries quietly.
		if _, err := s.dyn.Resource(ApplicationResource).Namespace(ns).List(ctx, lopts); err != nil {
			return fmt.Errorf("listing Argo CD Applications in namespace %s: %w", ns, err)
		}
	}
	ctx, s.stop = context.WithCancel(ctx)
	var synced []cache.InformerSynced
	for _, ns := range s.o.namespaces {
		f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(s.dyn, 0, ns, func(lo *metav1.ListOptions) {
			lo.LabelSelector = s.o.selector
		})
		inf := f.ForResource(ApplicationResource).Informer()
		if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { s.update(obj) },
			UpdateFunc: func(_, obj any) { s.update(obj) },
			DeleteFunc: s.remove,
		}); err != nil {
			return err
		}
		synced = append(synced, inf.HasSynced)
		f.Start(ctx.Done())
	}
	sctx, cancel := context.WithTimeout(ctx, s.o.syncTimeout)
	defer cancel()
	if !cache.WaitForCacheSync(sctx.Done(), synced...) {
		return fmt.Errorf("the Applications of %s were not listed within %s", strings.Join(s.o.namespaces, ", "), s.o.syncTimeout)
	}
	return nil
}

// Stop stops watching and sends the Events queued.
func (s *Source) Stop() {
	if s.stop != nil {
		s.stop()
	}
	s.events.shutdown()
}

// SetBase sets the plans of the config file (a reload).
func (s *Source) SetBase(plans []*plan.Plan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.base = plans
	s.gen++
}

// SetGitDefaults sets what WithGitDefaults sets (a reload of the config).
func (s *Source) SetGitDefaults(author gitrepo.Author, auth func(context.Context) (gitrepo.Auth, error), authURL, knownHostsFile string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = WithGitDefaults(author, auth, authURL, knownHostsFile)(&s.o)
	s.gen++
}

// SetWriteDefaults sets what WithWriteDefaults sets (a reload of the config).
func (s *Source) SetWriteDefaults(signer gitrepo.Signer, f *plan.Forge, gitURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = WithWriteDefaults(signer, f, gitURL)(&s.o)
	s.gen++
}

// OnChange sets what an Application added or changed calls, with the image
// repositories it watches (reconcile.Loop.Trigger).
func (s *Source) OnChange(trigger func(repos ...string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trigger = trigger
}

// update takes an Application added or changed.
func (s *Source) update(obj any) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	a := appFrom(u)
	key := a.Key()
	sig := signature(a)
	s.mu.Lock()
	if st := s.apps[key]; st != nil && st.sig == sig {
		st.app = a // the status alone changed: health, images, revision
		s.mu.Unlock()
		return
	}
	st := &appState{app: a, sig: sig, created: u.GetCreationTimestamp().Time, ref: &corev1.ObjectReference{
		APIVersion: u.GetAPIVersion(), Kind: u.GetKind(), Namespace: a.Namespace, Name: a.Name,
		UID: u.GetUID(), ResourceVersion: u.GetResourceVersion(),
	}}
	if Watched(a) {
		st.target, st.errs = Parse(a, s.live(key))
		if st.target != nil && st.target.WriteSecret != "" {
			// Set before the environment is shared: plans are immutable.
			st.target.Env.Precheck = s.writeSecretCheck(st.target.WriteSecret)
		}
	}
	s.apps[key] = st
	delete(s.problems, key) // found again when the plans are next built
	s.gen++
	trigger := s.trigger
	s.mu.Unlock()
	s.announce(st)
	if st.target != nil && trigger != nil {
		var repos []string
		for _, w := range st.target.Env.Watches {
			repos = append(repos, w.Key)
		}
		s.o.log.WithFields(logrus.Fields{"application": key, "images": repos}).Debug("Application changed: a cycle of its images")
		trigger(repos...)
	}
}

// remove drops a deleted Application.
func (s *Source) remove(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return
	}
	key := u.GetNamespace() + "/" + u.GetName()
	s.mu.Lock()
	if _, ok := s.apps[key]; ok {
		delete(s.apps, key)
		delete(s.problems, key)
		s.gen++
	}
	s.mu.Unlock()
	s.events.forget(key)
}

// live returns the Application as the informer has it now.
func (s *Source) live(key string) func() *App {
	return func() *App {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if st := s.apps[key]; st != nil {
			return st.app
		}
		return nil
	}
}

// signature is what parsing an Application depends on.
func signature(a *App) string {
	var b strings.Builder
	for _, k := range sortedKeys(a.Annotations) {
		if strings.HasPrefix(k, OwnPrefix) || strings.HasPrefix(k, ImageUpdaterPrefix) {
			fmt.Fprintf(&b, "%q=%q;", k, a.Annotations[k])
		}
	}
	fmt.Fprintf(&b, "%v|%+v|%s", a.Multi, a.Sources, a.SourceType)
	return b.String()
}

// Plans returns the config's plans and the Applications', merged by
// repository and branch (reconcile.Targets). It is called at the start of
// every cycle: the cycle's credentials are read afresh from here on.
func (s *Source) Plans() []*plan.Plan {
	s.newCycle()
	return s.refresh()
}

// refresh returns the plans, built again when the Applications or the base
// changed; problems that appeared or went are announced.
func (s *Source) refresh() []*plan.Plan {
	s.mu.Lock()
	if s.plans != nil && s.built == s.gen {
		defer s.mu.Unlock()
		return s.plans
	}
	a := s.assemble()
	s.plans, s.envApp, s.repoApps, s.pull, s.built = a.plans, a.envApp, a.repoApps, a.pull, s.gen
	var changed []*appState
	for key, st := range s.apps {
		if !slices.Equal(s.problems[key], a.problems[key]) {
			changed = append(changed, st)
		}
	}
	s.problems = a.problems
	plans := s.plans
	s.mu.Unlock()
	for _, st := range changed {
		s.announce(st)
	}
	return plans
}

// assembly is what Plans builds.
type assembly struct {
	plans    []*plan.Plan
	envApp   map[string]string
	repoApps map[string][]string
	pull     map[string]string
	problems map[string][]string
}

// assemble merges the base plans and the Applications' targets: one plan
// per repository and branch; an environment name taken (by the config or
// an Application made earlier), a second write secret for a repository, a
// second pull secret for an image repository (the registry client has one
// set of credentials per repository), a write branch that clashes
// (checkWriteBranches) or a promotion source outside the repository is a
// problem of the Application, which is left out. Called with s.mu held.
func (s *Source) assemble() assembly {
	a := assembly{envApp: map[string]string{}, repoApps: map[string][]string{}, pull: map[string]string{}, problems: map[string][]string{}}
	byKey := map[string]*plan.Plan{}
	fromConfig := map[string]bool{}
	names := map[string]string{} // environment name → where it is declared
	for _, bp := range s.base {
		np := &plan.Plan{Repo: bp.Repo, Envs: slices.Clone(bp.Envs)}
		a.plans = append(a.plans, np)
		byKey[bp.Repo.Key()] = np
		fromConfig[bp.Repo.Key()] = true
		for _, e := range bp.Envs {
			names[e.Name] = e.Origin
		}
	}
	var states []*appState
	for _, st := range s.apps {
		if st.target != nil {
			states = append(states, st)
		}
	}
	// The Application made first keeps a name both claim.
	sort.Slice(states, func(i, j int) bool {
		if !states[i].created.Equal(states[j].created) {
			return states[i].created.Before(states[j].created)
		}
		return states[i].app.Key() < states[j].app.Key()
	})
	writeSecret := map[string]string{} // repository key → the git:secret Secret and its Application
	writeApp := map[string]string{}
	pullSecret := map[string]string{} // image repository → the pull-secret reference and its Application
	pullApp := map[string]string{}
	envOf := map[*plan.Environment]*appState{}
	for _, st := range states {
		t, key := st.target, st.app.Key()
		if origin, taken := names[t.Env.Name]; taken {
			a.problems[key] = append(a.problems[key], fmt.Sprintf("%senvironment: the environment name %q is already used by %s; set %senvironment to another", OwnPrefix, t.Env.Name, origin, OwnPrefix))
			continue
		}
		rk := plan.Repo{URL: t.URL, Branch: t.Branch}.Key()
		if other, ok := writeSecret[rk]; ok && t.WriteSecret != "" && other != t.WriteSecret {
			a.problems[key] = append(a.problems[key], fmt.Sprintf("%swrite-back-method: git:secret:%s differs from git:secret:%s of Application %s, which writes the same repository and branch", ImageUpdaterPrefix, t.WriteSecret, other, writeApp[rk]))
			continue
		}
		clash := false
		for _, repo := range sortedKeys(t.PullSecrets) {
			if other, ok := pullSecret[repo]; ok && other != t.PullSecrets[repo] {
				a.problems[key] = append(a.problems[key], fmt.Sprintf("%s: %s differs from %s of Application %s, which watches the same image repository %s: the registry is asked with one pull secret per repository", t.pullKeys[repo], t.PullSecrets[repo], other, pullApp[repo], repo))
				clash = true
			}
		}
		if clash {
			continue
		}
		if t.WriteSecret != "" {
			writeSecret[rk], writeApp[rk] = t.WriteSecret, key
		}
		for repo, ref := range t.PullSecrets {
			if pullSecret[repo] == "" {
				pullSecret[repo], pullApp[repo] = ref, key
			}
		}
		p := byKey[rk]
		if p == nil {
			p = &plan.Plan{Repo: plan.Repo{URL: t.URL, Branch: t.Branch, Author: s.o.author}}
			byKey[rk] = p
			a.plans = append(a.plans, p)
		}
		names[t.Env.Name] = t.Env.Origin
		p.Envs = append(p.Envs, t.Env)
		envOf[t.Env] = st
	}
	for _, p := range a.plans {
		rk := p.Repo.Key()
		var fallback func(context.Context) (gitrepo.Auth, error)
		if fromConfig[rk] {
			fallback = p.Repo.Auth
		} else if s.o.gitAuthHost != "" && s.o.gitAuthHost == config.GitHost(p.Repo.URL) {
			fallback = s.o.gitAuth
		}
		if !fromConfig[rk] || writeSecret[rk] != "" {
			// A config plan reads no Argo CD Secret: its git.auth, unless
			// a git:secret can be read.
			p.Repo.Auth = s.gitAuth(p.Repo.URL, writeSecret[rk], !fromConfig[rk], fallback)
		}
		noForge := "the config's environments of this repository and branch have no git.provider"
		if !fromConfig[rk] {
			noForge = s.writeDefaults(p)
		}
		needForge(p, noForge, envOf, a.problems)
	}
	// A branch tagwatch rewrites has one writer, and is no base branch:
	// else Publish refuses the whole repository.
	checkWriteBranches(a.plans, states, envOf, a.problems)
	// Promotion happens within a repository and branch (the gate reads
	// its history there), without cycles; after the checks above, which
	// may have dropped a gate's from.
	for _, p := range a.plans {
		s.checkGates(p, envOf, a.problems)
	}
	kept := a.plans[:0]
	for _, p := range a.plans {
		if len(p.Envs) == 0 {
			continue
		}
		for _, e := range p.Envs {
			st, ok := envOf[e]
			if !ok {
				continue
			}
			key := st.app.Key()
			a.envApp[e.Name] = key
			a.repoApps[p.Repo.Display()] = append(a.repoApps[p.Repo.Display()], key)
			for repo, ref := range st.target.PullSecrets {
				if _, ok := a.pull[repo]; !ok {
					a.pull[repo] = ref
				}
			}
		}
		kept = append(kept, p)
	}
	a.plans = kept
	return a
}

// checkGates drops, from p, the Applications' environments whose gate
// names an environment p does not have, or is on a cycle.
func (s *Source) checkGates(p *plan.Plan, envOf map[*plan.Environment]*appState, problems map[string][]string) {
	drop := func(bad func(e *plan.Environment) string) {
		envs := p.Envs[:0:0]
		for _, e := range p.Envs {
			st, fromApp := envOf[e]
			if why := bad(e); why != "" && fromApp {
				key := st.app.Key()
				problems[key] = append(problems[key], OwnPrefix+"from: "+why)
				continue
			}
			envs = append(envs, e)
		}
		p.Envs = envs
	}
	drop(func(e *plan.Environment) string {
		if e.Gate == nil || p.Env(e.Gate.From) != nil {
			return ""
		}
		return fmt.Sprintf("%q is not an environment of the same repository and branch (%s); the gate reads its history there", e.Gate.From, p.Repo.Display())
	})
	if _, err := p.Order(); err != nil {
		drop(func(e *plan.Environment) string {
			if e.Gate == nil {
				return ""
			}
			return err.Error()
		})
	}
}

// Environment returns the environment of the Application namespace/name:
// its name when it is served, else the problems that keep it out; ok is
// false when the Source has no such Application.
func (s *Source) Environment(app string) (env string, problems []string, ok bool) {
	s.refresh()
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.apps[app]
	if !ok {
		return "", nil, false
	}
	for _, e := range st.errs {
		problems = append(problems, e.Error())
	}
	problems = append(problems, s.problems[app]...)
	if st.target != nil && len(problems) == 0 {
		env = st.target.Env.Name
	}
	return env, problems, true
}

func discardLogger() *logrus.Entry {
	l := logrus.New()
	l.SetOutput(io.Discard)
	return logrus.NewEntry(l)
}
