package writeback

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// kustomizationFileNames are the names kustomize recognises, in its order.
var kustomizationFileNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

// kustomizeImageKeys are the fields of an images entry tagwatch writes, in
// the order kustomize itself writes them.
var kustomizeImageKeys = []string{"name", "newName", "newTag", "digest"}

// kustomization is a parsed kustomization file and the images entry of one name.
type kustomization struct {
	f         *yamlFile
	root      *yaml.Node // root mapping; nil for an empty file
	imagesKey *yaml.Node // nil when there is no images field
	images    *yaml.Node // its value: a sequence or a null
	entry     *yaml.Node // the entry whose name matches; nil when missing
}

// KustomizationFileNames are the file names kustomize recognises, in its order.
func KustomizationFileNames() []string { return slices.Clone(kustomizationFileNames) }

// KustomizationFile is the path, relative to root, of the kustomization
// file in dir (relative to root), the first of the names kustomize
// recognises in its order; "" when dir holds none or leaves root.
func KustomizationFile(root, dir string) string {
	d, err := resolveRepoPath(root, dir)
	if err != nil {
		return ""
	}
	for _, n := range kustomizationFileNames {
		if fi, err := os.Stat(filepath.Join(d.abs, n)); err == nil && fi.Mode().IsRegular() {
			return path.Join(d.rel, n)
		}
	}
	return ""
}

// openKustomization finds and reads the kustomization file in dir.
func openKustomization(root, dir string) (*yamlFile, error) {
	d, err := resolveRepoPath(root, dir)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, n := range kustomizationFileNames {
		if _, err := os.Lstat(filepath.Join(d.abs, n)); err == nil {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s: no %s: %w", d.rel, strings.Join(kustomizationFileNames, ", "), ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("%s: several kustomization files (%s): %w", d.rel, strings.Join(found, ", "), ErrInvalidTarget)
	}
	p, err := resolveRepoPath(root, path.Join(d.rel, found[0]))
	if err != nil {
		return nil, err
	}
	return loadYAMLFile(p.abs, p.rel)
}

// mapField returns the key and value nodes of field key of mapping m, found with kyaml.
func mapField(m *yaml.Node, key string) (k, v *yaml.Node) {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil, nil
	}
	fld := yaml.NewRNode(m).Field(key)
	if fld == nil {
		return nil, nil
	}
	return fld.Key.YNode(), fld.Value.YNode()
}

func isNullNode(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == yaml.NodeTagNull }

// parseKustomization locates the images entry called name in f.
func parseKustomization(f *yamlFile, name string) (*kustomization, error) {
	k := &kustomization{f: f}
	roots := f.roots()
	if len(roots) > 1 {
		return nil, f.errAt(roots[1], "a kustomization has one document, this file has more", ErrMalformedYAML)
	}
	if len(roots) == 0 || isNullNode(roots[0]) {
		return k, nil
	}
	if roots[0].Kind != yaml.MappingNode {
		return nil, f.errAt(roots[0], "kustomization is not a mapping", ErrMalformedYAML)
	}
	k.root = roots[0]
	k.imagesKey, k.images = mapField(k.root, "images")
	if k.images == nil || isNullNode(k.images) {
		return k, nil
	}
	if k.images.Kind != yaml.SequenceNode {
		return nil, f.errAt(k.images, "images is not a list", ErrMalformedYAML)
	}
	elems, err := yaml.NewRNode(k.images).Elements()
	if err != nil {
		return nil, f.errAt(k.images, err.Error(), ErrMalformedYAML)
	}
	for _, e := range elems {
		if e.YNode().Kind != yaml.MappingNode {
			return nil, f.errAt(e.YNode(), "images entry is not a mapping", ErrMalformedYAML)
		}
		_, v := mapField(e.YNode(), "name")
		if v == nil || v.Kind != yaml.ScalarNode {
			return nil, f.errAt(e.YNode(), "images entry without a name", ErrMalformedYAML)
		}
		if v.Value != name {
			continue
		}
		if k.entry != nil {
			return nil, f.errAt(e.YNode(), fmt.Sprintf("duplicate images entry %q (also at line %d)", name, k.entry.Line), ErrMalformedYAML)
		}
		k.entry = e.YNode()
	}
	return k, nil
}

// image is the value of the entry: newName (else name), newTag and digest.
func (k *kustomization) image() Image {
	get := func(key string) string {
		if _, v := mapField(k.entry, key); v != nil && v.Kind == yaml.ScalarNode {
			return v.Value
		}
		return ""
	}
	img := Image{Name: get("newName"), Tag: get("newTag"), Digest: get("digest")}
	if img.Name == "" {
		img.Name = get("name")
	}
	return img
}

