package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/promote"
	"github.com/tagwatch/tagwatch/registry"
)

type promoteFlags struct {
	insecure, force, dryRun bool
	config                  string
}

func newPromoteCmd(g *globals) *cobra.Command {
	f := &promoteFlags{}
	cmd := &cobra.Command{
		Use:   "promote SRC NEWTAG... [--force] [--dry-run] [--config FILE | --insecure]",
		Short: "Give an image new tags, in its repository or another, and print its digest",
		Long: `promote writes the image (or multi-platform index) behind SRC (IMAGE:TAG or
IMAGE@DIGEST) under each NEWTAG and prints its digest on stdout. A NEWTAG is
a tag of SRC's repository (1.4.0: a retag, one manifest written, no blob
copied) or a repository with its tag (registry.example.com/prod/app:1.4.0:
a copy by digest, every platform, and the signatures, attestations and SBOMs
attached to it, cosign's tags and OCI referrers; the tag is written last).
Watchers of those tags (tagwatch run) pick the change up: promotion is
retagging.

A NEWTAG that already points at another image is not moved: promote then
writes nothing, shows both digests and exits 1; --force moves it. A NEWTAG
already pointing at the image is left as it is. --dry-run says what would
happen and writes nothing.

Credentials and TLS come from --config (registries[]: credentials, caFile,
insecure), else from docker's config.json and credential helpers.`,
		Example: `  tagwatch promote registry.example.com/team/app:1.4.0-rc.2 1.4.0 stable
  tagwatch promote staging.example.com/team/app:1.4.0-rc.2 prod.example.com/team/app:1.4.0 --config tagwatch.yaml
  tagwatch promote registry.example.com/team/app:1.4.1 stable --dry-run`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("promote: want SRC and at least one NEWTAG, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPromote(cmd, g, f, args[0], args[1:])
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.force, "force", false, "move a NEWTAG that points at another image")
	fl.BoolVar(&f.dryRun, "dry-run", false, "say what would be written, and write nothing")
	fl.StringVarP(&f.config, "config", "c", "", "tagwatch.yaml to take registry settings (credentials, caFile, insecure) from")
	fl.BoolVar(&f.insecure, "insecure", false, "talk plain HTTP to the registries of SRC and NEWTAG")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	return cmd
}

func runPromote(cmd *cobra.Command, g *globals, f *promoteFlags, src string, newTags []string) error {
	if f.config != "" && f.insecure {
		return usagef("--config and --insecure exclude each other: set insecure for the registry in the config")
	}
	if _, err := parseSourceRef(src); err != nil {
		return usageError{err}
	}
	dsts, err := promote.Destinations(src, newTags)
	if err != nil {
		return usagef("promote: %v", err)
	}
	hosts, err := promoteHosts(f, src, dsts)
	if err != nil {
		return err
	}
	c, err := newRegistryClient(g.log, hosts)
	if err != nil {
		return usageError{err}
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
	defer stop()
	res, err := promote.Promote(ctx, c, src, dsts, promote.Options{Force: f.force, DryRun: f.dryRun})
	for _, s := range res.Steps {
		logStep(g.log, res, s, f.dryRun, err != nil)
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), res.Digest)
	return nil
}

// logStep tells what happened (or, in a dry run or after a refusal, would
// have) to one destination.
func logStep(log *logrus.Logger, res promote.Result, s promote.Step, dryRun, failed bool) {
	e := log.WithFields(logrus.Fields{"image": res.Src, "to": s.Dst, "digest": res.Digest})
	if s.Before != "" {
		e = e.WithField("before", s.Before)
	}
	if len(s.Copied) > 0 {
		e = e.WithField("attached", strings.Join(s.Copied, ","))
	}
	would := dryRun || failed
	switch {
	case s.Action == promote.Refuse:
		e.Error("refused: the tag points at another image")
	case s.Action == promote.Unchanged:
		e.Info("unchanged: the tag already points at the image")
	case s.Action == promote.Move && would:
		e.Warn("would move the tag from another image")
	case s.Action == promote.Move:
		e.Warn("moved the tag from another image (--force)")
	case would:
		e.Info("would promote")
	case s.Done:
		e.Info("promoted")
	}
}

// promoteHosts are the registry settings: the config's, or plain HTTP to
// every registry involved with --insecure.
func promoteHosts(f *promoteFlags, src string, dsts []string) ([]registry.Host, error) {
	switch {
	case f.config != "":
		cfg, err := config.Load(f.config)
		if err != nil {
			return nil, usageError{err}
		}
		return plan.Hosts(cfg), nil
	case f.insecure:
		seen := map[string]bool{}
		var hosts []registry.Host
		for _, r := range append([]string{src}, dsts...) {
			ref, err := name.ParseReference(r)
			if err != nil {
				return nil, usagef("%q: %v", r, err)
			}
			if reg := ref.Context().RegistryStr(); !seen[reg] {
				seen[reg] = true
				hosts = append(hosts, registry.Host{Prefix: reg, Insecure: true})
			}
		}
		return hosts, nil
	}
	return nil, nil
}

// parseSourceRef parses IMAGE:TAG or IMAGE@DIGEST; the tag or digest must be given.
func parseSourceRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", s, err)
	}
	if _, isTag := ref.(name.Tag); isTag {
		last := s[strings.LastIndex(s, "/")+1:]
		if !strings.Contains(last, ":") {
			return nil, fmt.Errorf("image %q: give the tag to promote (IMAGE:TAG or IMAGE@DIGEST)", s)
		}
	}
	return ref, nil
}

// newRegistryClient builds the registry client of a command with the given
// host settings and the metadata cache under the user's cache directory
// ($XDG_CACHE_HOME/tagwatch/registry); without a usable cache directory it
// runs uncached.
func newRegistryClient(log *logrus.Logger, hosts []registry.Host) (*registry.Client, error) {
	v, _ := buildVersion()
	opts := []registry.Option{registry.WithHosts(hosts...), registry.WithUserAgent("tagwatch/" + v)}
	if dir, err := os.UserCacheDir(); err == nil {
		dir = filepath.Join(dir, "tagwatch", "registry")
		if c, err := registry.New(append(opts, registry.WithCacheDir(dir))...); err == nil {
			return c, nil
		} else if log != nil {
			log.WithError(err).Warn("registry metadata cache disabled")
		}
	}
	return registry.New(opts...)
}
