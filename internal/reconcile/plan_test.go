package reconcile

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestDryRunListsEveryWrite: one image written to the kustomization, a
// Helm values file and marked scalars in two files. The dry run's change
// lists every file, with the fields set and a diff each, and the real
// cycle writes exactly those files (issue 15, point 1: the plan showed the
// kustomization alone).
func TestDryRunListsEveryWrite(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: prod
    path: envs/prod
    images:
      - image: REG/team/app
        kustomizeName: team/app
        helm: {file: values.yaml, tag: image.tag}
`
	f := newFixture(t, cfg, map[string]string{
		"envs/prod/kustomization.yaml": kustomization("team/app", "1.0.0"),
		"envs/prod/values.yaml":        "image:\n  repository: REG/team/app\n  tag: 1.0.0\n",
		"envs/prod/job.yaml":           "spec:\n  image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/prod/cron/cron.yaml":     "version: 1.0.0 # {\"$tagwatch\": \"app:tag\"}\n",
	})
	f.reg.push("team/app", "1.0.0", "1.1.0")
	dry, err := f.rec.Cycle(context.Background(), DryRun(true))
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Changes) != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	c := dry.Changes[0]
	want := []string{"envs/prod/kustomization.yaml", "envs/prod/values.yaml", "envs/prod/cron/cron.yaml", "envs/prod/job.yaml"}
	if diff := cmp.Diff(want, c.Files); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if c.File != want[0] {
		t.Errorf("file %q, want the first of files", c.File)
	}
	var fields []string
	for _, e := range c.Edits {
		fields = append(fields, e.File+": "+strings.Join(e.Fields, ", "))
		if !strings.HasPrefix(e.Diff, "--- a/"+e.File+"\n+++ b/"+e.File+"\n@@ ") || !strings.Contains(e.Diff, "1.1.0") {
			t.Errorf("diff of %s:\n%s", e.File, e.Diff)
		}
	}
	wantFields := []string{
		"envs/prod/kustomization.yaml: images[name=team/app].newName, images[name=team/app].newTag",
		"envs/prod/values.yaml: image.tag",
		"envs/prod/cron/cron.yaml: line 1 (app:tag)",
		"envs/prod/job.yaml: line 2 (app)",
	}
	if diff := cmp.Diff(wantFields, fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	var text strings.Builder
	if err := dry.WriteTextWith(&text, TextOptions{DryRun: true, Diff: true}); err != nil {
		t.Fatal(err)
	}
	for _, w := range append(wantFields, "    -  tag: 1.0.0", "    +  tag: 1.1.0", "    +version: 1.1.0 # {\"$tagwatch\": \"app:tag\"}") {
		if !strings.Contains(text.String(), w) {
			t.Errorf("text plan lacks %q:\n%s", w, text.String())
		}
	}

	real, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(dry.Changes[0].Edits, real.Changes[0].Edits); diff != "" {
		t.Errorf("dry run vs real edits (-dry +real):\n%s", diff)
	}
	committed := strings.Fields(testgit.Git(t, f.bare, "show", "--format=", "--name-only", "main"))
	slices.Sort(committed)
	sorted := slices.Sorted(slices.Values(want))
	if diff := cmp.Diff(sorted, committed); diff != "" {
		t.Errorf("files of the commit (-plan +commit):\n%s", diff)
	}
}

// TestMissingKustomizeEntry: with no other target, a missing images entry
// is added (as `kustomize edit set image` would); one that looks like the
// image under another name is an error naming it and kustomizeName; with
// a marker, the marker is written and no entry added; with neither a
// kustomization nor a marker, the error says what is missing (issue 15,
// point 3).
func TestMissingKustomizeEntry(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: added
    path: envs/added
    images: [{image: REG/team/app}]
  - name: named
    path: envs/named
    images: [{image: REG/team/app, kustomizeName: app}]
  - name: alike
    path: envs/alike
    images: [{image: REG/team/app}]
  - name: marked
    path: envs/marked
    images: [{image: REG/team/app}]
  - name: bare
    path: envs/bare
    images: [{image: REG/team/app}]
`
	other := "resources:\n  - ../../base\nimages:\n  - name: team/web\n    newTag: 2.0.0\n"
	f := newFixture(t, cfg, map[string]string{
		"envs/added/kustomization.yaml":  other,
		"envs/named/kustomization.yaml":  "resources:\n  - ../../base\n",
		"envs/alike/kustomization.yaml":  kustomization("team/app", "1.0.0") + "  - name: team/web\n    newTag: 2.0.0\n",
		"envs/marked/kustomization.yaml": other,
		"envs/marked/deploy.yaml":        "image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"envs/bare/deploy.yaml":          "image: REG/team/app:1.0.0\n",
	})
	f.reg.push("team/app", "1.0.0", "1.1.0")
	rep, err := f.rec.Cycle(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, c := range rep.Changes {
		changes = append(changes, c.Env+" "+c.From+"->"+c.To+" "+strings.Join(c.Files, ","))
	}
	if diff := cmp.Diff([]string{
		"added ->1.1.0 envs/added/kustomization.yaml",
		"named ->1.1.0 envs/named/kustomization.yaml",
		"marked 1.0.0->1.1.0 envs/marked/deploy.yaml",
	}, changes); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if got, want := f.show(t, "envs/added/kustomization.yaml"), other+"  - name: "+f.reg.host+"/team/app\n    newTag: 1.1.0\n"; got != want {
		t.Errorf("added entry:\n%s\nwant:\n%s", got, want)
	}
	if got, want := f.show(t, "envs/named/kustomization.yaml"), "resources:\n  - ../../base\nimages:\n  - name: app\n    newName: "+f.reg.host+"/team/app\n    newTag: 1.1.0\n"; got != want {
		t.Errorf("added entry with kustomizeName:\n%s\nwant:\n%s", got, want)
	}
	if got := f.show(t, "envs/marked/kustomization.yaml"); got != other {
		t.Errorf("an entry was added beside a marker:\n%s", got)
	}
	errs := map[string]string{}
	for _, e := range rep.Errors {
		errs[e.Env] = e.Error
	}
	for env, want := range map[string]string{
		"alike": `no images entry named "` + f.reg.host + `/team/app" in envs/alike/kustomization.yaml (it has "team/app", "team/web"), and "team/app" looks like this image under another name: set kustomizeName: team/app`,
		"bare":  `not found under envs/bare: no kustomization (kustomization.yaml, kustomization.yml, Kustomization) to add an images entry to, and no YAML file there with a marker # {"$tagwatch": "app"}`,
	} {
		if !strings.Contains(errs[env], want) {
			t.Errorf("%s: error %q, want %q", env, errs[env], want)
		}
	}
	if len(errs) != 2 {
		t.Errorf("errors %v, want alike and bare", errs)
	}
}

// TestDryRunAppliesAsPublishDoes: two environments write two adjacent
// lines of one file, one of them to a branch of its own. Publish applies
// that one on main's head alone, so its diff shows the other line as it
// is on main; the dry run reports the same changes and diffs as the real
// cycle.
func TestDryRunAppliesAsPublishDoes(t *testing.T) {
	const cfg = `
git: {url: GIT, branch: main}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: all
    path: .
    images: [{image: REG/team/web}]
  - name: prod
    path: envs/prod
    images: [{image: REG/team/app}]
`
	reg := newTestRegistry(t)
	bare := testgit.NewBare(t, map[string]string{
		"envs/prod/deploy.yaml": reg.expand("web: REG/team/web:1.0.0 # {\"$tagwatch\": \"web\"}\napp: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n"),
	})
	set, err := plan.FromConfig(parseConfig(t, strings.ReplaceAll(reg.expand(cfg), "GIT", "file://"+bare)))
	if err != nil {
		t.Fatal(err)
	}
	prod := set.Plans[0].Env("prod")
	prod.Mode, prod.Branch = plan.ModeBranch, "tw-prod"
	if err := plan.Check(set.Plans); err != nil {
		t.Fatal(err)
	}
	l, err := New(reg.client(), Static(set.Plans), WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	reg.push("team/web", "1.0.0", "1.1.0")
	reg.push("team/app", "1.0.0", "1.1.0")
	dry, err := l.Cycle(context.Background(), DryRun(true))
	if err != nil || len(dry.Changes) != 2 || len(dry.Errors) != 0 {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	for _, c := range dry.Changes {
		if c.Env == "prod" && !strings.Contains(c.Edits[0].Diff, "\n web: "+reg.host+"/team/web:1.0.0 ") {
			t.Errorf("prod's diff does not show web as main has it:\n%s", c.Edits[0].Diff)
		}
	}
	real, err := l.Cycle(context.Background())
	if err != nil || len(real.Errors) != 0 {
		t.Fatalf("cycle: %+v, %v", real, err)
	}
	if diff := cmp.Diff(dry.Changes, real.Changes, cmpopts.IgnoreFields(Change{}, "Commit")); diff != "" {
		t.Errorf("dry run vs real (-dry +real):\n%s", diff)
	}
	if got := testgit.Show(t, bare, "tw-prod", "envs/prod/deploy.yaml"); !strings.Contains(got, "team/app:1.1.0") || !strings.Contains(got, "team/web:1.0.0") {
		t.Errorf("tw-prod's file:\n%s", got)
	}
}
