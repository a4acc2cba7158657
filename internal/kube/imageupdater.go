package kube

import (
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// Argo CD Image Updater's annotations (v0.x), read with its semantics:
// loose semver, allow-tags as regexp:<RE> or any, strategy aliases, its
// write-back targets.

// iuImageKeys are the per-image keys (<alias>.<key>); iuDefaultKeys those
// that also stand alone, as defaults for every image.
var (
	iuImageKeys = []string{
		"update-strategy", "allow-tags", "ignore-tags", "platforms", "pull-secret", "force-update",
		"helm.image-name", "helm.image-tag", "helm.image-spec", "kustomize.image-name",
	}
	iuDefaultKeys = []string{"update-strategy", "allow-tags", "ignore-tags", "pull-secret", "force-update"}
	iuAppKeys     = []string{"image-list", "write-back-method", "write-back-target", "git-branch", "git-repository"}
	// iuUnsupported are keys tagwatch reads and ignores, with why.
	iuUnsupported = map[string]string{
		"git-commit-user":           "the commit author is git.author of tagwatch's config",
		"git-commit-email":          "the commit author is git.author of tagwatch's config",
		"git-commit-message":        "commits carry tagwatch's audit message and trailers",
		"git-commit-signing-key":    "signing is git.signing of tagwatch's config",
		"git-commit-signing-method": "signing is git.signing of tagwatch's config",
		"git-commit-sign-off":       "commits carry tagwatch's audit message and trailers",
	}
)

// iuStrategies maps Image Updater's strategies to tagwatch's.
var iuStrategies = map[string]policy.Strategy{
	"semver": policy.Semver, "latest": policy.NewestBuild, "newest-build": policy.NewestBuild,
	"name": policy.Alphabetical, "alphabetical": policy.Alphabetical, "digest": policy.Digest,
}

// iuImage is one image-list entry with the keys that apply to it.
type iuImage struct {
	alias, image, constraint string
	// values and keys of its settings: its own <alias>.<key>, else the
	// Application-wide <key>.
	value map[string]string
	key   map[string]string
}

// imageUpdater reads Argo CD Image Updater's annotations.
func (p *parser) imageUpdater(env *plan.Environment) {
	p.strayOwnKeys()
	list, _ := p.iu("image-list")
	var images []*iuImage
	byAlias := map[string]*iuImage{}
	seen := map[string]bool{}
	for _, entry := range splitList(list) {
		im := &iuImage{value: map[string]string{}, key: map[string]string{}}
		ref := entry
		if a, r, ok := strings.Cut(entry, "="); ok {
			im.alias, ref = strings.TrimSpace(a), strings.TrimSpace(r)
			if !aliasRE.MatchString(im.alias) {
				p.fail(ImageUpdaterPrefix+"image-list", "alias %q: letters, digits, '-' and '_' only", im.alias)
				continue
			}
			if byAlias[im.alias] != nil {
				p.fail(ImageUpdaterPrefix+"image-list", "alias %q is given twice", im.alias)
				continue
			}
		}
		im.image, im.constraint = ref, ""
		if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
			im.image, im.constraint = ref[:i], ref[i+1:]
		}
		repo, err := checkRepository(im.image)
		if err != nil {
			p.fail(ImageUpdaterPrefix+"image-list", "%q: %v", entry, err)
			continue
		}
		if seen[repo] {
			p.fail(ImageUpdaterPrefix+"image-list", "%s is listed twice", im.image)
			continue
		}
		seen[repo] = true
		images = append(images, im)
		if im.alias != "" {
			byAlias[im.alias] = im
		}
	}
	if len(images) == 0 && len(p.errs) == 0 {
		p.fail(ImageUpdaterPrefix+"image-list", "no image: want [<alias>=]<image>[:<constraint>], comma separated")
	}
	p.iuKeys(images, byAlias)
	p.writeBackMethod()
	target := p.writeBackTarget(env)
	for _, im := range images {
		if w := p.iuWatch(env, im, target); w != nil {
			env.Watches = append(env.Watches, w)
		}
	}
}

// strayOwnKeys reports tagwatch.dev/ per-image keys on an Application
// whose images are Image Updater's, and unknown tagwatch.dev/ keys.
func (p *parser) strayOwnKeys() {
	for _, key := range sortedKeys(p.ann) {
		rest, ok := strings.CutPrefix(key, OwnPrefix)
		switch {
		case !ok || slices.Contains(ownAppKeys, rest):
		case strings.Contains(rest, "."):
			p.fail(key, "per-image tagwatch.dev/ annotations need tagwatch.dev/images (this Application's images are in %simage-list)", ImageUpdaterPrefix)
		default:
			p.fail(key, "unknown annotation%s (application-wide: %s)", config.Suggest(rest, ownAppKeys), strings.Join(ownAppKeys, ", "))
		}
	}
}

