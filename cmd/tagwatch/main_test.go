package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	g := &globals{}
	root := newRootCmd(g)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"version"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "tagwatch ") || !strings.Contains(out.String(), "commit ") {
		t.Errorf("version output = %q", out.String())
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
