package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// fakeLog is a LogSource over fixed commits, newest first.
type fakeLog []gitrepo.CommitInfo

func (l fakeLog) Log(ctx context.Context, fn func(gitrepo.CommitInfo) error) error {
	for _, c := range l {
		if err := fn(c); err != nil {
			if errors.Is(err, gitrepo.ErrStopLog) {
				return nil
			}
			return err
		}
	}
	return nil
}

var t0 = time.Date(2026, 11, 23, 16, 0, 0, 0, time.UTC)

var commits = fakeLog{
	{Hash: "c3c3c3c3c3c3c3c3", When: t0.Add(2 * time.Hour), Signature: gitrepo.SignatureSSH, Message: Message("production", []Change{
		{Env: "production", Image: "r.example.com/team/app", From: "1.0.0", To: "1.1.0", Digest: digest, PromotedFrom: "staging"},
	})},
	{Hash: "b2b2b2b2b2b2b2b2", When: t0.Add(time.Hour), Message: "fix: a human commit\n\nSigned-off-by: A <a@b>\n"},
	{Hash: "a1a1a1a1a1a1a1a1", When: t0, Message: Message("staging", []Change{
		{Env: "staging", Image: "r.example.com/team/app", To: "1.0.0"},
		{Env: "staging", Image: "r.example.com/other/web", From: "1", To: "2"},
	})},
}

func TestHistoryFilter(t *testing.T) {
	app1 := Entry{Kind: KindUpdate, Commit: "c3c3c3c3c3c3c3c3", Time: t0.Add(2 * time.Hour), Signature: "ssh", Change: Change{Env: "production", Image: "r.example.com/team/app", From: "1.0.0", To: "1.1.0", Digest: digest, PromotedFrom: "staging"}}
	app0 := Entry{Kind: KindUpdate, Commit: "a1a1a1a1a1a1a1a1", Time: t0, Change: Change{Env: "staging", Image: "r.example.com/team/app", To: "1.0.0"}}
	web := Entry{Kind: KindUpdate, Commit: "a1a1a1a1a1a1a1a1", Time: t0, Change: Change{Env: "staging", Image: "r.example.com/other/web", From: "1", To: "2"}}
	for _, tc := range []struct {
		name   string
		filter Filter
		want   []Entry
	}{
		{"all", Filter{}, []Entry{app1, web, app0}},
		{"env", Filter{Env: "staging"}, []Entry{web, app0}},
		{"image by full name", Filter{Image: "r.example.com/team/app"}, []Entry{app1, app0}},
		{"image by last elements", Filter{Image: "team/app"}, []Entry{app1, app0}},
		{"image by name", Filter{Image: "web"}, []Entry{web}},
		{"image is not a substring match", Filter{Image: "eb"}, []Entry{}},
		{"both", Filter{Env: "production", Image: "app"}, []Entry{app1}},
		{"limit", Filter{Limit: 2}, []Entry{app1, web}},
		{"none", Filter{Env: "nope"}, []Entry{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := History(context.Background(), commits, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("History (-want +got):\n%s", diff)
			}
		})
	}
}

func TestHistoryError(t *testing.T) {
	boom := errors.New("boom")
	_, err := History(context.Background(), errLog{boom}, Filter{})
	if !errors.Is(err, boom) {
		t.Errorf("History error = %v, want it to wrap %v", err, boom)
	}
}

type errLog struct{ err error }

func (l errLog) Log(context.Context, func(gitrepo.CommitInfo) error) error { return l.err }

