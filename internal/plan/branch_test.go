package plan

import (
	"errors"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/policy"
)

// TestRenderBranch: RenderBranch cuts a render to MaxBranchLen bytes and
// refuses what is no branch name, or a template that fails, with
// ErrBranchTemplate.
func TestRenderBranch(t *testing.T) {
	changes := []BranchChange{{Watch: &Watch{Image: "r/app", Alias: "app"}, From: policy.Current{Tag: "1.0.0"}, To: policy.Current{Tag: "1.1.0"}}}
	long := "image-updater-" + strings.Repeat("x", 300)
	for _, tc := range []struct {
		name   string
		render func([]BranchChange) (string, error)
		want   string // the branch; "" for an error
		err    string
	}{
		{name: "from the changes", render: func(cs []BranchChange) (string, error) {
			return "image-updater-" + cs[0].Watch.Alias + "-" + cs[0].To.Tag, nil
		}, want: "image-updater-app-1.1.0"},
		{name: "cut to 255 bytes", render: func([]BranchChange) (string, error) { return long, nil }, want: long[:MaxBranchLen]},
		{name: "cut to a name that ends in a dot", render: func([]BranchChange) (string, error) { return strings.Repeat("a", 254) + ".." + "b", nil },
			err: `renders no usable branch: "t" gives "` + strings.Repeat("a", 254) + `." is not a valid branch name`},
		{name: "empty", render: func([]BranchChange) (string, error) { return "", nil }, err: `"t" gives "" is not a valid branch name`},
		{name: "no branch name", render: func([]BranchChange) (string, error) { return "a..b", nil }, err: `"a..b" is not a valid branch name`},
		{name: "a space", render: func([]BranchChange) (string, error) { return "image updater", nil }, err: "not a valid branch name"},
		{name: "HEAD", render: func([]BranchChange) (string, error) { return "HEAD", nil }, err: "not a valid branch name"},
		{name: "a ref", render: func([]BranchChange) (string, error) { return "refs/heads/x", nil }, err: "not a valid branch name"},
		{name: "the template fails", render: func([]BranchChange) (string, error) { return "", errors.New("no field Foo") }, err: `"t": no field Foo`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Environment{Name: "p", Mode: ModeBranch, BranchTemplate: &BranchTemplate{Text: "t", Render: tc.render}}
			got, err := e.RenderBranch(changes)
			if tc.err == "" {
				if err != nil || got != tc.want {
					t.Errorf("RenderBranch = %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrBranchTemplate) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("RenderBranch = %q, %v; want an ErrBranchTemplate with %q", got, err, tc.err)
			}
		})
	}
	if _, err := (&Environment{Name: "p", Mode: ModeBranch, Branch: "x"}).RenderBranch(changes); !errors.Is(err, ErrBranchTemplate) {
		t.Errorf("RenderBranch without a template: %v", err)
	}
}