func readKustomize(root string, t Target) (Image, error) {
	f, err := openKustomization(root, t.Path)
	if err != nil {
		return Image{}, err
	}
	k, err := parseKustomization(f, t.Name)
	if err != nil {
		return Image{}, err
	}
	if k.entry == nil {
		return Image{}, newFileError(f.rel, 0, fmt.Sprintf("no images entry %q", t.Name), ErrNotFound)
	}
	return k.image(), nil
}

// KustomizeEntry is one images entry of a kustomization.
type KustomizeEntry struct {
	Name    string // images[].name: what kustomize matches in the resources
	NewName string // images[].newName; "" when not set
}

// KustomizeEntries returns the images entries of the kustomization in dir
// (relative to root), in file order: what a "no images entry named …"
// message lists. A missing kustomization is ErrNotFound.
func KustomizeEntries(root, dir string) ([]KustomizeEntry, error) {
	f, err := openKustomization(root, dir)
	if err != nil {
		return nil, err
	}
	k, err := parseKustomization(f, "")
	if err != nil {
		return nil, err
	}
	if k.images == nil || k.images.Kind != yaml.SequenceNode {
		return nil, nil
	}
	var out []KustomizeEntry
	for _, e := range k.images.Content {
		var ke KustomizeEntry
		if _, v := mapField(e, "name"); v != nil {
			ke.Name = v.Value
		}
		if _, v := mapField(e, "newName"); v != nil && v.Kind == yaml.ScalarNode {
			ke.NewName = v.Value
		}
		out = append(out, ke)
	}
	return out, nil
}

// editKustomize plans the edit of t to img; it returns the file when it changes.
func editKustomize(root string, t Target, img Image) ([]*yamlFile, error) {
	f, err := openKustomization(root, t.Path)
	if err != nil {
		return nil, err
	}
	return kustomizeEdit(f, t, img)
}

// kustomizeEdit plans the edit of kustomization f.
func kustomizeEdit(f *yamlFile, t Target, img Image) ([]*yamlFile, error) {
	k, err := parseKustomization(f, t.Name)
	if err != nil {
		return nil, err
	}
	want := img
	if k.entry != nil {
		if want.Name == "" {
			want.Name = k.image().Name
		}
		err = k.updateEntry(t.Name, img)
	} else {
		if want.Name == "" {
			want.Name = t.Name
		}
		err = k.addEntry(t.Name, img)
		f.noteField(fmt.Sprintf("images[name=%s] (added)", t.Name))
	}
	if err != nil {
		return nil, err
	}
	return finishEdit(f, func(nf *yamlFile) error {
		nk, err := parseKustomization(nf, t.Name)
		if err != nil {
			return err
		}
		if nk.entry == nil {
			return fmt.Errorf("entry %q missing", t.Name)
		}
		if got := nk.image(); got != want {
			return fmt.Errorf("read back %q, want %q", got, want)
		}
		return nil
	})
}

// updateEntry sets newName, newTag and digest of the existing entry name.
func (k *kustomization) updateEntry(name string, img Image) error {
	var set []scalarField
	var remove []string
	if cur := k.image(); img.Name != "" && img.Name != cur.Name {
		set = append(set, scalarField{"newName", img.Name})
	}
	if img.Tag != "" {
		set = append(set, scalarField{"newTag", img.Tag})
	} else {
		remove = append(remove, "newTag")
	}
	if img.Digest != "" {
		set = append(set, scalarField{"digest", img.Digest})
	} else {
		remove = append(remove, "digest")
	}
	for _, fl := range set {
		if _, v := mapField(k.entry, fl.key); v == nil || !scalarIs(v, fl.value) {
			k.f.noteField(fmt.Sprintf("images[name=%s].%s", name, fl.key))
		}
	}
	for _, key := range remove {
		if _, v := mapField(k.entry, key); v != nil {
			k.f.noteField(fmt.Sprintf("images[name=%s].%s (removed)", name, key))
		}
	}
	return k.f.setFields(k.entry, k.flow(), set, remove)
}

func (k *kustomization) flow() bool {
	return k.images.Style&yaml.FlowStyle != 0 || k.entry.Style&yaml.FlowStyle != 0 || k.root.Style&yaml.FlowStyle != 0
}

