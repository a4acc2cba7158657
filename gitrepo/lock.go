package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrCacheBusy: another process holds the working copy (see Open).
var ErrCacheBusy = errors.New("git cache directory in use")

// DefaultLockWait is how long Open waits for a working copy another
// process holds.
const DefaultLockWait = 30 * time.Second

// cacheLock is an advisory lock on a working copy: flock(2) on a file beside
// it, <cacheDir>/<name>.lock, held from Open to Close. The kernel releases it
// when the holder exits, killed or not, so a lock never outlives its
// process; the file, which stays, holds the last holder's pid for the
// message of whoever waits.
type cacheLock struct{ f *os.File }

// lockCache takes the lock at path, waiting up to wait (polling) while
// another process holds it. It fails with ErrCacheBusy naming the holder.
func lockCache(ctx context.Context, path string, wait time.Duration) (*cacheLock, error) {
	deadline := time.Now().Add(wait)
	for {
		l, err := tryLock(path)
		if err != nil || l != nil {
			return l, err
		}
		if !time.Now().Before(deadline) {
			return nil, busyError(path)
		}
		t := time.NewTimer(min(100*time.Millisecond, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for %s: %w", busyError(path), ctx.Err())
		case <-t.C:
		}
	}
}

// tryLock takes the lock at path if it is free: nil, nil when another
// process holds it.
func tryLock(path string) (*cacheLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("git cache lock: %w", err)
	}
	ok, err := flock(f)
	if err != nil || !ok {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("git cache lock %s: %w", path, err)
		}
		return nil, nil
	}
	// Best effort: the pid is only for the message of whoever waits.
	if f.Truncate(0) == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &cacheLock{f: f}, nil
}

func busyError(path string) error {
	dir := strings.TrimSuffix(path, ".lock")
	b, _ := os.ReadFile(path)
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		return fmt.Errorf("%w: git cache directory %s is in use by process %d (two tagwatch processes on one --cache-dir?)", ErrCacheBusy, dir, pid)
	}
	return fmt.Errorf("%w: git cache directory %s is in use by another process", ErrCacheBusy, dir)
}

// release lets the lock go; the file stays for the next holder.
func (l *cacheLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor releases the flock
	l.f = nil
	return err
}

const cloneInfix = ".clone-"

// sweepClones removes the temporary clones (<name>.clone-*) that no live
// process owns, such as those a clone killed with SIGKILL left. The caller
// holds the lock of own, so own's are stale; another working copy's are
// removed only when its lock can be taken at once (its owner is gone), and
// left alone otherwise. Errors are ignored: it is only tidying.
func sweepClones(cacheDir, own string) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return
	}
	byName := map[string][]string{}
	for _, e := range entries {
		name, _, ok := strings.Cut(e.Name(), cloneInfix)
		if ok && e.IsDir() && name != "" {
			byName[name] = append(byName[name], e.Name())
		}
	}
	for name, dirs := range byName {
		if name == own {
			removeAll(cacheDir, dirs)
			continue
		}
		l, err := tryLock(filepath.Join(cacheDir, name+".lock"))
		if err != nil || l == nil {
			continue // held: a live process may be cloning into these
		}
		removeAll(cacheDir, dirs)
		l.release()
	}
}

func removeAll(dir string, names []string) {
	for _, n := range names {
		_ = os.RemoveAll(filepath.Join(dir, n))
	}
}
