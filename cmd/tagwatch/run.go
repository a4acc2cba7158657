package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/metrics"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/server"
	"github.com/tagwatch/tagwatch/internal/webhook"
	"github.com/tagwatch/tagwatch/registry"
)

func init() { commands = append(commands, newRunCmd) }

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
}

func newRunCmd(g *globals) *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "run --config FILE [--once] [--dry-run] [-o text|json] [--listen ADDR]",
		Short: "Watch registries and keep the environments in Git up to date",
		Long: `run polls the registries every interval of the config, picks the best tag for
every image of every environment, rewrites the environments' files and pushes
one commit per environment that changed (all in one push per cycle).

It runs until SIGINT or SIGTERM; a cycle under way is finished first (a second
signal abandons it; a push is never left half-written). With --once it runs
one cycle and exits: 0 when everything went through, 1 when a target failed,
2 for a usage or configuration error.`,
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
	cfg, err := config.Load(f.config)
	if err != nil {
		return usagef("%w", err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		return usagef("%w", err)
	}
	// Secrets are read again at each use; a missing one is a configuration
	// error now rather than a failed cycle later.
	for _, p := range set.Plans {
		if _, err := p.Repo.Options(cmd.Context()); err != nil {
			return usagef("%s: %s: %w", f.config, p.Repo.Display(), err)
		}
	}
	cacheDir, err := cacheDir(f.cacheDir)
	if err != nil {
		return err
	}
	log := logrus.NewEntry(g.log)
	client, err := registry.New(registry.WithHosts(set.Hosts...), registry.WithCacheDir(filepath.Join(cacheDir, "registry")))
	if err != nil {
		return usagef("%s: registries: %w", f.config, err)
	}
	out := cmd.OutOrStdout()
	opts := []reconcile.Option{
		reconcile.WithLogger(log),
		reconcile.WithCacheDir(filepath.Join(cacheDir, "git")),
		reconcile.WithInterval(set.Interval),
		reconcile.WithCycleTimeout(f.timeout),
		reconcile.WithDryRun(f.dryRun),
	}
	if f.once {
		loop, err := reconcile.New(client, reconcile.Static(set.Plans), opts...)
		if err != nil {
			return err
		}
		if f.listen != "" {
			log.Warn("--listen is ignored with --once: health endpoints are for the daemon")
		}
		ctx, cancel := withTimeout(cmd.Context(), f.timeout)
		defer cancel()
		rep, err := loop.Cycle(ctx, reconcile.DryRun(f.dryRun))
		if werr := writeReport(out, f.output, rep, reconcile.TextOptions{DryRun: f.dryRun, Diff: f.diff}); werr != nil {
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
	health := server.NewHealth(3 * set.Interval)
	m := metrics.New()
	m.SetLeader(true) // one process, one writer: leader election is for Kubernetes mode
	opts = append(opts,
		reconcile.WithObserver(healthObserver{health}),
		reconcile.WithObserver(m),
		reconcile.WithObserver(&reportWriter{w: out, format: f.output, text: reconcile.TextOptions{DryRun: f.dryRun, Diff: f.diff}, log: log}))
	loop, err := reconcile.New(client, reconcile.Static(set.Plans), opts...)
	if err != nil {
		return err
	}
	var handler http.Handler
	if f.listen != "" {
		if handler, err = endpoints(set, loop, health, m, log); err != nil {
			return err
		}
	}
	return daemon(cmd.Context(), loop, handler, f, set.Interval, log)
}

// endpoints is what --listen serves: /healthz, /readyz, /metrics and the
// registry webhooks, whose events trigger cycles for the repositories
// pushed.
func endpoints(set *plan.Set, loop *reconcile.Loop, health *server.Health, m *metrics.Metrics, log *logrus.Entry) (http.Handler, error) {
	sink := func(typ string, events []webhook.Event) {
		repos := make([]string, 0, len(events))
		for _, e := range events {
			repos = append(repos, e.Repository)
		}
		log.WithFields(logrus.Fields{"type": typ, "repositories": repos}).Debug("webhook accepted")
		loop.Trigger(repos...)
	}
	opts := []webhook.Option{webhook.WithInsecure(set.InsecureWebhooks), webhook.WithObserver(m.Webhook)}
	for typ, secret := range set.Webhooks {
		opts = append(opts, webhook.WithSecret(typ, secret))
	}
	wh, err := webhook.NewHandler(sink, opts...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	mux.Handle(webhook.Path, wh) // no method in the pattern: the handler answers 405 and counts it
	mux.Handle("/", health.Handler())
	return mux, nil
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

// daemon runs the loop until SIGINT/SIGTERM. The first signal drains (the
// cycle under way finishes, up to f.grace); a second one, or the grace
// running out, stops hard (nothing is pushed after that).
func daemon(ctx context.Context, loop *reconcile.Loop, handler http.Handler, f *runFlags, interval time.Duration, log *logrus.Entry) error {
	if handler != nil {
		srv, err := server.Listen(f.listen, handler)
		if err != nil {
			return usagef("--listen: %w", err)
		}
		log.WithField("addr", srv.Addr().String()).Info("serving /healthz, /readyz, /metrics and " + webhook.Path)
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}
	runCtx, stop := onSignals(ctx, loop, f.grace, log)
	defer stop()
	log.WithField("interval", interval.String()).Info("watching")
	err := loop.Run(runCtx)
	if err != nil && ctx.Err() == nil && runCtx.Err() != nil {
		log.Warn("stopped before the cycle under way finished; nothing was pushed after the stop")
		return nil
	}
	log.Info("stopped")
	return err
}

// onSignals handles SIGINT and SIGTERM for the daemon: the first drains the
// loop and, after grace or a second signal, cancels the returned context
// (a hard stop). ctx ending counts as a first signal. Call stop when done.
func onSignals(ctx context.Context, loop *reconcile.Loop, grace time.Duration, log *logrus.Entry) (runCtx context.Context, stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case s := <-sigs:
			log.WithField("signal", s.String()).Info("stopping after the cycle under way; signal again to abandon it")
		case <-ctx.Done():
		case <-runCtx.Done():
			return
		}
		loop.Drain()
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
