package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	keep := filepath.Join(t.TempDir(), "kept")
	var out bytes.Buffer
	if err := Run(context.Background(), &out, Options{Keep: keep}); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	got := out.String()
	// The story, step by step: what each environment did.
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?s)Step 1\..*staging +0\.9\.0 -> 1\.0\.0 +commit [0-9a-f]{12}\n +production +0\.9\.0 -> 1\.0\.0 +commit`),
		regexp.MustCompile(`(?s)Step 2\..*staging +1\.0\.0 -> 1\.1\.0-rc\.1 +commit [0-9a-f]{12}\n +production +no change`),
		regexp.MustCompile(`(?s)Step 3\..*staging +1\.1\.0-rc\.1 -> 1\.1\.0 +commit [0-9a-f]{12}\n +production +1\.0\.0 -> 1\.1\.0 +commit`),
		regexp.MustCompile(`(?m)^ +\+ +newTag: 1\.1\.0 # tagwatch keeps this line up to date$`),
		regexp.MustCompile(`(?m)^ +Tagwatch-Update: env=production image=127\.0\.0\.1:\d+/demo/app from=1\.0\.0 to=1\.1\.0 digest=sha256:[0-9a-f]{64}$`),
		regexp.MustCompile(`(?m)^ +\S+Z +production +127\.0\.0\.1:\d+/demo/app +1\.0\.0 → 1\.1\.0 +sha256:[0-9a-f]{12} +[0-9a-f]{10} +-$`),
		regexp.MustCompile(`The repository is kept in ` + regexp.QuoteMeta(filepath.Join(keep, "deploy.git"))),
	} {
		if !want.MatchString(got) {
			t.Errorf("output does not match %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, " \n") {
		t.Errorf("output has trailing spaces:\n%q", got)
	}
	// The kept repository is a real one the git CLI reads.
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git CLI not installed; the kept repository was not inspected")
	}
	cmd := exec.Command(git, "--git-dir", filepath.Join(keep, "deploy.git"), "show", "main:envs/production/kustomization.yaml")
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "newTag: 1.1.0 # tagwatch keeps this line up to date") {
		t.Errorf("production kustomization:\n%s", b)
	}
	cmd = exec.Command(git, "--git-dir", filepath.Join(keep, "deploy.git"), "log", "--format=%s")
	b, err = cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), "tagwatch("); n != 5 {
		t.Errorf("%d tagwatch commits, want 5:\n%s", n, b)
	}
}

func TestRunKeepMustBeEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	err := Run(context.Background(), &bytes.Buffer{}, Options{Keep: dir})
	if err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("Run with a non-empty --keep: %v, want an error saying so", err)
	}
}
