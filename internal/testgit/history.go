package testgit

import (
	"bufio"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
)

// LargePath is the path of file i in a NewBareHistory repository: files are
// spread over directories of 100, like environments of an overlay repository.
func LargePath(i int) string {
	return fmt.Sprintf("envs/env-%04d/app-%02d.yaml", i/100, i%100)
}

// NewBareHistory makes a bare repository in tb.TempDir() with files files
// (see LargePath) and commits commits on main: the first adds every file,
// each further one changes one file. It is built with `git fast-import`,
// which takes a few seconds for 10,000 files and 5,000 commits.
func NewBareHistory(tb testing.TB, files, commits int) string {
	tb.Helper()
	if files < 1 || commits < 1 {
		tb.Fatalf("NewBareHistory(%d, %d): need at least one file and one commit", files, commits)
	}
	bare := filepath.Join(tb.TempDir(), "large.git")
	Git(tb, "", "init", "--quiet", "--bare", "--initial-branch="+Branch, bare)
	cmd := exec.Command(GitPath(tb), "fast-import", "--quiet")
	cmd.Dir = bare
	cmd.Env = gitEnv()
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(in, 1<<20)
	content := func(i, version int) string {
		return fmt.Sprintf("# environment file %d\nimage:\n  repository: registry.example.com/team/app-%d\n  tag: 1.0.%d\nreplicas: 2\n", i, i, version)
	}
	data := func(s string) { fmt.Fprintf(w, "data %d\n%s\n", len(s), s) }
	when := int64(1_700_000_000)
	for c := 0; c < commits; c++ {
		fmt.Fprintf(w, "commit refs/heads/%s\ncommitter %s <%s> %d +0000\n", Branch, AuthorName, AuthorEmail, when+int64(c))
		if c == 0 {
			data("seed: " + fmt.Sprint(files) + " files")
			for i := 0; i < files; i++ {
				fmt.Fprintf(w, "M 100644 inline %s\n", LargePath(i))
				data(content(i, 0))
			}
			continue
		}
		i := (c * 7919) % files // spread the changes
		data(fmt.Sprintf("change %d: %s", c, LargePath(i)))
		fmt.Fprintf(w, "M 100644 inline %s\n", LargePath(i))
		data(content(i, c))
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("git fast-import: %v: %s", err, out.String())
	}
	return bare
}
