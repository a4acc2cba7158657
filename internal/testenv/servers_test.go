package testenv_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

func TestFindServerPrefersTheCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("TAGWATCH_SERVERS_CACHE", cache)
	bin := filepath.Join(cache, "tool-v1.2.3", "bin", "tool")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := testenv.FindServer("tool-v1.2.3", "tool")
	if err != nil || got != bin {
		t.Errorf("FindServer = %q, %v; want %q", got, err, bin)
	}
	// Another version is not in the cache and not on PATH.
	if _, err := testenv.FindServer("tool-v2.0.0", "tool"); !errors.Is(err, testenv.ErrNotInstalled) {
		t.Errorf("FindServer of a version not built: err = %v, want ErrNotInstalled", err)
	}
}

func TestFindServerFallsBackToPath(t *testing.T) {
	t.Setenv("TAGWATCH_SERVERS_CACHE", t.TempDir())
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	got, err := testenv.FindServer("tool-v1.2.3", "tool")
	if want := filepath.Join(dir, "tool"); err != nil || got != want {
		t.Errorf("FindServer = %q, %v; want %q", got, err, want)
	}
	if _, err := testenv.FindServer("", "other"); !errors.Is(err, testenv.ErrNotInstalled) {
		t.Errorf("FindServer of a program nowhere: err = %v, want ErrNotInstalled", err)
	}
}

func TestProcessLogsWaitsAndStops(t *testing.T) {
	sh := testenv.LookPath(t, "Debian package dash", "sh")
	dir := t.TempDir()
	cmd := exec.Command(sh, "-c", "echo starting; echo oops >&2; touch ready; exec sleep 60")
	cmd.Dir = dir
	p, err := testenv.StartProcess(cmd, filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.WaitReady(ctx, func(context.Context) error {
		_, err := os.Stat(filepath.Join(dir, "ready"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop()
	select {
	case <-p.Done():
	default:
		t.Fatal("Done is open after Stop")
	}
	tail := p.Tail(10)
	for _, want := range []string{"starting", "oops", "sleep 60"} {
		if !strings.Contains(tail, want) {
			t.Errorf("log tail lacks %q:\n%s", want, tail)
		}
	}
	p.Stop() // a second Stop returns at once
}

func TestWaitReadyReportsAnEarlyExit(t *testing.T) {
	sh := testenv.LookPath(t, "Debian package dash", "sh")
	p, err := testenv.StartProcess(exec.Command(sh, "-c", "echo bad flag; exit 3"), filepath.Join(t.TempDir(), "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = p.WaitReady(ctx, func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited") || !strings.Contains(err.Error(), "bad flag") {
		t.Errorf("WaitReady = %v, want an error saying the program exited, with its log", err)
	}
}

func TestTailFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(f, []byte("1\n2\n3\n4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, want := testenv.TailFile(f, 2), "3\n4\n"; got != want {
		t.Errorf("TailFile(2) = %q, want %q", got, want)
	}
	if got, want := testenv.TailFile(f, 10), "1\n2\n3\n4\n"; got != want {
		t.Errorf("TailFile(10) = %q, want %q", got, want)
	}
}

func TestRetryPortClash(t *testing.T) {
	dir := t.TempDir()
	var dirs []string
	_, err := testenv.RetryPortClash(dir, func(d string) (int, error) {
		dirs = append(dirs, d)
		return 0, errors.New("listen tcp 127.0.0.1:1: bind: address already in use")
	})
	if err == nil || len(dirs) != 3 || dirs[2] != filepath.Join(dir, "2") {
		t.Errorf("a port clash: %d attempts in %v, error %v; want 3 attempts, the last in %s/2", len(dirs), dirs, err, dir)
	}
	dirs = nil
	_, err = testenv.RetryPortClash(dir, func(d string) (int, error) {
		dirs = append(dirs, d)
		return 0, errors.New("no such binary")
	})
	if err == nil || len(dirs) != 1 {
		t.Errorf("another error: %d attempts, error %v; want 1 attempt and the error", len(dirs), err)
	}
	got, err := testenv.RetryPortClash(dir, func(d string) (string, error) { return filepath.Base(d), nil })
	if err != nil || got != "0" {
		t.Errorf("a start that works = %q, %v; want 0, nil", got, err)
	}
}

func TestFreePortsAreDistinct(t *testing.T) {
	ports, err := testenv.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("FreePorts(4) = %v: want 4 distinct ports", ports)
		}
		seen[p] = true
	}
}
