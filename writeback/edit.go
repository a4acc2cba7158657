package writeback

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"unicode/utf8"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

// yamlFile is one YAML file of the working tree: its original bytes, the
// documents kyaml parsed from them, and the splices an edit makes. Nodes are
// found with kyaml; their text is changed in the original bytes, so every
// byte an edit does not touch is kept.
type yamlFile struct {
	rel     string // slash-separated, relative to the repository root
	abs     string // real path on disk
	mode    fs.FileMode
	bom     []byte // UTF-8 byte order mark, kept as it was
	src     []byte // the bytes after the BOM; every offset indexes src
	eol     string // the file's line break: "\r\n", "\r" or "\n"
	lines   []int  // offsets of line starts in src
	docs    []*yaml.Node
	splices []textSplice
	out     []byte   // the edited bytes, once checked
	fields  []string // the fields the edit sets, for FileChange.Fields
}

// noteField records a field the edit changes ("image.tag", "line 12").
func (f *yamlFile) noteField(path string) { f.fields = append(f.fields, path) }

// textSplice replaces src[start:end] with text.
type textSplice struct {
	start, end int
	text       string
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// loadYAMLFile reads and parses the file at abs, named rel in errors.
func loadYAMLFile(abs, rel string) (*yamlFile, error) {
	st, err := os.Stat(abs)
	if err != nil {
		return nil, newFileError(rel, 0, "reading", err)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return nil, newFileError(rel, 0, "reading", err)
	}
	f, err := parseYAMLFile(rel, data)
	if err != nil {
		return nil, err
	}
	f.abs, f.mode = abs, st.Mode()
	return f, nil
}

// parseYAMLFile parses data, every document of it.
func parseYAMLFile(rel string, data []byte) (*yamlFile, error) {
	f := &yamlFile{rel: rel, src: data, eol: "\n"}
	if bytes.HasPrefix(data, utf8BOM) {
		f.bom, f.src = data[:3], data[3:]
	}
	switch {
	case bytes.Contains(f.src, []byte("\r\n")):
		f.eol = "\r\n"
	case bytes.IndexByte(f.src, '\r') >= 0 && bytes.IndexByte(f.src, '\n') < 0:
		f.eol = "\r" // classic Mac line endings
	}
	if f.eol != "\r" {
		// A lone CR is a line break to YAML but not to the rest of the
		// file's lines: text inserted there would land mid-line.
		for i, c := range f.src {
			if c == '\r' && (i+1 == len(f.src) || f.src[i+1] != '\n') {
				line := 1 + bytes.Count(f.src[:i], []byte("\n"))
				return nil, newFileError(rel, line, "mixed line endings (a lone carriage return among "+lineEndingName(f.eol)+" line breaks)", ErrMalformedYAML)
			}
		}
	}
	f.lines = append(f.lines, 0)
	for i := 0; i < len(f.src); i++ {
		switch f.src[i] {
		case '\n':
			f.lines = append(f.lines, i+1)
		case '\r':
			if i+1 < len(f.src) && f.src[i+1] == '\n' {
				i++
			}
			f.lines = append(f.lines, i+1)
		}
	}
	docs, err := decodeYAMLDocuments(f.src)
	if err != nil {
		return nil, newFileError(rel, yamlErrorLine(err), "parsing: "+err.Error(), ErrMalformedYAML)
	}
	f.docs = docs
	return f, nil
}

// decodeYAMLDocuments decodes every document of src with kyaml's decoder.
func decodeYAMLDocuments(src []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil { // the decoder must not take the process down
			docs, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(src))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &doc)
	}
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrorLine(err error) int {
	m := yamlLineRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// roots returns the root node of each non-empty document.
func (f *yamlFile) roots() []*yaml.Node {
	var out []*yaml.Node
	for _, d := range f.docs {
		if d.Kind == yaml.DocumentNode && len(d.Content) > 0 {
			out = append(out, d.Content[0])
		}
	}
	return out
}

// errAt returns a FileError for node n of f.
func (f *yamlFile) errAt(n *yaml.Node, msg string, sentinel error) error {
	line := 0
	if n != nil {
		line = n.Line
	}
	return newFileError(f.rel, line, msg, sentinel)
}

// offset converts a 1-based line and column (in characters, as the YAML
// parser counts) to an offset in src.
func (f *yamlFile) offset(line, col int) (int, error) {
	if line < 1 || line > len(f.lines) || col < 1 {
		return 0, fmt.Errorf("position %d:%d outside the file", line, col)
	}
	p := f.lines[line-1]
	for i := 1; i < col; i++ {
		if p >= len(f.src) || f.src[p] == '\n' || f.src[p] == '\r' {
			return 0, fmt.Errorf("position %d:%d outside its line", line, col)
		}
		_, w := utf8.DecodeRune(f.src[p:])
		p += w
	}
	return p, nil
}

// nodeStart is the offset of n's text, after its anchor and tag if any.
func (f *yamlFile) nodeStart(n *yaml.Node) (int, error) {
	p, err := f.offset(n.Line, n.Column)
	if err != nil {
		return 0, err
	}
	for p < len(f.src) && (f.src[p] == '&' || f.src[p] == '!') {
		for p < len(f.src) && !isYAMLSpace(f.src[p]) {
			p++
		}
		for p < len(f.src) && isYAMLSpace(f.src[p]) {
			p++
		}
	}
	return p, nil
}

func isYAMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isFlowIndicator(c byte) bool { return c == ',' || c == '[' || c == ']' || c == '{' || c == '}' }

// isEmptyNull reports whether n is an implicit null: a key with no value.
func isEmptyNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Value == "" && n.Tag == yaml.NodeTagNull && n.Style == 0
}

