package writeback

import (
	"fmt"
	"os"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// openValues reads the Helm values file of t.
func openValues(root string, t Target) (*yamlFile, error) {
	p, err := resolveRepoPath(root, t.Path)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(p.abs); err == nil && !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: helm values target is not a file: %w", p.rel, ErrInvalidTarget)
	}
	return loadYAMLFile(p.abs, p.rel)
}

// fieldLocation is a field found by a dotted path.
type fieldLocation struct {
	value *yaml.Node
	flow  bool // inside a flow collection
}

// lookupPath finds the field at dotted path p in the first document (as
// Helm reads only that one), stepping with kyaml's Field and
// GetElementByIndex. Paths never cross an alias: writing through one would
// change every place sharing the anchor.
func (f *yamlFile) lookupPath(p string) (fieldLocation, error) {
	steps, err := parseFieldPath(p)
	if err != nil {
		return fieldLocation{}, err
	}
	roots := f.roots()
	if len(roots) == 0 {
		return fieldLocation{}, newFileError(f.rel, 0, "no field "+p+" (empty file)", ErrNotFound)
	}
	cur, flow := yaml.NewRNode(roots[0]), false
	for i, st := range steps {
		n := cur.YNode()
		where := formatFieldPath(steps[:i])
		if n.Kind == yaml.AliasNode {
			return fieldLocation{}, f.errAt(n, fmt.Sprintf("field path %s crosses the alias *%s at %s", p, n.Value, where), ErrInvalidValue)
		}
		flow = flow || n.Style&yaml.FlowStyle != 0
		if st.index >= 0 {
			var next *yaml.RNode
			if n.Kind == yaml.SequenceNode {
				next, _ = cur.Pipe(yaml.GetElementByIndex(st.index))
			}
			if next == nil {
				return fieldLocation{}, f.errAt(n, fmt.Sprintf("no field %s: no element %d in %q", p, st.index, where), ErrNotFound)
			}
			cur = next
			continue
		}
		var fld *yaml.MapNode
		if n.Kind == yaml.MappingNode {
			fld = cur.Field(st.key)
		}
		if fld == nil {
			return fieldLocation{}, f.errAt(n, fmt.Sprintf("no field %s: no key %q in %q", p, st.key, where), ErrNotFound)
		}
		cur = fld.Value
	}
	v := cur.YNode()
	if v.Kind == yaml.AliasNode {
		return fieldLocation{}, f.errAt(v, fmt.Sprintf("field %s is the alias *%s; edit its anchor instead", p, v.Value), ErrInvalidValue)
	}
	if v.Kind != yaml.ScalarNode {
		return fieldLocation{}, f.errAt(v, fmt.Sprintf("field %s is not a scalar", p), ErrInvalidValue)
	}
	return fieldLocation{value: v, flow: flow}, nil
}

// helmImage reads the image at t from f. A missing repository or digest
// field reads as empty.
func helmImage(f *yamlFile, t Target) (Image, error) {
	if t.ImageField != "" {
		loc, err := f.lookupPath(t.ImageField)
		if err != nil {
			return Image{}, err
		}
		return splitReference(loc.value.Value), nil
	}
	loc, err := f.lookupPath(t.TagField)
	if err != nil {
		return Image{}, err
	}
	var img Image
	img.Tag, img.Digest = splitTagDigest(loc.value.Value)
	if t.RepositoryField != "" {
		if loc, err := f.lookupPath(t.RepositoryField); err == nil {
			img.Name = loc.value.Value
		}
	}
	if t.DigestField != "" {
		if loc, err := f.lookupPath(t.DigestField); err == nil && loc.value.Value != "" {
			img.Digest = loc.value.Value
		}
	}
	return img, nil
}

func readHelm(root string, t Target) (Image, error) {
	f, err := openValues(root, t)
	if err != nil {
		return Image{}, err
	}
	return helmImage(f, t)
}

// editHelm plans the edit of the values file; it returns it when it changes.
func editHelm(root string, t Target, img Image) ([]*yamlFile, error) {
	f, err := openValues(root, t)
	if err != nil {
		return nil, err
	}
	return helmEdit(f, t, img)
}

// helmPlan returns the fields to set for img and the image Read must then return.
func helmPlan(f *yamlFile, t Target, img Image) ([]scalarField, Image, error) {
	before, err := helmImage(f, t)
	if err != nil {
		return nil, Image{}, err
	}
	want := Image{Name: before.Name, Tag: before.Tag, Digest: img.Digest}
	var set []scalarField
	switch {
	case t.ImageField != "":
		if img.Name != "" {
			want.Name = img.Name
		}
		if want.Name == "" {
			return nil, Image{}, newFileError(f.rel, 0, "field "+t.ImageField+" has no repository name to keep", ErrInvalidValue)
		}
		want.Tag = img.Tag
		set = append(set, scalarField{t.ImageField, want.String()})
	default:
		switch {
		case img.Tag != "":
			want.Tag = img.Tag
			v := img.Tag
			if img.Digest != "" && t.DigestField == "" {
				v += "@" + img.Digest
			}
			set = append(set, scalarField{t.TagField, v})
		case t.DigestField == "":
			return nil, Image{}, fmt.Errorf("%s: a digest without a tag needs a digest field: %w", f.rel, ErrInvalidValue)
		}
		if t.RepositoryField != "" && img.Name != "" {
			want.Name = img.Name
			set = append(set, scalarField{t.RepositoryField, img.Name})
		}
		if t.DigestField != "" {
			_, err := f.lookupPath(t.DigestField)
			switch {
			case err == nil:
				set = append(set, scalarField{t.DigestField, img.Digest})
			case img.Digest != "":
				return nil, Image{}, err
			}
		}
	}
	return set, want, nil
}

// helmEdit plans the edit of values file f.
func helmEdit(f *yamlFile, t Target, img Image) ([]*yamlFile, error) {
	set, want, err := helmPlan(f, t, img)
	if err != nil {
		return nil, err
	}
	for _, s := range set {
		loc, err := f.lookupPath(s.key)
		if err != nil {
			return nil, err
		}
		if !scalarIs(loc.value, s.value) {
			if err := f.replaceScalar(loc.value, s.value, loc.flow); err != nil {
				return nil, err
			}
			if steps, err := parseFieldPath(s.key); err == nil {
				f.noteField(formatFieldPath(steps))
			}
		}
	}
	return finishEdit(f, func(nf *yamlFile) error {
		got, err := helmImage(nf, t)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("read back %q, want %q", got, want)
		}
		for _, s := range set {
			if loc, err := nf.lookupPath(s.key); err != nil || !scalarIs(loc.value, s.value) {
				return fmt.Errorf("field %s does not hold the string %q", s.key, s.value)
			}
		}
		return nil
	})
}
