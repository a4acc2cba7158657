package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
)

func init() { commands = append(commands, newHistoryCmd) }

type historyFlags struct {
	config   string
	repo     string
	env      string
	image    string
	output   string
	cacheDir string
}

func newHistoryCmd(g *globals) *cobra.Command {
	f := &historyFlags{}
	cmd := &cobra.Command{
		Use:   "history [--config FILE | --repo URL-or-DIR] [--env E] [--image I] [-o text|json]",
		Short: "Show what tagwatch changed, read back from the Git history",
		Long: `history reads the Tagwatch-Update trailers of the commits on the branch, newest
first, and prints one line per change: when, which environment and image, from
which tag to which, the image digest and the commit. Git is the record: nothing
but the repository is read.

The repository is the one of --config (its git.url, branch and credentials,
cloned in full into the cache), or --repo: a local clone or bare repository
(read in place, from its HEAD) or a URL (cloned into the cache, without
credentials). Without either, the current directory is read.`,
		Example: `  # the changes tagwatch made to the repository of a config
  tagwatch history --config tagwatch.yaml

  # one environment and image, from a local clone, for scripts
  tagwatch history --repo ./deploy --env production --image team/app -o json`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usagef("history takes no arguments, got %q (use --repo or --config)", args)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHistory(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.config, "config", "c", "", "config file (tagwatch.yaml): read the history of its git repository and branch")
	fl.StringVar(&f.repo, "repo", "", "a local clone, a bare repository or a repository URL (default: the current directory)")
	fl.StringVar(&f.env, "env", "", "only this environment")
	fl.StringVar(&f.image, "image", "", `only this image: the full repository or its last path elements ("app", "team/app")`)
	fl.StringVarP(&f.output, "output", "o", "text", "output format on stdout: text (a table) or json (an array)")
	fl.StringVar(&f.cacheDir, "cache-dir", "", "cache for clones of remote repositories (default: the user cache directory/tagwatch)")
	_ = cmd.MarkFlagFilename("config", "yaml", "yml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"text", "json"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func runHistory(cmd *cobra.Command, g *globals, f *historyFlags) error {
	if f.output != "text" && f.output != "json" {
		return usagef("-o: %q is not one of text, json", f.output)
	}
	if f.config != "" && f.repo != "" {
		return usagef("--config and --repo name the repository twice; give one")
	}
	src, err := openHistory(cmd, f)
	if err != nil {
		return err
	}
	if r, ok := src.(*gitrepo.Repo); ok {
		defer r.Close()
	}
	if r, ok := src.(*gitrepo.Repo); ok && isShallow(r.Dir()) && g.log != nil {
		g.log.WithField("repo", r.Dir()).Warn("the clone is shallow: history stops at its depth (git fetch --unshallow, or use --repo URL)")
	}
	entries, err := audit.History(cmd.Context(), src, audit.Filter{Env: f.env, Image: f.image})
	if err != nil {
		return err
	}
	if g.log != nil {
		g.log.WithFields(logrus.Fields{"repo": historyName(f), "changes": len(entries)}).Debug("history read")
	}
	out := cmd.OutOrStdout()
	if f.output == "json" {
		return audit.WriteJSON(out, entries)
	}
	if len(entries) == 0 && g.log != nil {
		g.log.WithField("repo", historyName(f)).Info("no tagwatch changes found (no Tagwatch-Update trailers on the branch)")
	}
	return audit.WriteTable(out, entries)
}

// openHistory opens the repository named by the flags for reading.
func openHistory(cmd *cobra.Command, f *historyFlags) (audit.LogSource, error) {
	ctx := cmd.Context()
	if f.config == "" {
		repo := f.repo
		if repo == "" {
			repo = "."
		}
		if st, err := os.Stat(repo); err == nil && st.IsDir() {
			r, err := gitrepo.OpenDir(repo)
			if err != nil {
				if f.repo == "" {
					return nil, usagef("%v; use --repo or --config", err)
				}
				return nil, err
			}
			return r, nil
		}
		dir, err := historyCacheDir(f.cacheDir)
		if err != nil {
			return nil, err
		}
		return gitrepo.Open(ctx, repo, gitrepo.WithDepth(0), gitrepo.WithCacheDir(dir))
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, usagef("%w", err)
	}
	dir, err := historyCacheDir(f.cacheDir)
	if err != nil {
		return nil, err
	}
	a := cfg.Git.Auth
	pw, err := cfg.Git.Password()
	if err != nil {
		return nil, usagef("%s: %w", f.config, err)
	}
	opts := []gitrepo.Option{
		gitrepo.WithDepth(0),
		gitrepo.WithCacheDir(dir),
		gitrepo.WithAuth(gitrepo.Auth{Username: a.Username, Password: pw, SSHKeyFile: a.SSHKeyFile, KnownHostsFile: a.KnownHostsFile}),
	}
	if cfg.Git.Branch != "" {
		opts = append(opts, gitrepo.WithBranch(cfg.Git.Branch))
	}
	return gitrepo.Open(ctx, cfg.Git.URL, opts...)
}

// historyCacheDir is where history clones remotes: apart from run's working
// copies, so that reading history never touches a copy a daemon is using.
func historyCacheDir(flag string) (string, error) {
	if flag == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			return "", usagef("no user cache directory (%v); set --cache-dir", err)
		}
		flag = filepath.Join(d, "tagwatch")
	}
	return filepath.Join(flag, "history"), nil
}

func historyName(f *historyFlags) string {
	switch {
	case f.config != "":
		return fmt.Sprintf("config %s", f.config)
	case f.repo != "":
		if u, err := url.Parse(f.repo); err == nil && u.User != nil {
			u.User = url.User(u.User.Username()) // never log a password
			return u.String()
		}
		return f.repo
	}
	return "."
}

// isShallow reports whether the clone at dir (working tree or bare) holds
// only part of the history.
func isShallow(dir string) bool {
	for _, p := range []string{filepath.Join(dir, ".git", "shallow"), filepath.Join(dir, "shallow")} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
