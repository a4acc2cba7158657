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
	"github.com/tagwatch/tagwatch/registry"
)

func init() { commands = append(commands, newPromoteCmd) }

func newPromoteCmd(g *globals) *cobra.Command {
	var insecure bool
	cmd := &cobra.Command{
		Use:   "promote IMAGE:TAG NEWTAG...",
		Short: "Retag an image in its registry and print its digest",
		Long: `promote writes the manifest (or index) behind IMAGE:TAG (or IMAGE@DIGEST)
under each NEWTAG in the same repository. No blob is copied. It prints the
digest on stdout. Watchers of those tags (tagwatch run) pick the change up on
their next cycle: promotion is retagging.

Credentials come from docker's config.json and credential helpers.`,
		Example: `  tagwatch promote registry.example.com/team/app:1.4.0-rc.2 1.4.0 stable`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usagef("promote: want IMAGE:TAG and at least one NEWTAG, got %d argument(s)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			src, tags := args[0], args[1:]
			ref, err := parseSourceRef(src)
			if err != nil {
				return usageError{err}
			}
			for _, t := range tags {
				if _, err := name.NewTag(ref.Context().Name()+":"+t, name.StrictValidation); err != nil {
					return usagef("promote: new tag %q: %v", t, err)
				}
			}
			var hosts []registry.Host
			if insecure {
				hosts = append(hosts, registry.Host{Prefix: ref.Context().RegistryStr(), Insecure: true})
			}
			c, err := newRegistryClient(g.log, hosts)
			if err != nil {
				return usageError{err}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt)
			defer stop()
			digest, err := c.Retag(ctx, src, tags...)
			if err != nil {
				return err
			}
			g.log.WithFields(logrus.Fields{"image": ref.Context().Name(), "from": ref.Identifier(), "to": strings.Join(tags, ","), "digest": digest}).
				Info("promoted")
			fmt.Fprintln(cmd.OutOrStdout(), digest)
			return nil
		},
	}
	cmd.Flags().BoolVar(&insecure, "insecure", false, "talk plain HTTP to the image's registry")
	return cmd
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