func TestWriteTable(t *testing.T) {
	entries, _ := History(context.Background(), commits, Filter{})
	var b bytes.Buffer
	if err := WriteTable(&b, entries); err != nil {
		t.Fatal(err)
	}
	want := `TIME                  ENV         IMAGE                    CHANGE                        DIGEST               COMMIT      SIGNED
2026-11-23T18:00:00Z  production  r.example.com/team/app   1.0.0 → 1.1.0 (from staging)  sha256:0123456789ab  c3c3c3c3c3  ssh
2026-11-23T16:00:00Z  staging     r.example.com/other/web  1 → 2                         -                    a1a1a1a1a1  -
2026-11-23T16:00:00Z  staging     r.example.com/team/app   (none) → 1.0.0                -                    a1a1a1a1a1  -
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteTable (-want +got):\n%s", diff)
	}
}

func TestWriteJSON(t *testing.T) {
	entries, _ := History(context.Background(), commits, Filter{Image: "app"})
	var b bytes.Buffer
	if err := WriteJSON(&b, entries); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("%v in %s", err, b.String())
	}
	want := []map[string]any{
		{"kind": "update", "commit": "c3c3c3c3c3c3c3c3", "time": "2026-11-23T18:00:00Z", "env": "production", "image": "r.example.com/team/app", "from": "1.0.0", "to": "1.1.0", "digest": digest, "promotedFrom": "staging", "signature": "ssh"},
		{"kind": "update", "commit": "a1a1a1a1a1a1a1a1", "time": "2026-11-23T16:00:00Z", "env": "staging", "image": "r.example.com/team/app", "from": "", "to": "1.0.0", "digest": "", "signature": ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WriteJSON (-want +got):\n%s", diff)
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || b.String() != "[]\n" {
		t.Errorf("WriteJSON(nil) = %q, %v; want []", b.String(), err)
	}
}

// TestHistoryFromGit: commits made with the git CLI (as tagwatch makes them,
// mixed with a human's) are read back through gitrepo's Log, from a local
// clone and from a fresh cache of the remote.
func TestHistoryFromGit(t *testing.T) {
	bare := testgit.NewBare(t, nil)
	clone := testgit.NewClone(t, bare)
	steps := []struct {
		env     string
		changes []Change
	}{
		{"staging", []Change{{Env: "staging", Image: "r.example.com/team/app", To: "1.0.0", Digest: digest}}},
		{"production", []Change{{Env: "production", Image: "r.example.com/team/app", To: "1.0.0", Digest: digest}}},
		{"", nil}, // a human commit in between
		{"staging", []Change{{Env: "staging", Image: "r.example.com/team/app", From: "1.0.0", To: "1.1.0-rc.1"}}},
	}
	var hashes []string
	for i, s := range steps {
		msg := "docs: a human change\n"
		if s.changes != nil {
			msg = Message(s.env, s.changes)
		}
		h, err := clone.CommitAndPush("f.txt", string(rune('a'+i)), msg)
		if err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, h)
	}
	want := []Entry{
		{Kind: KindUpdate, Commit: hashes[3], Author: testgit.AuthorName, Change: steps[3].changes[0]},
		{Kind: KindUpdate, Commit: hashes[1], Author: testgit.AuthorName, Change: steps[1].changes[0]},
		{Kind: KindUpdate, Commit: hashes[0], Author: testgit.AuthorName, Change: steps[0].changes[0]},
	}
	ignoreTime := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Time" }, cmp.Ignore())

	local, err := gitrepo.OpenDir(clone.Dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := History(context.Background(), local, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got, ignoreTime); diff != "" {
		t.Errorf("History of the local clone (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if e.Time.IsZero() || time.Since(e.Time) > time.Hour {
			t.Errorf("entry %s has time %v, want the commit time", e.Commit, e.Time)
		}
	}

	ctx := context.Background()
	remote, err := gitrepo.Open(ctx, "file://"+bare, gitrepo.WithCacheDir(filepath.Join(t.TempDir(), "cache")), gitrepo.WithDepth(0))
	if err == nil {
		defer remote.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	got, err = History(ctx, remote, Filter{Env: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Entry{want[0], want[2]}, got, ignoreTime); diff != "" {
		t.Errorf("History of the remote (-want +got):\n%s", diff)
	}
}

// BenchmarkHistory reads the trail of 10,000 commits, one in four a
// tagwatch commit of two images.
func BenchmarkHistory(b *testing.B) {
	log := make(fakeLog, 10000)
	for i := range log {
		msg := "fix: a human change\n\nSigned-off-by: A <a@b>\n"
		if i%4 == 0 {
			msg = Message("production", []Change{
				{Env: "production", Image: "r.example.com/team/app", From: "1.0.0", To: "1.1.0", Digest: digest, Strategy: "semver", Constraint: "^1"},
				{Env: "production", Image: "r.example.com/team/web", From: "2.0.0", To: "2.1.0", Digest: digest, Strategy: "semver"},
			})
		}
		log[i] = gitrepo.CommitInfo{Hash: "c", When: t0, Message: msg}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := History(context.Background(), log, Filter{Image: "app"}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWriteTableKindsAndRepositories: rollbacks and their clearing read as
// such, and entries of several repositories gain a REPOSITORY column.
func TestWriteTableKindsAndRepositories(t *testing.T) {
	entries := []Entry{
		{Kind: KindCleared, Repository: "https://git.example.com/a.git", Commit: "d4d4d4d4d4d4", Time: t0.Add(3 * time.Hour), Author: "Ada", Change: Change{Env: "staging", Image: "r.example.com/team/app", Digest: digest}},
		{Kind: KindRollback, Repository: "https://git.example.com/a.git", Commit: "c3c3c3c3c3c3", Time: t0.Add(2 * time.Hour), Author: "Ada", Change: Change{Env: "staging", Image: "r.example.com/team/app", From: "1.1.0", To: "1.0.0", Digest: digest}},
		{Kind: KindUpdate, Repository: "file:///srv/b", Commit: "b2b2b2b2b2b2", Time: t0, Change: Change{Env: "web", Image: "r.example.com/other/web", From: "1", To: "2"}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, entries); err != nil {
		t.Fatal(err)
	}
	want := `REPOSITORY                     TIME                  ENV      IMAGE                    CHANGE                           DIGEST               COMMIT      SIGNED
https://git.example.com/a.git  2026-11-23T19:00:00Z  staging  r.example.com/team/app   rollback cleared                 sha256:0123456789ab  d4d4d4d4d4  -
https://git.example.com/a.git  2026-11-23T18:00:00Z  staging  r.example.com/team/app   1.1.0 → 1.0.0 (rollback by Ada)  sha256:0123456789ab  c3c3c3c3c3  -
file:///srv/b                  2026-11-23T16:00:00Z  web      r.example.com/other/web  1 → 2                            -                    b2b2b2b2b2  -
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteTable (-want +got):\n%s", diff)
	}
}
