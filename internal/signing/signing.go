// Package signing makes the signers of tagwatch's commits (DESIGN §9,
// git.signing): SSH signatures in the sshsig format git writes with
// gpg.format=ssh (namespace "git", SHA-512), and OpenPGP detached
// signatures as gpg writes them. gitrepo puts the armored signature in the
// commit's gpgsig header, so `git verify-commit` checks it with the
// signer's public key.
//
// A key is read and parsed once, when the configuration is loaded: a key
// that cannot be read or parsed, or that needs a passphrase, is an error
// then, not at the first commit.
package signing

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Formats of git.signing.format.
const (
	FormatSSH     = "ssh"
	FormatOpenPGP = "openpgp"
)

// Formats lists the formats, for messages.
var Formats = []string{FormatSSH, FormatOpenPGP}

// Signer signs a commit's encoding (gitrepo.Signer, go-git's git.Signer).
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// Load reads the key ref names ("file:/path" or "env:VAR", whose value is
// the key itself) and parses it for format.
func Load(ref, format string) (Signer, error) {
	key, err := ReadKey(ref)
	if err != nil {
		return nil, err
	}
	return New(format, key)
}

// ReadKey reads the key a reference names: "file:/path" or "env:VAR".
// Errors name the reference, never the key.
func ReadKey(ref string) ([]byte, error) {
	kind, where, _ := strings.Cut(ref, ":")
	switch {
	case kind == "file" && where != "":
		b, err := os.ReadFile(where)
		if err != nil {
			return nil, fmt.Errorf("reading the signing key: %w", err)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil, fmt.Errorf("the signing key file %s is empty", where)
		}
		return b, nil
	case kind == "env" && where != "":
		v, ok := os.LookupEnv(where)
		switch {
		case !ok:
			return nil, fmt.Errorf("environment variable %s (the signing key) is not set", where)
		case strings.TrimSpace(v) == "":
			return nil, fmt.Errorf("environment variable %s (the signing key) is empty", where)
		}
		return []byte(v), nil
	}
	return nil, errors.New("the signing key must be file:/path or env:VAR")
}

// New parses key (a private key: OpenSSH or PEM for ssh, armored or binary
// for openpgp) and returns its signer. The key must not need a
// passphrase.
func New(format string, key []byte) (Signer, error) {
	switch format {
	case FormatSSH:
		return newSSH(key)
	case FormatOpenPGP:
		return newOpenPGP(key)
	}
	return nil, fmt.Errorf("signing format %q: want %s", format, strings.Join(Formats, " or "))
}

// sshSigner makes sshsig signatures in git's namespace.
type sshSigner struct{ s ssh.Signer }

func newSSH(key []byte) (Signer, error) {
	s, err := ssh.ParsePrivateKey(key)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		return nil, errors.New("the ssh signing key is protected by a passphrase: tagwatch signs unattended, give it a key without one (ssh-keygen -p)")
	case err != nil:
		return nil, fmt.Errorf("the signing key is not an ssh private key: %w", err)
	}
	return sshSigner{s}, nil
}

// Sign signs message as `ssh-keygen -Y sign -n git` does.
func (s sshSigner) Sign(message io.Reader) ([]byte, error) {
	sig, err := sshsig.Sign(message, s.s, sshsig.HashSHA512, "git")
	if err != nil {
		return nil, err
	}
	return sshsig.Armor(sig), nil
}

// PublicKey is the key's public half in authorized_keys format (for an
// allowed-signers file); "" for an OpenPGP signer.
func PublicKey(s Signer) string {
	if ss, ok := s.(sshSigner); ok {
		return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ss.s.PublicKey())))
	}
	return ""
}

// openPGPSigner makes armored detached OpenPGP signatures.
type openPGPSigner struct{ e *openpgp.Entity }

func newOpenPGP(key []byte) (Signer, error) {
	var list openpgp.EntityList
	var err error
	if bytes.Contains(key, []byte("-----BEGIN ")) && !bytes.Contains(key, []byte("-----BEGIN PGP")) {
		return nil, errors.New("the signing key is not an OpenPGP key but another PEM key (an SSH key goes with format: ssh)")
	}
	if bytes.Contains(key, []byte("-----BEGIN PGP")) {
		list, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(key))
	} else {
		list, err = openpgp.ReadKeyRing(bytes.NewReader(key))
	}
	if err != nil {
		return nil, fmt.Errorf("the signing key is not an OpenPGP key: %w", err)
	}
	for _, e := range list {
		if e.PrivateKey == nil {
			continue
		}
		if e.PrivateKey.Encrypted {
			return nil, errors.New("the OpenPGP signing key is protected by a passphrase: tagwatch signs unattended, give it a key without one")
		}
		if _, ok := e.SigningKey(time.Now()); !ok {
			return nil, errors.New("the OpenPGP key has no valid signing key (expired or revoked?)")
		}
		return openPGPSigner{e}, nil
	}
	return nil, errors.New("the OpenPGP key holds no private key (export it with gpg --export-secret-keys --armor)")
}

// Sign signs message with a detached, armored signature, as gpg does for git.
func (s openPGPSigner) Sign(message io.Reader) ([]byte, error) {
	var b bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&b, s.e, message, &packet.Config{DefaultHash: crypto.SHA256}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
