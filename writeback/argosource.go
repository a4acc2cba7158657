package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// An Argo CD parameter override file (.argocd-source-<app>.yaml beside an
// Application's manifests), in the two shapes Argo CD reads and Argo CD
// Image Updater writes:
//
//	kustomize:
//	  images:
//	  - registry.example.com/team/app:1.4.0   # [name=]newName[:tag][@digest]
//
//	helm:
//	  parameters:
//	  - name: image.tag
//	    value: 1.4.0
//	    forcestring: true
//
// A Target of kind ArgoSource names the file (Path) and either the kustomize
// image (Name: the part before "=", or the image name of an entry without
// one) or the Helm parameters (ImageField: one parameter holding
// name:tag[@digest]; else RepositoryField, optional, and TagField, holding
// tag[@digest]). A missing file is created, missing entries and parameters
// are added; everything else in the file stays as it was.

// argoSourceFile is a parsed override file and the section of the target.
type argoSourceFile struct {
	f          *yamlFile
	root       *yaml.Node // the root mapping; nil for an empty file
	sectionKey *yaml.Node // "kustomize" or "helm"; nil when missing
	section    *yaml.Node // its value: a mapping or a null
	listKey    *yaml.Node // "images" or "parameters" in the section; nil when missing
	list       *yaml.Node // its value: a sequence or a null
	flow       bool       // the list (or where it goes) is inside a flow collection
}

func argoHelm(t Target) bool { return t.Name == "" }

// argoSection names the section and list of t: kustomize.images or helm.parameters.
func argoSection(t Target) (section, list string) {
	if argoHelm(t) {
		return "helm", "parameters"
	}
	return "kustomize", "images"
}

// openArgoSource reads the override file of t. A missing file is
// ErrNotFound; create reports where a new one goes.
func openArgoSource(root string, t Target) (*yamlFile, error) {
	p, err := resolveRepoPath(root, t.Path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(p.abs); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: parameter override target is not a file: %w", p.rel, ErrInvalidTarget)
	}
	return loadYAMLFile(p.abs, p.rel)
}

