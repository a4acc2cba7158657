package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// envRun is one environment in one cycle. apply may run more than once
// (after a rejected push); each run starts over from what it reads.
type envRun struct {
	c    *cycle
	env  *plan.Environment
	full *plan.Plan // every environment of the repository (promotion chains)
	repo string     // the repository's display URL, for the report
	log  *logrus.Entry

	// conflicts are the fields this environment shares with another: it
	// writes none of them.
	conflicts map[writeback.Field][]string
	// prom is what a gated environment knows of its from environment.
	prom *promotions
	// hist is the repository's history, read when a move needs it.
	hist *history

	// Outcome of the latest apply.
	changes []audit.Change
	held    []Change
	errs    []Error
	commit  string // set by publish
}

// apply is the environment's gitrepo.Edit: read the current values in dir,
// choose, write, and return the audit message and changed files.
func (e *envRun) apply(ctx context.Context, dir string) (string, []string, error) {
	env := e.env
	e.changes, e.held, e.errs = nil, nil, nil
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(env.Path))); err != nil || !fi.IsDir() {
		e.fail(nil, StageWriteback, fmt.Errorf("path %s: %w", env.Path, errNoFolder))
		return "", nil, nil
	}
	kfile := writeback.KustomizationFile(dir, env.Path)
	var files []string
	for _, w := range env.Watches {
		changed, stage, err := e.applyImage(ctx, dir, kfile, w)
		files = append(files, changed...)
		if err != nil {
			e.fail(w, stage, err)
		}
	}
	if len(e.changes) == 0 {
		return "", nil, nil
	}
	slices.Sort(files)
	return audit.Message(env.Name, e.changes), slices.Compact(files), nil
}

// errNoFolder is an environment whose path is not a folder of the repository.
var errNoFolder = errors.New("not a directory of the repository")

// fail records an error of the environment (w nil) or of one of its images.
func (e *envRun) fail(w *plan.Watch, stage string, err error) {
	ent := Error{Repository: e.repo, Env: e.env.Name, Error: err.Error(), Err: err, Stage: stage}
	log := e.log.WithField("env", e.env.Name)
	if w != nil {
		ent.Image = w.Image
		log = log.WithField("image", w.Image)
	}
	e.errs = append(e.errs, ent)
	if w == nil {
		log.WithError(err).Warn("environment skipped")
	} else {
		log.WithError(err).Warn("image skipped")
	}
}

// located is a target that exists in the tree, with its current value.
type located struct {
	t    writeback.Target
	file string
	cur  writeback.Image
}

// targets are the places w is written in env: the kustomization (when the
// environment has one), the Helm values file (when configured) and markers.
func targets(env *plan.Environment, kfile string, w *plan.Watch) []located {
	var ts []located
	if kfile != "" {
		ts = append(ts, located{t: writeback.Target{Kind: writeback.Kustomize, Path: env.Path, Name: w.Name()}, file: kfile})
	}
	if h := w.Helm; h != nil {
		f := path.Join(env.Path, h.File)
		ts = append(ts, located{t: writeback.Target{Kind: writeback.Helm, Path: f, ImageField: h.Image,
			RepositoryField: h.Repository, TagField: h.Tag, DigestField: h.Digest}, file: f})
	}
	ts = append(ts, located{t: writeback.Target{Kind: writeback.Marker, Path: env.Path, Name: w.Alias}, file: env.Path})
	return ts
}

