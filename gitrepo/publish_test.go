package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

func TestPublishSeveralEditsOnePush(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{
		"envs/staging/app.yaml":    "tag: 1.0.0\n",
		"envs/production/app.yaml": "tag: 1.0.0\n",
		"envs/dev/app.yaml":        "tag: 1.0.0\n",
		"envs/old/app.yaml":        "tag: 0.1.0\n",
	})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	base := r.Head()
	srv.ResetStats()

	remove := Edit{Name: "old", Apply: func(_ context.Context, dir string) (string, []string, error) {
		return "tagwatch(old): remove", []string{"envs/old/app.yaml"}, os.Remove(filepath.Join(dir, "envs/old/app.yaml"))
	}}
	add := Edit{Name: "new", Apply: func(_ context.Context, dir string) (string, []string, error) {
		p := filepath.Join(dir, "envs/new/deep/app.yaml")
		os.MkdirAll(filepath.Dir(p), 0o755)
		return "tagwatch(new): add", []string{"envs/new/deep/app.yaml"}, os.WriteFile(p, []byte("tag: 2.0.0\n"), 0o644)
	}}
	res := publish(t, r,
		setFile("envs/staging/app.yaml", "tag: 1.1.0\n"),
		setFile("envs/production/app.yaml", "tag: 1.1.0\n"),
		Edit{Name: "noop", Apply: func(context.Context, string) (string, []string, error) { return "", nil, nil }},
		remove, add,
	)
	if !res.Pushed || res.Attempts != 1 {
		t.Errorf("Pushed, Attempts = %v, %d; want true, 1", res.Pushed, res.Attempts)
	}
	if st := srv.Stats(); st.ReceivePack != 1 || st.UploadPack != 0 {
		t.Errorf("requests %+v, want exactly one push and no fetch", st)
	}
	head := testgit.Head(t, bare, "main")
	if res.Head != head || r.Head() != head {
		t.Errorf("result head %s, repo head %s, remote head %s", res.Head, r.Head(), head)
	}
	wantSubjects := []string{"tagwatch(new): add", "tagwatch(old): remove", "set envs/production/app.yaml", "set envs/staging/app.yaml", "seed"}
	if diff := cmp.Diff(wantSubjects, testgit.Subjects(t, bare, "main")); diff != "" {
		t.Errorf("remote history (-want +got):\n%s", diff)
	}
	if got := testgit.Commits(t, bare, "main"); got[len(got)-1] != base {
		t.Errorf("history does not start at the old head %s", base)
	}
	var commits []string
	for _, e := range res.Edits {
		if e.Commit != "" {
			commits = append(commits, e.Commit)
		}
	}
	if diff := cmp.Diff(testgit.Commits(t, bare, "main")[:4], reverse(commits)); diff != "" {
		t.Errorf("EditResult commits (-remote +results):\n%s", diff)
	}
	if res.Edits[2].Commit != "" || res.Edits[2].Err != nil {
		t.Errorf("no-op edit: %+v", res.Edits[2])
	}
	who := testgit.Git(t, bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main")
	if want := "tagwatch-test <tagwatch-test@example.com>|tagwatch-test <tagwatch-test@example.com>"; who != want {
		t.Errorf("author|committer = %q, want %q", who, want)
	}
	if got := testgit.Git(t, bare, "ls-tree", "-r", "--name-only", "main"); got != "envs/dev/app.yaml\nenvs/new/deep/app.yaml\nenvs/production/app.yaml\nenvs/staging/app.yaml" {
		t.Errorf("remote tree:\n%s", got)
	}
	testgit.Git(t, bare, "fsck", "--strict", "--no-progress")
	// The working copy is clean: index and files agree with HEAD.
	if st := testgit.Git(t, r.Dir(), "status", "--porcelain"); st != "" {
		t.Errorf("git status after Publish:\n%s", st)
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func TestPublishFailingEdit(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n", "b.yaml": "b: 1\n", "c.yaml": "c: 1\n"})
	r := openTest(t, "file://"+bare)
	boom := errors.New("boom")
	bad := Edit{Name: "bad", Apply: func(_ context.Context, dir string) (string, []string, error) {
		os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("half-written"), 0o644)
		os.WriteFile(filepath.Join(dir, "stray.yaml"), []byte("new"), 0o644)
		return "", []string{"b.yaml", "stray.yaml"}, boom
	}}
	outside := Edit{Name: "outside", Apply: func(_ context.Context, dir string) (string, []string, error) {
		return "escape", []string{"../etc/passwd"}, nil
	}}
	inGit := Edit{Name: "in .git", Apply: func(_ context.Context, dir string) (string, []string, error) {
		return "hide", []string{".git/config"}, nil
	}}
	noMessage := Edit{Name: "no message", Apply: func(_ context.Context, dir string) (string, []string, error) {
		os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("c: 9\n"), 0o644)
		return "", []string{"c.yaml"}, nil
	}}
	res, err := r.Publish(context.Background(), []Edit{
		setFile("a.yaml", "a: 2\n"), bad, outside, inGit, noMessage, appendLine("b.yaml", "b2: 2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Pushed {
		t.Fatal("good edits were not pushed")
	}
	for i, want := range []error{nil, boom, errOutsideRepo, errOutsideRepo, nil, nil} {
		e := res.Edits[i]
		if want == nil && e.Err != nil && i != 4 || want != nil && !errors.Is(e.Err, want) {
			t.Errorf("edit %s: Err = %v, want %v", e.Name, e.Err, want)
		}
		if (e.Err != nil) != (e.Commit == "") {
			t.Errorf("edit %s: Err %v with Commit %q", e.Name, e.Err, e.Commit)
		}
	}
	if res.Edits[4].Err == nil {
		t.Error("edit without a message was committed")
	}
	for file, want := range map[string]string{"a.yaml": "a: 2", "b.yaml": "b: 1\nb2: 2", "c.yaml": "c: 1"} {
		if got := testgit.Show(t, bare, "main", file); got != want {
			t.Errorf("remote %s = %q, want %q", file, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "stray.yaml")); !os.IsNotExist(err) {
		t.Errorf("failed edit's new file left behind: %v", err)
	}
	if got := readWT(t, r, "c.yaml"); got != "c: 1\n" {
		t.Errorf("failed edit's change left behind: c.yaml = %q", got)
	}
	if got := len(testgit.Subjects(t, bare, "main")); got != 3 {
		t.Errorf("remote has %d commits, want seed + 2", got)
	}
}

func TestPublishNothingToPush(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	before := r.Head()
	srv.ResetStats()
	res := publish(t, r,
		setFile("a.yaml", "a: 1\n"), // the same bytes
		Edit{Name: "no files", Apply: func(context.Context, string) (string, []string, error) { return "msg", nil, nil }},
	)
	if res.Pushed || res.Head != before || r.Head() != before {
		t.Errorf("Pushed %v, head %s → %s", res.Pushed, before, res.Head)
	}
	if st := srv.Stats(); st != (testgit.HTTPStats{}) {
		t.Errorf("requests made for nothing: %+v", st)
	}
	if res, err := r.Publish(context.Background(), nil); err != nil || res.Pushed {
		t.Errorf("Publish(nil) = %+v, %v", res, err)
	}
}

// TestPublishRacingWriter has another clone push between our fetch and our
// push, again and again: Publish must retry on the new head, lose nothing
// and never force.
func TestPublishRacingWriter(t *testing.T) {
	for _, transport := range []string{"file", "http", "ssh"} {
		t.Run(transport, func(t *testing.T) {
			bare := testgit.NewBare(t, map[string]string{"envs/staging/app.yaml": "tag: 1\n", "envs/production/app.yaml": "tag: 1\n"})
			var r *Repo
			var foreign *testgit.Clone
			switch transport {
			case "file":
				r, foreign = openTest(t, "file://"+bare), testgit.NewClone(t, bare)
			case "http":
				srv := testgit.ServeHTTP(t, bare)
				r = openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
				foreign = testgit.NewClone(t, srv.CloneURL())
			case "ssh":
				srv := testgit.StartSSH(t)
				r = openTest(t, srv.URL(bare), WithAuth(Auth{SSHKeyFile: srv.KeyFile, KnownHostsFile: srv.KnownHosts}))
				foreign = srv.NewClone(t, bare)
			}
			// Deny non-fast-forward updates on the remote as well, so a force
			// would fail loudly instead of silently dropping commits.
			testgit.Git(t, bare, "config", "receive.denyNonFastForwards", "true")

			var foreignCommits []string
			const races = 3
			rounds := 3
			if transport == "ssh" {
				rounds = 1 // each ssh connection costs a key exchange: keep it short
			}
			for round := range rounds {
				// The foreign writer pushes during the first `races` applies
				// of this round, that is after our fetch and before our push.
				applies := 0
				racer := Edit{Name: "racer", Apply: func(ctx context.Context, dir string) (string, []string, error) {
					applies++
					if applies <= races {
						h, err := foreign.CommitAndPush(fmt.Sprintf("foreign/r%d-%d.txt", round, applies), "x\n",
							fmt.Sprintf("foreign %d.%d", round, applies))
						if err != nil {
							return "", nil, err
						}
						foreignCommits = append(foreignCommits, h)
					}
					return appendLine("envs/staging/app.yaml", fmt.Sprintf("round%d: yes", round)).Apply(ctx, dir)
				}}
				res := publish(t, r, racer, appendLine("envs/production/app.yaml", fmt.Sprintf("round%d: yes", round)))
				if !res.Pushed || res.Attempts != races+1 {
					t.Fatalf("round %d: Pushed %v after %d attempts, want true after %d", round, res.Pushed, res.Attempts, races+1)
				}
				if err := r.Sync(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			head := testgit.Head(t, bare, "main")
			for _, h := range foreignCommits {
				if !testgit.IsAncestor(t, bare, h, head) {
					t.Errorf("foreign commit %s lost", h)
				}
			}
			if got := len(foreignCommits); got != rounds*races {
				t.Errorf("%d foreign commits, want %d", got, rounds*races)
			}
			subjects := testgit.Subjects(t, bare, "main")
			if want := 1 + rounds*races + rounds*2; len(subjects) != want {
				t.Errorf("remote has %d commits, want %d:\n%s", len(subjects), want, strings.Join(subjects, "\n"))
			}
			// Ours are on top of the last foreign commit.
			last := rounds - 1
			wantTop := []string{
				fmt.Sprintf("add round%d: yes to envs/production/app.yaml", last),
				fmt.Sprintf("add round%d: yes to envs/staging/app.yaml", last),
				fmt.Sprintf("foreign %d.%d", last, races),
			}
			if diff := cmp.Diff(wantTop, subjects[:3]); diff != "" {
				t.Errorf("top of history (-want +got):\n%s", diff)
			}
			want := "tag: 1"
			for round := range rounds {
				want += fmt.Sprintf("\nround%d: yes", round)
			}
			for _, env := range []string{"staging", "production"} {
				if got := testgit.Show(t, bare, "main", "envs/"+env+"/app.yaml"); got != want {
					t.Errorf("%s = %q, want %q", env, got, want)
				}
			}
			// Never forced: the reflog-free proof is that every remote update
			// was a fast-forward, which denyNonFastForwards enforced.
			testgit.Git(t, bare, "fsck", "--no-progress")
		})
	}
}

// TestPublishServerSideRace has the branch move after our push read the refs
// and before the remote applies the update: the remote's compare-and-swap
// refuses it, the refusal's text becomes ErrPushRejected, Publish retries.
func TestPublishServerSideRace(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	srv := testgit.ServeHTTP(t, bare)
	r := openTest(t, srv.URL, WithAuth(Auth{Username: srv.Username, Password: srv.Password}))
	foreign := testgit.NewClone(t, bare)
	var foreignHead string
	var hookErr error
	srv.BeforeReceivePack(func() {
		foreignHead, hookErr = foreign.CommitAndPush("f.txt", "f\n", "foreign in between")
	})
	res := publish(t, r, appendLine("a.yaml", "ours"))
	if hookErr != nil {
		t.Fatal(hookErr)
	}
	if !res.Pushed || res.Attempts != 2 {
		t.Errorf("Pushed %v after %d attempts, want true after 2", res.Pushed, res.Attempts)
	}
	if got := testgit.Subjects(t, bare, "main"); len(got) != 3 || got[0] != "add ours to a.yaml" {
		t.Errorf("remote history %q", got)
	}
	if !testgit.IsAncestor(t, bare, foreignHead, "main") {
		t.Error("foreign commit lost")
	}
}

func TestPublishGivesUp(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	r := openTest(t, "file://"+bare, WithMaxAttempts(2))
	foreign := testgit.NewClone(t, bare)
	n := 0
	always := Edit{Name: "always raced", Apply: func(ctx context.Context, dir string) (string, []string, error) {
		n++
		if _, err := foreign.CommitAndPush("f.txt", fmt.Sprint(n), fmt.Sprint("foreign ", n)); err != nil {
			return "", nil, err
		}
		return setFile("a.yaml", "a: 2\n").Apply(ctx, dir)
	}}
	res, err := r.Publish(context.Background(), []Edit{always})
	if !errors.Is(err, ErrPushRejected) {
		t.Fatalf("Publish error = %v, want ErrPushRejected", err)
	}
	if res.Attempts != 2 || res.Pushed {
		t.Errorf("Attempts %d, Pushed %v", res.Attempts, res.Pushed)
	}
	if got := testgit.Subjects(t, bare, "main"); got[0] != "foreign 2" || len(got) != 3 {
		t.Errorf("remote history %q", got)
	}
	// The next cycle starts clean from the remote head.
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	res = publish(t, r, setFile("a.yaml", "a: 3\n"))
	if !res.Pushed || testgit.Show(t, bare, "main", "a.yaml") != "a: 3" {
		t.Errorf("publish after giving up: %+v", res)
	}
}

// TestPublishAlreadyThere: after a rejected push the re-applied edits find
// the values already on the new head (another writer set them): nothing to
// push, not an error.
func TestPublishAlreadyThere(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	r := openTest(t, "file://"+bare)
	foreign := testgit.NewClone(t, bare)
	raced := false
	e := Edit{Name: "a", Apply: func(ctx context.Context, dir string) (string, []string, error) {
		if !raced {
			raced = true
			if _, err := foreign.CommitAndPush("a.yaml", "a: 1\nwanted\n", "foreign did it"); err != nil {
				return "", nil, err
			}
		}
		return appendLine("a.yaml", "wanted").Apply(ctx, dir)
	}}
	res := publish(t, r, e)
	if res.Pushed || res.Attempts != 2 || res.Edits[0].Commit != "" {
		t.Errorf("Pushed %v, Attempts %d, Commit %q; want false, 2, none", res.Pushed, res.Attempts, res.Edits[0].Commit)
	}
	if res.Head != testgit.Head(t, bare, "main") {
		t.Errorf("Head %s is not the remote head", res.Head)
	}
}

func TestLog(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	foreign := testgit.NewClone(t, bare)
	for i := range 3 {
		if _, err := foreign.CommitAndPush("a.yaml", fmt.Sprint(i), fmt.Sprint("change ", i)); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(r *Repo, max int) []string {
		var got []string
		err := r.Log(context.Background(), func(c CommitInfo) error {
			if len(got) == max {
				return ErrStopLog
			}
			got = append(got, strings.TrimSpace(c.Message))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	full := openTest(t, "file://"+bare, WithDepth(0))
	if diff := cmp.Diff([]string{"change 2", "change 1", "change 0", "seed"}, collect(full, 10)); diff != "" {
		t.Errorf("Log (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"change 2", "change 1"}, collect(full, 2)); diff != "" {
		t.Errorf("Log stopped (-want +got):\n%s", diff)
	}
	shallow := openTest(t, "file://"+bare)
	if diff := cmp.Diff([]string{"change 2"}, collect(shallow, 10)); diff != "" {
		t.Errorf("shallow Log (-want +got):\n%s", diff)
	}
	// A shallow cache opened for full history is cloned again in full.
	cache := t.TempDir()
	shallowToo, err := Open(context.Background(), "file://"+bare, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	shallowToo.Close()
	deep, err := Open(context.Background(), "file://"+bare, WithCacheDir(cache), WithDepth(0))
	if err != nil {
		t.Fatal(err)
	}
	defer deep.Close()
	if got := len(collect(deep, 10)); got != 4 {
		t.Errorf("deepened cache has %d commits, want 4", got)
	}
	dir, err := OpenDir(deep.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(collect(dir, 10)); got != 4 || dir.Branch() != "main" || dir.Head() != deep.Head() {
		t.Errorf("OpenDir: %d commits, branch %q, head %s", got, dir.Branch(), dir.Head())
	}
	if _, err := dir.Publish(context.Background(), nil); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Publish on OpenDir: %v, want ErrReadOnly", err)
	}
}

// TestOpenDirBare: OpenDir reads a bare repository (tagwatch history --repo
// repo.git), also one kept inside another working tree, and stays read-only.
func TestOpenDirBare(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a: 1\n"})
	foreign := testgit.NewClone(t, bare)
	if _, err := foreign.CommitAndPush("a.yaml", "a: 2\n", "change"); err != nil {
		t.Fatal(err)
	}
	// A bare copy inside the foreign clone's working tree must open as
	// itself, not as the enclosing clone.
	nested := filepath.Join(foreign.Dir, "nested.git")
	testgit.Git(t, "", "clone", "--quiet", "--bare", "file://"+bare, nested)
	sub := filepath.Join(foreign.Dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, wantDir string
		wantCommits        int
	}{
		{"bare", bare, bare, 2},
		{"bare inside a working tree", nested, nested, 2},
		{"subdirectory of a working tree", sub, foreign.Dir, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := OpenDir(tc.dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			if err := r.Log(context.Background(), func(c CommitInfo) error {
				got = append(got, strings.TrimSpace(c.Message))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.wantCommits || got[0] != "change" {
				t.Errorf("Log = %q, want %d commits starting with \"change\"", got, tc.wantCommits)
			}
			if r.Branch() != "main" || r.Head() != testgit.Head(t, bare, "main") || r.Dir() != tc.wantDir {
				t.Errorf("branch %q, head %s, dir %s; want main, %s, %s", r.Branch(), r.Head(), r.Dir(), testgit.Head(t, bare, "main"), tc.wantDir)
			}
			if err := r.Sync(context.Background()); !errors.Is(err, ErrReadOnly) {
				t.Errorf("Sync: %v, want ErrReadOnly", err)
			}
			if _, err := r.Publish(context.Background(), []Edit{appendLine("a.yaml", "x")}); !errors.Is(err, ErrReadOnly) {
				t.Errorf("Publish: %v, want ErrReadOnly", err)
			}
		})
	}
	if _, err := OpenDir(t.TempDir()); err == nil {
		t.Error("OpenDir of an empty directory: no error")
	}
}

func TestPublishFileModes(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a\n"})
	r := openTest(t, "file://"+bare)
	outside := t.TempDir()
	modes := Edit{Name: "modes", Apply: func(_ context.Context, dir string) (string, []string, error) {
		if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\n"), 0o755); err != nil {
			return "", nil, err
		}
		if err := os.Symlink("a.yaml", filepath.Join(dir, "link.yaml")); err != nil {
			return "", nil, err
		}
		return "modes", []string{"run.sh", "link.yaml"}, nil
	}}
	escape := Edit{Name: "escape", Apply: func(_ context.Context, dir string) (string, []string, error) {
		if err := os.Symlink(outside, filepath.Join(dir, "out")); err != nil {
			return "", nil, err
		}
		os.WriteFile(filepath.Join(outside, "secret.yaml"), []byte("s\n"), 0o644)
		return "escape", []string{"out/secret.yaml"}, nil
	}}
	res, err := r.Publish(context.Background(), []Edit{modes, escape})
	if err != nil {
		t.Fatal(err)
	}
	if res.Edits[0].Err != nil || !errors.Is(res.Edits[1].Err, errOutsideRepo) {
		t.Errorf("edit errors: %v, %v", res.Edits[0].Err, res.Edits[1].Err)
	}
	got := testgit.Git(t, bare, "ls-tree", "main")
	for _, want := range []string{"100755 blob", "\trun.sh", "120000 blob", "\tlink.yaml"} {
		if !strings.Contains(got, want) {
			t.Errorf("remote tree lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "out") {
		t.Errorf("file behind a symlink committed:\n%s", got)
	}
}