// newArgoSource is the override file of t that does not exist yet: an
// empty file in its folder, which must exist inside the repository.
func newArgoSource(root string, t Target) (*yamlFile, error) {
	p, err := resolveNewFile(root, t.Path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(p.abs); !errors.Is(err, fs.ErrNotExist) {
		// A dangling symlink, or something that appeared meanwhile:
		// never replace what is there.
		return nil, newFileError(p.rel, 0, "exists but cannot be read as a file", ErrInvalidTarget)
	}
	f, err := parseYAMLFile(p.rel, nil)
	if err != nil {
		return nil, err
	}
	f.abs, f.mode = p.abs, 0o644
	return f, nil
}

// resolveNewFile resolves the override file at rel that may not exist yet:
// its folder must, inside the repository.
func resolveNewFile(root, rel string) (repoPath, error) {
	dir, base := path.Split(rel)
	if base == "" || base == "." || base == ".." {
		return repoPath{}, fmt.Errorf("%w: parameter override file %q has no file name", ErrInvalidTarget, rel)
	}
	d, err := resolveRepoPath(root, path.Clean(dir+"."))
	if err != nil {
		return repoPath{}, err
	}
	return repoPath{abs: filepath.Join(d.abs, base), rel: path.Join(d.rel, base)}, nil
}

// parseArgoSource locates t's section and list in f.
func parseArgoSource(f *yamlFile, t Target) (*argoSourceFile, error) {
	a := &argoSourceFile{f: f}
	roots := f.roots()
	if len(roots) > 1 {
		return nil, f.errAt(roots[1], "a parameter override file has one document, this file has more", ErrMalformedYAML)
	}
	if len(roots) == 0 || isNullNode(roots[0]) {
		return a, nil
	}
	if roots[0].Kind != yaml.MappingNode {
		return nil, f.errAt(roots[0], "the parameter override file is not a mapping", ErrMalformedYAML)
	}
	a.root = roots[0]
	a.flow = a.root.Style&yaml.FlowStyle != 0
	secName, listName := argoSection(t)
	a.sectionKey, a.section = mapField(a.root, secName)
	if a.section == nil || isNullNode(a.section) {
		return a, nil
	}
	if a.section.Kind != yaml.MappingNode {
		return nil, f.errAt(a.section, secName+" is not a mapping", ErrMalformedYAML)
	}
	a.flow = a.flow || a.section.Style&yaml.FlowStyle != 0
	a.listKey, a.list = mapField(a.section, listName)
	if a.list == nil || isNullNode(a.list) {
		return a, nil
	}
	if a.list.Kind != yaml.SequenceNode {
		return nil, f.errAt(a.list, secName+"."+listName+" is not a list", ErrMalformedYAML)
	}
	a.flow = a.flow || a.list.Style&yaml.FlowStyle != 0
	for _, e := range a.list.Content {
		switch {
		case argoHelm(t) && e.Kind != yaml.MappingNode:
			return nil, f.errAt(e, "helm.parameters entry is not a mapping", ErrMalformedYAML)
		case !argoHelm(t) && e.Kind != yaml.ScalarNode:
			return nil, f.errAt(e, "kustomize.images entry is not a string", ErrMalformedYAML)
		}
	}
	return a, nil
}

// kustomizeOverride is one kustomize.images entry: [name=]newName[:tag][@digest].
type kustomizeOverride struct {
	name    string // what kustomize matches: before "=", else the image name
	renamed bool   // written with "name="
	img     Image
}

func parseKustomizeOverride(s string) kustomizeOverride {
	old, rest, renamed := strings.Cut(s, "=")
	if !renamed {
		rest = s
	}
	k := kustomizeOverride{renamed: renamed, img: splitReference(rest)}
	k.name = k.img.Name
	if renamed {
		k.name = old
	}
	return k
}

func (k kustomizeOverride) String() string {
	if k.renamed {
		return k.name + "=" + k.img.String()
	}
	return k.img.String()
}

// entry returns the kustomize.images entry of name, or nil.
func (a *argoSourceFile) entry(name string) (*yaml.Node, error) {
	if a.list == nil || a.list.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var found *yaml.Node
	for _, e := range a.list.Content {
		if parseKustomizeOverride(e.Value).name != name {
			continue
		}
		if found != nil {
			return nil, a.f.errAt(e, fmt.Sprintf("duplicate kustomize.images entry for %q (also at line %d)", name, found.Line), ErrMalformedYAML)
		}
		found = e
	}
	return found, nil
}

// param returns the helm.parameters entry called name and its value node
// (nil when the entry has none), or nil.
func (a *argoSourceFile) param(name string) (entry, value *yaml.Node, err error) {
	if a.list == nil || a.list.Kind != yaml.SequenceNode {
		return nil, nil, nil
	}
	for _, e := range a.list.Content {
		if _, n := mapField(e, "name"); n == nil || n.Value != name {
			continue
		}
		if entry != nil {
			return nil, nil, a.f.errAt(e, fmt.Sprintf("duplicate helm parameter %q (also at line %d)", name, entry.Line), ErrMalformedYAML)
		}
		entry = e
		_, value = mapField(e, "value")
		if value != nil && value.Kind != yaml.ScalarNode {
			return nil, nil, a.f.errAt(value, fmt.Sprintf("helm parameter %q: value is not a string", name), ErrInvalidValue)
		}
	}
	return entry, value, nil
}

// image reads t's value from the file; ErrNotFound when it holds none.
func (a *argoSourceFile) image(t Target) (Image, error) {
	if !argoHelm(t) {
		e, err := a.entry(t.Name)
		if err != nil {
			return Image{}, err
		}
		if e == nil {
			return Image{}, newFileError(a.f.rel, 0, fmt.Sprintf("no kustomize.images entry for %q", t.Name), ErrNotFound)
		}
		return parseKustomizeOverride(e.Value).img, nil
	}
	get := func(name string) (string, bool, error) {
		_, v, err := a.param(name)
		if err != nil || v == nil {
			return "", false, err
		}
		return v.Value, true, nil
	}
	if t.ImageField != "" {
		v, ok, err := get(t.ImageField)
		if err != nil {
			return Image{}, err
		}
		if !ok {
			return Image{}, newFileError(a.f.rel, 0, fmt.Sprintf("no helm parameter %q", t.ImageField), ErrNotFound)
		}
		return splitReference(v), nil
	}
	v, ok, err := get(t.TagField)
	if err != nil {
		return Image{}, err
	}
	if !ok {
		return Image{}, newFileError(a.f.rel, 0, fmt.Sprintf("no helm parameter %q", t.TagField), ErrNotFound)
	}
	var img Image
	img.Tag, img.Digest = splitTagDigest(v)
	if t.RepositoryField != "" {
		if img.Name, _, err = get(t.RepositoryField); err != nil {
			return Image{}, err
		}
	}
	return img, nil
}

func readArgoSource(root string, t Target) (Image, error) {
	f, err := openArgoSource(root, t)
	if err != nil {
		return Image{}, err
	}
	a, err := parseArgoSource(f, t)
	if err != nil {
		return Image{}, err
	}
	return a.image(t)
}

// editArgoSource plans the edit of t's override file, creating it when
// missing; it returns the file when it changes.
func editArgoSource(root string, t Target, img Image) ([]*yamlFile, error) {
	f, err := openArgoSource(root, t)
	if errors.Is(err, ErrNotFound) {
		f, err = newArgoSource(root, t)
	}
	if err != nil {
		return nil, err
	}
	a, err := parseArgoSource(f, t)
	if err != nil {
		return nil, err
	}
	var want Image
	if argoHelm(t) {
		want, err = a.setParams(t, img)
	} else {
		want, err = a.setImage(t, img)
	}
	if err != nil {
		return nil, err
	}
	return finishEdit(f, func(nf *yamlFile) error {
		na, err := parseArgoSource(nf, t)
		if err != nil {
			return err
		}
		got, err := na.image(t)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("read back %q, want %q", got, want)
		}
		return nil
	})
}

