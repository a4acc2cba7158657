package kube

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// ownFields are the per-image keys of tagwatch.dev/ (<alias>.<field>),
// named as the config's image fields.
var ownFields = []string{
	"strategy", "constraint", "semverLoose", "allowTags", "ignoreTags", "extract", "order", "platforms",
	"kustomizeName", "writeDigest", "allowDowngrade",
	"helm.file", "helm.image", "helm.repository", "helm.tag", "helm.digest",
}

var aliasRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// ownImage is one tagwatch.dev/images entry and its fields.
type ownImage struct {
	alias, image string
	fields       map[string]string
}

// ownImages reads tagwatch.dev/images and the <alias>.<field> keys.
func (p *parser) ownImages(env *plan.Environment) {
	list, _ := p.own("images")
	var images []*ownImage
	byAlias := map[string]*ownImage{}
	seen := map[string]string{}
	for _, entry := range splitList(list) {
		alias, image, ok := strings.Cut(entry, "=")
		alias, image = strings.TrimSpace(alias), strings.TrimSpace(image)
		switch {
		case !ok || alias == "" || image == "":
			p.fail(OwnPrefix+"images", "%q is not <alias>=<image>", entry)
			continue
		case !aliasRE.MatchString(alias):
			p.fail(OwnPrefix+"images", "alias %q: letters, digits, '-' and '_' only (it names annotations <alias>.<field>)", alias)
			continue
		case byAlias[alias] != nil:
			p.fail(OwnPrefix+"images", "alias %q is given twice", alias)
			continue
		}
		repo, err := checkRepository(image)
		if err != nil {
			p.fail(OwnPrefix+"images", "%s: %v", alias, err)
			continue
		}
		if other, dup := seen[repo]; dup {
			p.fail(OwnPrefix+"images", "%s is watched twice (aliases %s and %s)", image, other, alias)
			continue
		}
		seen[repo] = alias
		im := &ownImage{alias: alias, image: image, fields: map[string]string{}}
		images = append(images, im)
		byAlias[alias] = im
	}
	if len(images) == 0 && len(p.errs) == 0 {
		p.fail(OwnPrefix+"images", "no image: want <alias>=<image>[,<alias>=<image>…]")
	}
	for _, key := range sortedKeys(p.ann) {
		rest, ok := strings.CutPrefix(key, OwnPrefix)
		if !ok || slices.Contains(ownAppKeys, rest) {
			continue
		}
		alias, field, ok := strings.Cut(rest, ".")
		switch {
		case !ok:
			p.fail(key, "unknown annotation%s (application-wide: %s; per image: <alias>.<field>)", config.Suggest(rest, ownAppKeys), strings.Join(ownAppKeys, ", "))
		case !slices.Contains(ownFields, field):
			p.fail(key, "unknown field %q%s (fields: %s)", field, config.Suggest(field, ownFields), strings.Join(ownFields, ", "))
		case byAlias[alias] == nil:
			p.fail(key, "%q is not an alias of tagwatch.dev/images", alias)
		default:
			byAlias[alias].fields[field] = strings.TrimSpace(p.ann[key])
		}
	}
	for _, im := range images {
		if w := p.ownWatch(env, im); w != nil {
			env.Watches = append(env.Watches, w)
		}
	}
}

// ownWatch builds the watch of one image; nil when it is invalid (the
// problems are recorded).
func (p *parser) ownWatch(env *plan.Environment, im *ownImage) *plan.Watch {
	key := func(f string) string { return OwnPrefix + im.alias + "." + f }
	n := len(p.errs)
	f := im.fields
	spec := policy.Spec{
		Strategy: policy.Strategy(f["strategy"]), Constraint: f["constraint"], AllowTags: f["allowTags"],
		IgnoreTags: splitList(f["ignoreTags"]), Extract: f["extract"], Order: f["order"], Platforms: splitList(f["platforms"]),
	}
	for field, dst := range map[string]*bool{"semverLoose": &spec.Loose, "allowDowngrade": &spec.AllowDowngrade} {
		if v, ok := f[field]; ok {
			*dst = p.boolean(key(field), v)
		}
	}
	pol := p.policy(spec, func(field string) string {
		// "ignoreTags[1]" is the annotation ignoreTags.
		base, _, _ := strings.Cut(field, "[")
		return key(base)
	})
	w := &plan.Watch{Image: im.image, Key: plan.Normalize(im.image), Alias: im.alias, Policy: pol, KustomizeName: f["kustomizeName"]}
	if v, ok := f["writeDigest"]; ok {
		w.WriteDigest = p.boolean(key("writeDigest"), v)
	}
	if file, ok := f["helm.file"]; ok {
		h := &plan.Helm{File: file, Image: f["helm.image"], Repository: f["helm.repository"], Tag: f["helm.tag"], Digest: f["helm.digest"]}
		if _, err := cleanDir(path.Join(env.Path, file)); err != nil || file == "" || path.IsAbs(file) {
			p.fail(key("helm.file"), "%q: want a values file relative to the environment's folder, inside the repository", file)
		}
		for hf, v := range map[string]string{"helm.image": h.Image, "helm.repository": h.Repository, "helm.tag": h.Tag, "helm.digest": h.Digest} {
			if _, ok := f[hf]; ok && (writeback.Target{Kind: writeback.Helm, Path: "v", TagField: v}).Validate() != nil {
				p.fail(key(hf), "%q is not a dotted path like image.tag", v)
			}
		}
		switch {
		case h.Image == "" && h.Tag == "":
			p.fail(key("helm.tag"), "needs helm.tag (with helm.repository) or helm.image: the values to write")
		case h.Image != "" && (h.Repository != "" || h.Tag != "" || h.Digest != ""):
			p.fail(key("helm.image"), "writes the whole reference; do not also set helm.repository, helm.tag or helm.digest")
		}
		w.Helm = h
	} else {
		for _, hf := range []string{"helm.image", "helm.repository", "helm.tag", "helm.digest"} {
			if _, ok := f[hf]; ok {
				p.fail(key(hf), "needs %s: the values file the field is in", key("helm.file"))
			}
		}
	}
	if len(p.errs) > n {
		return nil
	}
	return w
}

// policy compiles spec, reporting each problem at the annotation keyOf
// names for the policy field.
func (p *parser) policy(spec policy.Spec, keyOf func(field string) string) *policy.Policy {
	pol, err := policy.New(spec)
	if err == nil {
		return pol
	}
	var walk func(error)
	walk = func(err error) {
		if many, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range many.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *policy.FieldError
		if errors.As(err, &fe) {
			p.fail(keyOf(fe.Field), "%q: %v", fe.Value, fe.Err)
			return
		}
		p.fail(keyOf(""), "%v", err)
	}
	walk(err)
	return nil
}

// checkRepository checks an image repository written without tag or digest
// and returns its normalised name.
func checkRepository(image string) (string, error) {
	if last := image[strings.LastIndex(image, "/")+1:]; strings.ContainsAny(last, ":@") {
		return "", fmt.Errorf("%q names a tag or digest; write the repository alone (the policy picks the tag)", image)
	}
	r, err := name.NewRepository(image)
	if err != nil {
		return "", fmt.Errorf("%q is not an image repository", image)
	}
	return r.Name(), nil
}

// splitList splits a comma list, trimming space and dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
