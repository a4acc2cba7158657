package policy_test

import (
	"fmt"

	"github.com/tagwatch/tagwatch/policy"
)

func ExamplePolicy_Select() {
	p, err := policy.New(policy.Spec{Constraint: "^1"})
	if err != nil {
		panic(err)
	}
	tags := []policy.Tag{{Name: "1.2.0"}, {Name: "v1.10.0"}, {Name: "2.0.0"}, {Name: "1.11.0-rc.1"}, {Name: "latest"}, {Name: "sha256-1f2e.sig"}}
	res := p.Select(tags, policy.Current{Tag: "1.2.0"})
	fmt.Println(res.Decision, res.Tag)
	fmt.Println(res.Reason)
	fmt.Println(res.Stats)
	// Output:
	// update v1.10.0
	// "v1.10.0" ranks above "1.2.0", the tag in Git, under semver "^1".
	// 6 tags seen: 1 removed by cosign, 2 removed by constraint, 1 unparsable, 2 candidates
}

// Git is ahead of every candidate (someone pinned a release candidate by
// hand): tagwatch does not go back.
func ExamplePolicy_Select_held() {
	p, _ := policy.New(policy.Spec{})
	res := p.Select([]policy.Tag{{Name: "1.4.0"}, {Name: "1.5.0-rc.1"}}, policy.Current{Tag: "1.5.0-rc.1"})
	fmt.Println(res.Decision, res.Tag)
	fmt.Println(res.Reason)
	// Output:
	// held 1.4.0
	// The tag in Git, "1.5.0-rc.1", ranks above the best candidate "1.4.0" under semver "*", so it is held (set allowDowngrade to go down).
}

// Build tags named main-<unix-ts>-<sha>: extract the timestamp and rank it
// as a number. Alphabetical order would put main-999999999-… first.
func ExamplePolicy_Select_extract() {
	p, err := policy.New(policy.Spec{
		Strategy:  policy.Numerical,
		AllowTags: `^main-(?P<ts>\d+)-[0-9a-f]{7}$`,
		Extract:   "$ts",
	})
	if err != nil {
		panic(err)
	}
	tags := []policy.Tag{{Name: "main-999999999-aaaaaaa"}, {Name: "main-1700000100-bbbbbbb"}, {Name: "pr-7-ccccccc"}}
	res := p.Select(tags, policy.Current{})
	fmt.Println(res.Tag, res.Candidates)
	// Output:
	// main-1700000100-bbbbbbb [main-1700000100-bbbbbbb main-999999999-aaaaaaa]
}

func ExampleNew_error() {
	_, err := policy.New(policy.Spec{Constraint: "latest"})
	fmt.Println(err)
	// Output:
	// constraint "latest": improper constraint: "latest"
}

// A registry caller filters names first and fetches metadata only for the
// survivors.
func ExamplePolicy_FilterNames() {
	p, _ := policy.New(policy.Spec{Strategy: policy.NewestBuild, AllowTags: `^main-`, IgnoreTags: []string{"*-debug"}})
	fmt.Println(p.NeedsMetadata(), p.FilterNames([]string{"main-1", "main-2-debug", "v1.0.0", "main-3.sig"}))
	// Output:
	// true [main-1]
}
