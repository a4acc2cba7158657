package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// execute runs the CLI in process with args, wired as runWith wires it,
// and returns stdout and the error; exitCode(err) is the status the
// process would exit with.
func execute(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd(&globals{liveTest: runLiveTest})
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

// TestErrorOutput: a configuration's list of problems reaches stderr as
// lines a person reads in text mode, and as one JSON entry in json mode.
func TestErrorOutput(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "tagwatch.yaml")
	bad := "git:\n  url: https://git.example.com/deploy.git\nenvironments:\n  - name: Staging\n    path: envs/staging\n    colour: blue\n    images: []\n"
	if err := os.WriteFile(cfg, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}

	var text bytes.Buffer
	if got := runWith([]string{"run", "--once", "--config", cfg}, &text); got != exitUsage {
		t.Fatalf("text: exit %d, want %d; stderr:\n%s", got, exitUsage, text.String())
	}
	var problems int
	for _, l := range strings.Split(text.String(), "\n") {
		if strings.Contains(l, "tagwatch.yaml:") {
			problems++
		}
	}
	if problems < 2 || strings.Contains(text.String(), `\n`) {
		t.Errorf("text: want one problem a line (at least 2), got %d lines:\n%s", problems, text.String())
	}

	var js bytes.Buffer
	if got := runWith([]string{"--log-format", "json", "run", "--once", "--config", cfg}, &js); got != exitUsage {
		t.Fatalf("json: exit %d, want %d", got, exitUsage)
	}
	type entry struct {
		Level    string `json:"level"`
		Msg      string `json:"msg"`
		ExitCode int    `json:"exitCode"`
		File     string `json:"file"`
		Line     int    `json:"line"`
		Field    string `json:"field"`
	}
	// One entry per problem, none with a newline in its message.
	var entries []entry
	for _, l := range strings.Split(strings.TrimSpace(js.String()), "\n") {
		var e entry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("json: stderr line is not JSON: %v\n%s", err, js.String())
		}
		entries = append(entries, e)
	}
	if len(entries) != problems {
		t.Fatalf("json: %d entries, want one per problem (%d):\n%s", len(entries), problems, js.String())
	}
	var fields []string
	for _, e := range entries {
		if e.Level != "error" || e.ExitCode != exitUsage || strings.Contains(e.Msg, "\n") || e.File != cfg || e.Line == 0 {
			t.Errorf("json: entry = %+v", e)
		}
		fields = append(fields, e.Field)
	}
	if !slices.Contains(fields, "environments[0].colour") || !slices.Contains(fields, "environments[0].name") {
		t.Errorf("json: fields %q lack colour and name", fields)
	}
}
