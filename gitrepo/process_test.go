package gitrepo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

// The tests of this file run real processes: the test binary re-executed
// with childEnv set runs one Open (and a Publish) and reports on stdout.
const childEnv = "TAGWATCH_GITREPO_CHILD"

func TestMain(m *testing.M) {
	if mode := os.Getenv(childEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	os.Exit(m.Run())
}

// runChild is the child process: mode "open" opens the working copy,
// prints "opened", and holds it until its stdin closes; mode "publish"
// opens it and publishes one file named after the child. Errors are
// printed as "error: …" with exit status 3.
func runChild(mode string) int {
	ctx := context.Background()
	wait, _ := time.ParseDuration(os.Getenv("CHILD_WAIT"))
	r, err := Open(ctx, os.Getenv("CHILD_URL"), WithCacheDir(os.Getenv("CHILD_CACHE")), WithLockWait(wait),
		WithRetryBackoff(time.Millisecond, 10*time.Millisecond), WithMaxAttempts(20))
	if err != nil {
		fmt.Printf("error: %v\n", err)
		return 3
	}
	defer r.Close()
	switch mode {
	case "open":
		fmt.Println("opened")
		_, _ = io.Copy(io.Discard, os.Stdin)
	case "publish":
		name := os.Getenv("CHILD_NAME")
		res, err := r.Publish(ctx, []Edit{{Name: name, Apply: func(_ context.Context, dir string) (string, []string, error) {
			return "add " + name, []string{name}, os.WriteFile(filepath.Join(dir, name), []byte(name+"\n"), 0o644)
		}}})
		if err == nil && res.Edits[0].Err != nil {
			err = res.Edits[0].Err
		}
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 3
		}
		fmt.Println("published")
	}
	return 0
}

// child is a running child process.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string // stdout, line by line; closed at EOF
}

func startChild(t *testing.T, mode, url, cache string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{childEnv + "=" + mode, "CHILD_URL=" + url, "CHILD_CACHE=" + cache}, env...)...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stdin: stdin, lines: make(chan string, 16)}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
	}()
	t.Cleanup(func() {
		c.stdin.Close()
		c.cmd.Process.Kill()
		c.cmd.Wait()
	})
	return c
}

// line is the child's next line of output ("" at EOF).
func (c *child) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-c.lines:
		return l
	case <-time.After(2 * time.Minute): // a hang, not a timing assertion
		t.Fatal("child said nothing for 2 minutes")
		return ""
	}
}