// iuKeys sorts Image Updater's keys onto the images: per alias, the
// Application-wide defaults, and the rest (ignored, with why).
func (p *parser) iuKeys(images []*iuImage, byAlias map[string]*iuImage) {
	for _, key := range sortedKeys(p.ann) {
		rest, ok := strings.CutPrefix(key, ImageUpdaterPrefix)
		if !ok || slices.Contains(iuAppKeys, rest) {
			continue
		}
		v := strings.TrimSpace(p.ann[key])
		if slices.Contains(iuDefaultKeys, rest) {
			for _, im := range images {
				if _, own := im.key[rest]; !own {
					im.value[rest], im.key[rest] = v, key
				}
			}
			continue
		}
		if why, ok := iuUnsupported[rest]; ok {
			p.ignore("%s: %s", key, why)
			continue
		}
		alias, field, ok := strings.Cut(rest, ".")
		switch {
		case !ok || !slices.Contains(iuImageKeys, field):
			p.ignore("%s: not an annotation tagwatch reads", key)
		case byAlias[alias] == nil:
			p.ignore("%s: %q is not an alias of %simage-list", key, alias, ImageUpdaterPrefix)
		default:
			byAlias[alias].value[field], byAlias[alias].key[field] = v, key
		}
	}
}

// writeBackMethod reads write-back-method; the Secret of git:secret:ns/name
// is kept on the Target. Unset is git: tagwatch writes to Git only.
func (p *parser) writeBackMethod() {
	m, ok := p.iu("write-back-method")
	key := ImageUpdaterPrefix + "write-back-method"
	switch {
	case !ok || m == "git" || m == "git:repocreds":
	case m == "argocd":
		p.fail(key, "argocd (changing the Application in the cluster) is refused: tagwatch writes to Git only; set git, git:repocreds or git:secret:<namespace>/<name>")
	case strings.HasPrefix(m, "git:secret:"):
		ref := strings.TrimPrefix(m, "git:secret:")
		if _, _, err := splitNamespaced(ref); err != nil {
			p.fail(key, "git:secret:%s: %v", ref, err)
			return
		}
		p.t.WriteSecret = ref
	default:
		p.fail(key, "%q is not git, git:repocreds or git:secret:<namespace>/<name>", m)
	}
}

// iuTarget is where Image Updater's images are written.
type iuTarget struct {
	kind writeback.Kind // Kustomize, Helm or ArgoSource
	path string         // folder (Kustomize) or file, relative to the repository root
}

// writeBackTarget reads write-back-target: kustomization[:<dir>],
// helmvalues[:<file>], or (unset) the parameter override file. Paths are
// relative to the Application's path, or to the repository root with a
// leading /.
func (p *parser) writeBackTarget(env *plan.Environment) iuTarget {
	v, ok := p.iu("write-back-target")
	key := ImageUpdaterPrefix + "write-back-target"
	if !ok || v == "" {
		return iuTarget{kind: writeback.ArgoSource, path: path.Join(env.Path, ".argocd-source-"+p.app.Name+".yaml")}
	}
	kind, rel, _ := strings.Cut(v, ":")
	var t iuTarget
	switch kind {
	case "kustomization":
		t = iuTarget{kind: writeback.Kustomize, path: env.Path}
	case "helmvalues":
		t = iuTarget{kind: writeback.Helm, path: path.Join(env.Path, "values.yaml")}
		if rel == "" {
			return t
		}
	default:
		p.fail(key, "%q is not kustomization[:<dir>] or helmvalues[:<file>]", v)
		return t
	}
	if rel == "" {
		return t
	}
	full := path.Join(env.Path, rel)
	if strings.HasPrefix(rel, "/") {
		full = strings.TrimPrefix(rel, "/")
	}
	c, err := cleanDir(full)
	if err != nil {
		p.fail(key, "%s: %v", rel, err)
		return t
	}
	t.path = c
	return t
}

