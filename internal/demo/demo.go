// Package demo plays tagwatch's main job on an embedded setup: an
// in-process registry and a local git repository with a staging and a
// production overlay, then a real promotion through the same reconcile loop
// as `tagwatch run`, told step by step for a newcomer.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/registry"
)

// Options configure Run.
type Options struct {
	// Keep is a directory to keep the git repository (and caches) in; it
	// must not exist or be empty. "" uses a temporary directory removed at the end.
	Keep string
	// Log receives the loop's logs; nil discards them.
	Log *logrus.Entry
}

// Run plays the demo, writing the story to w.
func Run(ctx context.Context, w io.Writer, o Options) error {
	dir, cleanup, err := workDir(o.Keep)
	if err != nil {
		return err
	}
	defer cleanup()
	s, stop, err := setup(ctx, w, dir, o.Log)
	if err != nil {
		return err
	}
	defer stop()
	return s.play(o.Keep != "")
}

// setup starts the registry and the Git host, seeds the repository and
// builds the reconcile loop from the embedded config.
func setup(ctx context.Context, w io.Writer, dir string, log *logrus.Entry) (*story, func(), error) {
	if log == nil {
		l := logrus.New()
		l.SetOutput(io.Discard)
		log = logrus.NewEntry(l)
	}
	regSrv, host := startRegistry()
	s := &story{w: w, ctx: ctx, repo: host + "/demo/app", host: host, last: map[string]string{}, dir: dir}
	s.bare = filepath.Join(dir, "deploy.git")
	vars := map[string]string{"REGISTRY": host}
	if err := newRepo(s.bare, filepath.Join(dir, "seed"), vars); err != nil {
		regSrv.Close()
		return nil, nil, fmt.Errorf("creating the demo repository: %w", err)
	}
	_ = os.RemoveAll(filepath.Join(dir, "seed"))
	gitSrv, gitURL, err := serveGit(filesystem.NewStorage(osfs.New(s.bare), cache.NewObjectLRUDefault()))
	if err != nil {
		regSrv.Close()
		return nil, nil, err
	}
	stop := func() { gitSrv.Close(); regSrv.Close() }
	s.gitURL, vars["GIT"] = gitURL, gitURL
	raw, err := files.ReadFile("tagwatch.yaml")
	if err != nil {
		stop()
		return nil, nil, err
	}
	cfg, err := config.Parse("demo tagwatch.yaml", expand(raw, vars))
	if err != nil {
		stop()
		return nil, nil, fmt.Errorf("the embedded config: %w", err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		stop()
		return nil, nil, err
	}
	client, err := registry.New(registry.WithHosts(set.Hosts...), registry.WithCacheDir(filepath.Join(dir, "cache", "registry")))
	if err != nil {
		stop()
		return nil, nil, err
	}
	s.rec, err = reconcile.New(client, reconcile.Static(set.Plans), reconcile.WithLogger(log), reconcile.WithCacheDir(filepath.Join(dir, "cache", "git")),
		reconcile.WithGitOptions(gitrepo.WithDepth(0))) // the in-process Git host serves full clones only
	if err != nil {
		stop()
		return nil, nil, err
	}
	return s, stop, nil
}

// play tells the story.
func (s *story) play(kept bool) error {
	host, bare, gitURL, w, ctx := s.host, s.bare, s.gitURL, s.w, s.ctx
	s.say(`tagwatch demo: one image, two environments, one promotion, all on this machine.

tagwatch watches a container registry and keeps the image tags of your
environments, stored in Git, up to date, each under its own policy. Every
change is a commit that says what changed and why.

The setup
  registry     %s (in this process; the image is %s)
  git          %s (served from this process, like a Git host;
               the repository is %s)
  environments, one folder each on branch main, both overlays of base/:
    staging     envs/staging     semver ">=1.0.0-0"  any version from 1.0.0 on, release candidates too
    production  envs/production  semver ">=1.0.0"    stable versions only
  both start at 0.9.0.
`, host, s.repo, gitURL, bare)

	steps := []struct {
		title, explain string
		act            func() error
	}{
		{
			"Step 1. CI builds version 1.0.0 and pushes it to the registry.",
			"1.0.0 is stable and newer than 0.9.0, so both environments take it.",
			func() error { return s.push("1.0.0") },
		},
		{
			"Step 2. CI pushes 1.1.0-rc.1, a release candidate.",
			"Staging takes release candidates; production waits for a stable version.",
			func() error { return s.push("1.1.0-rc.1") },
		},
		{
			"Step 3. The candidate passed its tests in staging, so someone promotes it:\n" +
				"          tagwatch promote " + s.repo + ":1.1.0-rc.1 1.1.0\n" +
				"        Promotion adds the tag 1.1.0 to the very same image (no rebuild, same digest).",
			"Production takes 1.1.0 now. So does staging: 1.1.0 ranks above 1.1.0-rc.1.",
			func() error { return s.promote("1.1.0-rc.1", "1.1.0") },
		},
	}
	for _, st := range steps {
		s.say("\n%s\n", st.title)
		if err := st.act(); err != nil {
			return err
		}
		if err := s.cycle(); err != nil {
			return err
		}
		s.say("  %s\n", st.explain)
	}

	s.say("\nThis is production's commit of step 3, as Git keeps it: one line changed,\nand a message saying what and why.\n\n")
	if err := writeCommit(w, bare, s.last["production"]); err != nil {
		return fmt.Errorf("reading the commit: %w", err)
	}
	s.say(`
Git is the record. Every commit carries a Tagwatch-Update trailer per change,
and "tagwatch history" reads them back, from Git alone:

`)
	if err := writeHistory(ctx, w, gitURL, filepath.Join(s.dir, "cache", "history")); err != nil {
		return fmt.Errorf("reading history: %w", err)
	}
	if kept {
		s.say(`
The repository is kept in %s. Look around:
  git -C %s log --stat
  git clone %s deploy && cat deploy/envs/production/kustomization.yaml
  tagwatch history --repo file://%s
(The registry and the Git host are gone: they lived in this process.)
`, bare, bare, bare, bare)
	} else {
		s.say("\nEverything lived in a temporary directory, removed now; keep it with --keep DIR.\n")
	}
	s.say(`
Next: point tagwatch at your own registry and repository with a tagwatch.yaml
(see README.md), check it with "tagwatch run --config tagwatch.yaml --once --dry-run",
then run "tagwatch run --config tagwatch.yaml".
`)
	return s.err
}

// story runs the steps and prints what happened.
type story struct {
	w      io.Writer
	ctx    context.Context
	rec    *reconcile.Loop
	repo   string // the image repository
	host   string // the registry
	bare   string // the repository on disk
	gitURL string // the repository served
	dir    string
	last   map[string]string // env → its latest commit
	err    error
}

func (s *story) say(format string, args ...any) {
	if s.err == nil {
		_, s.err = fmt.Fprintf(s.w, format, args...)
	}
}

func (s *story) push(tag string) error {
	d, err := pushImage(s.ctx, s.repo, tag)
	if err != nil {
		return err
	}
	s.say("  pushed %s:%s (%s)\n", s.repo, tag, short(d))
	return nil
}

func (s *story) promote(from, to string) error {
	client, err := registry.New(registry.WithHosts(registry.Host{Prefix: strings.SplitN(s.repo, "/", 2)[0], Insecure: true}))
	if err != nil {
		return err
	}
	d, err := client.Retag(s.ctx, s.repo+":"+from, to)
	if err != nil {
		return fmt.Errorf("promoting %s to %s: %w", from, to, err)
	}
	s.say("  tagged %s:%s (%s)\n", s.repo, to, short(d))
	return nil
}

// cycle runs one reconcile cycle, exactly as `tagwatch run --once` does.
func (s *story) cycle() error {
	rep, err := s.rec.Cycle(s.ctx)
	if err != nil {
		return err
	}
	if rep.Failed() {
		return fmt.Errorf("the cycle failed: %v", rep.Errors)
	}
	s.say("  tagwatch runs one cycle:\n")
	moved := map[string]bool{}
	for _, c := range rep.Changes {
		moved[c.Env] = true
		s.last[c.Env] = c.Commit
		s.say("    %-11s %-22s commit %s\n", c.Env, c.From+" -> "+c.To, short(c.Commit))
	}
	for _, c := range rep.Held {
		moved[c.Env] = true
		s.say("    %-11s stays at %s (its best candidate %s ranks lower)\n", c.Env, c.From, c.To)
	}
	for _, env := range []string{"staging", "production"} {
		if !moved[env] {
			s.say("    %-11s no change: nothing newer satisfies its policy\n", env)
		}
	}
	return nil
}

// short abbreviates a commit hash or digest for people.
func short(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// workDir is keep (created, must be empty) or a temporary directory.
func workDir(keep string) (string, func(), error) {
	if keep == "" {
		d, err := os.MkdirTemp("", "tagwatch-demo-")
		if err != nil {
			return "", nil, err
		}
		return d, func() { os.RemoveAll(d) }, nil
	}
	abs, err := filepath.Abs(keep)
	if err != nil {
		return "", nil, err
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", nil, fmt.Errorf("--keep: %w", err)
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return "", nil, fmt.Errorf("--keep: %w", err)
	}
	if len(ents) > 0 {
		return "", nil, fmt.Errorf("--keep %s: the directory is not empty", keep)
	}
	return abs, func() {}, nil
}