// stalledClone serves bare over smart HTTP and holds the next clone at its
// pack request: its temporary directory made, its lock held. It returns
// the URL and a channel closed once a clone is held there.
func stalledClone(t *testing.T, bare string) (string, <-chan struct{}) {
	t.Helper()
	srv := testgit.ServeHTTPAuth(t, bare, "", "")
	held, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) }) // before the server's Close, which waits for this request
	srv.BeforeUploadPack(func(r *http.Request) {
		close(held)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	return srv.URL, held
}

func clones(t *testing.T, cache, url string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(cache, cacheName(url, "")+cloneInfix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func waitHeld(t *testing.T, held <-chan struct{}) {
	t.Helper()
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatal("no clone reached the pack request")
	}
}

// TestKillDuringClone pins issue 14's third point: a clone killed with
// SIGKILL leaves its temporary directory (34 of them, 175 MB, in one crash
// loop). The next Open removes it, and leaves alone the one a live process
// is cloning into.
func TestKillDuringClone(t *testing.T) {
	testgit.GitPath(t)
	files := map[string]string{"envs/a.yaml": "a: 1\n"}
	url, held := stalledClone(t, testgit.NewBare(t, files))
	liveURL, liveHeld := stalledClone(t, testgit.NewBare(t, map[string]string{"b.txt": "b\n"}))
	cache := t.TempDir()

	killed := startChild(t, "open", url, cache)
	waitHeld(t, held)
	if n := len(clones(t, cache, url)); n != 1 {
		t.Fatalf("%d temporary clones mid-clone, want 1", n)
	}
	if err := killed.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed.cmd.Wait()
	if n := len(clones(t, cache, url)); n != 1 {
		t.Fatalf("%d temporary clones after the kill, want the 1 left behind", n)
	}

	live := startChild(t, "open", liveURL, cache)
	waitHeld(t, liveHeld)
	liveClones := clones(t, cache, liveURL)
	if len(liveClones) != 1 {
		t.Fatalf("live clone: %d temporary directories, want 1", len(liveClones))
	}

	r, err := Open(context.Background(), url, WithCacheDir(cache), WithLockWait(0))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := readWT(t, r, "envs/a.yaml"); got != files["envs/a.yaml"] {
		t.Errorf("envs/a.yaml = %q", got)
	}
	if left := clones(t, cache, url); len(left) != 0 {
		t.Errorf("stale temporary clones left: %q", left)
	}
	if _, err := os.Stat(liveClones[0]); err != nil {
		t.Errorf("the live process's temporary clone was touched: %v", err)
	}
	live.cmd.Process.Kill()
}

// TestCacheLockedAcrossProcesses pins issue 14's sixth point: a second
// process on the same working copy waits, and when the wait runs out it
// fails saying which process holds it, instead of failing later with what
// looks like corruption.
func TestCacheLockedAcrossProcesses(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	url, cache := "file://"+bare, t.TempDir()

	holder := startChild(t, "open", url, cache)
	if l := holder.line(t); l != "opened" {
		t.Fatalf("holder: %q", l)
	}
	impatient := startChild(t, "open", url, cache, "CHILD_WAIT=200ms")
	want := fmt.Sprintf("is in use by process %d", holder.cmd.Process.Pid)
	if l := impatient.line(t); !strings.HasPrefix(l, "error: ") || !strings.Contains(l, want) || !strings.Contains(l, cache) {
		t.Errorf("second process: %q, want an error naming %s and saying %q", l, cache, want)
	}
	if err := impatient.cmd.Wait(); err == nil {
		t.Error("second process exited 0")
	}
	// In this process too.
	if _, err := Open(context.Background(), url, WithCacheDir(cache), WithLockWait(0)); !errors.Is(err, ErrCacheBusy) || !strings.Contains(err.Error(), want) {
		t.Errorf("Open here: err = %v, want ErrCacheBusy naming the holder", err)
	}

	// A patient one waits for the holder to let go.
	patient := startChild(t, "open", url, cache, "CHILD_WAIT=2m")
	holder.stdin.Close()
	if err := holder.cmd.Wait(); err != nil {
		t.Fatalf("holder: %v", err)
	}
	if l := patient.line(t); l != "opened" {
		t.Errorf("waiting process: %q, want it to get the working copy", l)
	}
	patient.stdin.Close()
	if err := patient.cmd.Wait(); err != nil {
		t.Fatal(err)
	}

	// A holder killed with SIGKILL leaves no lock behind.
	killed := startChild(t, "open", url, cache)
	if l := killed.line(t); l != "opened" {
		t.Fatalf("holder: %q", l)
	}
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.cmd.Wait()
	r, err := Open(context.Background(), url, WithCacheDir(cache), WithLockWait(0))
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	r.Close()
}

// TestProcessesShareOneCache: processes started together on one cache
// directory take turns; none fails, and every commit lands. Without the
// lock, 10 of 80 such runs failed with errors that looked like corruption
// ("ref file is empty", "object not found").
func TestProcessesShareOneCache(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	url, cache := "file://"+bare, t.TempDir()
	const n = 6
	var wg sync.WaitGroup
	outs := make([]string, n)
	for i := range n {
		c := startChild(t, "publish", url, cache, "CHILD_WAIT=2m", "CHILD_NAME=child-"+strconv.Itoa(i)+".txt")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for l := range c.lines {
				outs[i] += l
			}
		}()
	}
	wg.Wait()
	for i, out := range outs {
		if out != "published" {
			t.Errorf("process %d: %q", i, out)
		}
	}
	for i := range n {
		name := "child-" + strconv.Itoa(i) + ".txt"
		if got := testgit.Show(t, bare, "main", name); got != name {
			t.Errorf("%s on the remote: %q", name, got)
		}
	}
}
