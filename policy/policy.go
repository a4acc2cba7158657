package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
)

// Strategy names how candidate tags are ranked.
type Strategy string

// The strategies of DESIGN.md §2.
const (
	Semver       Strategy = "semver"
	Alphabetical Strategy = "alphabetical"
	Numerical    Strategy = "numerical"
	NewestBuild  Strategy = "newest-build"
	Digest       Strategy = "digest"
)

// Spec is the declarative form of a policy, as written in tagwatch.yaml.
// It is plain data; New validates and compiles it.
type Spec struct {
	Strategy   Strategy // default Semver
	Constraint string   // semver range; for Digest the tag to follow
	Loose      bool     // semver: also accept "1.2" and "1"
	// AllowTags is an RE2 expression, unanchored. With ArgoCompat it uses
	// Argo CD Image Updater's syntax instead: "", "any", "regexp:<RE>";
	// anything else (or an invalid regexp) matches nothing.
	AllowTags  string
	ArgoCompat bool
	// IgnoreTags are path.Match globs; an entry "regexp:<RE>" is an RE2
	// expression (unanchored). A glob anchored like a regexp ("^v.*",
	// "-debug$") is an error: as a glob it would match no tag.
	IgnoreTags []string
	Extract    string // regexp.Expand template over AllowTags' match: the sort key
	Order      string // "asc" (default: greatest wins) or "desc"
	// Platforms ("os/arch[/variant]") a candidate must provide; needs metadata.
	Platforms      []string
	AllowDowngrade bool
}

// Platform is one platform an image provides, with its build time.
type Platform struct {
	Platform string // "linux/amd64", "linux/arm64/v8"
	Created  time.Time
}

// Tag is one registry tag with the metadata a strategy may need.
// Metadata is filled by the caller only for tags that survive FilterNames.
type Tag struct {
	Name    string
	Digest  string    // "sha256:…"; needed by Digest
	Created time.Time // image config "created"; for an index see Platforms
	// Platforms of an index (or the single platform of an image). When set,
	// newest-build uses the newest Created among the platforms that match Spec.Platforms.
	Platforms []Platform
}

// Current is the value Git holds now.
type Current struct {
	Tag    string
	Digest string
}

// Decision is the outcome of a selection against the value in Git.
type Decision string

// Decisions.
const (
	Update   Decision = "update"  // move Git to Result.Tag
	UpToDate Decision = "current" // Git already holds the best candidate
	Held     Decision = "held"    // Git ranks above every candidate; not downgraded
	None     Decision = "none"    // no candidate at all
)

// Stats explains a selection: how many tags were seen and why each was dropped.
type Stats struct {
	Seen       int            // tags given
	Filtered   map[string]int // dropped, by rule ("allowTags", "ignoreTags", "cosign", "platforms", "constraint", "digest-tag")
	Unparsable int            // not parseable under the strategy (not semver, not a number)
	Duplicates int            // collapsed: the same tag twice, or extracted keys that collided
	Candidates int            // left to rank
}

// Result is what Select returns. A "nothing to do" outcome is a value, not an error.
type Result struct {
	Decision   Decision
	Tag        string   // best candidate ("" when Decision is None)
	Digest     string   // digest of Tag when known
	Reason     string   // one sentence a user can read
	Candidates []string // tags left after the filters, best first
	Stats      Stats
}

// ErrInvalid is wrapped by every construction error of New.
var ErrInvalid = errors.New("invalid policy")

