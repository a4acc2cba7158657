package resolve

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tagwatch/tagwatch/registry"
)

// Invalid counts the names of a tag list that are not valid OCI tags
// (registry.ValidTag): "9.9.9+build", names with ':' or control characters.
// They are dropped as the list is read, before any policy sees them: a
// policy that ranked one highest would pick a tag the writer refuses, and
// the image would fail every cycle while a valid tag is never written.
type Invalid struct {
	N      int
	Sample []string // the first few, quoted and cut short (QuoteName)
}

// maxSample is how many invalid names Invalid keeps to show.
const maxSample = 3

func (iv Invalid) String() string {
	if iv.N == 0 {
		return "no invalid tag names"
	}
	s := fmt.Sprintf("%d invalid tag names dropped", iv.N)
	if iv.N == 1 {
		s = "1 invalid tag name dropped"
	}
	if len(iv.Sample) > 0 {
		s += " (" + strings.Join(iv.Sample, ", ")
		if iv.N > len(iv.Sample) {
			s += ", …"
		}
		s += ")"
	}
	return s
}

// ValidNames returns the names that are valid tags, in order (names itself
// when all are), and what it dropped.
func ValidNames(names []string) ([]string, Invalid) {
	var iv Invalid
	var kept []string
	for i, n := range names {
		if registry.ValidTag(n) {
			if kept != nil {
				kept = append(kept, n)
			}
			continue
		}
		if kept == nil {
			kept = append(make([]string, 0, len(names)-1), names[:i]...)
		}
		iv.N++
		if len(iv.Sample) < maxSample {
			iv.Sample = append(iv.Sample, QuoteName(n))
		}
	}
	if kept == nil {
		return names, iv
	}
	return kept, iv
}

// maxQuoted is how many bytes of a name QuoteName shows.
const maxQuoted = 64

// QuoteName quotes a name a registry sent, for logs and messages: Go
// syntax (control characters escaped) and at most 64 bytes of it, then how
// much was cut. A hostile 100 KB tag name stays a short line.
func QuoteName(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%s…(%d more bytes)", strconv.Quote(strings.ToValidUTF8(s[:maxQuoted], "")), len(s)-maxQuoted)
}
