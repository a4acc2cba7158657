package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestPlanShowsEveryWrite: `run --once --dry-run` lists every file and
// field the commit will change (the kustomization, the Helm values and
// the marked files of the image), in JSON (files) and in text, and --diff
// prints a unified diff per file; the real run then writes exactly those
// files (issue 15, point 1).
func TestPlanShowsEveryWrite(t *testing.T) {
	w := newWorld(t, map[string]string{
		"envs/prod/kustomization.yaml": kustomization("team/app", "1.0.0"),
		"envs/prod/values.yaml":        "image:\n  tag: \"1.0.0\" # the chart's tag\n",
		"envs/prod/job.yaml":           "image: REG/team/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
	})
	cfg := w.config(`  - name: prod
    path: envs/prod
    images:
      - image: REG/team/app
        kustomizeName: team/app
        helm: {file: values.yaml, tag: image.tag}
`)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0")
	head := testgit.Head(t, w.bare, "main")
	files := []string{"envs/prod/kustomization.yaml", "envs/prod/values.yaml", "envs/prod/job.yaml"}

	rep, r := w.once("--dry-run")
	if r.code != 0 || len(rep.Changes) != 1 {
		t.Fatalf("exit %d, changes %+v\n%s", r.code, rep.Changes, r.stderr)
	}
	if diff := cmp.Diff(files, rep.Changes[0].Files); diff != "" || rep.Changes[0].File != files[0] {
		t.Errorf("-o json files (-want +got):\n%s", diff)
	}
	r = w.run("run", "--config", cfg, "--once", "--dry-run", "--diff", "--cache-dir", filepath.Join(w.dir, "cache"))
	if r.code != 0 {
		t.Fatalf("--diff: exit %d\n%s", r.code, r.stderr)
	}
	for _, want := range []string{
		"would update prod: " + w.reg.Repo("team/app") + " 1.0.0 -> 1.1.0",
		"  envs/prod/kustomization.yaml: images[name=team/app].newName, images[name=team/app].newTag\n",
		"  envs/prod/values.yaml: image.tag\n",
		"  envs/prod/job.yaml: line 1 (app)\n",
		"    --- a/envs/prod/values.yaml\n    +++ b/envs/prod/values.yaml\n    @@ -1,2 +1,2 @@\n     image:\n    -  tag: \"1.0.0\" # the chart's tag\n    +  tag: \"1.1.0\" # the chart's tag\n",
		"    -image: " + w.reg.Repo("team/app") + ":1.0.0 # {\"$tagwatch\": \"app\"}\n    +image: " + w.reg.Repo("team/app") + ":1.1.0 # {\"$tagwatch\": \"app\"}\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := testgit.Head(t, w.bare, "main"); got != head {
		t.Fatalf("the dry run moved main")
	}
	if r := w.run("run", "--config", cfg, "--once", "--diff", "-o", "json"); r.code != 2 || !strings.Contains(r.stderr, "--diff") {
		t.Errorf("--diff -o json: exit %d, want 2\n%s", r.code, r.stderr)
	}

	real, r := w.once()
	if r.code != 0 || len(real.Changes) != 1 {
		t.Fatalf("exit %d, changes %+v\n%s", r.code, real.Changes, r.stderr)
	}
	committed := strings.Fields(testgit.Git(t, w.bare, "show", "--format=", "--name-only", "main"))
	if diff := cmp.Diff(slices.Sorted(slices.Values(files)), slices.Sorted(slices.Values(committed))); diff != "" {
		t.Errorf("files of the commit (-plan +commit):\n%s", diff)
	}
}

// TestMissingEntryIsAdded: a kustomization without an images entry for the
// watched image gets one, as `kustomize edit set image` adds it, through
// the binary; an entry that looks like the image under another name is an
// error suggesting kustomizeName (issue 15, point 3).
func TestMissingEntryIsAdded(t *testing.T) {
	w := newWorld(t, map[string]string{
		"envs/dev/kustomization.yaml": "resources:\n  - ../../base\n",
		"envs/qa/kustomization.yaml":  kustomization("team/app", "1.0.0"),
	})
	w.config(`  - name: dev
    path: envs/dev
    images: [{image: REG/team/app}]
  - name: qa
    path: envs/qa
    images: [{image: REG/team/app}]
`)
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	rep, r := w.once()
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (qa fails)\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"dev ->1.0.0"}, moves(rep.Changes)); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	want := "resources:\n  - ../../base\nimages:\n  - name: " + w.reg.Repo("team/app") + "\n    newTag: 1.0.0"
	if got := w.show("envs/dev/kustomization.yaml"); got != want {
		t.Errorf("dev kustomization:\n%s\nwant:\n%s", got, want)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Env != "qa" || !strings.Contains(rep.Errors[0].Error, "set kustomizeName: team/app") ||
		!strings.Contains(rep.Errors[0].Error, `(it has "team/app")`) {
		t.Errorf("errors %+v, want qa's suggesting kustomizeName", rep.Errors)
	}
}
