package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"sync"

	yaml "go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes decoded, aliases expanded, so that a file of
// nested aliases cannot make Load run away.
const maxNodes = 100000

// decoder walks a yaml.v3 node tree into the config structs by their yaml
// tags, recording the line of every field and collecting every problem.
type decoder struct {
	file  string
	lines map[string]int
	errs  Errors
	nodes int
}

// decode parses data into a Config without defaults or validation. A nil
// Config means the file could not be read as YAML at all; otherwise errs
// are the fields that could not be decoded (and were left unset).
func decode(name string, data []byte) (*Config, Errors) {
	d := &decoder{file: name, lines: map[string]int{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Err: errors.New("the file is empty")}}
		}
		return nil, Errors{d.syntaxError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, Errors{{File: name, Line: extra.Line, Err: errors.New("more than one YAML document; tagwatch.yaml holds one")}}
	} else if !errors.Is(err, io.EOF) {
		return nil, Errors{d.syntaxError(err)}
	}
	c := &Config{File: name}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if isNull(root) {
		return nil, Errors{{File: name, Line: root.Line, Err: errors.New("the file is empty")}}
	}
	if root.Kind != yaml.MappingNode {
		return nil, Errors{{File: name, Line: root.Line, Err: fmt.Errorf("expected a mapping, got %s", kindName(root))}}
	}
	d.value(root, reflect.ValueOf(c).Elem(), "")
	c.lines = d.lines
	return c, d.errs
}

// syntaxError turns a yaml.v3 parse error ("yaml: line 3: …") into a FieldError.
func (d *decoder) syntaxError(err error) *FieldError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
	}
	return &FieldError{File: d.file, Line: line, Err: fmt.Errorf("invalid YAML: %s", msg)}
}

func (d *decoder) fail(n *yaml.Node, field, format string, args ...any) {
	d.errs = append(d.errs, &FieldError{File: d.file, Line: n.Line, Field: field, Err: fmt.Errorf(format, args...)})
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// value decodes n into v; field is the path of v, for errors.
func (d *decoder) value(n *yaml.Node, v reflect.Value, field string) {
	d.nodes++
	if d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.fail(n, field, "the document is too large (more than %d nodes once aliases are expanded)", maxNodes)
		}
		return
	}
	for n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			d.fail(n, field, "unknown alias")
			return
		}
		n = n.Alias
	}
	if field != "" {
		d.lines[field] = n.Line
	}
	if isNull(n) {
		return // an empty value leaves the field unset (and defaulted)
	}
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshaler) {
		if n.Kind != yaml.ScalarNode {
			d.fail(n, field, "expected a scalar, got %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.fail(n, field, "%v", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.mapping(n, v, field)
	case reflect.Slice:
		d.sequence(n, v, field)
	case reflect.String, reflect.Bool, reflect.Float64, reflect.Int:
		d.scalar(n, v, field)
	default:
		panic(fmt.Sprintf("config: cannot decode into %s", v.Type()))
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, field, "expected %s, got %s", typeName(v.Kind()), kindName(n))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(n.Value) // a number or bool written where a string is due is taken as written
	case reflect.Bool:
		var b bool
		if n.Tag != "!!bool" || n.Decode(&b) != nil {
			d.fail(n, field, "expected true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Float64:
		var f float64
		if (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&f) != nil {
			d.fail(n, field, "expected a number, got %q", n.Value)
			return
		}
		v.SetFloat(f)
	case reflect.Int:
		var i int
		if n.Tag != "!!int" || n.Decode(&i) != nil {
			d.fail(n, field, "expected an integer, got %q", n.Value)
			return
		}
		v.SetInt(int64(i))
	}
}

func (d *decoder) sequence(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		d.value(item, s.Index(i), fmt.Sprintf("%s[%d]", field, i))
	}
	v.Set(s)
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, field string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, field, "expected a mapping, got %s", kindName(n))
		return
	}
	fields, names := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		name := join(field, k.Value)
		if k.Kind != yaml.ScalarNode {
			d.fail(k, field, "a field name must be a plain string, got %s", kindName(k))
			continue
		}
		if k.Value == "<<" {
			d.fail(k, field, "merge keys (<<) are not supported; repeat the fields instead")
			continue
		}
		idx, ok := fields[k.Value]
		if !ok {
			d.fail(k, name, "unknown field%s (valid: %s)", suggest(k.Value, names), strings.Join(names, ", "))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.fail(k, name, "given twice (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		d.lines[name] = k.Line
		d.value(val, v.Field(idx), name)
		d.lines[name] = k.Line // the key's line, even when the value starts below it
	}
}

// fieldsOf caches yamlFields per struct type.
var fieldsOf sync.Map // reflect.Type → structFields

type structFields struct {
	index map[string]int
	names []string
}

// yamlFields maps yaml names to field indexes, and lists the names in order.
// The results are shared: callers must not modify them.
func yamlFields(t reflect.Type) (map[string]int, []string) {
	if f, ok := fieldsOf.Load(t); ok {
		sf := f.(structFields)
		return sf.index, sf.names
	}
	m := map[string]int{}
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || tag == "-" || tag == "" {
			continue
		}
		m[tag] = i
		names = append(names, tag)
	}
	fieldsOf.Store(t, structFields{m, names})
	return m, names
}

// suggest returns ` (did you mean "x"?)` for the closest valid name, if close.
func suggest(got string, names []string) string {
	type cand struct {
		name string
		dist int
	}
	var cs []cand
	for _, n := range names {
		if dd := distance(strings.ToLower(got), strings.ToLower(n)); dd <= 2 || (dd <= len(n)/3) {
			cs = append(cs, cand{n, dd})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].dist < cs[j].dist })
	return fmt.Sprintf(" (did you mean %q?)", cs[0].name)
}

// distance is the Levenshtein distance of a and b (short strings only).
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

func typeName(k reflect.Kind) string {
	switch k {
	case reflect.Bool:
		return "true or false"
	case reflect.Float64, reflect.Int:
		return "a number"
	}
	return "a string"
}
