package main

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/plan"
)

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
	srcs, err := openHistory(cmd, f)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		if r, ok := s.src.(*gitrepo.Repo); ok {
			defer r.Close()
		}
	}
	var entries []audit.Entry
	for _, s := range srcs {
		if r, ok := s.src.(*gitrepo.Repo); ok && isShallow(r.Dir()) && g.log != nil {
			g.log.WithField("repo", r.Dir()).Warn("the clone is shallow: history stops at its depth (git fetch --unshallow, or use --repo URL)")
		}
		es, err := audit.History(cmd.Context(), s.src, audit.Filter{Env: f.env, Image: f.image})
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		for i := range es {
			es[i].Repository = s.name
		}
		entries = append(entries, es...)
	}
	// Newest first across repositories; within one, in the order read.
	slices.SortStableFunc(entries, func(a, b audit.Entry) int { return b.Time.Compare(a.Time) })
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

// historySource is one repository history reads, by its display name.
type historySource struct {
	name string
	src  audit.LogSource
}

// openHistory opens the repositories named by the flags for reading: the
// one of --repo (or the current directory), or every repository of --config.
func openHistory(cmd *cobra.Command, f *historyFlags) ([]historySource, error) {
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
			return []historySource{{repo, r}}, nil
		}
		dir, err := historyCacheDir(f.cacheDir)
		if err != nil {
			return nil, err
		}
		r, err := gitrepo.Open(ctx, repo, gitrepo.WithDepth(0), gitrepo.WithCacheDir(dir))
		if err != nil {
			return nil, err
		}
		return []historySource{{gitrepo.Redact(repo), r}}, nil
	}
	cfg, err := config.Load(f.config)
	if err != nil {
		return nil, usagef("%w", err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		return nil, usagef("%w", err)
	}
	dir, err := historyCacheDir(f.cacheDir)
	if err != nil {
		return nil, err
	}
	var out []historySource
	for _, p := range set.Plans {
		opts, err := p.Repo.Options(ctx)
		if err != nil {
			return nil, usagef("%s: %s: %w", f.config, p.Repo.Display(), err)
		}
		r, err := gitrepo.Open(ctx, p.Repo.URL, append(opts, gitrepo.WithDepth(0), gitrepo.WithCacheDir(dir))...)
		if err != nil {
			return nil, err
		}
		out = append(out, historySource{p.Repo.Display(), r})
	}
	return out, nil
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