// scalarSpan returns where the text of scalar n is in src, quotes included,
// anchor and tag excluded. An implicit null has an empty span where its
// value would go. The span is checked: parsed alone, it must give n's value.
func (f *yamlFile) scalarSpan(n *yaml.Node, flow bool) (start, end int, err error) {
	if n.Kind != yaml.ScalarNode {
		return 0, 0, f.errAt(n, "not a scalar", ErrMalformedYAML)
	}
	start, err = f.nodeStart(n)
	if err != nil {
		return 0, 0, f.errAt(n, err.Error(), ErrMalformedYAML)
	}
	if isEmptyNull(n) {
		return start, start, nil
	}
	s := f.src
	switch {
	case n.Style&yaml.DoubleQuotedStyle != 0:
		end = -1
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\\' {
				i++
			} else if s[i] == '"' {
				end = i + 1
				break
			}
		}
	case n.Style&yaml.SingleQuotedStyle != 0:
		end = -1
		for i := start + 1; i < len(s); i++ {
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					i++
					continue
				}
				end = i + 1
				break
			}
		}
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		return 0, 0, f.errAt(n, "block scalar (| or >) cannot hold an image value", ErrInvalidValue)
	default:
		end = start
		for end < len(s) && s[end] != '\n' && s[end] != '\r' {
			c := s[end]
			if c == '#' && end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
				break
			}
			if c == ':' && (end+1 == len(s) || isYAMLSpace(s[end+1]) || flow && isFlowIndicator(s[end+1])) {
				break
			}
			if flow && isFlowIndicator(c) {
				break
			}
			end++
		}
		for end > start && (s[end-1] == ' ' || s[end-1] == '\t') {
			end--
		}
	}
	if end < start || end > len(s) || !spanDecodesTo(s[start:end], n) {
		return 0, 0, f.errAt(n, fmt.Sprintf("cannot locate the text of %q (multi-line scalar?)", n.Value), ErrInvalidValue)
	}
	return start, end, nil
}

// spanDecodesTo reports whether text, parsed alone, is the scalar n.
func spanDecodesTo(text []byte, n *yaml.Node) bool {
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) == 0 {
		return string(text) == n.Value
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	return doc.Content[0].Kind == yaml.ScalarNode && doc.Content[0].Value == n.Value
}

