package reconcile

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReportWriteText(t *testing.T) {
	rep := Report{
		Changes: []Change{
			{Env: "staging", Image: "r/app", File: "envs/staging/kustomization.yaml", From: "1.0.0", To: "1.1.0"},
			{Env: "dev", Image: "r/app", File: "envs/dev/kustomization.yaml", To: "latest", Digest: "sha256:ab"},
		},
		Held: []Change{
			{Env: "production", Image: "r/app", From: "2.0.0", To: "1.1.0", Reason: `The tag in Git, "2.0.0", ranks above the best candidate "1.1.0"`},
			{Env: "eu", Image: "r/app", From: "1.0.0", To: "1.1.0", Reason: "waiting: staging has run sha256:ab for 12m0s of 30m0s"},
		},
		Errors:  []Error{{Env: "qa", Image: "r/api", Error: "listing tags: unauthorized"}, {Env: "qa", Error: "path envs/qa: not a directory"}, {Error: "opening git repository: boom"}},
		Commits: []string{"abc"},
	}
	for _, tc := range []struct {
		name   string
		rep    Report
		dryRun bool
		want   string
	}{
		{"everything", rep, false, `updated staging: r/app 1.0.0 -> 1.1.0 (envs/staging/kustomization.yaml)
updated dev: r/app (none) -> latest@sha256:ab (envs/dev/kustomization.yaml)
held production: r/app stays at 2.0.0 (best candidate 1.1.0): The tag in Git, "2.0.0", ranks above the best candidate "1.1.0"
held eu: r/app stays at 1.0.0 (best candidate 1.1.0): waiting: staging has run sha256:ab for 12m0s of 30m0s
error qa: r/api: listing tags: unauthorized
error qa: path envs/qa: not a directory
error: opening git repository: boom
commit abc
`},
		{"dry run", Report{Changes: rep.Changes[:1]}, true, "would update staging: r/app 1.0.0 -> 1.1.0 (envs/staging/kustomization.yaml)\n"},
		{"nothing", newReport(), false, "everything is up to date\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := tc.rep.WriteText(&b, tc.dryRun); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
