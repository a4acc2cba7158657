package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/policy"
)

// runTestCmd runs `tagwatch args...` in process and returns stdout and the error.
func runTestCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runTestCmdWith(t, &globals{}, args...)
}

// runTestCmdWith is runTestCmd with the globals g (a test's liveTest).
func runTestCmdWith(t *testing.T, g *globals, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(g)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func writeTags(t *testing.T, lines ...string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "tags.txt")
	if err := os.WriteFile(name, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// Conformance cases (policy/testdata/conformance) run through the command.
func TestTestOfflineJSON(t *testing.T) {
	cases := []struct {
		name string
		tags []string
		args []string
		want testJSON
	}{
		{"argo semver-caret-major", []string{"0.1", "0.5.1", "0.9", "1.0", "1.0.1", "1.1.2", "2.0.3"},
			[]string{"--constraint", "^1.0", "--semver-loose"},
			testJSON{Tag: "1.1.2", Candidates: []string{"1.1.2", "1.0.1", "1.0"}}},
		{"flux-combo-02 numerical extract", []string{"1.0.0", "1.0.0-rc.1", "1.0.0-rc.2", "1.0.0-rc.3", "1.0.1-rc.2"},
			[]string{"--strategy", "numerical", "--allow-tags", `1.0.0-rc\.(?P<num>[0-9]+)`, "--extract", "$num"},
			testJSON{Tag: "1.0.0-rc.3", Candidates: []string{"1.0.0-rc.3", "1.0.0-rc.2", "1.0.0-rc.1"}}},
		{"flux-semver-03 no candidate", []string{"b1.2.3", "b1.0.0", "b0.1.0"},
			[]string{"--constraint", "1.0.x"},
			testJSON{Candidates: []string{}}},
		{"flux-num-09 skips non-numbers", []string{"0", "1a", "b"},
			[]string{"--strategy", "numerical"},
			testJSON{Tag: "0", Candidates: []string{"0"}}},
		{"flux-alpha-02 desc", []string{"16.04", "16.04.1", "16.10", "20.04", "20.10"},
			[]string{"--strategy", "alphabetical", "--order", "desc"},
			testJSON{Tag: "16.04", Candidates: []string{"16.04", "16.04.1", "16.10", "20.04", "20.10"}}},
		{"comments, blanks and cosign", []string{"# from crane ls", "", "  1.0.0  ", "1.1.0", "sha256-abc.sig"},
			[]string{"--ignore-tags", "1.1.*"},
			testJSON{Tag: "1.0.0", Candidates: []string{"1.0.0"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"test", "registry.example.com/team/app", "-o", "json", "--tags-file", writeTags(t, tc.tags...)}, tc.args...)
			out, err := runTestCmd(t, args...)
			if err != nil {
				t.Fatal(err)
			}
			var got testJSON
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("stdout %q: %v", out, err)
			}
			tc.want.Image = "registry.example.com/team/app"
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("json (-want +got):\n%s", diff)
			}
			var raw map[string]any
			if err := json.Unmarshal([]byte(out), &raw); err != nil || len(raw) != 4 {
				t.Errorf("json %s: want exactly image, tag, digest, candidates (%v)", out, err)
			}
		})
	}
}