// iuWatch builds one image's watch.
func (p *parser) iuWatch(env *plan.Environment, im *iuImage, target iuTarget) *plan.Watch {
	n := len(p.errs)
	keyOf := func(setting string) string {
		if k, ok := im.key[setting]; ok {
			return k
		}
		return ImageUpdaterPrefix + "image-list"
	}
	spec := policy.Spec{Strategy: policy.Semver, Constraint: im.constraint, Loose: true, ArgoCompat: true}
	if s, ok := im.value["update-strategy"]; ok {
		st, known := iuStrategies[s]
		if !known {
			p.fail(keyOf("update-strategy"), "%q is not semver, latest (newest-build), name (alphabetical) or digest", s)
		}
		spec.Strategy = st
	}
	if spec.Strategy == policy.Digest && im.constraint == "" {
		p.fail(ImageUpdaterPrefix+"image-list", "%s: the digest strategy follows a tag: write <image>:<tag>", im.image)
		return nil
	}
	if a, ok := im.value["allow-tags"]; ok {
		spec.AllowTags = a
		if a != "any" && a != "" && !strings.HasPrefix(a, "regexp:") {
			p.fail(keyOf("allow-tags"), "%q is neither regexp:<RE> nor any: Argo CD Image Updater matches no tag with it; write regexp:%s", a, a)
		} else if re, ok := strings.CutPrefix(a, "regexp:"); ok {
			if _, err := regexp.Compile(re); err != nil {
				p.fail(keyOf("allow-tags"), "%q: %v", a, err)
			}
		}
	}
	spec.IgnoreTags = splitList(im.value["ignore-tags"])
	spec.Platforms = splitList(im.value["platforms"])
	pol := p.policy(spec, func(field string) string {
		switch base, _, _ := strings.Cut(field, "["); base {
		case "strategy":
			return keyOf("update-strategy")
		case "allowTags":
			return keyOf("allow-tags")
		case "ignoreTags":
			return keyOf("ignore-tags")
		case "platforms":
			return keyOf("platforms")
		}
		return ImageUpdaterPrefix + "image-list"
	})
	if ps, ok := im.value["pull-secret"]; ok {
		if err := checkPullSecret(ps); err != nil {
			p.fail(keyOf("pull-secret"), "%v", err)
		} else {
			p.t.PullSecrets[plan.Normalize(im.image)] = ps
			p.t.pullKeys[plan.Normalize(im.image)] = keyOf("pull-secret")
		}
	}
	alias := im.alias
	if alias == "" {
		alias = config.DefaultAlias(im.image)
	}
	w := &plan.Watch{Image: im.image, Key: plan.Normalize(im.image), Alias: alias, Policy: pol}
	p.iuAliases[w.Key] = im.alias
	ksName := im.image
	if v, ok := im.value["kustomize.image-name"]; ok && v != "" {
		ksName = v
	}
	w.Targets = []writeback.Target{p.iuWriteTarget(im, target, ksName)}
	w.Deployed = p.deployed(w.Key, ksName)
	if len(p.errs) > n {
		return nil
	}
	return w
}

// iuWriteTarget is the writeback target of one image.
func (p *parser) iuWriteTarget(im *iuImage, target iuTarget, ksName string) writeback.Target {
	helmParams := func(t writeback.Target) writeback.Target {
		if spec, ok := im.value["helm.image-spec"]; ok && spec != "" {
			t.ImageField = spec
			return t
		}
		t.RepositoryField, t.TagField = "image.name", "image.tag"
		if v := im.value["helm.image-name"]; v != "" {
			t.RepositoryField = v
		}
		if v := im.value["helm.image-tag"]; v != "" {
			t.TagField = v
		}
		return t
	}
	switch target.kind {
	case writeback.Kustomize:
		return writeback.Target{Kind: writeback.Kustomize, Path: target.path, Name: ksName}
	case writeback.Helm:
		return helmParams(writeback.Target{Kind: writeback.Helm, Path: target.path})
	}
	t := writeback.Target{Kind: writeback.ArgoSource, Path: target.path}
	if p.helmApp(im) {
		return helmParams(t)
	}
	t.Name = ksName
	return t
}

// helmApp reports whether the parameter override file takes Helm
// parameters (else kustomize images): status.sourceType, else the source's
// helm or kustomize block, else whether the image has helm.* annotations.
func (p *parser) helmApp(im *iuImage) bool {
	switch p.app.SourceType {
	case "Helm":
		return true
	case "Kustomize":
		return false
	}
	if len(p.app.Sources) > p.src {
		s := p.app.Sources[p.src]
		if s.Helm != s.Kustomize {
			return s.Helm
		}
	}
	for _, k := range []string{"helm.image-name", "helm.image-tag", "helm.image-spec"} {
		if _, ok := im.value[k]; ok {
			return true
		}
	}
	return false
}

// deployed returns the Deployed func of a watch: the image of the
// Application's status.summary.images whose repository is key (normalised)
// or ksName.
func (p *parser) deployed(key, ksName string) func() (policy.Current, bool) {
	return func() (policy.Current, bool) {
		a := p.live()
		if a == nil {
			return policy.Current{}, false
		}
		for _, ref := range a.Images {
			name, tag, digest := splitImage(ref)
			if name == ksName || plan.Normalize(name) == key {
				return policy.Current{Tag: tag, Digest: digest}, tag != "" || digest != ""
			}
		}
		return policy.Current{}, false
	}
}

// splitImage splits name[:tag][@digest].
func splitImage(ref string) (name, tag, digest string) {
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		ref, digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref, tag = ref[:i], ref[i+1:]
	}
	return ref, tag, digest
}
