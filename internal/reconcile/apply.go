package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/diff"
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

	// Outcome of the latest apply. edits[i] is the file of changes[i]:
	// the fields set and the diff, for the text plan.
	changes []audit.Change
	edits   []FileEdit
	held    []Change
	errs    []Error
	commit  string // set by publish
	message string // the commit message of the latest apply

	// Pull-request mode: the branch written, what Publish did with it,
	// whether the change was there already (pending), the pull request.
	branch, branchOutcome string
	pending               bool
	pullRequestURL        string
	repoBranch            string // the working copy's branch (the base)

	// A write-branch template (plan.Environment.BranchTemplate): the
	// images the latest apply changed, which name the branch; noEdit when
	// the environment publishes nothing this cycle (nothing to change, or
	// its branch name was refused).
	branchChanges []plan.BranchChange
	noEdit        bool
}

// apply is the environment's gitrepo.Edit: read the current values in dir,
// choose, write, and return the audit message and changed files.
func (e *envRun) apply(ctx context.Context, dir string) (string, []string, error) {
	env := e.env
	e.changes, e.edits, e.held, e.errs, e.branchChanges = nil, nil, nil, nil, nil
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
	e.message = audit.Message(env.Name, e.changes)
	return e.message, slices.Compact(files), nil
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
	// add: the kustomization has no entry for the image yet; writing
	// adds one (cur is empty).
	add bool
}

// targets are the places w is written in env: the kustomization (when the
// environment has one), the Helm values file (when configured) and markers;
// or the watch's own Targets alone, when it has some.
func targets(dir string, env *plan.Environment, kfile string, w *plan.Watch) []located {
	var ts []located
	if len(w.Targets) > 0 {
		for _, t := range w.Targets {
			file := t.Path
			if t.Kind == writeback.Kustomize {
				if file = writeback.KustomizationFile(dir, t.Path); file == "" {
					file = path.Join(t.Path, writeback.KustomizationFileNames()[0])
				}
			}
			ts = append(ts, located{t: t, file: file})
		}
		return ts
	}
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
	tags, err := e.c.candidates(ctx, w)
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
	res := e.c.choose(w, tags, cur)
	var opened string // the reason a promotion gate opened
	if res.Decision == policy.Update {
		var stage string
		if res, opened, stage, err = e.pick(ctx, w, tags, cur, res); err != nil {
			return nil, stage, err
		}
	}
	log := e.log.WithFields(logrus.Fields{"env": e.env.Name, "image": w.Image, "from": cur.Tag, "to": res.Tag, "decision": string(res.Decision)})
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
	log.Debug(res.Reason)
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
	changes, from, err := e.write(dir, w, todo, val)
	e.record(w, from.Tag, res.Tag, digest, opened, changes)
	if len(changes) > 0 {
		e.branchChanges = append(e.branchChanges, plan.BranchChange{Watch: w,
			From: policy.Current{Tag: from.Tag, Digest: from.Digest}, To: policy.Current{Tag: res.Tag, Digest: digest}})
	}
	files := make([]string, len(changes))
	for i, c := range changes {
		files[i] = c.Path
	}
	if err != nil {
		return files, StageWriteback, err
	}
	return files, "", nil
}

// locate reads the targets of w that exist in dir. A configured Helm file
// must hold the image; the kustomization entry and markers are optional,
// but one target at least must exist. When none does and the environment
// has a kustomization, the entry is added there, as `kustomize edit set
// image` would: unless the kustomization has an entry that looks like
// this image under another name, which is most likely a kustomizeName
// left out (adding would leave that entry, the one kustomize applies,
// behind), and is an error saying so.
func (e *envRun) locate(dir, kfile string, w *plan.Watch) ([]located, error) {
	var locs []located
	var missing *located // the kustomization target, whose entry is missing
	conflicted := false
	ts := targets(dir, e.env, kfile, w)
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
			if l.t.Kind == writeback.Kustomize || l.t.Kind == writeback.ArgoSource {
				missing = &l
			}
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
	if len(locs) > 0 {
		return locs, nil
	}
	env := e.env
	if missing == nil {
		return nil, fmt.Errorf("not found under %s: no kustomization (%s) to add an images entry to, and no YAML file there with a marker # {\"$tagwatch\": %q}", env.Path, strings.Join(writeback.KustomizationFileNames(), ", "), w.Alias)
	}
	if missing.t.Kind == writeback.Kustomize {
		if err := e.canAdd(dir, missing.t, missing.file, w); err != nil {
			return nil, err
		}
	}
	missing.add = true
	if w.Deployed != nil {
		// Git holds no value yet: what runs is the value to move from.
		if cur, ok := w.Deployed(); ok {
			missing.cur = writeback.Image{Tag: cur.Tag, Digest: cur.Digest}
		}
	}
	return []located{*missing}, nil
}