// addEntry appends an images entry for name, creating images: if needed.
func (k *kustomization) addEntry(name string, img Image) error {
	f := k.f
	fields := []scalarField{{"name", name}}
	if img.Name != "" && img.Name != name {
		fields = append(fields, scalarField{"newName", img.Name})
	}
	if img.Tag != "" {
		fields = append(fields, scalarField{"newTag", img.Tag})
	}
	if img.Digest != "" {
		fields = append(fields, scalarField{"digest", img.Digest})
	}
	flowEntry := flowMapping(fields)
	rootFlow := k.root != nil && k.root.Style&yaml.FlowStyle != 0
	switch {
	case k.root == nil:
		f.appendLines("images:" + f.eol + f.blockEntry(0, 2, fields))
	case k.images != nil && k.images.Kind == yaml.SequenceNode:
		return k.appendToImages(fields, flowEntry)
	case k.images != nil: // images: with a null value
		s, e, err := f.scalarSpan(k.images, rootFlow)
		if err != nil {
			return err
		}
		if rootFlow {
			text := "[" + flowEntry + "]"
			if s == e && s > 0 && f.src[s-1] != ' ' {
				text = " " + text
			}
			f.replace(s, e, text)
			return nil
		}
		cs := s
		for cs > 0 && (f.src[cs-1] == ' ' || f.src[cs-1] == '\t') {
			cs--
		}
		f.replace(cs, e, "")
		dc := k.imagesKey.Column - 1 + seqIndent(k.root)
		at := f.lineEnd(e)
		f.replace(at, at, f.eol+f.blockEntry(dc, dc+2, fields))
	case rootFlow:
		if n := len(k.root.Content); n > 0 {
			end, err := f.nodeEnd(k.root.Content[n-1], true)
			if err != nil {
				return err
			}
			f.replace(end, end, ", images: ["+flowEntry+"]")
			return nil
		}
		end, err := f.flowEnd(k.root)
		if err != nil {
			return err
		}
		f.replace(end-1, end-1, "images: ["+flowEntry+"]")
	default:
		kc := k.root.Column - 1
		dc := kc + seqIndent(k.root)
		f.appendLines(strings.Repeat(" ", kc) + "images:" + f.eol + f.blockEntry(dc, dc+2, fields))
	}
	return nil
}

// appendToImages appends an entry after the last one of images:.
func (k *kustomization) appendToImages(fields []scalarField, flowEntry string) error {
	f, seq := k.f, k.images
	if seq.Style&yaml.FlowStyle != 0 || len(seq.Content) == 0 {
		if len(seq.Content) == 0 {
			end, err := f.flowEnd(seq)
			if err != nil {
				return err
			}
			f.replace(end-1, end-1, flowEntry)
			return nil
		}
		end, err := f.nodeEnd(seq.Content[len(seq.Content)-1], true)
		if err != nil {
			return err
		}
		f.replace(end, end, ", "+flowEntry)
		return nil
	}
	dc, kc := seq.Column-1, seq.Column+1
	first, last := seq.Content[0], seq.Content[len(seq.Content)-1]
	if first.Style&yaml.FlowStyle == 0 && first.Line == seq.Line {
		kc = first.Column - 1
	}
	end, err := f.nodeEnd(last, false)
	if err != nil {
		return err
	}
	text := f.blockEntry(dc, kc, fields)
	if last.Style&yaml.FlowStyle != 0 {
		text = strings.Repeat(" ", dc) + "- " + flowEntry
	}
	at := f.lineEnd(end)
	f.replace(at, at, f.eol+text)
	return nil
}

// blockEntry renders a block sequence entry: the dash at column dc, the keys at kc.
func (f *yamlFile) blockEntry(dc, kc int, fields []scalarField) string {
	var lines []string
	for i, fl := range fields {
		prefix := strings.Repeat(" ", kc)
		if i == 0 {
			prefix = strings.Repeat(" ", dc) + "-" + strings.Repeat(" ", max(kc-dc-1, 1))
		}
		lines = append(lines, prefix+fl.key+": "+formatScalar(fl.value, 0, false))
	}
	return strings.Join(lines, f.eol)
}

func flowMapping(fields []scalarField) string {
	var parts []string
	for _, fl := range fields {
		parts = append(parts, fl.key+": "+formatScalar(fl.value, 0, true))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// seqIndent is how far the file indents a block sequence under its key
// (0 for "key:\n- a", 2 for "key:\n  - a"): the first one found, else 0.
func seqIndent(n *yaml.Node) int {
	d, _ := findSeqIndent(n)
	return d
}

func findSeqIndent(n *yaml.Node) (int, bool) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if v.Kind == yaml.SequenceNode && v.Style&yaml.FlowStyle == 0 && v.Line > k.Line && v.Column >= k.Column {
				return v.Column - k.Column, true
			}
		}
	}
	for _, c := range n.Content {
		if d, ok := findSeqIndent(c); ok {
			return d, true
		}
	}
	return 0, false
}