// setImage sets the kustomize.images entry of t.Name to img.
func (a *argoSourceFile) setImage(t Target, img Image) (Image, error) {
	e, err := a.entry(t.Name)
	if err != nil {
		return Image{}, err
	}
	k := kustomizeOverride{name: t.Name, img: img}
	if e != nil {
		cur := parseKustomizeOverride(e.Value)
		k.renamed = cur.renamed
		if k.img.Name == "" {
			k.img.Name = cur.img.Name
		}
	} else if k.img.Name == "" {
		k.img.Name = t.Name
	}
	k.renamed = k.renamed || k.img.Name != t.Name
	field := "kustomize.images[" + t.Name + "]"
	if e != nil {
		if !scalarIs(e, k.String()) {
			a.f.noteField(field)
		}
		return k.img, a.f.replaceScalar(e, k.String(), a.flow)
	}
	a.f.noteField(field + " (added)")
	return k.img, a.add(argoItem{scalar: k.String()})
}

// argoItem is an entry to add to a list: a string, or a helm parameter.
type argoItem struct {
	scalar      string
	name, value string
}

// setParams sets the helm parameters of t to img.
func (a *argoSourceFile) setParams(t Target, img Image) (Image, error) {
	cur, err := a.image(t)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Image{}, err
	}
	want := img
	var set []argoItem
	if t.ImageField != "" {
		if want.Name == "" {
			want.Name = cur.Name
		}
		if want.Name == "" {
			return Image{}, newFileError(a.f.rel, 0, "helm parameter "+t.ImageField+" has no repository name to keep", ErrInvalidValue)
		}
		set = append(set, argoItem{name: t.ImageField, value: want.String()})
	} else {
		if img.Tag == "" {
			return Image{}, fmt.Errorf("%s: a digest without a tag needs a tag parameter to hold tag@digest: %w", a.f.rel, ErrInvalidValue)
		}
		if t.RepositoryField != "" && img.Name != "" {
			set = append(set, argoItem{name: t.RepositoryField, value: img.Name})
		} else {
			want.Name = cur.Name
			if t.RepositoryField == "" {
				want.Name = ""
			}
		}
		v := img.Tag
		if img.Digest != "" {
			v += "@" + img.Digest
		}
		set = append(set, argoItem{name: t.TagField, value: v})
	}
	var add []argoItem
	for _, s := range set {
		e, v, err := a.param(s.name)
		if err != nil {
			return Image{}, err
		}
		field := "helm.parameters[name=" + s.name + "]"
		switch {
		case e == nil:
			a.f.noteField(field + " (added)")
			add = append(add, s)
		case v == nil:
			a.f.noteField(field)
			last := e.Content[len(e.Content)-1]
			if err := a.f.insertFieldsAfter(e, last, a.flow || e.Style&yaml.FlowStyle != 0, []scalarField{{"value", s.value}}); err != nil {
				return Image{}, err
			}
		case !scalarIs(v, s.value):
			a.f.noteField(field)
			if err := a.f.replaceScalar(v, s.value, a.flow || e.Style&yaml.FlowStyle != 0); err != nil {
				return Image{}, err
			}
		}
	}
	if len(add) > 0 {
		if err := a.add(add...); err != nil {
			return Image{}, err
		}
	}
	return want, nil
}

// add appends items to the list, creating the list and the section as
// needed, in the style of the file around them.
func (a *argoSourceFile) add(items ...argoItem) error {
	f := a.f
	secName, listName := "kustomize", "images"
	if items[0].scalar == "" {
		secName, listName = "helm", "parameters"
	}
	flowList := "[" + flowItems(items) + "]"
	switch {
	case a.list != nil && a.list.Kind == yaml.SequenceNode:
		return a.appendTo(items)
	case a.list != nil: // images: with a null value
		return a.replaceNull(a.list, flowList)
	case a.section != nil && isNullNode(a.section):
		return a.replaceNull(a.section, "{"+listName+": "+flowList+"}")
	case a.section != nil:
		return a.insertKey(a.section, listName, flowList, func(indent int) string {
			return strings.Repeat(" ", indent) + listName + ":" + f.eol + blockItems(f.eol, indent, items)
		})
	case a.root != nil:
		return a.insertKey(a.root, secName, "{"+listName+": "+flowList+"}", func(indent int) string {
			return strings.Repeat(" ", indent) + secName + ":" + f.eol +
				strings.Repeat(" ", indent+2) + listName + ":" + f.eol + blockItems(f.eol, indent+2, items)
		})
	}
	f.appendLines(secName + ":" + f.eol + "  " + listName + ":" + f.eol + blockItems(f.eol, 2, items))
	return nil
}