// canAdd refuses to add an images entry for w when the kustomization has
// one that looks like the same image under another name: the same last
// path element ("team/app" for registry.example.com/team/app), or a
// newName of w's image.
func (e *envRun) canAdd(dir string, t writeback.Target, kfile string, w *plan.Watch) error {
	entries, err := writeback.KustomizeEntries(dir, t.Path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", kfile, err)
	}
	base := func(s string) string { return s[strings.LastIndex(s, "/")+1:] }
	var seen, alike []string
	for _, en := range entries {
		seen = append(seen, fmt.Sprintf("%q", en.Name))
		if en.NewName == w.Image || base(en.Name) == base(w.Image) || en.NewName != "" && base(en.NewName) == base(w.Image) {
			alike = append(alike, en.Name)
		}
	}
	if len(alike) == 0 {
		return nil
	}
	return fmt.Errorf("no images entry named %q in %s (it has %s), and %q looks like this image under another name: "+
		"set kustomizeName: %s on the image if that entry is it, or add an entry named %q to %s to have tagwatch write a new one; "+
		"nothing is written until then, since the entry kustomize applies would stay behind",
		t.Name, kfile, strings.Join(seen, ", "), alike[0], alike[0], t.Name, kfile)
}

// write sets val at every target of locs. It returns the files changed
// and the value the first changed target held.
func (e *envRun) write(dir string, w *plan.Watch, locs []located, val writeback.Image) ([]writeback.FileChange, writeback.Image, error) {
	var changes []writeback.FileChange
	var from writeback.Image
	for _, l := range locs {
		v := val
		if l.t.Kind == writeback.Kustomize && l.t.Name != w.Image || l.t.Kind == writeback.ArgoSource {
			v.Name = w.Image // kustomize's newName; an override entry names the image
		}
		changed, err := writeback.WriteChanges(dir, l.t, v)
		if len(changed) > 0 && len(changes) == 0 {
			from = l.cur
		}
		changes = append(changes, changed...) // relative to the root already
		if err != nil {
			return changes, from, fmt.Errorf("writing %s: %w", l.file, err)
		}
	}
	return changes, from, nil
}

// record notes a change per file changed (the audit message groups them
// into one trailer per image), with the fields it set and its diff.
func (e *envRun) record(w *plan.Watch, from, to, digest, opened string, changes []writeback.FileChange) {
	spec := w.Policy.Spec()
	for _, fc := range changes {
		c := audit.Change{
			Env: e.env.Name, Image: w.Image, File: fc.Path, From: from, To: to, Digest: digest,
			Strategy: string(spec.Strategy), Constraint: spec.Constraint,
		}
		if opened != "" {
			c.PromotedFrom, c.Gate = e.env.Gate.From, opened
		}
		e.changes = append(e.changes, c)
		e.edits = append(e.edits, FileEdit{File: fc.Path, Fields: fc.Fields, Diff: diff.Unified("a/"+fc.Path, "b/"+fc.Path, fc.Before, fc.After)})
	}
}

// reportChanges is one Change per image, with every file it changed (File
// is the first) and, for the text plan, their edits.
func (e *envRun) reportChanges() []Change {
	var out []Change
	for i, c := range e.changes {
		var ed []FileEdit
		if i < len(e.edits) {
			ed = e.edits[i : i+1]
		}
		if i > 0 && e.changes[i-1].Image == c.Image {
			last := &out[len(out)-1]
			last.Files = append(last.Files, c.File)
			last.Edits = append(last.Edits, ed...)
			continue
		}
		out = append(out, Change{Repository: e.repo, Env: c.Env, Image: c.Image, File: c.File, Files: []string{c.File}, From: c.From, To: c.To, Digest: c.Digest,
			Reason: c.Gate, Edits: slices.Clone(ed), Branch: e.branch, PullRequest: e.pullRequestURL, Pending: e.pending})
	}
	return out
}
