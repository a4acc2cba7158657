package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/metrics"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/server"
	"github.com/tagwatch/tagwatch/internal/webhook"
)

// supervisor runs the daemon: the loop of the current config, swapped for
// a new one between two cycles when the config is reloaded (SIGHUP, or the
// file changed). Everything the config says applies to the new loop: the
// environments, the registries (a new client), the interval and the
// webhook secrets. --listen and the flags need a restart.
type supervisor struct {
	f        *runFlags
	log      *logrus.Entry
	cacheDir string
	m        *metrics.Metrics
	health   *server.Health
	opts     []reconcile.Option // every loop's, the interval aside
	kube     *kubeMode          // Kubernetes mode; nil without
	stopLead context.CancelFunc // ends a wait for the Lease (a stop)

	mu       sync.Mutex
	cur      *generation // the loop running
	next     *generation // the loop to run once cur has drained
	stopping bool        // a signal asked the daemon to stop

	hook atomic.Pointer[http.Handler] // the webhook handler of cur
}

// generation is what one config runs with.
type generation struct {
	set  *plan.Set
	loop *reconcile.Loop
	hook http.Handler
}

// build makes the loop and webhook handler of set, with a registry client
// of its own (the hosts may have changed).
func (s *supervisor) build(set *plan.Set) (*generation, error) {
	client, err := newClient(set, s.cacheDir, registryObserver{m: s.m, log: s.log}, s.kube.registryOptions()...)
	if err != nil {
		return nil, fmt.Errorf("registries: %w", err)
	}
	var targets reconcile.Targets = reconcile.Static(set.Plans)
	if s.kube != nil {
		targets = s.kube.src // the set is given to it when the generation starts (use)
	}
	loop, err := reconcile.New(client, targets, append(s.opts, reconcile.WithInterval(set.Interval))...)
	if err != nil {
		return nil, err
	}
	g := &generation{set: set, loop: loop}
	sink := func(typ string, events []webhook.Event) {
		repos := make([]string, 0, len(events))
		for _, e := range events {
			repos = append(repos, e.Repository)
		}
		s.log.WithFields(logrus.Fields{"type": typ, "repositories": repos}).Debug("webhook accepted")
		s.current().loop.Trigger(repos...)
	}
	opts := []webhook.Option{webhook.WithInsecure(set.InsecureWebhooks), webhook.WithObserver(s.m.Webhook)}
	for typ, secret := range set.Webhooks {
		opts = append(opts, webhook.WithSecret(typ, secret))
	}
	if g.hook, err = webhook.NewHandler(sink, opts...); err != nil {
		return nil, err
	}
	return g, nil
}

// use makes g the running generation's config for what outlives
// generations: Kubernetes mode's Source, shared by every loop. Called as g
// starts, never while the one before it may still run a cycle.
func (s *supervisor) use(g *generation) {
	if s.kube == nil {
		return
	}
	if k := g.set.Kubernetes; k != nil {
		s.kube.src.SetGitDefaults(k.Git.Author, k.Git.Auth, k.Git.URL, k.KnownHostsFile)
		s.kube.src.SetWriteDefaults(k.Git.Signer, k.Git.Forge, k.Git.URL)
	}
	s.kube.src.SetBase(g.set.Plans)
}

func (s *supervisor) current() *generation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// endpoints is what --listen serves: /healthz, /readyz, /metrics and the
// registry webhooks (of the current config), whose events trigger cycles
// for the repositories pushed.
func (s *supervisor) endpoints() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.m.Handler())
	// No method in the pattern: the handler answers 405 and counts it.
	mux.Handle(webhook.Path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*s.hook.Load()).ServeHTTP(w, r)
	}))
	mux.Handle("/", s.health.Handler())
	return mux
}

// run runs the loops until SIGINT/SIGTERM. The first signal drains (the
// cycle under way finishes, up to --shutdown-grace); a second one, or the
// grace running out, stops hard (nothing is pushed after that).
func (s *supervisor) run(ctx context.Context, handler http.Handler) error {
	s.hook.Store(&s.cur.hook)
	if handler != nil {
		srv, err := server.Listen(s.f.listen, handler)
		if err != nil {
			return usagef("--listen: %w", err)
		}
		s.log.WithField("addr", srv.Addr().String()).Info("serving /healthz, /readyz, /metrics and " + webhook.Path)
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	runCtx, stop := onSignals(ctx, s.stop, s.f.grace, s.log)
	defer stop()
	go s.watchConfig(runCtx)
	if s.kube != nil {
		// An Application added or changed: a cycle of its images.
		s.kube.src.OnChange(func(repos ...string) { s.current().loop.Trigger(repos...) })
	}
	if s.kube != nil && s.kube.elector != nil {
		defer s.kube.elector.Release() // a replica that stops gives the Lease up
	}
	s.log.WithField("interval", s.cur.set.Interval.String()).Info("watching")
	for {
		loop := s.current().loop
		loopCtx, err := s.lead(runCtx)
		if err != nil {
			s.log.Info("stopped")
			return nil
		}
		err = loop.Run(loopCtx)
		if err != nil && loopCtx.Err() != nil && runCtx.Err() == nil {
			s.log.Warn("the Lease is lost: stopped before the next push; campaigning again")
			continue
		}
		s.mu.Lock()
		next, stopping := s.next, s.stopping
		if next != nil && !stopping && err == nil {
			s.cur, s.next = next, nil
		}
		s.mu.Unlock()
		switch {
		case err != nil && ctx.Err() == nil && runCtx.Err() != nil:
			s.log.Warn("stopped before the cycle under way finished; nothing was pushed after the stop")
			return nil
		case err != nil:
			return err
		case stopping || next == nil:
			s.log.Info("stopped")
			return nil
		}
		s.use(next)
		s.hook.Store(&next.hook)
		s.health.SetMaxAge(3 * next.set.Interval)
		s.log.WithFields(logrus.Fields{"interval": next.set.Interval.String(), "repositories": len(next.set.Plans), "environments": environments(next.set)}).
			Info("config reloaded")
	}
}

func environments(set *plan.Set) int {
	n := 0
	for _, p := range set.Plans {
		n += len(p.Envs)
	}
	return n
}

// lead returns the context the loop runs in: runCtx, or with leader
// election the writer's context, once this replica holds the Lease (which
// ends when it is lost). It fails when a stop comes first.
func (s *supervisor) lead(runCtx context.Context) (context.Context, error) {
	if s.kube == nil || s.kube.elector == nil {
		return runCtx, nil
	}
	ctx, cancel := context.WithCancel(runCtx)
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		cancel()
		return nil, context.Canceled
	}
	s.stopLead = cancel
	s.mu.Unlock()
	return s.kube.elector.Lead(ctx)
}

