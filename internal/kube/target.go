package kube

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/internal/plan"
)

// The prefixes of the two annotation sets (DESIGN §6).
const (
	OwnPrefix          = "tagwatch.dev/"
	ImageUpdaterPrefix = "argocd-image-updater.argoproj.io/"
)

// Set names the annotations an Application is read through.
type Set string

// The annotation sets.
const (
	SetOwn          Set = "tagwatch.dev"
	SetImageUpdater Set = "argocd-image-updater"
)

// Application-wide keys of tagwatch.dev/, read whichever set carries the
// images.
var ownAppKeys = []string{"images", "environment", "path", "branch", "repository", "source", "from", "soak", "require-healthy", "mode", "auto-merge"}

// AnnotationError is an annotation that cannot be read: its key (the whole
// annotation name, or a field of the Application such as spec.source.path)
// and what is wrong. It never holds a secret.
type AnnotationError struct {
	Key     string
	Problem string
}

func (e *AnnotationError) Error() string { return e.Key + ": " + e.Problem }

// Target is an Application read as a tagwatch environment.
type Target struct {
	App string // namespace/name
	Set Set
	// URL and Branch are the repository written ("" branch: the remote's
	// default branch).
	URL, Branch string
	// Env is the environment, its Health and the watches' Deployed reading
	// the Application as it is when called.
	Env *plan.Environment
	// WriteSecret is the Secret (namespace/name) of write-back-method
	// git:secret:<ns>/<name>; "" for Argo CD's repository Secrets.
	WriteSecret string
	// PullSecrets are the pull-secret references by image repository
	// (plan.Watch.Key).
	PullSecrets map[string]string
	// pullKeys are the annotations of PullSecrets, by image repository.
	pullKeys map[string]string
	// Ignored are annotations read and ignored, each with why
	// (the AnnotationsIgnored Event).
	Ignored []string
}

// parser reads one Application's annotations, collecting every problem.
type parser struct {
	app  *App
	live func() *App // the Application as the informer has it now
	ann  map[string]string
	errs []*AnnotationError
	t    *Target
	src  int // the index of the source written (in Sources)
	// iuAliases are the aliases written in image-list, by Watch.Key
	// ("" for an image without one), for write-branch templates.
	iuAliases map[string]string
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, &AnnotationError{Key: key, Problem: fmt.Sprintf(format, args...)})
}

func (p *parser) ignore(format string, args ...any) {
	p.t.Ignored = append(p.t.Ignored, fmt.Sprintf(format, args...))
}

// own returns the value of tagwatch.dev/<key> and whether it is set.
func (p *parser) own(key string) (string, bool) {
	v, ok := p.ann[OwnPrefix+key]
	return strings.TrimSpace(v), ok
}

// iu returns the value of argocd-image-updater.argoproj.io/<key>.
func (p *parser) iu(key string) (string, bool) {
	v, ok := p.ann[ImageUpdaterPrefix+key]
	return strings.TrimSpace(v), ok
}

// Watched reports whether a carries either set's images annotation.
func Watched(a *App) bool {
	_, own := a.Annotations[OwnPrefix+"images"]
	_, iu := a.Annotations[ImageUpdaterPrefix+"image-list"]
	return own || iu
}

// Parse reads a watched Application (Watched) into a Target: its own
// annotations when it has tagwatch.dev/images, else Argo CD Image Updater's.
// live returns the Application as it is when called (the informer's copy),
// for health and the images it runs. Every problem is returned, sorted by
// key; with any, the Target is nil.
func Parse(a *App, live func() *App) (*Target, []*AnnotationError) {
	p := &parser{app: a, live: live, ann: a.Annotations, t: &Target{App: a.Key(), PullSecrets: map[string]string{}, pullKeys: map[string]string{}}, iuAliases: map[string]string{}}
	env := &plan.Environment{Origin: "Application " + a.Key()}
	p.t.Env = env
	_, own := p.own("images")
	_, iu := p.iu("image-list")
	switch {
	case own:
		p.t.Set = SetOwn
		if iu {
			p.ignore("the %s annotations: tagwatch.dev/images is set, and tagwatch.dev/ wins", ImageUpdaterPrefix)
		}
	case iu:
		p.t.Set = SetImageUpdater
	default:
		return nil, nil
	}
	p.common(env)
	if p.t.Set == SetOwn {
		p.ownImages(env)
	} else {
		p.imageUpdater(env)
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(x, y *AnnotationError) int { return strings.Compare(x.Key, y.Key) })
		return nil, p.errs
	}
	return p.t, nil
}