// FieldError is the error New returns: the Spec field at fault, the value it
// held and why it is wrong. It matches ErrInvalid with errors.Is.
type FieldError struct {
	Field string // Spec field as written in tagwatch.yaml: "constraint", "ignoreTags[1]"
	Value string
	Err   error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s %q: %v", e.Field, e.Value, e.Err) }

// Unwrap returns the underlying reason.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes every FieldError match ErrInvalid.
func (e *FieldError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, value string, format string, args ...any) error {
	return &FieldError{Field: field, Value: value, Err: fmt.Errorf(format, args...)}
}

// Policy is a compiled, immutable Spec. Safe for concurrent use.
type Policy struct {
	spec Spec

	constraint *semver.Constraints // semver only
	// preComparator is false only when no comparator of the constraint has
	// a pre-release, so no pre-release version can satisfy it.
	preComparator bool
	ranges        *rangeSet      // the constraint for many versions at once; nil: Check each
	allow         allowFunc      // nil: every tag is allowed
	allowRE       *regexp.Regexp // set when allow is a regexp (needed by extract)
	ignore        []glob         // compiled ignoreTags
	extract       string         // template; "" when the key is the tag itself
	desc          bool
	platforms     []platform
}

// New validates spec and compiles it. Errors wrap ErrInvalid and name the
// field: every problem of the spec is reported at once, each a *FieldError
// (joined with errors.Join when there are several; errors.As finds the
// first, an Unwrap() []error walk finds them all).
func New(spec Spec) (*Policy, error) {
	p := &Policy{}
	var errs []error
	if spec.Strategy == "" {
		spec.Strategy = Semver
	}
	knownStrategy := true
	switch spec.Strategy {
	case Semver, Alphabetical, Numerical, NewestBuild, Digest:
	default:
		knownStrategy = false
		errs = append(errs, invalid("strategy", string(spec.Strategy),
			"not one of semver, newest-build, alphabetical, numerical, digest"))
	}
	if knownStrategy {
		// Which constraint is valid depends on the strategy.
		if err := p.compileConstraint(&spec); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, p.compileFilters(&spec)...)
	switch spec.Order {
	case "", "asc":
		spec.Order = "asc"
	case "desc":
		if knownStrategy && spec.Strategy != Alphabetical && spec.Strategy != Numerical {
			errs = append(errs, invalid("order", spec.Order, "only alphabetical and numerical can be ordered; %s always prefers the greatest", spec.Strategy))
		}
		p.desc = true
	default:
		errs = append(errs, invalid("order", spec.Order, "not one of asc, desc"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if spec.Strategy != Semver {
		spec.Loose = false
	}
	// Copy the slices so the caller cannot change a compiled policy.
	spec.IgnoreTags = slices.Clone(spec.IgnoreTags)
	spec.Platforms = slices.Clone(spec.Platforms)
	p.spec = spec
	return p, nil
}

func (p *Policy) compileConstraint(spec *Spec) error {
	switch spec.Strategy {
	case Semver:
		c := spec.Constraint
		if strings.TrimSpace(c) == "" {
			c = "*"
		}
		cs, err := semver.NewConstraint(c)
		if err != nil {
			return invalid("constraint", spec.Constraint, "%v", err)
		}
		p.constraint = cs
		p.preComparator = hasPreComparator(c)
		p.ranges = newRangeSet(cs)
	case Digest:
		if spec.Constraint == "" {
			return invalid("constraint", spec.Constraint, "the digest strategy needs the tag to follow")
		}
		if !validTag(spec.Constraint) {
			return invalid("constraint", spec.Constraint, "not a valid tag name to follow")
		}
	default:
		if spec.Constraint != "" {
			if !spec.ArgoCompat {
				return invalid("constraint", spec.Constraint, "only semver and digest take a constraint")
			}
			// Argo CD Image Updater ignores the text after ':' for these strategies.
			spec.Constraint = ""
		}
	}
	return nil
}

// hasPreComparator reports whether a constraint may hold a pre-release
// comparator ("2.x-0", ">=1.0.0-rc.1"): a '-' right after a version. A
// hyphen range ("1 - 2") has spaces around its '-'. Erring towards true
// only costs speed.
func hasPreComparator(c string) bool {
	for i := 1; i < len(c); i++ {
		if c[i] == '-' && c[i-1] != ' ' && c[i-1] != '\t' {
			return true
		}
	}
	return false
}

// Spec returns the (defaulted) spec the policy was built from.
func (p *Policy) Spec() Spec {
	s := p.spec
	s.IgnoreTags = slices.Clone(s.IgnoreTags)
	s.Platforms = slices.Clone(s.Platforms)
	return s
}

// NeedsMetadata reports whether Select needs Created/Platforms (newest-build,
// or any Platforms filter) for the tags that survive FilterNames.
func (p *Policy) NeedsMetadata() bool {
	return p.spec.Strategy == NewestBuild || len(p.platforms) > 0
}

// NeedsDigest reports whether Select needs the Digest of surviving tags (digest strategy).
func (p *Policy) NeedsDigest() bool { return p.spec.Strategy == Digest }

// FilterNames applies the name-only filters (allowTags, ignoreTags, cosign,
// digest tag) and returns the surviving tag names, in input order, without
// mutating tags. Callers fetch metadata only for these.
func (p *Policy) FilterNames(tags []string) []string {
	var out []string
	for _, t := range tags {
		if r, _ := p.nameRule(t); r == keep {
			out = append(out, t)
		}
	}
	return out
}
