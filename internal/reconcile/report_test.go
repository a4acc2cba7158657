package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReportWriteText(t *testing.T) {
	rep := Report{
		Changes: []Change{
			{Env: "staging", Image: "r/app", File: "envs/staging/kustomization.yaml", From: "1.0.0", To: "1.1.0",
				Files: []string{"envs/staging/kustomization.yaml", "envs/staging/values.yaml"},
				Edits: []FileEdit{
					{File: "envs/staging/kustomization.yaml", Fields: []string{"images[name=r/app].newTag"}, Diff: "--- a/k\n+++ b/k\n@@ -1 +1 @@\n-newTag: 1.0.0\n+newTag: 1.1.0\n"},
					{File: "envs/staging/values.yaml", Fields: []string{"image.tag"}, Diff: "--- a/v\n+++ b/v\n@@ -1 +1 @@\n-tag: 1.0.0\n+tag: 1.1.0\n"},
				}},
			{Env: "dev", Image: "r/app", File: "envs/dev/kustomization.yaml", Files: []string{"envs/dev/kustomization.yaml"}, To: "latest", Digest: "sha256:ab"},
		},
		Held: []Change{
			{Env: "production", Image: "r/app", From: "2.0.0", To: "1.1.0", Reason: `The tag in Git, "2.0.0", ranks above the best candidate "1.1.0"`},
			{Env: "eu", Image: "r/app", From: "1.0.0", To: "1.1.0", Reason: "waiting: staging has run sha256:ab for 12m of 30m"},
		},
		Errors:  []Error{{Env: "qa", Image: "r/api", Error: "listing tags: unauthorized"}, {Env: "qa", Error: "path envs/qa: not a directory"}, {Error: "opening git repository: boom"}},
		Commits: []string{"abc"},
	}
	for _, tc := range []struct {
		name string
		rep  Report
		o    TextOptions
		want string
	}{
		{"everything", rep, TextOptions{}, `updated staging: r/app 1.0.0 -> 1.1.0
  envs/staging/kustomization.yaml: images[name=r/app].newTag
  envs/staging/values.yaml: image.tag
updated dev: r/app (none) -> latest@sha256:ab
  envs/dev/kustomization.yaml
held production: r/app stays at 2.0.0 (best candidate 1.1.0): The tag in Git, "2.0.0", ranks above the best candidate "1.1.0"
held eu: r/app stays at 1.0.0 (best candidate 1.1.0): waiting: staging has run sha256:ab for 12m of 30m
error qa: r/api: listing tags: unauthorized
error qa: path envs/qa: not a directory
error: opening git repository: boom
commit abc
`},
		{"dry run with diffs", Report{Changes: rep.Changes[:1]}, TextOptions{DryRun: true, Diff: true}, `would update staging: r/app 1.0.0 -> 1.1.0
  envs/staging/kustomization.yaml: images[name=r/app].newTag
    --- a/k
    +++ b/k
    @@ -1 +1 @@
    -newTag: 1.0.0
    +newTag: 1.1.0
  envs/staging/values.yaml: image.tag
    --- a/v
    +++ b/v
    @@ -1 +1 @@
    -tag: 1.0.0
    +tag: 1.1.0
`},
		{"nothing", newReport(), TextOptions{}, "everything is up to date\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.rep.WriteTextWith(&b, tc.o); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
