package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/server"
	"github.com/tagwatch/tagwatch/registry"
)

func init() { commands = append(commands, newRunCmd) }

type runFlags struct {
	config   string
	once     bool
	dryRun   bool
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
	fl.StringVarP(&f.output, "output", "o", "text", "report format on stdout: text or json")
	fl.StringVar(&f.listen, "listen", "", "serve /healthz and /readyz on this address (e.g. :8080)")
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
	cfg, err := config.Load(f.config)
	if err != nil {
		return usagef("%w", err)
	}
	// Secrets are read again at each use; a missing one is a configuration
	// error now rather than a failed cycle later.
	if _, err := cfg.Git.Password(); err != nil {
		return usagef("%s: %w", f.config, err)
	}
	cacheDir, err := cacheDir(f.cacheDir)
	if err != nil {
		return err
	}
	log := logrus.NewEntry(g.log)
	rec, err := newReconciler(cfg, cacheDir, log)
	if err != nil {
		if errors.Is(err, reconcile.ErrConfig) {
			return usagef("%s: %w", f.config, err)
		}
		return err
	}
	out := cmd.OutOrStdout()
	if f.once && f.listen != "" {
		log.Warn("--listen is ignored with --once: health endpoints are for the daemon")
	}
	if f.once {
		ctx, cancel := withTimeout(cmd.Context(), f.timeout)
		defer cancel()
		rep, err := rec.Cycle(ctx, reconcile.DryRun(f.dryRun))
		if werr := writeReport(out, f.output, rep, f.dryRun); werr != nil {
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
	return daemon(cmd.Context(), rec, cfg, f, out, log)
}

// withTimeout bounds a cycle; d <= 0 means no limit.
func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d <= 0 {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, d)
}

// newReconciler wires the registry client and the loop for cfg.
func newReconciler(cfg *config.Config, cacheDir string, log *logrus.Entry) (*reconcile.Reconciler, error) {
	client, err := registry.New(registry.WithHosts(reconcile.Hosts(cfg)...), registry.WithCacheDir(filepath.Join(cacheDir, "registry")))
	if err != nil {
		return nil, fmt.Errorf("%w: registries: %w", reconcile.ErrConfig, err)
	}
	return reconcile.New(cfg, client, reconcile.WithLogger(log), reconcile.WithCacheDir(filepath.Join(cacheDir, "git")))
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

func writeReport(w io.Writer, format string, rep reconcile.Report, dryRun bool) error {
	if format == "json" {
		return json.NewEncoder(w).Encode(rep)
	}
	return rep.WriteText(w, dryRun)
}

// daemon runs a cycle every interval until SIGINT/SIGTERM. The first signal
// lets the cycle under way finish (up to f.grace); a second one abandons it.
func daemon(ctx context.Context, rec *reconcile.Reconciler, cfg *config.Config, f *runFlags, out io.Writer, log *logrus.Entry) error {
	interval := cfg.Interval.Duration
	if interval <= 0 {
		interval = 2 * time.Minute
	}
	health := server.NewHealth(3 * interval)
	if f.listen != "" {
		srv, err := server.Listen(f.listen, health.Handler())
		if err != nil {
			return usagef("--listen: %w", err)
		}
		log.WithField("addr", srv.Addr().String()).Info("serving /healthz and /readyz")
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
	}

	stopping, cycleCtx, abandon := onSignals(ctx, f.grace, log)
	defer abandon()

	log.WithField("interval", interval.String()).Info("watching")
	for {
		ctx, cancel := withTimeout(cycleCtx, f.timeout)
		rep, err := rec.Cycle(ctx, reconcile.DryRun(f.dryRun))
		cancel()
		if err != nil {
			log.WithError(err).Error("cycle failed")
		}
		if cycleCtx.Err() == nil {
			health.Cycle(err)
			// JSON: one report per cycle; text: only cycles that did something.
			quiet := f.output == "text" && len(rep.Changes)+len(rep.Held)+len(rep.Errors) == 0
			if !quiet {
				if werr := writeReport(out, f.output, rep, f.dryRun); werr != nil {
					log.WithError(werr).Error("writing the report")
				}
			}
		}
		select {
		case <-stopping:
			log.Info("stopped")
			return nil
		case <-time.After(interval):
		}
	}
}

// onSignals handles SIGINT and SIGTERM for the daemon: the first closes
// stopping (no new cycle starts) and, after grace or a second signal,
// cancels cycleCtx (the cycle under way is abandoned). ctx ending counts
// as a first signal. Call abandon when done.
func onSignals(ctx context.Context, grace time.Duration, log *logrus.Entry) (stopping <-chan struct{}, cycleCtx context.Context, abandon func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	stop := make(chan struct{})
	cycleCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		select {
		case s := <-sigs:
			log.WithField("signal", s.String()).Info("stopping after the cycle under way; signal again to abandon it")
		case <-ctx.Done():
		case <-cycleCtx.Done():
			return
		}
		close(stop)
		select {
		case <-sigs:
			log.Warn("abandoning the cycle under way")
		case <-time.After(grace):
		case <-cycleCtx.Done():
			return
		}
		cancel()
	}()
	return stop, cycleCtx, func() { signal.Stop(sigs); cancel() }
}
