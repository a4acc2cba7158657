package diff

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

func TestUnified(t *testing.T) {
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{"equal", "a\nb\n", "a\nb\n", ""},
		{"one scalar", "resources: [../../base]\nimages:\n  - name: team/app\n    newTag: 1.0.0\n", "resources: [../../base]\nimages:\n  - name: team/app\n    newTag: 1.1.0\n",
			"--- a/k\n+++ b/k\n@@ -1,4 +1,4 @@\n resources: [../../base]\n images:\n   - name: team/app\n-    newTag: 1.0.0\n+    newTag: 1.1.0\n"},
		{"context cut", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			"--- a/k\n+++ b/k\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n"},
		{"two hunks", "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", "one\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ntwelve\n",
			"--- a/k\n+++ b/k\n@@ -1,4 +1,4 @@\n-1\n+one\n 2\n 3\n 4\n@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+twelve\n"},
		{"merged hunks", "1\n2\n3\n4\n5\n6\n7\n", "one\n2\n3\n4\n5\n6\nseven\n",
			"--- a/k\n+++ b/k\n@@ -1,7 +1,7 @@\n-1\n+one\n 2\n 3\n 4\n 5\n 6\n-7\n+seven\n"},
		{"appended", "a\n", "a\nb\nc\n", "--- a/k\n+++ b/k\n@@ -1 +1,3 @@\n a\n+b\n+c\n"},
		{"from empty", "", "a\n", "--- a/k\n+++ b/k\n@@ -0,0 +1 @@\n+a\n"},
		{"to empty", "a\n", "", "--- a/k\n+++ b/k\n@@ -1 +0,0 @@\n-a\n"},
		{"no final newline", "a\nb", "a\nc", "--- a/k\n+++ b/k\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"},
		{"final newline added", "a\nb", "a\nb\n", "--- a/k\n+++ b/k\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n"},
		{"crlf", "a\r\nb\r\n", "a\r\nc\r\n", "--- a/k\n+++ b/k\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Unified("a/k", "b/k", []byte(tc.a), []byte(tc.b))); diff != "" {
				t.Errorf("Unified (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAgainstGNUDiff: for the edits tagwatch makes (scalars replaced,
// lines added at the end of a list), the output is what `diff -u` prints,
// headers aside; for random edits `patch` turns a into b with it.
func TestAgainstGNUDiff(t *testing.T) {
	diffProg := testenv.LookPath(t, "Debian package diffutils", "diff")
	patchProg := testenv.LookPath(t, "Debian package patch", "patch")
	dir := t.TempDir()
	rnd := rand.New(rand.NewPCG(1, 2))
	base := func(n int) []string {
		var ls []string
		for i := range n {
			ls = append(ls, fmt.Sprintf("  key%d: value%d", i, rnd.IntN(5)))
		}
		return ls
	}
	for k := range 200 {
		a := base(1 + rnd.IntN(40))
		b := append([]string(nil), a...)
		typical := k < 100
		edits := 1 + rnd.IntN(3)
		for range edits {
			switch {
			case typical:
				b[rnd.IntN(len(b))] = "  changed: " + strconv.Itoa(rnd.IntN(1000))
			case rnd.IntN(3) == 0 && len(b) > 1:
				i := rnd.IntN(len(b))
				b = append(b[:i], b[i+1:]...)
			case rnd.IntN(2) == 0:
				i := rnd.IntN(len(b) + 1)
				b = append(b[:i], append([]string{"  new: " + strconv.Itoa(rnd.IntN(9))}, b[i:]...)...)
			default:
				b[rnd.IntN(len(b))] = "  value" + strconv.Itoa(rnd.IntN(5))
			}
		}
		at, bt := strings.Join(a, "\n")+"\n", strings.Join(b, "\n")+"\n"
		if rnd.IntN(4) == 0 {
			bt = strings.TrimSuffix(bt, "\n")
		}
		af, bf := filepath.Join(dir, "a"), filepath.Join(dir, "b")
		os.WriteFile(af, []byte(at), 0o644)
		os.WriteFile(bf, []byte(bt), 0o644)
		got := Unified("a", "b", []byte(at), []byte(bt))
		if typical && bt[len(bt)-1] == '\n' {
			out, _ := exec.Command(diffProg, "-u", af, bf).Output()
			want := string(out)
			if i := strings.Index(want, "@@"); i >= 0 {
				want = "--- a\n+++ b\n" + want[i:]
			}
			if got != want {
				t.Fatalf("case %d differs from diff -u:\n%s\n(-want +got):\n%s", k, at+"=>\n"+bt, cmp.Diff(want, got))
			}
		}
		out := filepath.Join(dir, "out")
		cmd := exec.Command(patchProg, "-s", "-o", out, af)
		cmd.Stdin = strings.NewReader(got)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("case %d: patch: %v %s\n%s", k, err, msg, got)
		}
		if res, _ := os.ReadFile(out); !bytes.Equal(res, []byte(bt)) {
			t.Fatalf("case %d: patched a is not b:\n%s", k, got)
		}
	}
}

// TestLargeMiddle: more changed lines than maxD is one removal and one
// addition, still a diff that patches a into b.
func TestLargeMiddle(t *testing.T) {
	var a, b strings.Builder
	for i := range 2100 {
		fmt.Fprintf(&a, "a%d\n", i)
		fmt.Fprintf(&b, "b%d\n", i)
	}
	got := Unified("a", "b", []byte(a.String()), []byte(b.String()))
	if !strings.HasPrefix(got, "--- a\n+++ b\n@@ -1,2100 +1,2100 @@\n-a0\n") || strings.Count(got, "\n-") != 2100 || strings.Count(got, "\n+") != 2100+1 { // +1: the "+++" header
		t.Errorf("large middle:\n%.200s", got)
	}
}

// FuzzUnified: applying the diff to a gives b.
func FuzzUnified(f *testing.F) {
	f.Add("a\nb\nc\n", "a\nc\n")
	f.Add("x", "x\n")
	f.Add("", "")
	f.Add("1\n2\n3\n4\n5\n6\n7\n8\n", "1\n2\n3\nx\n5\n6\n7\ny\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 4000 || len(b) > 4000 {
			return
		}
		d := Unified("a", "b", []byte(a), []byte(b))
		if (d == "") != (a == b) {
			t.Fatalf("diff %q of %q and %q", d, a, b)
		}
		if got := apply(t, a, d); got != b {
			t.Fatalf("apply(%q, %q) = %q, want %q", a, d, got, b)
		}
	})
}

