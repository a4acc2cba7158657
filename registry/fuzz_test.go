package registry

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// FuzzCacheFile: whatever a pack file holds, reading it never panics,
// never yields an entry under another key than the one its record names,
// and a record written after it is read back. In memory, as the fuzzer
// needs it (a temporary directory per input is too slow on a slow disk);
// TestCacheSurvivesCorruption reads corrupt files from disk.
func FuzzCacheFile(f *testing.F) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	f.Add([]byte(`{"k":"meta","digest":"` + digest + `","created":"2026-01-01T00:00:00Z"}` + "\n"))
	f.Add([]byte(`{"k":"tag","ref":"r.example.com/a:1","digest":"` + digest + `"}` + "\n" + `{"k":"meta","digest":"sha256:ffff"}`))
	f.Add([]byte(`{"k":"meta","digest": "sha256:tru`))
	f.Add([]byte{0xff, 0x00, '\n', '{'})
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &diskCache{tags: map[string]tagEntry{}, metas: map[string]Meta{}}
		d.apply(data)
		for key, m := range d.metas {
			if m.Digest != key || !validDigest(key) {
				t.Errorf("entry for %s read as %s", key, m.Digest)
			}
		}
		for ref, e := range d.tags {
			if !validDigest(e.digest) || ref == "" {
				t.Errorf("tag record %q -> %q kept", ref, e.digest)
			}
		}
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(metaRecord(Meta{Digest: digest, Created: time.Unix(1, 0).UTC()})); err != nil {
			t.Fatal(err)
		}
		d.apply(append(append(slices.Clone(data), '\n'), buf.Bytes()...))
		if m, ok := d.metas[digest]; !ok || !m.Created.Equal(time.Unix(1, 0)) {
			t.Errorf("a record after it not read back: %+v %v", m, ok)
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