// appendTo appends items after the last entry of the list.
func (a *argoSourceFile) appendTo(items []argoItem) error {
	f, seq := a.f, a.list
	if a.flow || len(seq.Content) == 0 {
		if len(seq.Content) == 0 {
			end, err := f.flowEnd(seq)
			if err != nil {
				return err
			}
			f.replace(end-1, end-1, flowItems(items))
			return nil
		}
		end, err := f.nodeEnd(seq.Content[len(seq.Content)-1], true)
		if err != nil {
			return err
		}
		f.replace(end, end, ", "+flowItems(items))
		return nil
	}
	last := seq.Content[len(seq.Content)-1]
	end, err := f.nodeEnd(last, false)
	if err != nil {
		return err
	}
	at := f.lineEnd(end)
	f.replace(at, at, f.eol+blockItems(f.eol, seq.Column-1, items))
	return nil
}

// insertKey adds key to mapping m after its last value: block renders the
// key and its value at an indentation; a flow mapping gets "key: flow".
func (a *argoSourceFile) insertKey(m *yaml.Node, key, flow string, block func(indent int) string) error {
	f := a.f
	if m.Style&yaml.FlowStyle != 0 || a.flow {
		if len(m.Content) == 0 {
			end, err := f.flowEnd(m)
			if err != nil {
				return err
			}
			f.replace(end-1, end-1, key+": "+flow)
			return nil
		}
		end, err := f.nodeEnd(m.Content[len(m.Content)-1], true)
		if err != nil {
			return err
		}
		f.replace(end, end, ", "+key+": "+flow)
		return nil
	}
	end, err := f.nodeEnd(m.Content[len(m.Content)-1], false)
	if err != nil {
		return err
	}
	at := f.lineEnd(end)
	f.replace(at, at, f.eol+block(m.Content[0].Column-1))
	return nil
}

// replaceNull writes text where the null value n is ("images:" alone).
func (a *argoSourceFile) replaceNull(n *yaml.Node, text string) error {
	s, e, err := a.f.scalarSpan(n, a.flow)
	if err != nil {
		return err
	}
	if s == e && s > 0 && a.f.src[s-1] != ' ' {
		text = " " + text
	}
	a.f.replace(s, e, text)
	return nil
}

// blockItems renders items as block sequence entries, the dash at indent
// (Argo CD Image Updater writes the sequence level with its key).
func blockItems(eol string, indent int, items []argoItem) string {
	pad := strings.Repeat(" ", indent)
	var lines []string
	for _, it := range items {
		if it.scalar != "" {
			lines = append(lines, pad+"- "+formatScalar(it.scalar, 0, false))
			continue
		}
		lines = append(lines,
			pad+"- name: "+formatScalar(it.name, 0, false),
			pad+"  value: "+formatScalar(it.value, 0, false),
			pad+"  forcestring: true")
	}
	return strings.Join(lines, eol)
}

// flowItems renders items as flow sequence entries.
func flowItems(items []argoItem) string {
	var parts []string
	for _, it := range items {
		if it.scalar != "" {
			parts = append(parts, formatScalar(it.scalar, 0, true))
			continue
		}
		parts = append(parts, "{name: "+formatScalar(it.name, 0, true)+", value: "+formatScalar(it.value, 0, true)+", forcestring: true}")
	}
	return strings.Join(parts, ", ")
}

// argoSourceFields are the fields t writes: the kustomize entry, or the
// helm parameters.
func argoSourceFields(root string, t Target) ([]Field, error) {
	p, err := resolveRepoPath(root, t.Path)
	if errors.Is(err, ErrNotFound) {
		p, err = resolveNewFile(root, t.Path)
	}
	if err != nil {
		return nil, err
	}
	file := p.rel
	if !argoHelm(t) {
		return []Field{{File: file, Path: "kustomize.images[" + t.Name + "]"}}, nil
	}
	var out []Field
	for _, p := range []string{t.ImageField, t.RepositoryField, t.TagField} {
		if p != "" {
			out = append(out, Field{File: file, Path: "helm.parameters[name=" + p + "]"})
		}
	}
	return out, nil
}