// nodeEnd returns the offset just after the text of n.
func (f *yamlFile) nodeEnd(n *yaml.Node, flow bool) (int, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		_, end, err := f.scalarSpan(n, flow)
		return end, err
	case yaml.AliasNode:
		p, err := f.offset(n.Line, n.Column)
		if err != nil {
			return 0, f.errAt(n, err.Error(), ErrMalformedYAML)
		}
		for p++; p < len(f.src) && !isYAMLSpace(f.src[p]) && !(flow && isFlowIndicator(f.src[p])); p++ {
		}
		return p, nil
	case yaml.MappingNode, yaml.SequenceNode:
		if n.Style&yaml.FlowStyle != 0 {
			return f.flowEnd(n)
		}
		if len(n.Content) == 0 {
			return 0, f.errAt(n, "empty block collection", ErrMalformedYAML)
		}
		return f.nodeEnd(n.Content[len(n.Content)-1], false)
	}
	return 0, f.errAt(n, "unexpected node", ErrMalformedYAML)
}

// flowEnd returns the offset after the bracket closing flow collection n.
func (f *yamlFile) flowEnd(n *yaml.Node) (int, error) {
	p, err := f.nodeStart(n)
	if err != nil {
		return 0, f.errAt(n, err.Error(), ErrMalformedYAML)
	}
	s, depth := f.src, 0
	for i := p; i < len(s); i++ {
		switch c := s[i]; c {
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return i + 1, nil
			}
		case '"':
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
		case '\'':
			for i++; i < len(s); i++ {
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case '#':
			if i > 0 && isYAMLSpace(s[i-1]) {
				i = f.lineEnd(i)
			}
		}
	}
	return 0, f.errAt(n, "unterminated flow collection", ErrMalformedYAML)
}

// lineEnd is the offset of the line break ending the line holding p (or len(src)).
func (f *yamlFile) lineEnd(p int) int {
	for p < len(f.src) && f.src[p] != '\n' && f.src[p] != '\r' {
		p++
	}
	return p
}

// lineStart is the offset of the start of the line holding p.
func (f *yamlFile) lineStart(p int) int {
	i := sort.SearchInts(f.lines, p+1) - 1
	return f.lines[max(i, 0)]
}

// nextLineStart is the offset after the line break ending p's line, or -1
// when that line is the last one and has no line break.
func (f *yamlFile) nextLineStart(p int) int {
	e := f.lineEnd(p)
	switch {
	case e == len(f.src):
		return -1
	case f.src[e] == '\r' && e+1 < len(f.src) && f.src[e+1] == '\n':
		return e + 2
	}
	return e + 1
}

// endsWithEOL reports whether the file ends with a line break.
func (f *yamlFile) endsWithEOL() bool {
	return len(f.src) > 0 && (f.src[len(f.src)-1] == '\n' || f.src[len(f.src)-1] == '\r')
}

func (f *yamlFile) replace(start, end int, text string) {
	f.splices = append(f.splices, textSplice{start, end, text})
}

// result returns the file's bytes with the splices applied.
func (f *yamlFile) result() ([]byte, error) {
	sp := append([]textSplice(nil), f.splices...)
	sort.SliceStable(sp, func(i, j int) bool { return sp[i].start < sp[j].start })
	out := make([]byte, 0, len(f.bom)+len(f.src)+64)
	out = append(out, f.bom...)
	last := 0
	for _, s := range sp {
		if s.start < last || s.end < s.start || s.end > len(f.src) {
			return nil, newFileError(f.rel, 0, "overlapping edits", ErrMalformedYAML)
		}
		out = append(out, f.src[last:s.start]...)
		out = append(out, s.text...)
		last = s.end
	}
	return append(out, f.src[last:]...), nil
}

// original returns the file's bytes as read.
func (f *yamlFile) original() []byte {
	return append(append([]byte(nil), f.bom...), f.src...)
}

// save writes data over the file atomically (temporary file and rename in
// the same directory), keeping its permissions.
func (f *yamlFile) save(data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(f.abs), "."+filepath.Base(f.abs)+".tagwatch-*")
	if err != nil {
		return newFileError(f.rel, 0, "writing", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(f.mode.Perm())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, f.abs)
	}
	if err != nil {
		_ = os.Remove(name)
		return newFileError(f.rel, 0, "writing", err)
	}
	return nil
}

// lineEndingName names a line break for error messages.
func lineEndingName(eol string) string {
	if eol == "\r\n" {
		return "CRLF"
	}
	return "LF"
}
