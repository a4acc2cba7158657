package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSecretFrom(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte("  from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TAGWATCH_TEST_WEBHOOK_SECRET", "from-env")
	tests := []struct {
		ref, want, wantErr string
	}{
		{ref: "env:TAGWATCH_TEST_WEBHOOK_SECRET", want: "from-env"},
		{ref: "file:" + file, want: "from-file"},
		{ref: "env:TAGWATCH_TEST_WEBHOOK_UNSET", wantErr: "environment variable TAGWATCH_TEST_WEBHOOK_UNSET is not set"},
		{ref: "file:" + filepath.Join(dir, "missing"), wantErr: filepath.Join(dir, "missing")},
	}
	for _, tc := range tests {
		t.Run(tc.ref, func(t *testing.T) {
			fn, err := SecretFrom(tc.ref)
			if err != nil {
				t.Fatal(err)
			}
			got, err := fn()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	// Read at use time: a rotated file applies on the next call.
	fn, _ := SecretFrom("file:" + file)
	if err := os.WriteFile(file, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := fn(); got != "rotated" {
		t.Errorf("after rotation: %q", got)
	}

	// A secret written in place of a reference is refused, and not echoed.
	for _, ref := range []string{"", "hunter2", "env:", "file:", "vault:hunter2"} {
		if _, err := SecretFrom(ref); err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("SecretFrom(%q) = %v, want an error that does not echo it", ref, err)
		}
	}
}
