package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

var testAuthor = Author{Name: "tagwatch-test", Email: "tagwatch-test@example.com"}

// openTest opens url with a cache of its own and a quick retry backoff.
func openTest(t *testing.T, url string, opts ...Option) *Repo {
	t.Helper()
	r, err := Open(context.Background(), url, append([]Option{
		WithCacheDir(t.TempDir()), WithAuthor(testAuthor), WithRetryBackoff(time.Millisecond, 10*time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// setFile is an Edit that writes content to file.
func setFile(file, content string) Edit {
	return Edit{Name: file, Apply: func(_ context.Context, dir string) (string, []string, error) {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			return "", nil, err
		}
		return "set " + file, []string{file}, nil
	}}
}

// appendLine is an Edit that decides from what it reads: it appends line to
// file unless the file already holds it.
func appendLine(file, line string) Edit {
	return Edit{Name: file + "+" + line, Apply: func(_ context.Context, dir string) (string, []string, error) {
		p := filepath.Join(dir, filepath.FromSlash(file))
		old, err := os.ReadFile(p)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", nil, err
		}
		if strings.Contains(string(old), line+"\n") {
			return "", nil, nil
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", nil, err
		}
		return "add " + line + " to " + file, []string{file}, os.WriteFile(p, append(old, line+"\n"...), 0o644)
	}}
}

func readWT(t *testing.T, r *Repo, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir(), filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func publish(t *testing.T, r *Repo, edits ...Edit) PublishResult {
	t.Helper()
	res, err := r.Publish(context.Background(), edits)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	for _, e := range res.Edits {
		if e.Err != nil {
			t.Errorf("edit %s: %v", e.Name, e.Err)
		}
	}
	return res
}

func TestOpenReusesCache(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"envs/a.yaml": "a: 1\n"})
	cache := t.TempDir()
	ctx := context.Background()
	for _, url := range []string{"file://" + bare, bare} {
		t.Run(url, func(t *testing.T) {
			r, err := Open(ctx, url, WithCacheDir(cache))
			if err != nil {
				t.Fatal(err)
			}
			if r.Branch() != testgit.Branch {
				t.Errorf("Branch() = %q, want the remote's default %q", r.Branch(), testgit.Branch)
			}
			if got, want := r.Head(), testgit.Head(t, bare, "main"); got != want {
				t.Errorf("Head() = %s, want %s", got, want)
			}
			if _, err := os.Stat(filepath.Join(r.Dir(), ".git", "shallow")); err != nil {
				t.Errorf("cache is not a shallow clone: %v", err)
			}
			marker := filepath.Join(r.Dir(), ".git", "tagwatch-test-marker")
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			// Leave debris a crashed run could leave: a modified and an untracked file.
			os.WriteFile(filepath.Join(r.Dir(), "envs/a.yaml"), []byte("garbage"), 0o644)
			os.WriteFile(filepath.Join(r.Dir(), "untracked.txt"), []byte("x"), 0o644)

			foreign := testgit.NewClone(t, bare)
			h, err := foreign.CommitAndPush("envs/a.yaml", "a: 2\n", "foreign change")
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			r2, err := Open(ctx, url, WithCacheDir(cache))
			if err != nil {
				t.Fatal(err)
			}
			defer r2.Close()
			if r2.Dir() != r.Dir() {
				t.Errorf("second Open uses %s, first %s", r2.Dir(), r.Dir())
			}
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("second Open cloned again instead of fetching: %v", err)
			}
			if r2.Head() != h {
				t.Errorf("Head() after reuse = %s, want %s", r2.Head(), h)
			}
			if got := readWT(t, r2, "envs/a.yaml"); got != "a: 2\n" {
				t.Errorf("working tree not reset: %q", got)
			}
			if _, err := os.Stat(filepath.Join(r2.Dir(), "untracked.txt")); !os.IsNotExist(err) {
				t.Errorf("untracked file survived Open: %v", err)
			}
		})
	}
}

func TestOpenReusesCacheOverHTTP(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	srv := testgit.ServeHTTP(t, bare)
	cache := t.TempDir()
	auth := WithAuth(Auth{Username: srv.Username, Password: srv.Password})
	r, err := Open(context.Background(), srv.URL, WithCacheDir(cache), WithBranch("main"), auth)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	srv.ResetStats()
	if r, err = Open(context.Background(), srv.URL, WithCacheDir(cache), WithBranch("main"), auth); err != nil {
		t.Fatal(err)
	}
	r.Close()
	// A reuse is one fetch: one ref advertisement and, when nothing
	// changed, not even a pack request.
	if got := srv.Stats(); got.InfoRefs != 1 || got.UploadPack > 1 || got.ReceivePack != 0 {
		t.Errorf("second Open made requests %+v, want one fetch", got)
	}
}

func TestOpenRepairsCache(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	other := testgit.NewBare(t, map[string]string{"b.txt": "other\n"})
	url := "file://" + bare
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, dir string)
	}{
		{"not a repository", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, ".git"))
		}},
		{"garbage HEAD", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("garbage\n"), 0o644)
		}},
		{"objects gone", func(t *testing.T, dir string) {
			os.RemoveAll(filepath.Join(dir, ".git", "objects"))
			os.MkdirAll(filepath.Join(dir, ".git", "objects"), 0o755)
		}},
		{"broken index", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, ".git", "index"), []byte("DIRCgarbage"), 0o644)
		}},
		{"foreign remote", func(t *testing.T, dir string) {
			testgit.Git(t, dir, "remote", "set-url", "origin", "file://"+other)
		}},
		{"plain directory", func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.MkdirAll(filepath.Join(dir, "junk"), 0o755)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := t.TempDir()
			r, err := Open(context.Background(), url, WithCacheDir(cache))
			if err != nil {
				t.Fatal(err)
			}
			r.Close()
			tc.break_(t, r.Dir())
			r2, err := Open(context.Background(), url, WithCacheDir(cache))
			if err != nil {
				t.Fatalf("Open on a broken cache: %v", err)
			}
			defer r2.Close()
			if got := readWT(t, r2, "a.txt"); got != "1\n" {
				t.Errorf("a.txt = %q after re-clone", got)
			}
			if got := testgit.Git(t, r2.Dir(), "remote", "get-url", "origin"); got != url {
				t.Errorf("origin = %q, want %q", got, url)
			}
			testgit.Git(t, r2.Dir(), "fsck", "--no-progress")
		})
	}
}

