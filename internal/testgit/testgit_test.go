package testgit_test

import (
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
)

func TestBareAndForeignPush(t *testing.T) {
	bare := testgit.NewBare(t, map[string]string{"a/b.txt": "one\n"})
	if got := testgit.Show(t, bare, testgit.Branch, "a/b.txt"); got != "one" {
		t.Fatalf("seeded content = %q", got)
	}
	c := testgit.NewClone(t, bare)
	h, err := c.CommitAndPush("a/b.txt", "two\n", "second")
	if err != nil {
		t.Fatal(err)
	}
	if got := testgit.Head(t, bare, testgit.Branch); got != h {
		t.Errorf("remote head = %s, want %s", got, h)
	}
}

func TestHTTP(t *testing.T) {
	bare := testgit.NewBare(t, nil)
	srv := testgit.ServeHTTP(t, bare)
	if _, err := testgit.GitErr(t, "", "ls-remote", srv.URL); err == nil {
		t.Error("ls-remote without credentials succeeded")
	}
	c := testgit.NewClone(t, srv.CloneURL())
	h, err := c.CommitAndPush("x.txt", "x\n", "over http")
	if err != nil {
		t.Fatal(err)
	}
	if got := testgit.Head(t, bare, testgit.Branch); got != h {
		t.Errorf("remote head = %s, want %s", got, h)
	}
	st := srv.Stats()
	if st.ReceivePack != 1 || st.UploadPack < 1 || st.Denied < 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestSSH(t *testing.T) {
	bare := testgit.NewBare(t, nil)
	srv := testgit.StartSSH(t)
	c := srv.NewClone(t, bare)
	h, err := c.CommitAndPush("x.txt", "x\n", "over ssh")
	if err != nil {
		t.Fatal(err)
	}
	if got := testgit.Head(t, bare, testgit.Branch); got != h {
		t.Errorf("remote head = %s, want %s", got, h)
	}
}

func TestNewBareHistory(t *testing.T) {
	bare := testgit.NewBareHistory(t, 250, 30)
	if got := len(testgit.Commits(t, bare, testgit.Branch)); got != 30 {
		t.Errorf("%d commits, want 30", got)
	}
	if got := testgit.Git(t, bare, "ls-tree", "-r", "--name-only", testgit.Branch); len(strings.Split(got, "\n")) != 250 {
		t.Errorf("want 250 files")
	}
	testgit.Show(t, bare, testgit.Branch, testgit.LargePath(249))
}
