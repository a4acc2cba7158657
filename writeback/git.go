package writeback

import (
	"context"
	"time"
)

// Author is the identity commits are made with (author and committer).
type Author struct{ Name, Email string }

// Auth holds git credentials; every field is optional. Secrets never appear
// in logs, errors or the cached repository's config.
type Auth struct {
	Username         string
	Password         string // password or token (http/https)
	SSHKeyFile       string
	SSHKeyPassphrase string
	KnownHostsFile   string // ssh host keys are always verified; default ~/.ssh/known_hosts
}

// Option configures Open.
type Option func(*repoOptions) error

type repoOptions struct{}

// WithBranch sets the branch read and written; default: the remote's default branch.
func WithBranch(b string) Option { panic("not implemented") }

// WithCacheDir sets where working copies are cached (one per URL).
func WithCacheDir(dir string) Option { panic("not implemented") }

// WithAuth sets credentials.
func WithAuth(a Auth) Option { panic("not implemented") }

// WithAuthor sets author and committer.
func WithAuthor(a Author) Option { panic("not implemented") }

// WithMaxAttempts bounds push attempts when the remote moves (default 5).
func WithMaxAttempts(n int) Option { panic("not implemented") }

// Repo is a cached working copy of one remote branch. One goroutine at a time.
type Repo struct{}

// Open clones url into the cache, or reuses the cached copy (fetch and hard
// reset to the remote branch). A corrupt or foreign cache directory is re-cloned.
func Open(ctx context.Context, url string, opts ...Option) (*Repo, error) {
	panic("not implemented")
}

// OpenDir opens an existing local clone in place, read-only use (history).
func OpenDir(dir string) (*Repo, error) { panic("not implemented") }

// Dir is the root of the working tree.
func (r *Repo) Dir() string { panic("not implemented") }

// Branch is the branch read and written.
func (r *Repo) Branch() string { panic("not implemented") }

// Head is the commit the working tree is at.
func (r *Repo) Head() string { panic("not implemented") }

// Sync fetches and hard-resets the working tree to the remote branch.
func (r *Repo) Sync(ctx context.Context) error { panic("not implemented") }

// Edit makes one commit. Apply edits the working tree rooted at dir and
// returns the commit message and the files it changed (relative to dir);
// no files means nothing to commit. Apply may run more than once: after a
// rejected push it runs again on the new remote head, so it must decide from
// what it reads there, not from what it saw before.
type Edit struct {
	Name  string
	Apply func(dir string) (message string, files []string, err error)
}

// EditResult is the outcome of one Edit in Publish.
type EditResult struct {
	Name    string
	Commit  string // "" when nothing was committed or Err is set
	Message string
	Files   []string
	Err     error // Apply failed: nothing of this edit was committed
}

// PublishResult is the outcome of Publish.
type PublishResult struct {
	Edits    []EditResult
	Pushed   bool // false when there was nothing to push
	Attempts int
	Head     string
}

// Publish applies edits in order on the remote head, one commit each, and
// pushes them all in one push. When the push is rejected because the remote
// moved, it syncs, re-applies the edits and tries again (bounded, jittered
// backoff). It never force-pushes. A failing Apply fails only its own edit.
func (r *Repo) Publish(ctx context.Context, edits []Edit) (PublishResult, error) {
	panic("not implemented")
}

// CommitInfo is one commit of Log.
type CommitInfo struct {
	Hash    string
	Message string
	Author  Author
	When    time.Time
}

// Log walks history from Head, newest first, until fn returns an error
// (ErrStopLog stops cleanly).
func (r *Repo) Log(ctx context.Context, fn func(CommitInfo) error) error {
	panic("not implemented")
}

// ErrStopLog stops Log without an error.
var ErrStopLog = errStopLog{}

type errStopLog struct{}

func (errStopLog) Error() string { return "stop" }
