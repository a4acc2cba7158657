package main

import (
	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/internal/demo"
)

func newDemoCmd(g *globals) *cobra.Command {
	var keep string
	cmd := &cobra.Command{
		Use:   "demo [--keep DIR]",
		Short: "Play a full promotion on an embedded registry and git repository",
		Long: `demo needs no setup and no network. It starts a container registry inside the
process and a git repository on disk with a staging and a production
environment, then runs tagwatch's real loop through a promotion: 1.0.0 is
pushed (both environments follow), 1.1.0-rc.1 is pushed (staging follows,
production holds: it takes stable versions only), 1.1.0-rc.1 is promoted to
1.1.0 (production follows). It ends with the audit history read from Git.`,
		Example: `  go run ./cmd/tagwatch demo
  tagwatch demo --keep /tmp/tagwatch-demo   # keep the git repository to look at`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// The story goes to stdout; the loop's logs only when asked for.
			if !cmd.Flags().Changed("log-level") {
				g.log.SetLevel(logrus.WarnLevel)
			}
			return demo.Run(cmd.Context(), cmd.OutOrStdout(), demo.Options{Keep: keep, Log: logrus.NewEntry(g.log)})
		},
	}
	cmd.Flags().StringVar(&keep, "keep", "", "keep the git repository in `DIR` (created; must be empty)")
	_ = cmd.MarkFlagDirname("keep")
	return cmd
}