func TestTestOfflineText(t *testing.T) {
	tags := writeTags(t, "1.0.0", "1.1.0", "1.2.0-rc.1", "latest", "x.sig", "1.1.0-debug")
	cases := []struct {
		args []string
		want []string
	}{
		{[]string{"--current", "1.0.0", "--ignore-tags", "*-debug"}, []string{
			"tag:        1.1.0\n",
			`decision:   update: "1.1.0" ranks above "1.0.0", the tag in Git, under semver "*".`,
			"seen:       6 tags\n",
			"removed:    cosign 1, ignoreTags 1, constraint 1\n",
			"unparsable: 1 (not a MAJOR.MINOR.PATCH version)\n",
			"candidates: 2, best first: 1.1.0 1.0.0\n",
		}},
		{[]string{"--current", "2.0.0"}, []string{"tag:        1.1.0\n", "decision:   held: ", "so it is held"}},
		{[]string{"--current", "1.1.0"}, []string{"decision:   current: Git already holds \"1.1.0\""}},
		{[]string{"--constraint", "^3"}, []string{"tag:        (none)\n", "decision:   none: No candidate: 6 tags seen", "candidates: 0\n"}},
	}
	// A name that is not a valid tag is dropped as from a registry's list.
	cases = append(cases, struct {
		args []string
		want []string
	}{[]string{"--tags-file", writeTags(t, "1.0.0", "9.9.9+build"), "--current", "1.0.0"}, []string{
		"tag:        1.0.0\n", `invalid:    1 invalid tag name dropped ("9.9.9+build")`, "seen:       1 tags\n"}})
	for _, tc := range cases {
		out, err := runTestCmd(t, append([]string{"test", "example.com/app", "--tags-file", tags}, tc.args...)...)
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: output does not contain %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestTestUsageErrors(t *testing.T) {
	tags := writeTags(t, "1.0.0")
	// runTestCmd's globals have no liveTest: the command is offline.
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"test", "example.com/app"}, "a registry is needed: pass --tags-file"},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--strategy", "newest-build"}, "a registry is needed: the newest-build strategy"},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--platform", "linux/amd64"}, "a registry is needed: --platform"},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--strategy", "digest", "--constraint", "latest"}, "a registry is needed: the digest strategy"},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--constraint", "latest"}, `constraint "latest": `},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--allow-tags", "(a)", "--extract", "$2"}, `extract "$2": group 2 does not exist`},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--strategy", "newest"}, `strategy "newest"`},
		{[]string{"test", "example.com/app", "--tags-file", tags, "-o", "yaml"}, `-o: "yaml" is not one of text, json`},
		{[]string{"test", "example.com/app", "--tags-file", tags, "--config", "c.yaml", "--insecure"}, "exclude each other"},
		{[]string{"test", "example.com/app:1.0.0", "--tags-file", tags}, "carries a tag or digest"},
		{[]string{"test", "--tags-file", tags}, "exactly one IMAGE"},
		{[]string{"test", "example.com/app", "--tags-file", filepath.Join(t.TempDir(), "none")}, "--tags-file: open "},
		{[]string{"test", "example.com/app", "--tags-file", writeTags(t, "1.0.0", "two tags")}, `tags.txt:2: "two tags" is not one tag`},
		{[]string{"test", "example.com/app", "--no-such-flag"}, "unknown flag"},
	}
	for _, tc := range cases {
		_, err := runTestCmd(t, tc.args...)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%q: err = %v, want a usage error", tc.args, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %q, want it to say %q", tc.args, err, tc.want)
		}
	}
	if got := run([]string{"test", "example.com/app", "--tags-file", tags, "--constraint", "latest"}); got != exitUsage {
		t.Errorf("invalid constraint: exit %d, want %d", got, exitUsage)
	}
}

// TestTestLiveHook: without --tags-file the command hands over to the live
// half and prints what it returns.
func TestTestLiveHook(t *testing.T) {
	var gotOpts *testOptions
	g := &globals{liveTest: func(_ context.Context, _ *globals, o *testOptions, pol *policy.Policy) (*testResult, error) {
		gotOpts = o
		return &testResult{Result: pol.Select([]policy.Tag{{Name: "1.0.0", Digest: "sha256:abc"}}, o.Current)}, nil
	}}
	out, err := runTestCmdWith(t, g, "test", "localhost:5000/app", "--insecure", "--platform", "linux/amd64", "--current", "0.9.0@sha256:def", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"image":"localhost:5000/app","tag":"","digest":"","candidates":[]}` + "\n"; out != want {
		t.Errorf("stdout = %q, want %q (no tag has the platform)", out, want)
	}
	wantOpts := policy.Current{Tag: "0.9.0", Digest: "sha256:def"}
	if gotOpts == nil || !gotOpts.Insecure || gotOpts.Image != "localhost:5000/app" || gotOpts.Current != wantOpts || len(gotOpts.Platforms) != 1 {
		t.Errorf("options = %+v", gotOpts)
	}

	g = &globals{liveTest: func(context.Context, *globals, *testOptions, *policy.Policy) (*testResult, error) {
		return nil, errors.New("listing tags of localhost:5000/app: connection refused")
	}}
	if _, err := runTestCmdWith(t, g, "test", "localhost:5000/app"); err == nil || errors.As(err, new(usageError)) {
		t.Errorf("registry failure: err = %v, want a plain error (exit 1)", err)
	}
}

func TestTestTagsFromStdin(t *testing.T) {
	g := &globals{}
	root := newRootCmd(g)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetIn(strings.NewReader("1.0.0\nv1.2.0\n2.0.0-rc.1\n"))
	root.SetArgs([]string{"test", "example.com/app", "--tags-file", "-", "-o", "json"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if want := `{"image":"example.com/app","tag":"v1.2.0","digest":"","candidates":["v1.2.0","1.0.0"]}` + "\n"; out.String() != want {
		t.Errorf("stdout = %q, want %q", out.String(), want)
	}
}

// FuzzReadTagsFile: the tag list parser never panics, and what it returns
// is tags: no blanks, comments or whitespace.
func FuzzReadTagsFile(f *testing.F) {
	f.Add("1.0.0\n# c\n\n  v2 \r\nsha256-x.sig\n")
	f.Add("two tags\n")
	f.Fuzz(func(t *testing.T, data string) {
		tags, err := readTagsFile("-", strings.NewReader(data))
		if err != nil {
			return
		}
		for _, tag := range tags {
			if tag.Name == "" || strings.HasPrefix(tag.Name, "#") || strings.ContainsFunc(tag.Name, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
				t.Fatalf("tag %q from %q", tag.Name, data)
			}
		}
	})
}
