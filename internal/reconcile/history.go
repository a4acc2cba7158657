package reconcile

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/rollback"
	"github.com/tagwatch/tagwatch/policy"
)

// history is a repository's commits as one cycle read them, newest first,
// with the tagwatch records of each: what promotion gates and rollbacks
// are decided from. It is read at most once per repository per cycle, and
// only when a gate or a move needs it.
type history struct {
	repo     Repo
	limit    int
	once     sync.Once
	commits  []histCommit
	complete bool // the walk reached the first commit
	err      error
	// byKey indexes the records by environment and image, newest first.
	byKey map[runKey][]rollback.Event
}

type histCommit struct {
	hash    string
	when    time.Time
	author  string
	records []audit.Record
}

// read walks the history once (up to the limit) and returns it.
func (h *history) read(ctx context.Context) ([]histCommit, error) {
	h.once.Do(func() {
		h.complete, h.err = h.repo.Walk(ctx, h.limit, func(ci gitrepo.CommitInfo) error {
			h.commits = append(h.commits, histCommit{hash: ci.Hash, when: ci.When, author: ci.Author.Name, records: audit.ParseRecords(ci.Message)})
			return nil
		})
		if h.err != nil {
			h.err = fmt.Errorf("reading the history of the repository: %w", h.err)
		}
		h.byKey = map[runKey][]rollback.Event{}
		for _, c := range h.commits {
			for _, r := range c.records {
				k := runKey{r.Env, plan.Normalize(r.Image)}
				h.byKey[k] = append(h.byKey[k], rollback.Event{Kind: r.Kind, From: r.From, To: r.To, Digest: r.Digest, Commit: c.hash, Author: c.author})
			}
		}
	})
	return h.commits, h.err
}

// events are the records of env's image, newest first.
func (h *history) events(env, image string) []rollback.Event { return h.byKey[runKey{env, image}] }

// rolledBack returns the digests env must not take for w: those rolled
// back in env (current is its value in Git) and, for a gated environment,
// in every environment up its promotion chain.
func (e *envRun) rolledBack(ctx context.Context, w *plan.Watch, current string) (map[string]rollback.Found, error) {
	commits, err := e.hist.read(ctx)
	if err != nil {
		return nil, err
	}
	out := e.detect(commits, e.env, w, current)
	seen := map[string]bool{e.env.Name: true}
	for g := e.env.Gate; g != nil && !seen[g.From]; {
		seen[g.From] = true
		from := e.full.Env(g.From)
		if from == nil {
			break
		}
		cur, _ := e.prom.current[runKey{from.Name, w.Key}]
		for d, f := range e.detect(commits, from, w, cur) {
			if _, dup := out[d]; !dup {
				f.Env = from.Name
				out[d] = f
			}
		}
		g = from.Gate
	}
	return out, nil
}

// detect finds the rollbacks of w in env, naming the foreign commit of an
// implicit one: the oldest commit after tagwatch's change that touched
// env's files and is not tagwatch's change of this image.
func (e *envRun) detect(commits []histCommit, env *plan.Environment, w *plan.Watch, current string) map[string]rollback.Found {
	above := func(a, b string) bool {
		return w.Policy.Select([]policy.Tag{{Name: a}}, policy.Current{Tag: b}).Decision == policy.Update
	}
	gap := func(after string) (string, string) {
		var commit, author string
		for _, c := range commits {
			if c.hash == after {
				break
			}
			if touches(e.hist.repo, c, env, w) {
				commit, author = c.hash, c.author // older ones come later: the last kept is the oldest
			}
		}
		return commit, author
	}
	return rollback.Detect(e.hist.events(env.Name, w.Key), current, above, gap)
}

// touches reports whether commit c changed a file of env's watch of w
// without being tagwatch's record of it.
func touches(repo Repo, c histCommit, env *plan.Environment, w *plan.Watch) bool {
	for _, r := range c.records {
		if r.Env == env.Name && plan.Normalize(r.Image) == w.Key {
			return false
		}
	}
	files, err := repo.ChangedFiles(c.hash)
	if err != nil {
		return false
	}
	dir := path.Clean(env.Path)
	helm := ""
	if w.Helm != nil {
		helm = path.Join(dir, w.Helm.File)
	}
	for _, f := range files {
		if dir == "." || strings.HasPrefix(f, dir+"/") || f == helm {
			return true
		}
	}
	return false
}
