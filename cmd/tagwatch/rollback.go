package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/kube"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/registry"
)

type rollbackFlags struct {
	config, env, to, output, cacheDir string
	application, kubeconfig           string
	clear, dryRun                     bool
}

func newRollbackCmd(g *globals) *cobra.Command {
	f := &rollbackFlags{}
	cmd := &cobra.Command{
		Use:   "rollback --config FILE (--env ENV | --application NS/NAME) IMAGE [--to TAG] [--clear] [--dry-run]",
		Short: "Roll an image of an environment back, and keep tagwatch from taking it again",
		Long: `rollback makes one commit moving IMAGE in ENV back to the value it held before
tagwatch's last change of it (read from the audit trailers), or to --to, and
pushes it like any change. Its Tagwatch-Rollback trailer names the digest
rolled back: tagwatch never takes that digest again in ENV, nor in the
environments promoted from ENV, under any tag, until the rollback is cleared.
A newer image (another digest) moves ENV again as usual.

A rollback by hand (a commit that moves the value down, or git revert of
tagwatch's commit) counts the same; rollback only makes it explicit.

--clear lifts the rollbacks of IMAGE in ENV: one commit, changing no file,
with a Tagwatch-Rollback-Cleared trailer per digest.

In Kubernetes mode, --application NS/NAME names the environment by its Argo
CD Application (--kubeconfig: the cluster).`,
		Example: `  # production back to what it ran before tagwatch's last change
  tagwatch rollback --config tagwatch.yaml --env production registry.example.com/team/app

  # to a given tag, looking first
  tagwatch rollback --config tagwatch.yaml --env production app --to 1.3.2 --dry-run

  # the fix is out under another digest anyway; or lift the rollback by hand
  tagwatch rollback --config tagwatch.yaml --env production app --clear

  # Kubernetes mode: the environment of an Argo CD Application
  tagwatch rollback --config tagwatch.yaml --application argocd/production app`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usagef("rollback: want one IMAGE, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runRollback(cmd, g, f, args[0]) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "config file (tagwatch.yaml)")
	fl.StringVar(&f.env, "env", "", "the environment to roll back")
	fl.StringVar(&f.application, "application", "", "Kubernetes mode: the Argo CD Application (NAMESPACE/NAME) whose environment to roll back, instead of --env")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "with --application: the kubeconfig of the cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	fl.StringVar(&f.to, "to", "", "the tag to go back to (default: the value before tagwatch's last change)")
	fl.BoolVar(&f.clear, "clear", false, "lift the rollbacks of IMAGE in ENV instead")
	fl.BoolVar(&f.dryRun, "dry-run", false, "say what would be committed, and commit nothing")
	fl.StringVarP(&f.output, "output", "o", "text", "report format on stdout: text or json")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "cache for the git working copy and registry metadata (default: the user cache directory/tagwatch)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func runRollback(cmd *cobra.Command, g *globals, f *rollbackFlags, image string) error {
	switch {
	case f.config == "" && f.application == "":
		return usagef("--config is required")
	case f.env == "" && f.application == "":
		return usagef("--env (or --application) is required")
	case f.env != "" && f.application != "":
		return usagef("--env and --application: give one")
	case f.clear && f.to != "":
		return usagef("--clear and --to: give one")
	case f.output != "text" && f.output != "json":
		return usagef("-o: %q is not one of text, json", f.output)
	}
	var set *plan.Set
	var targets reconcile.Targets
	var extra []registry.Option
	if f.application != "" {
		ns, _, err := splitApplication(f.application)
		if err != nil {
			return err
		}
		if set, err = kubeSet(cmd.Context(), f.config); err != nil {
			return err
		}
		km, err := startKube(cmd.Context(), set, f.kubeconfig, logrus.NewEntry(g.log), kube.EventsOff, ns)
		if err != nil {
			return err
		}
		defer km.src.Stop()
		if f.env, err = km.applicationEnv(f.application); err != nil {
			return err
		}
		targets, extra = km.src, km.registryOptions()
	} else {
		cfg, err := config.Load(f.config)
		if err != nil {
			return usagef("%w", err)
		}
		if set, err = plan.FromConfig(cfg); err != nil {
			return usagef("%w", err)
		}
		targets = reconcile.Static(set.Plans)
	}
	dir, err := cacheDir(f.cacheDir)
	if err != nil {
		return err
	}
	client, err := newClient(set, dir, registryObserver{log: logrus.NewEntry(g.log)}, extra...)
	if err != nil {
		return usagef("%s: registries: %w", f.config, err)
	}
	loop, err := reconcile.New(client, targets, reconcile.WithLogger(logrus.NewEntry(g.log)),
		reconcile.WithCacheDir(filepath.Join(dir, "git")))
	if err != nil {
		return err
	}
	rep, err := loop.Rollback(cmd.Context(), reconcile.RollbackRequest{Env: f.env, Image: image, To: f.to, Clear: f.clear, DryRun: f.dryRun})
	if errors.Is(err, reconcile.ErrNothingToRollBack) || errors.Is(err, reconcile.ErrAmbiguousImage) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.output == "json" {
		return json.NewEncoder(out).Encode(rep)
	}
	verb := map[bool]string{false: "rolled back", true: "would roll back"}[f.dryRun]
	for _, c := range rep.Changes {
		if f.clear {
			verb = map[bool]string{false: "cleared", true: "would clear"}[f.dryRun]
			_, err = fmt.Fprintf(out, "%s %s: %s: %s\n", verb, c.Env, c.Image, c.Reason)
		} else {
			_, err = fmt.Fprintf(out, "%s %s: %s %s -> %s (%s will not be taken again)\n", verb, c.Env, c.Image, c.From, c.To, orDash(c.Digest))
		}
		switch {
		case c.PullRequest != "":
			_, err = fmt.Fprintf(out, "proposed in %s (branch %s): it takes effect once merged\n", c.PullRequest, c.Branch)
		case c.Branch != "":
			_, err = fmt.Fprintf(out, "on branch %s\n", c.Branch)
		}
	}
	for _, c := range rep.Commits {
		_, err = fmt.Fprintf(out, "commit %s\n", c)
	}
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
