package signing_test

import (
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/signing"
)

// BenchmarkSign is the cost signing adds to each commit tagwatch makes: a
// commit's encoding (about 1 KiB with its audit message) signed with an
// ed25519 SSH key and an EdDSA OpenPGP key.
func BenchmarkSign(b *testing.B) {
	priv, _ := openPGPKey(b)
	for _, bc := range []struct {
		format string
		key    []byte
	}{{signing.FormatSSH, sshKey(b)}, {signing.FormatOpenPGP, priv}} {
		s, err := signing.New(bc.format, bc.key)
		if err != nil {
			b.Fatal(err)
		}
		commit := strings.Repeat("tree 0123456789abcdef0123456789abcdef01234567\n", 24)
		b.Run(bc.format, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Sign(strings.NewReader(commit)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
