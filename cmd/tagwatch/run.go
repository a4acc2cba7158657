package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/kube"
	"github.com/tagwatch/tagwatch/internal/metrics"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/server"
	"github.com/tagwatch/tagwatch/registry"
)

type runFlags struct {
	config   string
	once     bool
	dryRun   bool
	diff     bool
	output   string
	listen   string
	cacheDir string
	grace    time.Duration
	timeout  time.Duration
	repoTime time.Duration
	poll     time.Duration // how often the daemon checks the config file for changes
	history  int
	// kubeconfig is the cluster of Kubernetes mode (default: in-cluster,
	// $KUBECONFIG, ~/.kube/config).
	kubeconfig string
}

func newRunCmd(g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run --config FILE [--once] [--dry-run] [-o text|json] [--listen ADDR] [--kubeconfig FILE]",
		Short: "Watch registries and keep the environments in Git up to date",
		Long: `run polls the registries every interval of the config, picks the best tag for
every image of every environment, rewrites the environments' files and pushes
one commit per environment that changed (all in one push per cycle).

It runs until SIGINT or SIGTERM; a cycle under way is finished first (a second
signal abandons it; a push is never left half-written). It reloads the config
on SIGHUP and when the file changes (a mounted ConfigMap too), between two
cycles; a config that does not load is reported and the running one kept. With --once it runs
one cycle and exits: 0 when everything went through, 1 when a target failed,
2 for a usage or configuration error.

With applications: in the config (Kubernetes mode), Argo CD Applications
annotated with update policies are environments too; the cluster is the
one of --kubeconfig, else the Pod's own (in-cluster), else $KUBECONFIG,
else ~/.kube/config. The daemon then elects one writer on a Lease (unless
leaderElection: {enabled: false}); --once runs one cycle without electing.`,
		Example: `  # check a config and see what would change, without writing anything
  tagwatch run --config tagwatch.yaml --once --dry-run

  # the same plan with a unified diff of every file it would write
  tagwatch run --config tagwatch.yaml --once --dry-run --diff

  # one cycle, machine-readable report on stdout
  tagwatch run --config tagwatch.yaml --once -o json

  # the daemon, with health endpoints for Kubernetes probes
  tagwatch run --config tagwatch.yaml --listen :8080`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRun(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "config file (tagwatch.yaml)")
	fl.BoolVar(&f.once, "once", false, "run one cycle and exit")
	fl.BoolVar(&f.dryRun, "dry-run", false, "compute the changes and write nothing (no commit, no push)")
	fl.BoolVar(&f.diff, "diff", false, "text report: a unified diff of every file written (or, with --dry-run, that would be)")
	fl.StringVarP(&f.output, "output", "o", "text", "report format on stdout: text or json")
	fl.StringVar(&f.listen, "listen", "", "serve /healthz, /readyz, /metrics and the registry webhooks on this address (e.g. :8080)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "cache for the git working copy and registry metadata (default: the user cache directory/tagwatch)")
	fl.DurationVar(&f.grace, "shutdown-grace", time.Minute, "on SIGINT/SIGTERM, how long a cycle under way may take to finish")
	fl.DurationVar(&f.timeout, "cycle-timeout", 10*time.Minute, "abandon a cycle that takes longer (a hung registry or git server); 0: no limit")
	fl.DurationVar(&f.repoTime, "repository-timeout", 5*time.Minute, "abandon one git repository's part of a cycle that takes longer (a hung git server or forge); the others go on; 0: no limit but the cycle's")
	fl.DurationVar(&f.poll, "config-poll", 5*time.Second, "how often the daemon checks the config file for changes to reload; 0: on SIGHUP only")
	fl.IntVar(&f.history, "history-limit", gitrepo.DefaultMaxHistory, "commits of a repository read (and fetched into the shallow working copy) for promotion gates and rollbacks")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "Kubernetes mode: the kubeconfig of the cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// noArgs rejects positional arguments as a usage error (exit status 2).
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

func runRun(cmd *cobra.Command, g *globals, f *runFlags) error {
	if f.config == "" {
		return usagef("--config is required")
	}
	if f.output != "text" && f.output != "json" {
		return usagef("-o: %q is not one of text, json", f.output)
	}
	if f.diff && f.output != "text" {
		return usagef("--diff is for the text report; -o json lists the files of each change in files")
	}
	set, err := loadSet(cmd.Context(), f.config)
	if err != nil {
		return usagef("%w", err)
	}
	cacheDir, err := cacheDir(f.cacheDir)
	if err != nil {
		return err
	}
	log := logrus.NewEntry(g.log)
	var km *kubeMode
	if set.Kubernetes != nil {
		events := kube.EventsAggregated
		switch {
		case f.dryRun:
			events = kube.EventsOff // a dry run changes nothing, in Git or in the cluster
		case f.once:
			events = kube.EventsAtOnce // the process ends with the cycle
		}
		if km, err = startKube(cmd.Context(), set, f.kubeconfig, log, events); err != nil {
			return err
		}
		defer km.src.Stop()
	}
	m := metrics.New()
	health := server.NewHealth(3 * set.Interval)
	if km != nil && set.Kubernetes.LeaderElection && !f.once {
		if err := km.elect(set, f.kubeconfig, m, health, log); err != nil {
			return err
		}
		log = log.WithField("leader", km.leader)
	}
	out := cmd.OutOrStdout()
	text := reconcile.TextOptions{DryRun: f.dryRun, Diff: f.diff}
	opts := []reconcile.Option{
		reconcile.WithLogger(log),
		reconcile.WithCacheDir(filepath.Join(cacheDir, "git")),
		reconcile.WithCycleTimeout(f.timeout),
		reconcile.WithRepositoryTimeout(f.repoTime),
		reconcile.WithDryRun(f.dryRun),
		reconcile.WithHistoryLimit(f.history),
	}
	var targets reconcile.Targets = reconcile.Static(set.Plans)
	if km != nil {
		targets = km.src
		opts = append(opts, reconcile.WithObserver(km.src))
	}
	if f.once {
		client, err := newClient(set, cacheDir, registryObserver{log: log}, km.registryOptions()...)
		if err != nil {
			return usagef("%s: registries: %w", f.config, err)
		}
		loop, err := reconcile.New(client, targets, append(opts, reconcile.WithInterval(set.Interval))...)
		if err != nil {
			return err
		}
		if f.listen != "" {
			log.Warn("--listen is ignored with --once: health endpoints are for the daemon")
		}
		ctx, cancel := withTimeout(cmd.Context(), f.timeout)
		defer cancel()
		rep, err := loop.Cycle(ctx, reconcile.DryRun(f.dryRun))
		if werr := writeReport(out, f.output, rep, text); werr != nil {
			return werr
		}
		if err != nil {
			return err
		}
		if rep.Failed() {
			return fmt.Errorf("the cycle reported %d error(s); the rest went through", len(rep.Errors))
		}
		return nil
	}
	if km == nil || km.elector == nil {
		m.SetLeader(true) // one process, one writer: leader election is for Kubernetes mode
	}
	sup := &supervisor{f: f, log: log, cacheDir: cacheDir, m: m, health: health, kube: km}
	sup.opts = append(opts,
		reconcile.WithObserver(healthObserver{sup.health}),
		reconcile.WithObserver(m),
		reconcile.WithObserver(&reportWriter{w: out, format: f.output, text: text, log: log}))
	gen, err := sup.build(set)
	if err != nil {
		return usagef("%s: %w", f.config, err)
	}
	sup.cur = gen
	sup.use(gen)
	var handler http.Handler
	if f.listen != "" {
		handler = sup.endpoints()
	}
	return sup.run(cmd.Context(), handler)
}

// loadSet loads the config at path into plans. Secrets are read again at
// each use; a missing one is a configuration error now rather than a
// failed cycle later.
func loadSet(ctx context.Context, path string) (*plan.Set, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		return nil, err
	}
	for _, p := range set.Plans {
		if _, err := p.Repo.Options(ctx); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, p.Repo.Display(), err)
		}
	}
	return set, nil
}

