package signing_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"golang.org/x/crypto/ssh"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/signing"
	"github.com/tagwatch/tagwatch/internal/testenv"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// sshKey is a new ed25519 private key in OpenSSH format.
func sshKey(t testing.TB) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "tagwatch test")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
}

// openPGPKey is a new EdDSA OpenPGP key, the armored private key and the
// armored public key.
func openPGPKey(t testing.TB) (private, public []byte) {
	t.Helper()
	e, err := openpgp.NewEntity("tagwatch", "test", "tagwatch@example.com", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var priv, pub bytes.Buffer
	w, err := armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SerializePrivate(w, nil); err != nil {
		t.Fatal(err)
	}
	w.Close()
	w, err = armor.Encode(&pub, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return priv.Bytes(), pub.Bytes()
}

// signedCommit publishes one commit through gitrepo with signer and
// returns the bare remote and the commit.
func signedCommit(t *testing.T, signer signing.Signer) (bare, commit string) {
	t.Helper()
	bare = testgit.NewBare(t, map[string]string{"envs/a/kustomization.yaml": "images: []\n"})
	r, err := gitrepo.Open(context.Background(), "file://"+bare, gitrepo.WithCacheDir(t.TempDir()),
		gitrepo.WithAuthor(gitrepo.Author{Name: "tagwatch", Email: "tagwatch@example.com"}), gitrepo.WithSigner(signer))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := r.Publish(context.Background(), []gitrepo.Edit{{Name: "a", Apply: func(_ context.Context, dir string) (string, []string, error) {
		f := "envs/a/kustomization.yaml"
		return "tagwatch(a): app (none) -> 1.0.0\n\nTagwatch-Update: env=a image=app from= to=1.0.0 digest=\n", []string{f},
			os.WriteFile(filepath.Join(dir, f), []byte("images: [{name: app, newTag: 1.0.0}]\n"), 0o644)
	}}})
	if err != nil || res.Edits[0].Commit == "" {
		t.Fatalf("Publish: %v, %+v", err, res)
	}
	return bare, res.Edits[0].Commit
}

// tamper writes into bare a copy of commit with its message changed and
// its signature kept, and returns it.
func tamper(t *testing.T, bare, commit string) string {
	t.Helper()
	raw := testgit.Git(t, bare, "cat-file", "commit", commit) + "\n"
	forged := strings.Replace(raw, "1.0.0", "6.6.6", 1)
	if forged == raw {
		t.Fatal("nothing to tamper with")
	}
	cmd := exec.Command(testgit.GitPath(t), "hash-object", "-t", "commit", "-w", "--stdin")
	cmd.Dir, cmd.Stdin = bare, strings.NewReader(forged)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// verify runs git verify-commit in bare with env and config.
func verify(t *testing.T, bare, commit string, env []string, config ...string) error {
	t.Helper()
	args := []string{}
	for _, c := range config {
		args = append(args, "-c", c)
	}
	cmd := exec.Command(testgit.GitPath(t), append(args, "verify-commit", "-v", commit)...)
	cmd.Dir = bare
	cmd.Env = append(os.Environ(), append([]string{"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"}, env...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return &verifyError{err: err, out: out.String()}
	}
	return nil
}

type verifyError struct {
	err error
	out string
}

func (e *verifyError) Error() string { return e.err.Error() + ": " + e.out }

// TestSSHSignatureVerifies: git verify-commit with gpg.format=ssh and an
// allowed-signers file accepts tagwatch's commit, and refuses the same
// signature on a tampered commit.
func TestSSHSignatureVerifies(t *testing.T) {
	testenv.LookPath(t, "Debian package openssh-client", "ssh-keygen")
	s, err := signing.New(signing.FormatSSH, sshKey(t))
	if err != nil {
		t.Fatal(err)
	}
	bare, commit := signedCommit(t, s)
	allowed := filepath.Join(t.TempDir(), "allowed_signers")
	if err := os.WriteFile(allowed, []byte("tagwatch@example.com namespaces=\"git\" "+signing.PublicKey(s)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := []string{"gpg.format=ssh", "gpg.ssh.allowedSignersFile=" + allowed}
	if err := verify(t, bare, commit, nil, cfg...); err != nil {
		t.Errorf("git verify-commit %s: %v", commit, err)
	}
	if got := testgit.Git(t, bare, "-c", cfg[0], "-c", cfg[1], "log", "-1", "--format=%G?", commit); got != "G" {
		t.Errorf("git log %%G? = %q, want G (a good signature)", got)
	}
	forged := tamper(t, bare, commit)
	if err := verify(t, bare, forged, nil, cfg...); err == nil {
		t.Errorf("git verify-commit accepted the tampered commit %s", forged)
	}
	// Another key's signature does not verify against this allowed-signers file.
	other, err := signing.New(signing.FormatSSH, sshKey(t))
	if err != nil {
		t.Fatal(err)
	}
	bare2, commit2 := signedCommit(t, other)
	if err := verify(t, bare2, commit2, nil, cfg...); err == nil {
		t.Errorf("git verify-commit accepted a commit signed by a key that is not allowed")
	}
}

// TestOpenPGPSignatureVerifies: gpg, through git verify-commit, accepts
// tagwatch's OpenPGP signature with the public key imported, and refuses it
// on a tampered commit.
func TestOpenPGPSignatureVerifies(t *testing.T) {
	gpg := testenv.LookPath(t, "Debian package gnupg", "gpg")
	priv, pub := openPGPKey(t)
	s, err := signing.New(signing.FormatOpenPGP, priv)
	if err != nil {
		t.Fatal(err)
	}
	bare, commit := signedCommit(t, s)
	home, err := os.MkdirTemp("", "gnupg-") // short: gpg-agent's socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	os.Chmod(home, 0o700)
	imp := exec.Command(gpg, "--batch", "--homedir", home, "--import")
	imp.Stdin = bytes.NewReader(pub)
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("gpg --import: %v\n%s", err, out)
	}
	env := []string{"GNUPGHOME=" + home}
	if err := verify(t, bare, commit, env); err != nil {
		t.Errorf("git verify-commit %s: %v", commit, err)
	}
	forged := tamper(t, bare, commit)
	if err := verify(t, bare, forged, env); err == nil {
		t.Errorf("git verify-commit accepted the tampered commit %s", forged)
	}
}

// TestHistoryTellsSignedCommits: gitrepo reports the kind of signature of
// each commit, and none for an unsigned one (the seed).
func TestHistoryTellsSignedCommits(t *testing.T) {
	s, err := signing.New(signing.FormatSSH, sshKey(t))
	if err != nil {
		t.Fatal(err)
	}
	bare, commit := signedCommit(t, s)
	r, err := gitrepo.OpenDir(bare)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	if err := r.Log(context.Background(), func(ci gitrepo.CommitInfo) error {
		got[ci.Hash] = ci.Signature
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[commit] != gitrepo.SignatureSSH {
		t.Errorf("signatures by commit = %v, want %s signed (ssh) and the seed unsigned", got, commit)
	}
}

func TestBadKeysAreErrors(t *testing.T) {
	priv, _ := openPGPKey(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	t.Setenv("TAGWATCH_TEST_SIGNING_KEY", string(sshKey(t)))
	for _, tc := range []struct {
		name, ref, format, want string
	}{
		{"missing file", "file:" + filepath.Join(dir, "nope"), "ssh", "no such file"},
		{"empty file", "file:" + empty, "ssh", "is empty"},
		{"unset variable", "env:TAGWATCH_TEST_UNSET_KEY", "ssh", "is not set"},
		{"not a reference", "-----BEGIN OPENSSH PRIVATE KEY-----", "ssh", "must be file:/path or env:VAR"},
		{"openpgp key as ssh", "env:TAGWATCH_TEST_SIGNING_KEY_PGP", "ssh", "not an ssh private key"},
		{"ssh key as openpgp", "env:TAGWATCH_TEST_SIGNING_KEY", "openpgp", "not an OpenPGP key"},
		{"unknown format", "env:TAGWATCH_TEST_SIGNING_KEY", "x509", `signing format "x509"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TAGWATCH_TEST_SIGNING_KEY_PGP", string(priv))
			_, err := signing.Load(tc.ref, tc.format)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%q, %s) = %v, want an error containing %q", tc.ref, tc.format, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "PRIVATE KEY-----\n") {
				t.Errorf("the error shows the key: %v", err)
			}
		})
	}
	if _, err := signing.Load("env:TAGWATCH_TEST_SIGNING_KEY", "ssh"); err != nil {
		t.Errorf("a good key from the environment: %v", err)
	}
}
