package writeback

import (
	"bytes"
	"fmt"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// scalarField is one key and value to write.
type scalarField struct{ key, value string }

// finishEdit applies f's splices and checks the result with verify. It
// returns f (with out set) when its bytes change, nothing otherwise.
func finishEdit(f *yamlFile, verify func(*yamlFile) error) ([]*yamlFile, error) {
	out, err := f.result()
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, f.original()) {
		return nil, nil
	}
	nf, err := parseYAMLFile(f.rel, out)
	if err == nil {
		err = verify(nf)
	}
	if err != nil {
		return nil, newFileError(f.rel, 0, "edit could not be verified, nothing written", fmt.Errorf("%w: %w", ErrMalformedYAML, err))
	}
	f.out = out
	return []*yamlFile{f}, nil
}

// setFields sets fields of mapping m (in canonical order, new ones placed
// after the nearest earlier field) and removes the fields in remove.
func (f *yamlFile) setFields(m *yaml.Node, flow bool, set []scalarField, remove []string) error {
	removed := map[string]bool{}
	for _, key := range remove {
		if _, v := mapField(m, key); v != nil {
			removed[key] = true
			if err := f.removeField(m, key, flow); err != nil {
				return err
			}
		}
	}
	var anchors []*yaml.Node
	pending := map[*yaml.Node][]scalarField{}
	for _, fl := range set {
		_, v := mapField(m, fl.key)
		if v != nil {
			if scalarIs(v, fl.value) {
				continue
			}
			if err := f.replaceScalar(v, fl.value, flow); err != nil {
				return err
			}
			continue
		}
		anchor := f.fieldAnchor(m, fl.key, removed)
		if pending[anchor] == nil {
			anchors = append(anchors, anchor)
		}
		pending[anchor] = append(pending[anchor], fl)
	}
	for _, a := range anchors {
		if err := f.insertFieldsAfter(m, a, flow, pending[a]); err != nil {
			return err
		}
	}
	return nil
}

// fieldAnchor returns the value node after which a missing key goes: the
// last (in the file) of the fields that come before key in kustomize's
// order, else the mapping's last value.
func (f *yamlFile) fieldAnchor(m *yaml.Node, key string, removed map[string]bool) *yaml.Node {
	var best *yaml.Node
	for _, k := range kustomizeImageKeys {
		if k == key {
			break
		}
		if _, v := mapField(m, k); v != nil && !removed[k] && (best == nil || nodeAfter(v, best)) {
			best = v
		}
	}
	if best == nil {
		for i := len(m.Content) - 1; i > 0; i -= 2 {
			if !removed[m.Content[i-1].Value] {
				return m.Content[i]
			}
		}
	}
	return best
}

func nodeAfter(a, b *yaml.Node) bool {
	return a.Line > b.Line || a.Line == b.Line && a.Column > b.Column
}

// replaceScalar replaces the text of scalar n by v, keeping its quoting.
func (f *yamlFile) replaceScalar(n *yaml.Node, v string, flow bool) error {
	if n.Kind == yaml.AliasNode {
		return f.errAt(n, fmt.Sprintf("value is the alias *%s; edit its anchor instead", n.Value), ErrInvalidValue)
	}
	if n.Kind != yaml.ScalarNode {
		return f.errAt(n, "value is not a scalar", ErrMalformedYAML)
	}
	start, end, err := f.scalarSpan(n, flow)
	if err != nil {
		return err
	}
	text := formatScalar(v, n.Style, flow)
	if start == end && start > 0 && f.src[start-1] != ' ' {
		text = " " + text
	}
	f.replace(start, end, text)
	return nil
}

// insertFieldsAfter inserts fields into mapping m after the value node a.
func (f *yamlFile) insertFieldsAfter(m, a *yaml.Node, flow bool, fields []scalarField) error {
	end, err := f.nodeEnd(a, flow)
	if err != nil {
		return err
	}
	var b strings.Builder
	if flow {
		for _, fl := range fields {
			b.WriteString(", " + fl.key + ": " + formatScalar(fl.value, 0, true))
		}
		f.replace(end, end, b.String())
		return nil
	}
	indent := strings.Repeat(" ", m.Content[0].Column-1)
	for _, fl := range fields {
		b.WriteString(f.eol + indent + fl.key + ": " + formatScalar(fl.value, 0, false))
	}
	at := f.lineEnd(end)
	f.replace(at, at, b.String())
	return nil
}

// removeField deletes key and its value from mapping m: the whole line in a
// block mapping, the pair and one comma in a flow mapping.
func (f *yamlFile) removeField(m *yaml.Node, key string, flow bool) error {
	i := 0
	for ; i+1 < len(m.Content) && m.Content[i].Value != key; i += 2 {
	}
	k, v := m.Content[i], m.Content[i+1]
	ks, err := f.nodeStart(k)
	if err != nil {
		return f.errAt(k, err.Error(), ErrMalformedYAML)
	}
	ve, err := f.nodeEnd(v, flow)
	if err != nil {
		return err
	}
	nextKey := func() (int, error) {
		ns, err := f.nodeStart(m.Content[i+2])
		if err != nil {
			return 0, f.errAt(m.Content[i+2], err.Error(), ErrMalformedYAML)
		}
		return ns, nil
	}
	hasNext := i+2 < len(m.Content)
	if flow {
		return f.removeFlowPair(m, i, ks, ve, hasNext, nextKey)
	}
	ls := f.lineStart(ks)
	if len(bytes.TrimLeft(f.src[ls:ks], " \t")) == 0 { // the key starts its line
		if nl := f.nextLineStart(ve); nl >= 0 {
			f.replace(ls, nl, "")
			return nil
		}
		pb := ls
		if pb > 0 {
			pb--
			if f.src[pb] == '\n' && pb > 0 && f.src[pb-1] == '\r' {
				pb--
			}
		}
		f.replace(pb, f.lineEnd(ve), "")
		return nil
	}
	if !hasNext { // "- key: value" alone: cannot happen for a named entry
		return f.errAt(k, "cannot remove the only field of a list entry", ErrMalformedYAML)
	}
	ns, err := nextKey()
	if err != nil {
		return err
	}
	f.replace(ks, ns, "") // "- digest: x\n  name: a" becomes "- name: a"
	return nil
}

// appendLines appends text (lines joined by f.eol) at the end of the file,
// keeping whether the file ends with a line break.
func (f *yamlFile) appendLines(text string) {
	n := len(f.src)
	switch {
	case n == 0:
		f.replace(0, 0, text+f.eol)
	case f.endsWithEOL():
		f.replace(n, n, text+f.eol)
	default:
		f.replace(n, n, f.eol+text)
	}
}

// removeFlowPair deletes the pair at m.Content[i] (key at ks, value ending
// at ve) of a flow mapping with one of the commas around it.
func (f *yamlFile) removeFlowPair(m *yaml.Node, i, ks, ve int, hasNext bool, nextKey func() (int, error)) error {
	switch {
	case i > 0:
		pe, err := f.nodeEnd(m.Content[i-1], true)
		if err != nil {
			return err
		}
		f.replace(pe, ve, "")
	case hasNext:
		ns, err := nextKey()
		if err != nil {
			return err
		}
		f.replace(ks, ns, "")
	default:
		f.replace(ks, ve, "")
	}
	return nil
}