// newClient is the registry client of a set: its hosts, the metadata
// cache under cacheDir, its traffic told to ob, and extra options
// (Kubernetes mode's pull secrets).
func newClient(set *plan.Set, cacheDir string, ob registry.Observer, extra ...registry.Option) (*registry.Client, error) {
	opts := []registry.Option{registry.WithHosts(set.Hosts...), registry.WithCacheDir(filepath.Join(cacheDir, "registry")), registry.WithObserver(ob)}
	return registry.New(append(opts, extra...)...)
}

// registryObserver counts the registry's requests and cache hits (when m
// is set) and logs the waits an operator should know of.
type registryObserver struct {
	m   *metrics.Metrics // nil: no metrics (run --once)
	log *logrus.Entry
}

func (o registryObserver) Request(host, kind string, code int) {
	if o.m != nil {
		o.m.Request(host, kind, code)
	}
}

func (o registryObserver) CacheHit(host string) {
	if o.m != nil {
		o.m.CacheHit(host)
	}
}

func (o registryObserver) Wait(host string, d time.Duration, why string) {
	o.log.WithFields(logrus.Fields{"registry": host, "seconds": d.Round(100 * time.Millisecond).Seconds(), "why": why}).Info("waiting before the next request to the registry")
}

// withTimeout bounds a cycle; d <= 0 means no limit.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

func cacheDir(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", usagef("no user cache directory (%v); set --cache-dir", err)
	}
	return filepath.Join(d, "tagwatch"), nil
}

func writeReport(w io.Writer, format string, rep reconcile.Report, text reconcile.TextOptions) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(rep)
	}
	return rep.WriteTextWith(w, text)
}

// healthObserver feeds /readyz from the loop's cycles.
type healthObserver struct{ h *server.Health }

func (o healthObserver) CycleDone(s reconcile.Summary) { o.h.Cycle(s.Err) }

// reportWriter prints the daemon's reports: in JSON one per cycle, in text
// only those of cycles that did something.
type reportWriter struct {
	w      io.Writer
	format string
	text   reconcile.TextOptions
	log    *logrus.Entry
}

func (o *reportWriter) CycleDone(s reconcile.Summary) {
	rep := s.Report
	if o.format == "text" && len(rep.Changes)+len(rep.Held)+len(rep.Errors) == 0 {
		return
	}
	if err := writeReport(o.w, o.format, rep, o.text); err != nil {
		o.log.WithError(err).Error("writing the report")
	}
}