// applyImage reads every target of w, lets the policy decide against the
// first one's value and writes the outcome to every target that differs.
// It returns the files it changed, even when a later target failed, and the
// stage an error belongs to.
func (e *envRun) applyImage(ctx context.Context, dir, kfile string, w *plan.Watch) ([]string, string, error) {
	tags, err := e.c.candidates(w)
	if err != nil {
		return nil, StageRegistry, err
	}
	locs, err := e.locate(dir, kfile, w)
	if err != nil {
		return nil, StageWriteback, err
	}
	if len(locs) == 0 {
		return nil, "", nil // every target is claimed by another environment too
	}
	cur := policy.Current{Tag: locs[0].cur.Tag, Digest: locs[0].cur.Digest}
	res := w.Policy.Select(tags, cur)
	var opened string // the reason a promotion gate opened
	if res.Decision == policy.Update {
		var stage string
		if res, opened, stage, err = e.pick(ctx, w, tags, cur, res); err != nil {
			return nil, stage, err
		}
	}
	log := e.log.WithFields(logrus.Fields{"env": e.env.Name, "image": w.Image, "from": cur.Tag, "to": res.Tag})
	switch res.Decision {
	case policy.Held:
		e.held = append(e.held, Change{Repository: e.repo, Env: e.env.Name, Image: w.Image, File: locs[0].file, Files: []string{locs[0].file},
			From: cur.Tag, To: res.Tag, Digest: res.Digest, Reason: res.Reason})
		log.Info(res.Reason)
		return nil, "", nil
	case policy.None:
		if w.Policy.Spec().Strategy == policy.Digest {
			// The tag the digest strategy follows is gone: nothing to
			// follow is a broken policy, not a quiet cycle.
			return nil, StagePolicy, fmt.Errorf("the tag %q the digest strategy follows is not in %s: %s", w.Policy.Spec().Constraint, w.Image, res.Reason)
		}
		log.Warn(res.Reason)
		return nil, "", nil
	}
	log.WithField("decision", string(res.Decision)).Debug(res.Reason)
	wantDigest := w.WantsDigest()
	digest := res.Digest
	var todo []located
	for _, l := range locs {
		// Up to date: only targets that disagree with the first are brought in line.
		if res.Decision == policy.Update || l.cur.Tag != res.Tag || wantDigest && digest != "" && l.cur.Digest != digest {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return nil, "", nil
	}
	if digest == "" {
		d, err := e.c.src.Digest(ctx, w.Image, res.Tag)
		switch {
		case err != nil && wantDigest:
			return nil, StageRegistry, fmt.Errorf("digest of %s:%s: %w", w.Image, res.Tag, err)
		case err != nil:
			log.WithError(err).Warn("digest unknown; the audit trailer will not name it")
		}
		digest = d
	}
	val := writeback.Image{Tag: res.Tag}
	if wantDigest {
		val.Digest = digest
	}
	files, from, err := e.write(dir, w, todo, val)
	e.record(w, from, res.Tag, digest, opened, files)
	if err != nil {
		return files, StageWriteback, err
	}
	return files, "", nil
}

// locate reads the targets of w that exist in dir. A configured Helm file
// must hold the image; the kustomization entry and markers are optional,
// but one target at least must exist.
func (e *envRun) locate(dir, kfile string, w *plan.Watch) ([]located, error) {
	var locs []located
	conflicted := false
	ts := targets(e.env, kfile, w)
	for _, l := range ts {
		t, cs, ok := e.claimed(dir, l.t)
		for _, c := range cs {
			// Reported whether or not other targets remain to be written.
			e.fail(w, StageConfig, c)
			conflicted = true
		}
		if !ok {
			continue
		}
		l.t = t
		cur, err := writeback.Read(dir, l.t)
		if errors.Is(err, writeback.ErrNotFound) && l.t.Kind != writeback.Helm {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", l.file, err)
		}
		l.cur = cur
		locs = append(locs, l)
	}
	if len(locs) == 0 && conflicted {
		return nil, nil
	}
	if len(locs) == 0 {
		env := e.env
		if kfile == "" {
			return nil, fmt.Errorf("not found under %s: no kustomization and no marker %q", env.Path, w.Alias)
		}
		return nil, fmt.Errorf("not found under %s: no images entry named %q in %s and no marker %q", env.Path, ts[0].t.Name, kfile, w.Alias)
	}
	return locs, nil
}

// write sets val at every target of locs. It returns the files changed and
// the value the first changed target held.
func (e *envRun) write(dir string, w *plan.Watch, locs []located, val writeback.Image) ([]string, string, error) {
	var files []string
	from := ""
	for _, l := range locs {
		v := val
		if l.t.Kind == writeback.Kustomize && w.Name() != w.Image {
			v.Name = w.Image // kustomize's newName
		}
		changed, err := writeback.Write(dir, l.t, v)
		if err != nil {
			return files, from, fmt.Errorf("writing %s: %w", l.file, err)
		}
		if len(changed) > 0 && len(files) == 0 {
			from = l.cur.Tag
		}
		files = append(files, changed...) // relative to the root already
	}
	return files, from, nil
}

// record notes a change per file changed (the audit message groups them
// into one trailer per image).
func (e *envRun) record(w *plan.Watch, from, to, digest, opened string, files []string) {
	spec := w.Policy.Spec()
	for _, f := range files {
		c := audit.Change{
			Env: e.env.Name, Image: w.Image, File: f, From: from, To: to, Digest: digest,
			Strategy: string(spec.Strategy), Constraint: spec.Constraint,
		}
		if opened != "" {
			c.PromotedFrom, c.Gate = e.env.Gate.From, opened
		}
		e.changes = append(e.changes, c)
	}
}

// reportChanges is one Change per image, with every file it changed (File
// is the first).
func (e *envRun) reportChanges() []Change {
	var out []Change
	for i, c := range e.changes {
		if i > 0 && e.changes[i-1].Image == c.Image {
			last := &out[len(out)-1]
			last.Files = append(last.Files, c.File)
			continue
		}
		out = append(out, Change{Repository: e.repo, Env: c.Env, Image: c.Image, File: c.File, Files: []string{c.File}, From: c.From, To: c.To, Digest: c.Digest})
	}
	return out
}
