package registry

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzCacheFile: whatever a cache file holds, reading it never panics and
// never yields an entry for another digest.
func FuzzCacheFile(f *testing.F) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f.Add([]byte(`{"digest":"` + digest + `","created":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"digest":"sha256:ffff","created":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"digest": "sha256:tru`))
	f.Add([]byte{0xff, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := newDiskCache(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		p, _ := d.metaPath(digest)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if m, ok := d.meta(digest); ok && m.Digest != digest {
			t.Errorf("entry for %s read as %s", digest, m.Digest)
		}
		if err := d.storeMeta(Meta{Digest: digest, Created: time.Unix(1, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
		if m, ok := d.meta(digest); !ok || !m.Created.Equal(time.Unix(1, 0)) {
			t.Errorf("rewritten entry not read back: %+v %v", m, ok)
		}
	})
}

// FuzzCredentials: a credentials value never shows up in an error.
func FuzzCredentials(f *testing.F) {
	f.Add("user:pass")
	f.Add("no-colon-secret")
	f.Add(":only-password")
	f.Add("  user:pa:ss \n")
	// In memory: a temporary file per input made the fuzzer's workers miss
	// their shutdown deadline on a slow disk. The file and env readers are
	// covered by the credentials tests.
	f.Fuzz(func(t *testing.T, secret string) {
		where := "file:/run/secrets/registry"
		cfg, err := parseUserPass(secret, where)
		if err != nil {
			if s := strings.TrimSpace(secret); len(s) >= 4 && strings.Contains(err.Error(), s) && !strings.Contains(where, s) &&
				!strings.Contains(`credentials from : want "user:pass"`, s) {
				t.Errorf("error shows the secret: %v", err)
			}
			return
		}
		if got := cfg.Username + ":" + cfg.Password; got != strings.TrimSpace(secret) || cfg.Username == "" {
			t.Errorf("parseUserPass(%q) = %q:%q", secret, cfg.Username, cfg.Password)
		}
	})
}
