package writeback

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// markerKey is the JSON key of a marker comment: # {"$tagwatch": "app:tag"}.
const markerKey = "$tagwatch"

// Marker fields: the whole reference, or one part of it.
const (
	markerWhole  = ""
	markerTag    = "tag"
	markerName   = "name"
	markerDigest = "digest"
)

// markedScalar is one scalar carrying a marker comment.
type markedScalar struct {
	f           *yamlFile
	node        *yaml.Node
	flow        bool
	scalarField string
}

// parseMarkerComment parses a line comment. ok is false when the comment
// is not a tagwatch marker; err is set when it looks like one but is not
// valid JSON with a string value.
func parseMarkerComment(comment string) (alias, fieldName string, ok bool, err error) {
	s := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(comment), "#"))
	if !strings.HasPrefix(s, "{") || !strings.Contains(s, markerKey) {
		return "", "", false, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return "", "", false, fmt.Errorf("marker comment %s is not a JSON object: %w", s, err)
	}
	raw, found := m[markerKey]
	if !found {
		return "", "", false, nil
	}
	var v string
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", "", false, fmt.Errorf("marker comment %s: %q must be a string", s, markerKey)
	}
	alias, fieldName, err = parseMarkerValue(v)
	return alias, fieldName, true, err
}

// parseMarkerValue splits "alias[:tag|:name|:digest]". The alias is
// returned even when the rest is invalid, so callers can ignore markers of
// other aliases.
func parseMarkerValue(v string) (alias, fieldName string, err error) {
	alias = v
	if i := strings.LastIndexByte(v, ':'); i >= 0 {
		alias, fieldName = v[:i], v[i+1:]
		switch fieldName {
		case markerTag, markerName, markerDigest:
		default:
			return alias, "", fmt.Errorf("marker %q: unknown field %q (want :tag, :name or :digest)", v, fieldName)
		}
	}
	if alias == "" || strings.ContainsAny(alias, ": \t") {
		return alias, "", fmt.Errorf("marker %q: invalid alias", v)
	}
	return alias, fieldName, nil
}

// markers returns the scalars of f marked for alias, in file order.
func (f *yamlFile) markers(alias string) ([]markedScalar, error) {
	var out []markedScalar
	check := func(n *yaml.Node, comment string, flow bool) error {
		if comment == "" {
			return nil
		}
		a, fld, ok, err := parseMarkerComment(comment)
		if !ok && err == nil || a != alias && ok {
			return nil
		}
		if err != nil {
			return f.errAt(n, err.Error(), ErrMalformedYAML)
		}
		out = append(out, markedScalar{f: f, node: n, flow: flow, scalarField: fld})
		return nil
	}
	var walk func(n *yaml.Node, flow bool) error
	walk = func(n *yaml.Node, flow bool) error {
		flow = flow || n.Style&yaml.FlowStyle != 0
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				if v.Kind != yaml.ScalarNode {
					if err := walk(v, flow); err != nil {
						return err
					}
					continue
				}
				c := v.LineComment
				if c == "" && k.Line == v.Line {
					c = k.LineComment
				}
				if err := check(v, c, flow); err != nil {
					return err
				}
			}
		case yaml.SequenceNode:
			for _, item := range n.Content {
				if item.Kind != yaml.ScalarNode {
					if err := walk(item, flow); err != nil {
						return err
					}
					continue
				}
				if err := check(item, item.LineComment, flow); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, r := range f.roots() {
		if err := walk(r, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// markerFiles reads the YAML files under t.Path that mention a marker.
func markerFiles(root string, t Target) ([]*yamlFile, error) {
	base, err := resolveRepoPath(root, t.Path)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var files []*yamlFile
	err = filepath.WalkDir(base.abs, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != base.abs {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(p)); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		r, err := filepath.Rel(base.abs, p)
		if err != nil {
			return err
		}
		rp, err := resolveRepoPath(root, strings.TrimPrefix(base.rel+"/"+filepath.ToSlash(r), "./"))
		if err != nil {
			return err
		}
		st, err := os.Stat(rp.abs)
		if err != nil || !st.Mode().IsRegular() || seen[rp.abs] {
			return err
		}
		seen[rp.abs] = true
		data, err := os.ReadFile(rp.abs)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(markerKey)) {
			return nil
		}
		f, err := parseYAMLFile(rp.rel, data)
		if err != nil {
			return err
		}
		f.abs, f.mode = rp.abs, st.Mode()
		files = append(files, f)
		return nil
	})
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) || errors.Is(err, ErrOutsideRepo) {
			return nil, err
		}
		return nil, fmt.Errorf("%s: scanning for markers: %w", base.rel, err)
	}
	return files, nil
}

