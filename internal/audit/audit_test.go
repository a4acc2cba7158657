package audit

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestMessage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     string
		changes []Change
		want    string
	}{
		{
			name: "one change",
			env:  "production",
			changes: []Change{{
				Env: "production", Image: "registry.example.com/team/app", File: "envs/production/kustomization.yaml",
				From: "1.3.0", To: "1.4.0", Digest: digest, Strategy: "semver", Constraint: "^1",
			}},
			want: `tagwatch(production): registry.example.com/team/app 1.3.0 -> 1.4.0

Moved registry.example.com/team/app in environment production from 1.3.0
to 1.4.0. The new image is
sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.
Changed envs/production/kustomization.yaml. 1.4.0 is the best tag under
the semver policy with constraint "^1".

Tagwatch-Update: env=production image=registry.example.com/team/app from=1.3.0 to=1.4.0 digest=` + digest + `
`,
		},
		{
			name: "no previous value, no digest, no constraint",
			env:  "staging",
			changes: []Change{{
				Env: "staging", Image: "registry.example.com/team/app", File: "envs/staging/kustomization.yaml",
				To: "1.0.0", Strategy: "semver",
			}},
			want: `tagwatch(staging): registry.example.com/team/app (none) -> 1.0.0

Set registry.example.com/team/app in environment staging to 1.0.0; the
field had no value before. Changed envs/staging/kustomization.yaml.
1.0.0 is the best tag under the semver policy, without a constraint.

Tagwatch-Update: env=staging image=registry.example.com/team/app from= to=1.0.0 digest=
`,
		},
		{
			name: "digest of a mutable tag",
			env:  "dev",
			changes: []Change{{
				Env: "dev", Image: "r.example.com/proxy", File: "envs/dev/deploy.yaml",
				From: "stable", To: "stable", Digest: digest, Strategy: "digest", Constraint: "stable",
			}},
			want: `tagwatch(dev): r.example.com/proxy stable -> stable (sha256:0123456789ab)

Moved r.example.com/proxy in environment dev to the image now behind tag
stable. The new image is
sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.
Changed envs/dev/deploy.yaml. The policy follows the digest of tag
stable, which changed.

Tagwatch-Update: env=dev image=r.example.com/proxy from=stable to=stable digest=` + digest + `
`,
		},
		{
			name: "several images, sorted, one image in two files",
			env:  "staging",
			changes: []Change{
				{Env: "staging", Image: "r.example.com/web", File: "envs/staging/values.yaml", From: "2026-01-01.1", To: "2026-02-01.3", Strategy: "alphabetical"},
				{Env: "staging", Image: "r.example.com/api", File: "envs/staging/values.yaml", From: "1", To: "2", Strategy: "numerical"},
				{Env: "staging", Image: "r.example.com/api", File: "envs/staging/kustomization.yaml", From: "1", To: "2", Strategy: "numerical"},
			},
			want: `tagwatch(staging): update 2 images

Moved r.example.com/api in environment staging from 1 to 2. Changed
envs/staging/kustomization.yaml, envs/staging/values.yaml. 2 is the best
tag under the numerical policy, without a constraint.

Moved r.example.com/web in environment staging from 2026-01-01.1 to
2026-02-01.3. Changed envs/staging/values.yaml. 2026-02-01.3 is the best
tag under the alphabetical policy, without a constraint.

Tagwatch-Update: env=staging image=r.example.com/api from=1 to=2 digest=
Tagwatch-Update: env=staging image=r.example.com/web from=2026-01-01.1 to=2026-02-01.3 digest=
`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Change(nil), tc.changes...)
			got := Message(tc.env, tc.changes)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Message (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(in, tc.changes); diff != "" {
				t.Errorf("Message changed its input (-before +after):\n%s", diff)
			}
			// Any order of the changes gives the same message.
			rev := append([]Change(nil), tc.changes...)
			for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
				rev[i], rev[j] = rev[j], rev[i]
			}
			if again := Message(tc.env, rev); again != got {
				t.Errorf("Message depends on the order of changes:\n%s\nvs\n%s", got, again)
			}
		})
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  string
		want []Change
	}{
		{"none", "fix: something\n\nSigned-off-by: A <a@b>\n", nil},
		{"one among others", "tagwatch(prod): x 1 -> 2\n\nbody\n\nSigned-off-by: A <a@b>\nTagwatch-Update: env=prod image=r/x from=1 to=2 digest=sha256:ab\nCo-authored-by: B <b@c>\n",
			[]Change{{Env: "prod", Image: "r/x", From: "1", To: "2", Digest: "sha256:ab"}}},
		{"empty from and digest", "s\n\nTagwatch-Update: env=a image=r/x from= to=1 digest=\n",
			[]Change{{Env: "a", Image: "r/x", To: "1"}}},
		{"any case, spaces, unknown keys, any order", "s\n\ntagwatch-update :  to=2   image=r/x env=a extra=1 from=1\n",
			[]Change{{Env: "a", Image: "r/x", From: "1", To: "2"}}},
		{"folded", "s\n\nTagwatch-Update: env=a image=r/x\n from=1 to=2\n",
			[]Change{{Env: "a", Image: "r/x", From: "1", To: "2"}}},
		{"squashed commits keep every trailer", "squash\n\n* one\n\nTagwatch-Update: env=a image=r/x from=1 to=2 digest=\n\n* two\n\nTagwatch-Update: env=b image=r/x from=1 to=2 digest=\n",
			[]Change{{Env: "a", Image: "r/x", From: "1", To: "2"}, {Env: "b", Image: "r/x", From: "1", To: "2"}}},
		{"escaped", "s\n\nTagwatch-Update: env=a image=r/x from=1%200%25 to=2 digest=\n",
			[]Change{{Env: "a", Image: "r/x", From: "1 0%", To: "2"}}},
		{"bad escape kept", "s\n\nTagwatch-Update: env=a image=r/x from=%zz to=%2\n",
			[]Change{{Env: "a", Image: "r/x", From: "%zz", To: "%2"}}},
		{"missing env or image is ignored", "s\n\nTagwatch-Update: image=r/x to=2\nTagwatch-Update: env=a to=2\nTagwatch-Update: env= image=r/x\n", nil},
		{"indented line in the body is not a trailer", "s\n\n  Tagwatch-Update: env=a image=r/x\n", nil},
		{"CRLF", "s\r\n\r\nTagwatch-Update: env=a image=r/x from=1 to=2 digest=\r\n",
			[]Change{{Env: "a", Image: "r/x", From: "1", To: "2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Parse(tc.msg)); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// roundTrip is a set of changes Message renders and Parse reads back.
var roundTrip = []Change{
	{Env: "production", Image: "registry.example.com/team/app", From: "1.3.0", To: "1.4.0", Digest: digest},
	{Env: "production", Image: "registry.example.com/team/web", To: "v2.0.0-rc.1+build.5", Digest: ""},
	{Env: "production", Image: "localhost:5000/a/b", From: "odd value", To: "%41", Digest: digest},
}

func TestRoundTrip(t *testing.T) {
	got := Parse(Message("production", roundTrip))
	want := []Change{roundTrip[2], roundTrip[0], roundTrip[1]} // sorted by image
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse(Message) (-want +got):\n%s", diff)
	}
}

// TestGitInterpretTrailers: git itself reads the trailers back exactly.
func TestGitInterpretTrailers(t *testing.T) {
	git := testenv.LookPath(t, "Debian package git", "git")
	msg := Message("production", roundTrip)
	cmd := exec.Command(git, "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(msg)
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git interpret-trailers: %v", err)
	}
	var want []string
	for _, c := range roundTrip {
		want = append(want, Trailer(c))
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	// Message sorts by image.
	wantSorted := []string{want[2], want[0], want[1]}
	if diff := cmp.Diff(wantSorted, got); diff != "" {
		t.Errorf("git interpret-trailers --parse (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Change{roundTrip[2], roundTrip[0], roundTrip[1]}, Parse(string(out))); diff != "" {
		t.Errorf("Parse(git's trailers) (-want +got):\n%s", diff)
	}
}

// TestGitInterpretTrailersRollback: git reads back the trailers of a
// rollback and of the lifting of several, values that need escaping
// included, and ParseRecords reads git's output as the records made.
func TestGitInterpretTrailersRollback(t *testing.T) {
	git := testenv.LookPath(t, "Debian package git", "git")
	const digest2 = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	for _, tc := range []struct {
		name string
		msg  string
		want []Record
	}{
		{"rollback", RollbackMessage(Rollback{Env: "staging", Image: "localhost:5000/a/b", From: "odd value", To: "%41", Digest: digest, Reason: "It leaks memory."}),
			[]Record{{Kind: KindRollback, Change: Change{Env: "staging", Image: "localhost:5000/a/b", From: "odd value", To: "%41", Digest: digest}}}},
		{"clear one", ClearedMessage("staging", "registry.example.com/team/app", digest),
			[]Record{{Kind: KindCleared, Change: Change{Env: "staging", Image: "registry.example.com/team/app", Digest: digest}}}},
		{"clear several, escaped", ClearedMessage("my env", "registry.example.com/team/app", digest, "odd%digest", digest2),
			[]Record{
				{Kind: KindCleared, Change: Change{Env: "my env", Image: "registry.example.com/team/app", Digest: digest}},
				{Kind: KindCleared, Change: Change{Env: "my env", Image: "registry.example.com/team/app", Digest: "odd%digest"}},
				{Kind: KindCleared, Change: Change{Env: "my env", Image: "registry.example.com/team/app", Digest: digest2}},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(git, "interpret-trailers", "--parse")
			cmd.Stdin = strings.NewReader(tc.msg)
			cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + t.TempDir()}
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("git interpret-trailers: %v", err)
			}
			// git's trailers are the message's last paragraph, line for line.
			paragraphs := strings.Split(strings.TrimRight(tc.msg, "\n"), "\n\n")
			if diff := cmp.Diff(paragraphs[len(paragraphs)-1]+"\n", string(out)); diff != "" {
				t.Errorf("git interpret-trailers --parse (-message's trailers +git's):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, ParseRecords(string(out))); diff != "" {
				t.Errorf("ParseRecords(git's trailers) (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClearedMessage: the lifting of several rollbacks names them all.
func TestClearedMessage(t *testing.T) {
	const digest2 = "sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"
	want := `tagwatch(staging): clear 2 rollbacks of r.example.com/app

Lifted the rollbacks of r.example.com/app
(sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef,
sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210)
in environment staging: tagwatch may take them again when its policy
picks them.

Tagwatch-Rollback-Cleared: env=staging image=r.example.com/app digest=` + digest + `
Tagwatch-Rollback-Cleared: env=staging image=r.example.com/app digest=` + digest2 + `
`
	if diff := cmp.Diff(want, ClearedMessage("staging", "r.example.com/app", digest, digest2)); diff != "" {
		t.Errorf("ClearedMessage (-want +got):\n%s", diff)
	}
}

func TestShortDigest(t *testing.T) {
	for in, want := range map[string]string{"": "", digest: "sha256:0123456789ab", "sha256:abc": "sha256:abc", "nocolon": "nocolon"} {
		if got := ShortDigest(in); got != want {
			t.Errorf("ShortDigest(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Message("production", roundTrip))
	f.Add("s\n\nTagwatch-Update: env=a image=r/x\n from=1 to=2\n")
	f.Add("Tagwatch-Update:%")
	f.Fuzz(func(t *testing.T, msg string) {
		for _, c := range Parse(msg) {
			if c.Env == "" || c.Image == "" {
				t.Fatalf("Parse returned a change without env or image: %+v", c)
			}
			// What Parse reads, Message writes back the same.
			c.Strategy, c.Constraint, c.File = "", "", ""
			back := Parse(Message(c.Env, []Change{c}))
			if len(back) != 1 || back[0] != c {
				t.Fatalf("round trip of %+v gave %+v", c, back)
			}
		}
	})
}

func BenchmarkParse(b *testing.B) {
	msg := Message("production", roundTrip)
	b.ReportAllocs()
	for b.Loop() {
		Parse(msg)
	}
}

// TestGatedTrailer: a gated change's trailer ends with from=<environment>,
// git reads it as one trailer, Parse tells the two from= apart, and the
// body says which gate opened.
func TestGatedTrailer(t *testing.T) {
	c := Change{Env: "production", Image: "registry.example.com/team/app", From: "1.3.0", To: "1.4.0", Digest: digest,
		PromotedFrom: "staging", Gate: "staging has run sha256:ab… since 2026-11-30T11:00:00Z (commit 0123456789): 30m of soak, satisfied at 2026-11-30T11:30:00Z"}
	msg := Message("production", []Change{c})
	wantTrailer := "Tagwatch-Update: env=production image=registry.example.com/team/app from=1.3.0 to=1.4.0 digest=" + digest + " from=staging"
	if !strings.HasSuffix(msg, wantTrailer+"\n") {
		t.Errorf("message does not end with %q:\n%s", wantTrailer, msg)
	}
	if !strings.Contains(strings.ReplaceAll(msg, "\n", " "), "The promotion gate from staging opened: staging has run") {
		t.Errorf("the body does not say which gate opened:\n%s", msg)
	}
	got := Parse(msg)
	want := []Change{{Env: "production", Image: c.Image, From: "1.3.0", To: "1.4.0", Digest: digest, PromotedFrom: "staging"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse (-want +got):\n%s", diff)
	}
	git := testenv.LookPath(t, "Debian package git", "git")
	cmd := exec.Command(git, "interpret-trailers", "--parse")
	cmd.Stdin = strings.NewReader(msg)
	cmd.Env = []string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimRight(string(out), "\n") != wantTrailer {
		t.Errorf("git interpret-trailers --parse = %q, want %q", out, wantTrailer)
	}
}
