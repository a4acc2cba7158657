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
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// envRun is one environment in one cycle. apply may run more than once
// (after a rejected push); each run starts over from what it reads.
type envRun struct {
	r *Reconciler
	// ctx is the cycle's: apply has gitrepo.Edit's fixed signature and
	// may look a digest up in the registry.
	ctx   context.Context
	idx   int
	found []found
	src   resolve.Source // the cycle's memo

	// Outcome of the latest apply.
	changes []audit.Change
	held    []Change
	errs    []Error
	commit  string // set by publish
}

// kustomizationNames are the file names kustomize accepts, in its order.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// apply is the environment's gitrepo.Edit: read the current values in dir,
// choose, write, and return the audit message and changed files.
func (e *envRun) apply(dir string) (string, []string, error) {
	env := e.r.cfg.Environments[e.idx]
	e.changes, e.held, e.errs = nil, nil, nil
	if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(env.Path))); err != nil || !fi.IsDir() {
		e.errs = append(e.errs, Error{Env: env.Name, Error: fmt.Sprintf("path %s: not a directory of the repository", env.Path)})
		return "", nil, nil
	}
	kfile := ""
	for _, n := range kustomizationNames {
		if fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(env.Path), n)); err == nil && fi.Mode().IsRegular() {
			kfile = path.Join(env.Path, n)
			break
		}
	}
	var files []string
	for i := range e.r.watches[e.idx] {
		w := &e.r.watches[e.idx][i]
		changed, err := e.applyImage(dir, kfile, w, e.found[i])
		files = append(files, changed...)
		if err != nil {
			e.errs = append(e.errs, Error{Env: env.Name, Image: w.img.Image, Error: err.Error()})
			e.r.o.log.WithFields(logrus.Fields{"env": env.Name, "image": w.img.Image}).WithError(err).Warn("image skipped")
		}
	}
	if len(e.changes) == 0 {
		return "", nil, nil
	}
	slices.Sort(files)
	return audit.Message(env.Name, e.changes), slices.Compact(files), nil
}

// located is a target that exists in the tree, with its current value.
type located struct {
	t    writeback.Target
	file string
	cur  writeback.Image
}

// targets are the places w is written in env: the kustomization (when the
// environment has one), the Helm values file (when configured) and markers.
func (e *envRun) targets(kfile string, w *watch) []located {
	env := e.r.cfg.Environments[e.idx]
	var ts []located
	if kfile != "" {
		name := w.img.KustomizeName
		if name == "" {
			name = w.img.Image
		}
		ts = append(ts, located{t: writeback.Target{Kind: writeback.Kustomize, Path: env.Path, Name: name}, file: kfile})
	}
	if h := w.img.Helm; h != nil {
		f := path.Join(env.Path, h.File)
		ts = append(ts, located{t: writeback.Target{Kind: writeback.Helm, Path: f, ImageField: h.Image,
			RepositoryField: h.Repository, TagField: h.Tag, DigestField: h.Digest}, file: f})
	}
	ts = append(ts, located{t: writeback.Target{Kind: writeback.Marker, Path: env.Path, Name: w.alias}, file: env.Path})
	return ts
}

// applyImage reads every target of w, lets the policy decide against the
// first one's value and writes the outcome to every target that differs.
// It returns the files it changed, even when a later target failed.
func (e *envRun) applyImage(dir, kfile string, w *watch, f found) ([]string, error) {
	if f.err != nil {
		return nil, f.err
	}
	env := e.r.cfg.Environments[e.idx]
	locs, err := e.locate(dir, kfile, w)
	if err != nil {
		return nil, err
	}
	cur := policy.Current{Tag: locs[0].cur.Tag, Digest: locs[0].cur.Digest}
	res := w.policy.Select(f.tags, cur)
	log := e.r.o.log.WithFields(logrus.Fields{"env": env.Name, "image": w.img.Image, "from": cur.Tag, "to": res.Tag})
	switch res.Decision {
	case policy.Held:
		e.held = append(e.held, Change{Env: env.Name, Image: w.img.Image, File: locs[0].file, From: cur.Tag, To: res.Tag, Digest: res.Digest})
		log.Info(res.Reason)
		return nil, nil
	case policy.None:
		log.Warn(res.Reason)
		return nil, nil
	}
	wantDigest := w.img.WriteDigest || w.policy.Spec().Strategy == policy.Digest
	digest := res.Digest
	var todo []located
	for _, l := range locs {
		// Up to date: only targets that disagree with the first are brought in line.
		if res.Decision == policy.Update || l.cur.Tag != res.Tag || wantDigest && digest != "" && l.cur.Digest != digest {
			todo = append(todo, l)
		}
	}
	if len(todo) == 0 {
		return nil, nil
	}
	if digest == "" {
		d, err := e.src.Digest(e.ctx, w.img.Image, res.Tag)
		switch {
		case err != nil && wantDigest:
			return nil, fmt.Errorf("digest of %s:%s: %w", w.img.Image, res.Tag, err)
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
	e.record(w, from, res.Tag, digest, files)
	return files, err
}

// locate reads the targets of w that exist in dir. A configured Helm file
// must hold the image; the kustomization entry and markers are optional,
// but one target at least must exist.
func (e *envRun) locate(dir, kfile string, w *watch) ([]located, error) {
	var locs []located
	ts := e.targets(kfile, w)
	for _, l := range ts {
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
	if len(locs) == 0 {
		env := e.r.cfg.Environments[e.idx]
		if kfile == "" {
			return nil, fmt.Errorf("not found under %s: no kustomization and no marker %q", env.Path, w.alias)
		}
		return nil, fmt.Errorf("not found under %s: no images entry named %q in %s and no marker %q", env.Path, ts[0].t.Name, kfile, w.alias)
	}
	return locs, nil
}

// write sets val at every target of locs. It returns the files changed and
// the value the first changed target held.
func (e *envRun) write(dir string, w *watch, locs []located, val writeback.Image) ([]string, string, error) {
	var files []string
	from := ""
	for _, l := range locs {
		v := val
		if l.t.Kind == writeback.Kustomize && w.img.KustomizeName != "" && w.img.KustomizeName != w.img.Image {
			v.Name = w.img.Image // kustomize's newName
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
func (e *envRun) record(w *watch, from, to, digest string, files []string) {
	env := e.r.cfg.Environments[e.idx]
	for _, f := range files {
		e.changes = append(e.changes, audit.Change{
			Env: env.Name, Image: w.img.Image, File: f, From: from, To: to, Digest: digest,
			Strategy: string(w.policy.Spec().Strategy), Constraint: w.img.Constraint,
		})
	}
}

// reportChanges is one Change per image: the first file it changed.
func reportChanges(cs []audit.Change) []Change {
	var out []Change
	for i, c := range cs {
		if i > 0 && cs[i-1].Image == c.Image {
			continue
		}
		out = append(out, Change{Env: c.Env, Image: c.Image, File: c.File, From: c.From, To: c.To, Digest: c.Digest})
	}
	return out
}
