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
// implicit one: of the commits after tagwatch's change that touched env's
// files (and are not tagwatch's change of this image), the oldest that
// removed a line holding the tag tagwatch wrote; else the oldest of them.
func (e *envRun) detect(commits []histCommit, env *plan.Environment, w *plan.Watch, current string) map[string]rollback.Found {
	above := func(a, b string) bool {
		return w.Policy.Select([]policy.Tag{{Name: a}}, policy.Current{Tag: b}).Decision == policy.Update
	}
	gap := func(after, tag string) (string, string) {
		var commit, author string
		var removed bool
		for _, c := range commits {
			if c.hash == after {
				break
			}
			files := touched(e.hist.repo, c, env, w)
			if len(files) == 0 {
				continue
			}
			// Older ones come later: the last kept is the oldest.
			if r := removesTag(e.hist.repo, c.hash, files, tag); r || !removed {
				commit, author, removed = c.hash, c.author, r
			}
		}
		return commit, author
	}
	return rollback.Detect(e.hist.events(env.Name, w.Key), current, above, gap)
}

// touched lists the files of env's watch of w that commit c changed,
// none when it is tagwatch's record of it.
func touched(repo Repo, c histCommit, env *plan.Environment, w *plan.Watch) []string {
	for _, r := range c.records {
		if r.Env == env.Name && plan.Normalize(r.Image) == w.Key {
			return nil
		}
	}
	files, err := repo.ChangedFiles(c.hash)
	if err != nil {
		return nil
	}
	dir := path.Clean(env.Path)
	helm := ""
	if w.Helm != nil {
		helm = path.Join(dir, w.Helm.File)
	}
	var out []string
	for _, f := range files {
		if dir == "." || strings.HasPrefix(f, dir+"/") || f == helm {
			out = append(out, f)
		}
	}
	return out
}

// removesTag reports whether commit hash removed, from one of files, a
// line holding tag as a whole word (newTag: 1.4.0, image: app:1.4.0).
func removesTag(repo Repo, hash string, files []string, tag string) bool {
	for _, f := range files {
		lines, err := repo.RemovedLines(hash, f)
		if err != nil {
			continue
		}
		for _, l := range lines {
			if holdsWord(l, tag) {
				return true
			}
		}
	}
	return false
}

// holdsWord reports whether s holds word between characters that cannot
// be part of a tag (or its ends).
func holdsWord(s, word string) bool {
	if word == "" {
		return false
	}
	for i := 0; ; {
		j := strings.Index(s[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		if (start == 0 || !tagByte(s[start-1])) && (end == len(s) || !tagByte(s[end])) {
			return true
		}
		i = start + 1
	}
}

func tagByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '.' || b == '_' || b == '-'
}