func TestOpenErrors(t *testing.T) {
	bare := testgit.NewBare(t, nil)
	for _, tc := range []struct {
		name, url string
		opts      []Option
		want      string
	}{
		{"missing branch", "file://" + bare, []Option{WithBranch("nope")}, `branch "nope" not found`},
		{"no such repository", filepath.Join(t.TempDir(), "absent"), nil, "cloning"},
		{"bad scheme", "ftp://example.com/x.git", nil, `unsupported git URL scheme "ftp"`},
		{"bad branch", "file://" + bare, []Option{WithBranch("a..b")}, "invalid branch name"},
		{"ssh without key", "ssh://git@127.0.0.1:1/x.git", []Option{WithAuth(Auth{KnownHostsFile: "/dev/null"})}, "private key"},
		{"ssh without known_hosts", "git@127.0.0.1:x.git", []Option{WithAuth(Auth{SSHKeyFile: "/nonexistent", KnownHostsFile: "/nonexistent/kh"})}, "known_hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SSH_AUTH_SOCK", "")
			_, err := Open(context.Background(), tc.url, append([]Option{WithCacheDir(t.TempDir())}, tc.opts...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestHTTPAuth(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	srv := testgit.ServeHTTP(t, bare)
	ctx := context.Background()

	t.Run("wrong password", func(t *testing.T) {
		_, err := Open(ctx, srv.URL, WithCacheDir(t.TempDir()), WithAuth(Auth{Username: srv.Username, Password: "wrong-Passw0rd-42"}))
		if err == nil {
			t.Fatal("Open with a wrong password succeeded")
		}
		if strings.Contains(err.Error(), "wrong-Passw0rd-42") {
			t.Errorf("error shows the password: %v", err)
		}
		if !strings.Contains(err.Error(), "authentication required") && !strings.Contains(err.Error(), "authorization failed") {
			t.Errorf("error does not say what is wrong: %v", err)
		}
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := Open(ctx, srv.URL, WithCacheDir(t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "authentication required") {
			t.Errorf("Open error = %v, want authentication required", err)
		}
	})
	for _, tc := range []struct {
		name string
		url  string
		auth Auth
	}{
		{"auth option", srv.URL, Auth{Username: srv.Username, Password: srv.Password}},
		{"credentials in URL", srv.CloneURL(), Auth{}},
		{"token", strings.Replace(srv.URL, "http://", "http://"+srv.Password+"@", 1), Auth{Username: srv.Username}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := openTest(t, tc.url, WithAuth(tc.auth))
			res := publish(t, r, setFile("a.txt", tc.name+"\n"))
			if !res.Pushed {
				t.Fatal("nothing pushed")
			}
			if got := testgit.Show(t, bare, "main", "a.txt"); got != tc.name {
				t.Errorf("remote a.txt = %q", got)
			}
			if got := r.URL(); got != srv.URL {
				t.Errorf("URL() = %q, want %q", got, srv.URL)
			}
			assertNoSecret(t, r.Dir(), srv.Password)
		})
	}
}

// assertNoSecret fails when secret is anywhere in the cached copy's .git
// (config, refs, logs, packed objects are compressed and not searched).
func assertNoSecret(t *testing.T, dir, secret string) {
	t.Helper()
	filepath.WalkDir(filepath.Join(dir, ".git"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), secret) {
			t.Errorf("%s holds the secret", p)
		}
		return nil
	})
}

func TestSSH(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "1\n"})
	srv := testgit.StartSSH(t)
	auth := Auth{SSHKeyFile: srv.KeyFile, KnownHostsFile: srv.KnownHosts}

	t.Run("ssh URL", func(t *testing.T) {
		r := openTest(t, srv.URL(bare), WithAuth(auth))
		res := publish(t, r, setFile("a.txt", "ssh\n"))
		if !res.Pushed || testgit.Show(t, bare, "main", "a.txt") != "ssh" {
			t.Fatalf("push over ssh did not land: %+v", res)
		}
	})
	t.Run("key and known hosts in memory", func(t *testing.T) {
		key, err := os.ReadFile(srv.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		kh, err := os.ReadFile(srv.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		r := openTest(t, srv.URL(bare), WithAuth(Auth{SSHKey: key, KnownHosts: kh}))
		res := publish(t, r, setFile("a.txt", "in memory\n"))
		if !res.Pushed || testgit.Show(t, bare, "main", "a.txt") != "in memory" {
			t.Fatalf("push with an in-memory key did not land: %+v", res)
		}
		other := testgit.StartSSH(t)
		okh, err := os.ReadFile(other.KnownHosts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Open(context.Background(), srv.URL(bare), WithCacheDir(t.TempDir()), WithAuth(Auth{SSHKey: key, KnownHosts: okh}))
		if err == nil || !strings.Contains(err.Error(), "host key") {
			t.Errorf("Open with other in-memory known hosts: %v, want a host key error", err)
		}
	})
	t.Run("unknown host key", func(t *testing.T) {
		other := testgit.StartSSH(t) // another host key
		_, err := Open(context.Background(), srv.URL(bare), WithCacheDir(t.TempDir()),
			WithAuth(Auth{SSHKeyFile: srv.KeyFile, KnownHostsFile: other.KnownHosts}))
		if err == nil || !strings.Contains(err.Error(), "host key") {
			t.Errorf("Open with an unknown host key: %v, want a host key error", err)
		}
		empty := filepath.Join(t.TempDir(), "known_hosts")
		os.WriteFile(empty, nil, 0o600)
		_, err = Open(context.Background(), srv.URL(bare), WithCacheDir(t.TempDir()),
			WithAuth(Auth{SSHKeyFile: srv.KeyFile, KnownHostsFile: empty}))
		if err == nil || !strings.Contains(err.Error(), "host key") {
			t.Errorf("Open with an empty known_hosts: %v, want a host key error", err)
		}
	})
	t.Run("key with passphrase", func(t *testing.T) {
		key := filepath.Join(t.TempDir(), "id_pass")
		out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "open-Sesame-99", "-f", key).CombinedOutput()
		if err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		_, err = Open(context.Background(), srv.URL(bare), WithCacheDir(t.TempDir()),
			WithAuth(Auth{SSHKeyFile: key, SSHKeyPassphrase: "wrong-Sesame-11", KnownHostsFile: srv.KnownHosts}))
		if err == nil || strings.Contains(err.Error(), "wrong-Sesame-11") {
			t.Errorf("wrong passphrase: error %v", err)
		}
		// Authorize the key, then the right passphrase gets in.
		pub, _ := os.ReadFile(key + ".pub")
		srv.Authorize(t, string(pub))
		openTest(t, srv.URL(bare), WithAuth(Auth{SSHKeyFile: key, SSHKeyPassphrase: "open-Sesame-99", KnownHostsFile: srv.KnownHosts}))
	})
}

func TestParseRepoEndpoint(t *testing.T) {
	abs, _ := filepath.Abs("rel/repo")
	for _, tc := range []struct {
		raw      string
		auth     Auth
		wantURL  string
		wantKind string
		wantAuth Auth
	}{
		{"/srv/git/deploy.git", Auth{}, "/srv/git/deploy.git", "file", Auth{}},
		{"rel/repo", Auth{}, abs, "file", Auth{}},
		{"file:///srv/git/deploy.git", Auth{}, "file:///srv/git/deploy.git", "file", Auth{}},
		{"https://git.example.com/p/deploy.git", Auth{Password: "t"}, "https://git.example.com/p/deploy.git", "http", Auth{Password: "t"}},
		{"https://bob:hunter2@git.example.com/p/deploy.git", Auth{}, "https://git.example.com/p/deploy.git", "http", Auth{Username: "bob", Password: "hunter2"}},
		{"https://ghp_TOKEN@git.example.com/p/deploy.git", Auth{}, "https://git.example.com/p/deploy.git", "http", Auth{Password: "ghp_TOKEN"}},
		{"https://bob:inurl@git.example.com/d.git", Auth{Username: "al", Password: "opt"}, "https://git.example.com/d.git", "http", Auth{Username: "al", Password: "opt"}},
		{"ssh://git@git.example.com:2222/p/deploy.git", Auth{}, "ssh://git@git.example.com:2222/p/deploy.git", "ssh", Auth{}},
		{"ssh://git:pw@git.example.com/p/deploy.git", Auth{}, "ssh://git@git.example.com/p/deploy.git", "ssh", Auth{}},
		{"git@github.com:team/deploy.git", Auth{}, "git@github.com:team/deploy.git", "ssh", Auth{}},
	} {
		t.Run(tc.raw, func(t *testing.T) {
			a := tc.auth
			ep, err := parseEndpoint(tc.raw, &a)
			if err != nil {
				t.Fatal(err)
			}
			if ep.url != tc.wantURL || ep.kind != tc.wantKind {
				t.Errorf("url, kind = %q, %q; want %q, %q", ep.url, ep.kind, tc.wantURL, tc.wantKind)
			}
			if diff := cmp.Diff(tc.wantAuth, a); diff != "" {
				t.Errorf("auth (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://bob:hunter2@h/x.git": "https://REDACTED@h/x.git",
		"https://tok@h/x.git":         "https://REDACTED@h/x.git",
		"ssh://git:pw@h/x.git":        "ssh://git@h/x.git",
		"https://h/x.git":             "https://h/x.git",
		"https://a:b@h/%zz":           "https://REDACTED@h/%zz",
	} {
		if got := Redact(raw); got != want {
			t.Errorf("Redact(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestRepoPushRefusal(t *testing.T) {
	for reason, rejected := range map[string]bool{
		"failed to update ref": true,
		"cannot lock ref 'refs/heads/main': is at 1 but expected 2": true,
		"non-fast-forward":               true,
		"fetch first":                    true,
		"failed to lock":                 true,
		"pre-receive hook declined":      false,
		"protected branch hook declined": false,
	} {
		orig := fmt.Errorf("command error on refs/heads/main: %s", reason)
		err := pushRefusal(orig)
		if got := errors.Is(err, ErrPushRejected); got != rejected {
			t.Errorf("%q: ErrPushRejected = %v, want %v (%v)", reason, got, rejected, err)
		}
		if !errors.Is(err, orig) || !strings.Contains(err.Error(), reason) {
			t.Errorf("%q: error %q lost the reason", reason, err)
		}
	}
	if err := pushRefusal(errors.New("connection reset: failed to update ref")); errors.Is(err, ErrPushRejected) {
		t.Errorf("a transport error became ErrPushRejected: %v", err)
	}
}

// TestSyncFollowsRemote checks the quick path of Sync (only the files that
// differ are written) against the CLI's view of the result.
func TestSyncFollowsRemote(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "a\n", "gone/b.yaml": "b\n", "keep/c.yaml": "c\n"})
	r := openTest(t, "file://"+bare)
	publish(t, r, setFile("a.yaml", "ours\n"))
	foreign := testgit.NewClone(t, bare)
	foreign.Git("pull", "--quiet")
	foreign.Git("rm", "--quiet", "gone/b.yaml")
	foreign.Write("new/deep/d.yaml", "d\n")
	foreign.Write("keep/c.yaml", "c2\n")
	foreign.Git("add", "-A")
	foreign.Git("commit", "--quiet", "-m", "foreign")
	foreign.Git("push", "--quiet", "origin", "HEAD:main")
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.Head() != testgit.Head(t, bare, "main") {
		t.Errorf("Head() = %s, not the remote head", r.Head())
	}
	if st := testgit.Git(t, r.Dir(), "status", "--porcelain", "--untracked-files=all"); st != "" {
		t.Errorf("git status after Sync:\n%s", st)
	}
	if _, err := os.Stat(filepath.Join(r.Dir(), "gone")); !os.IsNotExist(err) {
		t.Errorf("emptied directory left behind: %v", err)
	}
	for file, want := range map[string]string{"a.yaml": "ours\n", "keep/c.yaml": "c2\n", "new/deep/d.yaml": "d\n"} {
		if got := readWT(t, r, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	// The index is exact too: the next Publish commits only what it changes.
	res := publish(t, r, setFile("keep/c.yaml", "c3\n"))
	if got := testgit.Git(t, bare, "show", "--name-only", "--format=", res.Head); got != "keep/c.yaml" {
		t.Errorf("commit changed %q", got)
	}
}

func TestSyncReclonesWhenPacksPileUp(t *testing.T) {
	const maxPacks = 3
	bare := testgit.NewBare(t, map[string]string{"a.yaml": "0\n"})
	r := openTest(t, "file://"+bare, WithMaxPacks(maxPacks))
	marker := filepath.Join(r.Dir(), ".git", "tagwatch-test-marker")
	os.WriteFile(marker, nil, 0o644)
	for i := 1; i <= 4; i++ {
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		publish(t, r, setFile("a.yaml", fmt.Sprintln(i)))
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("cache not cloned again after packs piled up: %v", err)
	}
	if n := r.packCount(); n > maxPacks+1 {
		t.Errorf("%d packs, want at most %d", n, maxPacks+1)
	}
	if r.Head() != testgit.Head(t, bare, "main") || readWT(t, r, "a.yaml") != "4\n" {
		t.Errorf("after re-clone: head %s, a.yaml %q", r.Head(), readWT(t, r, "a.yaml"))
	}
}

// TestOpenOneCopyPerBranch: each branch of a URL has its own working copy,
// and a cached copy found under a branch's name (a colliding hash, a
// foreign hand) is brought to that branch, never written from another.
func TestOpenOneCopyPerBranch(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a.txt": "main\n"})
	c := testgit.NewClone(t, bare)
	c.Git("checkout", "--quiet", "-b", "release")
	c.Write("a.txt", "release\n")
	c.Git("commit", "--quiet", "-am", "release")
	c.Git("push", "--quiet", "origin", "release")
	url, cache := "file://"+bare, t.TempDir()
	main := openTest(t, url, WithCacheDir(cache), WithBranch("main"))
	rel := openTest(t, url, WithCacheDir(cache), WithBranch("release"))
	if main.Dir() == rel.Dir() {
		t.Fatalf("both branches cached in %s", main.Dir())
	}
	if a, b := readWT(t, main, "a.txt"), readWT(t, rel, "a.txt"); a != "main\n" || b != "release\n" {
		t.Errorf("a.txt = %q on main, %q on release", a, b)
	}
	testgit.Git(t, main.Dir(), "fetch", "--quiet", "origin", "release")
	testgit.Git(t, main.Dir(), "checkout", "--quiet", "-B", "release", "FETCH_HEAD")
	main.Close()
	again := openTest(t, url, WithCacheDir(cache), WithBranch("main"))
	if got := readWT(t, again, "a.txt"); got != "main\n" {
		t.Errorf("a.txt = %q after reopening main over a copy left on release", got)
	}
	if _, err := again.Publish(context.Background(), []Edit{setFile("a.txt", "edited\n")}); err != nil {
		t.Fatal(err)
	}
	if got := testgit.Show(t, bare, "release", "a.txt"); got != "release" {
		t.Errorf("release moved: a.txt = %q", got)
	}
	if got := testgit.Show(t, bare, "main", "a.txt"); got != "edited" {
		t.Errorf("main: a.txt = %q, want the edit", got)
	}
}
