package policy_test

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/tagwatch/tagwatch/policy"
)

// The conformance vectors of ../shared/conformance, copied to
// testdata/conformance: Argo CD Image Updater's and Flux's own test tables,
// as data. See testdata/conformance/README.md for our documented deviations.

type argoFile struct {
	Cases []argoCase `yaml:"cases"`
}

type argoCase struct {
	ID           string    `yaml:"id"`
	Strategy     string    `yaml:"strategy"`
	Constraint   string    `yaml:"constraint"`
	AllowTags    string    `yaml:"allow_tags"`
	IgnoreTags   []string  `yaml:"ignore_tags"`
	Tags         []argoTag `yaml:"tags"`
	Expect       *string   `yaml:"expect"`
	ExpectError  bool      `yaml:"expect_error"`
	ExpectDigest string    `yaml:"expect_digest"`
}

// argoTag is a tag name, or {name, created, digest}.
type argoTag struct {
	Name    string `yaml:"name"`
	Created *int64 `yaml:"created"`
	Digest  string `yaml:"digest"`
}

func (t *argoTag) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		t.Name = n.Value
		return nil
	}
	type plain argoTag
	return n.Decode((*plain)(t))
}

func readYAML(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile("testdata/conformance/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestConformanceArgo(t *testing.T) {
	var f argoFile
	readYAML(t, "argocd-image-updater.yaml", &f)
	if len(f.Cases) != 40 {
		t.Fatalf("argocd-image-updater.yaml: %d cases, want 40", len(f.Cases))
	}
	for _, tc := range f.Cases {
		t.Run(tc.ID, func(t *testing.T) {
			p, err := policy.New(policy.Spec{
				Strategy:   policy.Strategy(tc.Strategy),
				Constraint: tc.Constraint,
				Loose:      true,
				AllowTags:  tc.AllowTags,
				ArgoCompat: true,
				IgnoreTags: tc.IgnoreTags,
			})
			if tc.ExpectError {
				if !errors.Is(err, policy.ErrInvalid) {
					t.Fatalf("New: err = %v, want an ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			var tags []policy.Tag
			for _, at := range tc.Tags {
				tag := policy.Tag{Name: at.Name, Digest: at.Digest}
				if at.Created != nil {
					tag.Created = time.Unix(*at.Created, 0).UTC()
				}
				tags = append(tags, tag)
			}
			res := p.Select(tags, policy.Current{})
			want := ""
			if tc.Expect != nil {
				want = *tc.Expect
			}
			if res.Tag != want {
				t.Errorf("tag = %q, want %q (%s)", res.Tag, want, res.Reason)
			}
			if want == "" && res.Decision != policy.None {
				t.Errorf("decision = %q, want none", res.Decision)
			}
			if tc.ExpectDigest != "" && res.Digest != tc.ExpectDigest {
				t.Errorf("digest = %q, want %q", res.Digest, tc.ExpectDigest)
			}
			checkInvariants(t, tags, res)
		})
	}
}

type fluxFile struct {
	Semver          []fluxCase `yaml:"semver"`
	Alphabetical    []fluxCase `yaml:"alphabetical"`
	Numerical       []fluxCase `yaml:"numerical"`
	FilterOnly      []fluxCase `yaml:"filter_only"`
	FilterAndPolicy []fluxCase `yaml:"filter_and_policy"`
}

type fluxCase struct {
	ID     string   `yaml:"id"`
	Tags   []string `yaml:"tags"`
	Filter *struct {
		Pattern string `yaml:"pattern"`
		Extract string `yaml:"extract"`
	} `yaml:"filter"`
	Policy struct {
		Semver       *struct{ Range string } `yaml:"semver"`
		Alphabetical *struct{ Order string } `yaml:"alphabetical"`
		Numerical    *struct{ Order string } `yaml:"numerical"`
	} `yaml:"policy"`
	Expect struct {
		Tag      *string  `yaml:"tag"`
		Error    bool     `yaml:"error"`
		Filtered []string `yaml:"filtered"`
	} `yaml:"expect"`
}

// fluxDeviations are the Flux cases whose expected error is, for us, a
// normal outcome (README.md): "" means no candidate (Decision None).
var fluxDeviations = map[string]string{
	"flux-semver-03": "",  // no tag parses as a version
	"flux-semver-04": "",  // empty tag list
	"flux-semver-05": "",  // nothing in the range
	"flux-alpha-10":  "",  // empty tag list
	"flux-num-09":    "0", // non-numeric keys are skipped and counted
}

func TestConformanceFlux(t *testing.T) {
	var f fluxFile
	readYAML(t, "flux.yaml", &f)
	all := slices.Concat(f.Semver, f.Alphabetical, f.Numerical, f.FilterOnly, f.FilterAndPolicy)
	if len(all) != 40 {
		t.Fatalf("flux.yaml: %d cases, want 40", len(all))
	}
	for _, tc := range all {
		t.Run(tc.ID, func(t *testing.T) {
			spec := policy.Spec{Strategy: policy.Alphabetical}
			switch pol := tc.Policy; {
			case pol.Semver != nil:
				spec.Strategy, spec.Constraint = policy.Semver, pol.Semver.Range
			case pol.Alphabetical != nil:
				spec.Order = pol.Alphabetical.Order
			case pol.Numerical != nil:
				spec.Strategy, spec.Order = policy.Numerical, pol.Numerical.Order
			}
			if tc.Filter != nil {
				spec.AllowTags, spec.Extract = tc.Filter.Pattern, tc.Filter.Extract
			}
			p, err := policy.New(spec)
			want, deviates := fluxDeviations[tc.ID]
			if tc.Expect.Error && !deviates {
				if !errors.Is(err, policy.ErrInvalid) {
					t.Fatalf("New: err = %v, want an ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if tc.Expect.Filtered != nil {
				// Flux's filter step alone: the distinct keys, sorted.
				var keys []string
				for _, tag := range p.FilterNames(tc.Tags) {
					k, _ := p.Key(tag)
					keys = append(keys, k)
				}
				slices.Sort(keys)
				keys = slices.Compact(keys)
				if diff := cmp.Diff(tc.Expect.Filtered, keys); diff != "" {
					t.Errorf("filtered keys (-want +got):\n%s", diff)
				}
				return
			}
			if !deviates {
				want = *tc.Expect.Tag
			}
			tags := make([]policy.Tag, len(tc.Tags))
			for i, n := range tc.Tags {
				tags[i].Name = n
			}
			res := p.Select(tags, policy.Current{})
			if res.Tag != want {
				t.Errorf("tag = %q, want %q (%s)", res.Tag, want, res.Reason)
			}
			if want == "" && res.Decision != policy.None {
				t.Errorf("decision = %q, want none", res.Decision)
			}
			checkInvariants(t, tags, res)
		})
	}
}

// TestConformanceParsing runs flux.yaml's supplementary parse tables.
func TestConformanceParsing(t *testing.T) {
	var f struct {
		Ranges struct{ Valid, Invalid []string }     `yaml:"semver_range_parsing"`
		Tags   struct{ Accepted, Rejected []string } `yaml:"semver_tag_parsing"`
	}
	readYAML(t, "flux.yaml", &f)
	for _, r := range f.Ranges.Valid {
		if _, err := policy.New(policy.Spec{Constraint: r}); err != nil {
			t.Errorf("range %q: %v", r, err)
		}
	}
	for _, r := range f.Ranges.Invalid {
		if r == "" {
			continue // ours: the empty constraint means "*" (DESIGN.md §2)
		}
		if _, err := policy.New(policy.Spec{Constraint: r}); err == nil {
			t.Errorf("range %q: no error", r)
		}
	}
	p, err := policy.New(policy.Spec{Constraint: ">=0.0.0-0"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range f.Tags.Accepted {
		if res := p.Select([]policy.Tag{{Name: tag}}, policy.Current{}); res.Tag != tag {
			t.Errorf("tag %q not accepted: %s", tag, res.Reason)
		}
	}
	for _, tag := range f.Tags.Rejected {
		if res := p.Select([]policy.Tag{{Name: tag}}, policy.Current{}); res.Stats.Unparsable != 1 {
			t.Errorf("tag %q accepted as %q", tag, res.Tag)
		}
	}
}

// checkInvariants holds for every result: every tag is accounted for
// exactly once, and the chosen tag is the first candidate.
func checkInvariants(t *testing.T, tags []policy.Tag, res policy.Result) {
	t.Helper()
	s := res.Stats
	sum := s.Unparsable + s.Duplicates + s.Candidates
	for _, n := range s.Filtered {
		sum += n
	}
	if sum != s.Seen || s.Seen != len(tags) {
		t.Errorf("stats do not add up: %+v for %d tags", s, len(tags))
	}
	if s.Candidates != len(res.Candidates) {
		t.Errorf("Stats.Candidates = %d, len(Candidates) = %d", s.Candidates, len(res.Candidates))
	}
	if len(res.Candidates) > 0 && res.Candidates[0] != res.Tag {
		t.Errorf("Candidates[0] = %q, Tag = %q", res.Candidates[0], res.Tag)
	}
	if res.Reason == "" {
		t.Error("no reason")
	}
}
