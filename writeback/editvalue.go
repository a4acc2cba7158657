package writeback

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"sigs.k8s.io/kustomize/kyaml/yaml"
)

var (
	tagRE    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
	digestRE = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
)

// ValidTag reports whether s is a valid image tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

// ValidDigest reports whether s is a sha256 digest ("sha256:" and 64 lower-case hex digits).
func ValidDigest(s string) bool { return digestRE.MatchString(s) }

// validRepository checks a repository name ("registry.example.com/team/app",
// "nginx") with go-containerregistry's reference grammar: the same rules
// the registry client applies, without importing it.
func validRepository(s string) error {
	if s == "" || strings.TrimSpace(s) != s {
		return fmt.Errorf("invalid repository name %s", quoteShort(s))
	}
	if _, err := name.NewRepository(s); err != nil {
		if len(s) > 255 { // ggcr's error repeats the name
			return fmt.Errorf("invalid repository name %s: longer than 255 bytes", quoteShort(s))
		}
		return fmt.Errorf("invalid repository name %q: %w", s, err)
	}
	return nil
}

// Validate checks each non-empty field: Name a repository name, Tag a tag,
// Digest a sha256 digest. At least one of Tag and Digest must be set.
func (i Image) Validate() error {
	if i.Name != "" {
		if err := validRepository(i.Name); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalidValue, err)
		}
	}
	if i.Tag != "" && !ValidTag(i.Tag) {
		return fmt.Errorf("%w: invalid tag %s", ErrInvalidValue, quoteShort(i.Tag))
	}
	if i.Digest != "" && !ValidDigest(i.Digest) {
		return fmt.Errorf("%w: invalid digest %s", ErrInvalidValue, quoteShort(i.Digest))
	}
	if i.Tag == "" && i.Digest == "" {
		return fmt.Errorf("%w: neither tag nor digest", ErrInvalidValue)
	}
	return nil
}

// quoteShort quotes a value for an error message, at most 100 bytes of it:
// an invalid value may be hostile (a 100 KB tag name) and must not make a
// 100 KB log line.
func quoteShort(s string) string {
	const max = 100
	if len(s) <= max {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s…(%d more bytes)", strconv.Quote(strings.ToValidUTF8(s[:max], "")), len(s)-max)
}

// String is the reference name[:tag][@digest].
func (i Image) String() string {
	s := i.Name
	if i.Tag != "" {
		s += ":" + i.Tag
	}
	if i.Digest != "" {
		s += "@" + i.Digest
	}
	return s
}

// splitReference splits "name[:tag][@digest]" (no validation). The tag is
// after the last ':' that follows the last '/', so a registry port stays in
// the name.
func splitReference(ref string) Image {
	var img Image
	if i := strings.LastIndexByte(ref, '@'); i >= 0 {
		ref, img.Digest = ref[:i], ref[i+1:]
	}
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && i > strings.LastIndexByte(ref, '/') {
		ref, img.Tag = ref[:i], ref[i+1:]
	}
	img.Name = ref
	return img
}

// splitTagDigest splits "tag[@digest]", as a tag field holding a digest does.
func splitTagDigest(s string) (tag, digest string) {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// isStringScalar reports whether n is a scalar a YAML 1.1 or 1.2 reader
// (Helm, kustomize, kubectl) takes as a string.
func isStringScalar(n *yaml.Node) bool {
	if n.Kind != yaml.ScalarNode {
		return false
	}
	if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle|yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return true
	}
	if n.Style&yaml.TaggedStyle != 0 {
		return n.Tag == yaml.NodeTagString
	}
	return n.Tag == yaml.NodeTagString && !yaml.IsValueNonString(n.Value)
}

// scalarIs reports whether n already holds string v.
func scalarIs(n *yaml.Node, v string) bool {
	if v == "" {
		return n.Kind == yaml.ScalarNode && n.Value == "" && (isEmptyNull(n) || isStringScalar(n))
	}
	return n.Value == v && isStringScalar(n)
}

// plainSafe reports whether v can be written unquoted and still read back
// as the same string under YAML 1.1 and 1.2 (so "1.20", "1e3", "0x1F",
// "true", "010", "yes" cannot).
func plainSafe(v string, flow bool) bool {
	if v == "" || yaml.IsValueNonString(v) || strings.ContainsAny(v, "\n\r\t\"'#") {
		return false
	}
	if flow && (strings.ContainsAny(v, ",[]{}") || strings.Contains(v, ": ")) {
		return false
	}
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(v), &doc); err != nil || len(doc.Content) != 1 {
		return false
	}
	n := doc.Content[0]
	return n.Kind == yaml.ScalarNode && n.Style == 0 && n.Tag == yaml.NodeTagString && n.Value == v
}

// formatScalar renders v in style (the style of the scalar it replaces):
// quotes are kept; a plain scalar stays plain unless v would then not read
// back as the same string, in which case it is double-quoted.
func formatScalar(v string, style yaml.Style, flow bool) string {
	switch {
	case style&yaml.SingleQuotedStyle != 0:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case style&yaml.DoubleQuotedStyle != 0 || !plainSafe(v, flow):
		return doubleQuote(v)
	}
	return v
}

func doubleQuote(v string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
