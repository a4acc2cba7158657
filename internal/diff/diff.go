// Package diff writes unified diffs of two texts, line by line, in the
// format of GNU `diff -u` (which the tests use as an oracle), for the plan
// `tagwatch run --diff` prints.
//
// tagwatch's edits change a few scalars of a file, so the common prefix and
// suffix are cut first (linear) and the lines left between are compared with
// Myers' algorithm, whose cost grows with the number of lines changed, not
// with the size of the file. Past maxD changed lines the rest is shown as
// removed then added: still a correct diff, only a longer one. The standard library has no diff, and
// one small, tested function costs less than a dependency.
package diff

import (
	"bytes"
	"fmt"
	"strings"
)

// Context is the number of unchanged lines shown around a change, as diff -u.
const Context = 3

// maxD bounds the changed lines Myers' algorithm looks for (its memory
// grows with their square): 2,000 lines changed is no longer a plan a
// person reads line by line.
const maxD = 2000

// Unified returns the unified diff turning a into b, with the headers
// "--- aName" and "+++ bName"; "" when they are equal.
func Unified(aName, bName string, a, b []byte) string {
	if bytes.Equal(a, b) {
		return ""
	}
	x, y := splitLines(a), splitLines(b)
	ops := script(x, y)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	for _, h := range hunks(ops) {
		writeHunk(&out, h, x, y)
	}
	return out.String()
}

// line is one line of a text, without its "\n"; noEOL says it had none.
type line struct {
	text  string
	noEOL bool
}

func splitLines(b []byte) []line {
	if len(b) == 0 {
		return nil
	}
	parts := strings.SplitAfter(string(b), "\n")
	if parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	out := make([]line, len(parts))
	for i, p := range parts {
		t, had := strings.CutSuffix(p, "\n")
		out[i] = line{text: t, noEOL: !had}
	}
	return out
}

// op is one line of the edit script: ' ' kept, '-' removed from a, '+'
// added from b; i and j index a and b.
type op struct {
	kind byte
	i, j int
}

// script returns the edit script from x to y.
func script(x, y []line) []op {
	pre := 0
	for pre < len(x) && pre < len(y) && x[pre] == y[pre] {
		pre++
	}
	suf := 0
	for suf < len(x)-pre && suf < len(y)-pre && x[len(x)-1-suf] == y[len(y)-1-suf] {
		suf++
	}
	var ops []op
	for k := 0; k < pre; k++ {
		ops = append(ops, op{' ', k, k})
	}
	ops = append(ops, middle(x[pre:len(x)-suf], y[pre:len(y)-suf], pre)...)
	for k := 0; k < suf; k++ {
		ops = append(ops, op{' ', len(x) - suf + k, len(y) - suf + k})
	}
	return ops
}

// middle diffs the differing middles of x and y (starting at index off of
// both) with Myers' algorithm: O((n+m)·D) time and O(D²) memory for D
// lines changed. Past maxD changes it shows the middles as one removal and
// one addition instead.
func middle(x, y []line, off int) []op {
	n, m := len(x), len(y)
	block := func() []op {
		var ops []op
		for i := range x {
			ops = append(ops, op{'-', off + i, off})
		}
		for j := range y {
			ops = append(ops, op{'+', off + n, off + j})
		}
		return ops
	}
	if n == 0 || m == 0 {
		return block()
	}
	// trace[d][k+d] is the furthest x reached on diagonal k (x-y) with d edits.
	var trace [][]int
	prev := func(d, k int) int {
		if d == 0 {
			return 0
		}
		return trace[d-1][k+d-1]
	}
	goesDown := func(d, k int) bool { // an addition (y+1) rather than a removal (x+1)
		return k == -d || k != d && prev(d, k-1) < prev(d, k+1)
	}
	found := -1
	for d := 0; d <= min(n+m, maxD) && found < 0; d++ {
		v := make([]int, 2*d+1)
		for k := -d; k <= d; k += 2 {
			var i int
			if goesDown(d, k) {
				i = prev(d, k+1)
			} else {
				i = prev(d, k-1) + 1
			}
			j := i - k
			for i < n && j < m && x[i] == y[j] {
				i, j = i+1, j+1
			}
			v[k+d] = i
			if i >= n && j >= m {
				found = d
			}
		}
		trace = append(trace, v)
	}
	if found < 0 {
		return block()
	}
	// Walk back from (n, m), collecting the script in reverse.
	var rev []op
	i, j := n, m
	for d := found; d >= 0; d-- {
		k := i - j
		var pi, pj int // where the edit of step d started
		if d > 0 {
			if goesDown(d, k) {
				pi = prev(d, k+1)
				pj = pi - (k + 1)
			} else {
				pi = prev(d, k-1)
				pj = pi - (k - 1)
			}
		}
		// The snake back to just after the edit.
		si, sj := pi, pj
		if d > 0 {
			if goesDown(d, k) {
				sj++
			} else {
				si++
			}
		}
		for i > si && j > sj {
			i, j = i-1, j-1
			rev = append(rev, op{' ', off + i, off + j})
		}
		if d > 0 {
			if goesDown(d, k) {
				j--
				rev = append(rev, op{'+', off + i, off + j})
			} else {
				i--
				rev = append(rev, op{'-', off + i, off + j})
			}
		}
	}
	ops := make([]op, len(rev))
	for k, o := range rev {
		ops[len(rev)-1-k] = o
	}
	return ops
}

// hunks groups the script into hunks: each change with Context kept lines
// around it, changes closer than 2·Context lines merged.
func hunks(ops []op) [][]op {
	var out [][]op
	start, end := -1, -1 // the current hunk: ops[start:end]
	for k, o := range ops {
		if o.kind == ' ' {
			continue
		}
		lo, hi := max(k-Context, 0), min(k+Context+1, len(ops))
		if start >= 0 && lo <= end {
			end = max(end, hi)
			continue
		}
		if start >= 0 {
			out = append(out, ops[start:end])
		}
		start, end = lo, hi
	}
	if start >= 0 {
		out = append(out, ops[start:end])
	}
	return out
}

func writeHunk(out *strings.Builder, h []op, x, y []line) {
	aStart, bStart := h[0].i, h[0].j
	var aLen, bLen int
	for _, o := range h {
		if o.kind != '+' {
			aLen++
		}
		if o.kind != '-' {
			bLen++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", span(aStart, aLen), span(bStart, bLen))
	for _, o := range h {
		var l line
		if o.kind == '+' {
			l = y[o.j]
		} else {
			l = x[o.i]
		}
		out.WriteByte(o.kind)
		out.WriteString(l.text)
		out.WriteByte('\n')
		if l.noEOL {
			out.WriteString("\\ No newline at end of file\n")
		}
	}
}

// span writes a hunk range as diff -u does: "start,len", "start" for one
// line, and the line before for none.
func span(start, n int) string {
	switch n {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}
