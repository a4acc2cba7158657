// Package testenv holds what tests share to find the real servers they talk
// to. A test that needs a program that is not installed skips with a message
// saying how to get it; under CI=true it fails instead, so CI never passes by
// skipping.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// CI reports whether the tests run under CI (CI=true).
func CI() bool { return os.Getenv("CI") == "true" }

// LookPath returns the path of program, or skips (fails under CI) with how
// to install it. Candidates are tried in order (names or absolute paths).
func LookPath(t testing.TB, howto string, candidates ...string) string {
	t.Helper()
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	Missing(t, "%s not found (%s); run `make test`, which installs it", candidates, howto)
	return ""
}

// Missing skips the test, or fails it under CI=true.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if CI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}
