package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// execute runs the CLI in process with args and returns stdout and the
// error; exitCode(err) is the status the process would exit with.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(&globals{})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestVersion(t *testing.T) {
	out, err := execute(t, "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "tagwatch ") || !strings.Contains(out, "commit ") {
		t.Errorf("version output = %q", out)
	}
}

// TestExitCode: one mapping from errors to exit statuses, for the process
// and for the in-process tests; a wrapped usage error is still one.
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, exitOK},
		{"failure", errors.New("pushing: rejected"), exitFailed},
		{"usage", usagef("--config is required"), exitUsage},
		{"wrapped usage", fmt.Errorf("run: %w", usagef("-o: %q is not one of text, json", "yaml")), exitUsage},
		{"unknown command", errors.New(`unknown command "nope" for "tagwatch"`), exitUsage},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("%s: exitCode(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestExitCodes(t *testing.T) {
	if got := run([]string{"version"}); got != exitOK {
		t.Errorf("version: exit %d, want %d", got, exitOK)
	}
	if got := run([]string{"--no-such-flag"}); got != exitUsage {
		t.Errorf("unknown flag: exit %d, want %d", got, exitUsage)
	}
	if got := run([]string{"version", "extra"}); got != exitUsage {
		t.Errorf("version with an argument: exit %d, want %d", got, exitUsage)
	}
	if got := run([]string{"no-such-command"}); got != exitUsage {
		t.Errorf("unknown command: exit %d, want %d", got, exitUsage)
	}
	if got := run([]string{"--log-format", "xml", "version"}); got != exitUsage {
		t.Errorf("bad log format: exit %d, want %d", got, exitUsage)
	}
}