// apply applies a unified diff made by Unified to a.
func apply(t *testing.T, a, d string) string {
	t.Helper()
	if d == "" {
		return a
	}
	src := splitLines([]byte(a))
	lines := strings.SplitAfter(d, "\n")
	var out []line
	next := 0 // index into src
	for k := 2; k < len(lines) && lines[k] != ""; k++ {
		l := lines[k]
		if strings.HasPrefix(l, "@@") {
			var as, al, bs, bl int
			hdr := strings.Fields(l)
			parse := func(s string, st, ln *int) {
				p := strings.SplitN(s[1:], ",", 2)
				*st, _ = strconv.Atoi(p[0])
				*ln = 1
				if len(p) == 2 {
					*ln, _ = strconv.Atoi(p[1])
				}
			}
			parse(hdr[1], &as, &al)
			parse(hdr[2], &bs, &bl)
			start := as - 1
			if al == 0 {
				start = as
			}
			out = append(out, src[next:start]...)
			next = start
			continue
		}
		text, _ := strings.CutSuffix(l[1:], "\n")
		noEOL := k+1 < len(lines) && strings.HasPrefix(lines[k+1], "\\")
		switch l[0] {
		case ' ':
			out = append(out, src[next])
			next++
		case '-':
			if src[next].text != text {
				t.Fatalf("removed line %q is %q", text, src[next].text)
			}
			next++
		case '+':
			out = append(out, line{text: text, noEOL: noEOL})
		}
	}
	out = append(out, src[next:]...)
	var b strings.Builder
	for _, l := range out {
		b.WriteString(l.text)
		if !l.noEOL {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// BenchmarkUnified: a 5,000-line values file with two scalars changed, the
// shape of a Helm values edit.
func BenchmarkUnified(b *testing.B) {
	var x strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&x, "  key%d: value%d\n", i, i)
	}
	a := x.String()
	c := strings.Replace(strings.Replace(a, "value100\n", "changed\n", 1), "value4000\n", "changed\n", 1)
	b.ReportAllocs()
	for b.Loop() {
		if Unified("a", "b", []byte(a), []byte(c)) == "" {
			b.Fatal("no diff")
		}
	}
}