// collectMarkers returns the scalars marked for t's alias in files, but
// those at a field t excludes.
func collectMarkers(files []*yamlFile, t Target) ([]markedScalar, error) {
	var all []markedScalar
	for _, f := range files {
		ms, err := f.markers(t.Name)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if !slices.Contains(t.Exclude, m.field()) {
				all = append(all, m)
			}
		}
	}
	return all, nil
}

// field is where the marked scalar is.
func (m markedScalar) field() Field {
	return Field{File: m.f.rel, Path: "line " + strconv.Itoa(m.node.Line)}
}

// markerImage combines marked values: the first whole marker wins, else
// the first :name, :tag and :digest markers.
func markerImage(ms []markedScalar) Image {
	var img Image
	var seenName, seenTag, seenDigest bool
	for _, m := range ms {
		v := m.node.Value
		switch m.scalarField {
		case markerWhole:
			return splitReference(v)
		case markerName:
			if !seenName {
				img.Name, seenName = v, true
			}
		case markerTag:
			if !seenTag {
				var d string
				img.Tag, d = splitTagDigest(v)
				if img.Digest == "" {
					img.Digest = d
				}
				seenTag = true
			}
		case markerDigest:
			if !seenDigest && v != "" {
				img.Digest, seenDigest = v, true
			}
		}
	}
	return img
}

func readMarkers(root string, t Target) (Image, error) {
	files, err := markerFiles(root, t)
	if err != nil {
		return Image{}, err
	}
	ms, err := collectMarkers(files, t)
	if err != nil {
		return Image{}, err
	}
	if len(ms) == 0 {
		return Image{}, fmt.Errorf("%s: no marker %q: %w", t.Path, t.Name, ErrNotFound)
	}
	return markerImage(ms), nil
}

// editMarkers plans the edit of every marked scalar; it returns the files that change.
func editMarkers(root string, t Target, img Image) ([]*yamlFile, error) {
	files, err := markerFiles(root, t)
	if err != nil {
		return nil, err
	}
	ms, err := collectMarkers(files, t)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%s: no marker %q: %w", t.Path, t.Name, ErrNotFound)
	}
	hasDigest := false
	for _, m := range ms {
		hasDigest = hasDigest || m.scalarField == markerDigest
	}
	wants := map[*yamlFile][]string{} // per file, the value of each marker in order
	for _, m := range ms {
		v, err := markerValue(m, img, hasDigest)
		if err != nil {
			return nil, err
		}
		wants[m.f] = append(wants[m.f], v)
		if !scalarIs(m.node, v) {
			if err := m.f.replaceScalar(m.node, v, m.flow); err != nil {
				return nil, err
			}
			m.f.noteField(markerLabel(m, t.Name))
		}
	}
	var changed []*yamlFile
	for _, f := range files {
		want := wants[f]
		out, err := finishEdit(f, func(nf *yamlFile) error {
			got, err := collectMarkers([]*yamlFile{nf}, t)
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				return fmt.Errorf("%d markers after the edit, %d before", len(got), len(want))
			}
			for i, m := range got {
				if !scalarIs(m.node, want[i]) {
					return fmt.Errorf("line %d holds %q, want %q", m.node.Line, m.node.Value, want[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		changed = append(changed, out...)
	}
	return changed, nil
}

// markerLabel names a marked scalar for a plan: "line 12 (app:tag)".
func markerLabel(m markedScalar, alias string) string {
	if m.scalarField != markerWhole {
		alias += ":" + m.scalarField
	}
	return fmt.Sprintf("%s (%s)", m.field().Path, alias)
}

// markerValue is what marker m gets for img. A value that stays as it is
// (":name" with no name to write, a ":tag" when only a digest is written
// and a ":digest" marker exists) is the current value.
func markerValue(m markedScalar, img Image, hasDigest bool) (string, error) {
	cur := m.node.Value
	switch m.scalarField {
	case markerWhole:
		name := img.Name
		if name == "" {
			name = splitReference(cur).Name
		}
		if name == "" {
			return "", m.f.errAt(m.node, "marked value has no repository name to keep", ErrInvalidValue)
		}
		return Image{Name: name, Tag: img.Tag, Digest: img.Digest}.String(), nil
	case markerName:
		if img.Name == "" {
			return cur, nil
		}
		return img.Name, nil
	case markerTag:
		if img.Tag == "" {
			if hasDigest {
				return cur, nil
			}
			return "", m.f.errAt(m.node, "a digest without a tag needs a :digest marker", ErrInvalidValue)
		}
		if img.Digest != "" && !hasDigest {
			return img.Tag + "@" + img.Digest, nil
		}
		return img.Tag, nil
	default:
		return img.Digest, nil
	}
}
