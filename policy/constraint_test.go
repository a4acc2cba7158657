package policy

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

var rangeConstraints = []string{
	"*", "", "x", "1", "1.x", "1.2.x", "v1.x", "^1", "^1.2", "^1.2.3", "^0.2.3", "^0.0.3", "^0.0", "^0", "^0.x", "^1.x-0",
	"~1", "~1.2", "~1.2.3", "~0.0.0", "~0", "~> 1.2", "=1.2.3", "1.2.3", "!=1.2.3", "!=1.x", "!=1.2.x", "!=1.2.3-rc.1",
	">1.2.3", ">1.x", ">1.2.x", ">=1.2.3", "=>1.2", "<2", "<2.0.0", "<1.x", "<=1.2.x", "<=1.x", "=<2.0.0", "<=2.0.0-rc.1",
	">=1.0.0 <2.0.0", ">=1.0.0, <2.0.0", "1.2 - 1.4.5", "1.2.3-alpha - 2", "^1.2 || ^3", "^1.x-0 || ^3.x-0", ">=1.0.0-0",
	">=7.8.0-0", "2.x-0", "~1.2.3-beta", ">1.2.3-alpha <1.2.3-beta", ">=1.0.0+b-1", "=2.0.0-rc.1", "^2.0.0-0 !=2.0.0-rc.1",
	"<1.0.0 || >=3.0.0", "1.0.x || 2.x", ">=0.0.0",
}

var rangeVersions = []string{
	"0.0.0-rc", "0.0.0", "0.0.3", "0.0.3+m", "0.0.4-rc", "0.0.4", "0.1.0", "0.2.0", "0.2.3", "0.2.4", "0.3.0-0", "0.3.0",
	"1.0.0-0", "1.0.0-alpha", "1.0.0", "1.0.0+b", "1.2.0-rc.1", "1.2.0", "1.2.2", "1.2.3-0", "1.2.3-alpha", "1.2.3-alpha.1",
	"1.2.3-beta", "1.2.3-rc.1", "1.2.3", "1.2.3+b2", "1.2.4", "1.2.5-rc", "1.2.9", "1.3.0-rc", "1.3.0", "1.4.5", "1.4.6",
	"1.9.9", "2.0.0-0", "2.0.0-rc.1", "2.0.0-rc.2", "2.0.0", "2.5.0", "3.0.0-0", "3.0.0", "3.1.0-beta", "3.1.0", "7.8.0-rc9",
	"7.8.0", "10.0.0",
}

// checkRanges compares rangeSet with Check, version by version.
func checkRanges(t *testing.T, constraint string, versions []string) {
	t.Helper()
	cs, err := semver.NewConstraint(constraint)
	if err != nil {
		return
	}
	rs := newRangeSet(cs)
	if rs == nil {
		return // checked version by version
	}
	var vs []*semver.Version
	for _, s := range versions {
		if v, err := semver.NewVersion(s); err == nil {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, (*semver.Version).Compare)
	got := rs.admit(vs)
	for i, v := range vs {
		if want := cs.Check(v); got[i] != want {
			t.Errorf("constraint %q (%q) on %s: rangeSet says %v, Check says %v", constraint, cs.String(), v.Original(), got[i], want)
		}
	}
}

func TestRangeSet(t *testing.T) {
	for _, c := range rangeConstraints {
		checkRanges(t, c, rangeVersions)
	}
	// The forms that must not take the fast path.
	for _, c := range []string{"!=1.x", "!=1.2.x", "!=1"} {
		cs, _ := semver.NewConstraint(c)
		if newRangeSet(cs) != nil {
			t.Errorf("%q: != with a wildcard is not an interval once pre-releases count; want Check", c)
		}
	}
}

// FuzzRangeSet: evaluating a constraint over sorted versions agrees with
// semver's Check for every version.
func FuzzRangeSet(f *testing.F) {
	for i, c := range rangeConstraints {
		f.Add(c, strings.Join(rangeVersions[i%len(rangeVersions):], " "))
	}
	f.Fuzz(func(t *testing.T, constraint, versions string) {
		checkRanges(t, constraint, append(strings.Fields(versions), rangeVersions...))
	})
}

// TestRangeSetGenerated compares rangeSet with Check on constraints made
// from every operator, wildcards, pre-releases, ANDs and ORs.
func TestRangeSetGenerated(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	ops := []string{"", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"}
	num := func() string { return []string{"0", "1", "2", "3", "x", "*"}[r.IntN(6)] }
	ver := func() string {
		v := num()
		for range r.IntN(3) {
			v += "." + num()
		}
		if r.IntN(4) == 0 {
			v += "-" + []string{"0", "rc.1", "alpha", "beta.2"}[r.IntN(4)]
		}
		return v
	}
	var versions []string
	for a := range 4 {
		for b := range 4 {
			for c := range 4 {
				v := fmt.Sprintf("%d.%d.%d", a, b, c)
				versions = append(versions, v, v+"-0", v+"-rc.1", v+"-alpha")
			}
		}
	}
	fast, valid := 0, 0
	for range 3000 {
		var groups []string
		for range 1 + r.IntN(2) {
			var cmps []string
			for range 1 + r.IntN(3) {
				cmps = append(cmps, ops[r.IntN(len(ops))]+ver())
			}
			groups = append(groups, strings.Join(cmps, " "))
		}
		c := strings.Join(groups, " || ")
		if cs, err := semver.NewConstraint(c); err == nil {
			valid++
			if newRangeSet(cs) != nil {
				fast++
			}
		}
		checkRanges(t, c, versions)
		if t.Failed() {
			return
		}
	}
	if fast < valid/2 {
		t.Errorf("only %d of %d valid constraints took the fast path", fast, valid)
	}
	t.Logf("%d of %d valid constraints evaluated over sorted versions", fast, valid)
}