// stop drains the running loop for good (the first SIGINT/SIGTERM), or
// ends the wait for the Lease.
func (s *supervisor) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopping = true
	s.cur.loop.Drain()
	if s.stopLead != nil && (s.kube.elector == nil || !s.kube.leader.v.Load()) {
		s.stopLead()
	}
}

// reload loads the config again and, when it is good, has the running loop
// drain so run starts the new one; when it is not, every problem is logged
// (one entry each) and the running config stays.
func (s *supervisor) reload(ctx context.Context, why string) {
	log := s.log.WithFields(logrus.Fields{"config": s.f.config, "trigger": why})
	set, err := loadSet(ctx, s.f.config)
	var gen *generation
	if err == nil {
		gen, err = s.build(set)
	}
	if err != nil {
		s.m.ConfigError()
		for _, p := range problems(err) {
			logProblem(log, p).Error("config not reloaded: " + p.Error())
		}
		log.Warn("the previous config keeps running")
		return
	}
	if restart := kubeRestart(s.current().set.Kubernetes, set.Kubernetes); restart != "" {
		log.Warn(restart + " apply at the next restart; the rest of the config applies now")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return
	}
	s.next = gen
	s.cur.loop.Drain() // run starts gen once the cycle under way is done
	log.Info("config loaded; it applies after the cycle under way")
}

// watchConfig reloads on SIGHUP and, every --config-poll, when the
// config file's content changed: a mounted ConfigMap changes by an atomic
// symlink swap, so the content is compared, not the modification time.
func (s *supervisor) watchConfig(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var tick <-chan time.Time
	if s.f.poll > 0 {
		t := time.NewTicker(s.f.poll)
		defer t.Stop()
		tick = t.C
	}
	last, _ := fileSum(s.f.config)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last, _ = fileSum(s.f.config)
			s.reload(ctx, "SIGHUP")
		case <-tick:
			sum, err := fileSum(s.f.config)
			if err != nil || sum == last {
				continue // a file being swapped may be missing for a moment
			}
			last = sum
			s.reload(ctx, "file changed")
		}
	}
}

// fileSum is the SHA-256 of the file at path (symlinks followed).
func fileSum(path string) ([sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return [sha256.Size]byte{}, err
	}
	return sha256.Sum256(b), nil
}

// onSignals handles SIGINT and SIGTERM for the daemon: the first calls
// drain and, after grace or a second signal, cancels the returned context
// (a hard stop). ctx ending counts as a first signal. Call stop when done.
func onSignals(ctx context.Context, drain func(), grace time.Duration, log *logrus.Entry) (runCtx context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case sig := <-sigs:
			log.WithField("signal", sig.String()).Info("stopping after the cycle under way; signal again to abandon it")
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		drain()
		select {
		case <-sigs:
			log.Warn("abandoning the cycle under way")
		case <-time.After(grace):
		case <-runCtx.Done():
			return
		}
		cancel()
	}()
	return runCtx, func() { signal.Stop(sigs); cancel() }
}

// kubeRestart names what of Kubernetes mode a reload cannot change (the
// Applications watched, the election), or "".
func kubeRestart(old, cur *plan.Kubernetes) string {
	switch {
	case old == nil && cur == nil:
		return ""
	case old == nil || cur == nil:
		return "applications: (Kubernetes mode on or off)"
	case !slices.Equal(old.Namespaces, cur.Namespaces) || old.Selector != cur.Selector || old.ArgoCDNamespace != cur.ArgoCDNamespace:
		return "applications: (namespaces, selector, argocdNamespace)"
	case old.LeaderElection != cur.LeaderElection || old.LeaseNamespace != cur.LeaseNamespace || old.LeaseName != cur.LeaseName:
		return "leaderElection:"
	}
	return ""
}
