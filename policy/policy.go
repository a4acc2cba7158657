package policy

import (
	"errors"
	"time"
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
	IgnoreTags []string // path.Match globs
	Extract    string   // regexp.Expand template over AllowTags' match: the sort key
	Order      string   // "asc" (default: greatest wins) or "desc"
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
	Duplicates int            // collapsed because their sort keys collided
	Candidates int            // left to rank
}

// Result is what Select returns. A "nothing to do" outcome is a value, not an error.
type Result struct {
	Decision   Decision
	Tag        string // best candidate ("" when Decision is None)
	Digest     string // digest of Tag when known
	Reason     string // one sentence a user can read
	Candidates []string
	Stats      Stats
}

// ErrInvalid is wrapped by every construction error of New.
var ErrInvalid = errors.New("invalid policy")

// Policy is a compiled, immutable Spec. Safe for concurrent use.
type Policy struct {
	spec Spec
}

// New validates spec and compiles it. Errors wrap ErrInvalid and name the field.
func New(spec Spec) (*Policy, error) {
	panic("not implemented")
}

// Spec returns the (defaulted) spec the policy was built from.
func (p *Policy) Spec() Spec { return p.spec }

// NeedsMetadata reports whether Select needs Created/Platforms (newest-build,
// or any Platforms filter) for the tags that survive FilterNames.
func (p *Policy) NeedsMetadata() bool { panic("not implemented") }

// NeedsDigest reports whether Select needs the Digest of surviving tags (digest strategy).
func (p *Policy) NeedsDigest() bool { panic("not implemented") }

// FilterNames applies the name-only filters (allowTags, ignoreTags, cosign,
// digest tag) and returns the surviving tag names, in input order, without
// mutating tags. Callers fetch metadata only for these.
func (p *Policy) FilterNames(tags []string) []string { panic("not implemented") }

// Select ranks tags under the policy and decides against cur. It never
// mutates tags and is deterministic for any input order.
func (p *Policy) Select(tags []Tag, cur Current) Result { panic("not implemented") }