var (
	envNameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$`)
	commitRE  = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// common reads what is Application-wide: the source, repository, branch,
// path, environment name and promotion gate.
func (p *parser) common(env *plan.Environment) {
	src, ok := p.source()
	name, set := p.own("environment")
	switch {
	case !set:
		name = p.app.Name
		if !envNameRE.MatchString(name) || len(name) > 253 {
			p.fail(OwnPrefix+"environment", "the Application's name %q is not an environment name ([a-z0-9][a-z0-9.-]*): set this annotation", name)
		}
	case !envNameRE.MatchString(name) || len(name) > 253:
		p.fail(OwnPrefix+"environment", "%q is not an environment name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)", name)
	}
	env.Name = name
	p.gate(env)
	if !ok {
		return
	}
	p.repository(src)
	p.branch(src)
	p.mode(env)
	dir, set := p.own("path")
	key := OwnPrefix + "path"
	if !set {
		dir, key = src.Path, p.sourceField("path")
	}
	if c, err := cleanDir(dir); err != nil {
		p.fail(key, "%v", err)
	} else {
		env.Path = c
	}
	env.Health = p.health
}

// sourceField names a field of the source written: spec.source.<f> or
// spec.sources[i].<f>.
func (p *parser) sourceField(f string) string {
	if p.app.Multi {
		return fmt.Sprintf("spec.sources[%d].%s", p.src, f)
	}
	return "spec.source." + f
}

// source picks the source written: spec.source, or of spec.sources[] the
// one named by tagwatch.dev/source, else the only one with a path.
func (p *parser) source() (AppSource, bool) {
	srcs := p.app.Sources
	name, named := p.own("source")
	switch {
	case len(srcs) == 0:
		p.fail("spec.source", "the Application has no source")
		return AppSource{}, false
	case !p.app.Multi:
		if named {
			p.ignore("%ssource: the Application has one source", OwnPrefix)
		}
		return srcs[0], true
	case named:
		for i, s := range srcs {
			if s.Name == name {
				p.src = i
				return s, true
			}
		}
		p.fail(OwnPrefix+"source", "no source of spec.sources is named %q", name)
		return AppSource{}, false
	}
	var withPath []int
	for i, s := range srcs {
		if s.Path != "" && s.Chart == "" {
			withPath = append(withPath, i)
		}
	}
	switch len(withPath) {
	case 1:
		p.src = withPath[0]
		return srcs[p.src], true
	case 0:
		p.fail(OwnPrefix+"source", "no source of spec.sources has a path in a git repository: set tagwatch.dev/repository and tagwatch.dev/path")
	default:
		p.fail(OwnPrefix+"source", "%d sources of spec.sources have a path: name the one to write (spec.sources[].name)", len(withPath))
	}
	return AppSource{}, false
}

// repository reads the git URL: tagwatch.dev/repository, Image Updater's
// git-repository, or the source's repoURL.
func (p *parser) repository(src AppSource) {
	u, set := p.own("repository")
	key := OwnPrefix + "repository"
	if iu, ok := p.iu("git-repository"); ok && p.t.Set == SetImageUpdater {
		if set && iu != u {
			p.ignore("%sgit-repository: %srepository is set, and tagwatch.dev/ wins", ImageUpdaterPrefix, OwnPrefix)
		} else if !set {
			u, set, key = iu, true, ImageUpdaterPrefix+"git-repository"
		}
	}
	if !set {
		if src.Chart != "" {
			p.fail(OwnPrefix+"repository", "the source is the Helm chart %q of a chart repository, not a git repository: set tagwatch.dev/repository and tagwatch.dev/path to the git repository and folder to write", src.Chart)
			return
		}
		u, key = src.RepoURL, p.sourceField("repoURL")
	}
	if err := config.CheckGitURL(u); err != nil {
		p.fail(key, "%v", err)
		return
	}
	p.t.URL = u
}

// branch reads the branch: tagwatch.dev/branch, Image Updater's
// git-branch, or the source's targetRevision (HEAD or empty: the remote's
// default branch).
func (p *parser) branch(src AppSource) {
	b, set := p.own("branch")
	key := OwnPrefix + "branch"
	if iu, ok := p.iu("git-branch"); ok && p.t.Set == SetImageUpdater {
		switch {
		case set && iu != b:
			p.ignore("%sgit-branch: %sbranch is set, and tagwatch.dev/ wins", ImageUpdaterPrefix, OwnPrefix)
		case !set && strings.Contains(iu, ":"):
			// base:write-branch: commits go to write-branch, a branch tagwatch
			// owns, rebuilt from base at each cycle (DESIGN §9's rules), with
			// no pull request. A write branch with {{ is a text/template,
			// rendered from each commit's changes (branchtemplate.go).
			base, write, _ := strings.Cut(iu, ":")
			key := ImageUpdaterPrefix + "git-branch"
			templated := strings.Contains(write, "{{")
			switch {
			case base != "" && base != "HEAD" && plan.CheckBranchName(base) != nil: // HEAD: the remote's default branch, as below
				p.fail(key, "%q is not a branch name", base)
				return
			case templated:
				tpl, err := newBranchTemplate(write, p.app, p.iuAliases)
				if err != nil {
					p.fail(key, "the write branch template %q: %v", write, err)
					return
				}
				p.t.Env.BranchTemplate = tpl
			case plan.CheckBranchName(write) != nil:
				p.fail(key, "%q is not a branch name", write)
				return
			default:
				p.t.Env.Branch = write
			}
			p.t.Env.Mode = plan.ModeBranch
			if base != "" { // else the base is the source's targetRevision, as with no git-branch
				b, set = base, true
			}
		case !set:
			b, set, key = iu, true, ImageUpdaterPrefix+"git-branch"
		}
	}
	if !set {
		b, key = src.TargetRevision, p.sourceField("targetRevision")
		if commitRE.MatchString(b) {
			p.fail(OwnPrefix+"branch", "%s is the commit %s, which cannot be written to: set the branch to write", key, b)
			return
		}
	}
	if b == "HEAD" || b == "" {
		return // the remote's default branch
	}
	if plan.CheckBranchName(b) != nil {
		p.fail(key, "%q is not a branch name", b)
		return
	}
	p.t.Branch = b
}

// mode reads tagwatch.dev/mode (push or pull-request, DESIGN §9) and
// tagwatch.dev/auto-merge.
func (p *parser) mode(env *plan.Environment) {
	if m, set := p.own("mode"); set {
		switch m {
		case plan.ModePush, plan.ModePullRequest:
			if env.BranchTemplate != nil {
				p.fail(OwnPrefix+"mode", "%s is set, and so is %sgit-branch with a write branch template (a branch per change set, no pull request): give one", m, ImageUpdaterPrefix)
				return
			}
			if env.Mode == plan.ModeBranch {
				p.fail(OwnPrefix+"mode", "%s is set, and so is %sgit-branch with a write branch: give one", m, ImageUpdaterPrefix)
				return
			}
			env.Mode = m
		default:
			p.fail(OwnPrefix+"mode", "%q is not push or pull-request", m)
		}
	}
	if v, set := p.own("auto-merge"); set {
		b, err := strconv.ParseBool(v)
		switch {
		case err != nil:
			p.fail(OwnPrefix+"auto-merge", "%q is not true or false", v)
		case b && env.Mode != plan.ModePullRequest:
			p.fail(OwnPrefix+"auto-merge", "asks the forge to merge pull requests: set %smode: pull-request too", OwnPrefix)
		default:
			env.AutoMerge = b
		}
	}
}

// gate reads tagwatch.dev/from, soak and require-healthy.
func (p *parser) gate(env *plan.Environment) {
	from, hasFrom := p.own("from")
	soak, hasSoak := p.own("soak")
	req, hasReq := p.own("require-healthy")
	if !hasFrom && !hasSoak && !hasReq {
		return
	}
	g := &gate.Gate{From: from}
	if hasSoak {
		d, err := time.ParseDuration(soak)
		switch {
		case err != nil:
			p.fail(OwnPrefix+"soak", "%q is not a duration like 30m or 1h", soak)
		case d < 0:
			p.fail(OwnPrefix+"soak", "%s is negative", soak)
		}
		g.Soak = d
	}
	if hasReq {
		g.RequireHealthy = p.boolean(OwnPrefix+"require-healthy", req)
	}
	switch {
	case from == "":
		p.fail(OwnPrefix+"from", "required with soak and require-healthy: the environment this one is promoted from")
	case from == env.Name:
		p.fail(OwnPrefix+"from", "%s cannot be promoted from itself", from)
	}
	env.Gate = g
}

func (p *parser) boolean(key, v string) bool {
	b, err := strconv.ParseBool(v)
	if err != nil || (v != "true" && v != "false") {
		p.fail(key, "%q is not true or false", v)
	}
	return b
}

// health reads the Application as it is now: its health, sync status and
// the revision of the source written.
func (p *parser) health(context.Context) (*gate.Health, error) {
	a := p.live()
	if a == nil {
		return nil, fmt.Errorf("the Application %s is gone", p.app.Key())
	}
	h := &gate.Health{Health: a.Health, Sync: a.Sync, Revision: a.Revision}
	if a.Multi && p.src < len(a.Revisions) {
		h.Revision = a.Revisions[p.src]
	}
	return h, nil
}

// cleanDir checks a folder relative to the repository root.
func cleanDir(dir string) (string, error) {
	if strings.HasPrefix(dir, "/") || filepath.IsAbs(dir) {
		return "", fmt.Errorf("%q is absolute; write it relative to the repository root", dir)
	}
	c := path.Clean("./" + dir)
	if c == ".." || strings.HasPrefix(c, "../") || strings.Contains(dir, `\`) {
		return "", fmt.Errorf("%q leaves the repository", dir)
	}
	return c, nil
}
