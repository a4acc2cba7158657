package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
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
	// SSHKey is a PEM private key held in memory (a Kubernetes Secret's
	// sshPrivateKey), used instead of SSHKeyFile; KnownHosts is
	// known_hosts content (Argo CD's ssh_known_hosts), used instead of
	// KnownHostsFile.
	SSHKey     []byte
	KnownHosts []byte
}

// Option configures Open.
type Option func(*options) error

type options struct {
	maxPacks    int // pack files before Sync clones again
	branch      string
	cacheDir    string
	auth        Auth
	author      Author
	maxAttempts int
	depth       int
	backoffBase time.Duration
	backoffMax  time.Duration
	lockWait    time.Duration
	signer      Signer
}

// Defaults of Open.
const (
	DefaultMaxAttempts = 5
	DefaultDepth       = 1
)

var defaultAuthor = Author{Name: "tagwatch", Email: "tagwatch@localhost"}

func makeOptions(opts []Option) (options, error) {
	o := options{
		author:      defaultAuthor,
		maxAttempts: DefaultMaxAttempts,
		depth:       DefaultDepth,
		backoffBase: 200 * time.Millisecond,
		backoffMax:  5 * time.Second,
		lockWait:    DefaultLockWait,
		maxPacks:    DefaultMaxPacks,
	}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return o, err
		}
	}
	if o.cacheDir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return o, fmt.Errorf("no cache directory (set one with WithCacheDir): %w", err)
		}
		o.cacheDir = filepath.Join(base, "tagwatch", "git")
	}
	return o, nil
}

// WithBranch sets the branch read and written; default: the remote's default branch.
func WithBranch(b string) Option {
	return func(o *options) error {
		if err := plumbing.NewBranchReferenceName(b).Validate(); err != nil || b == "" {
			return fmt.Errorf("invalid branch name %q", b)
		}
		o.branch = b
		return nil
	}
}

// WithCacheDir sets where working copies are cached (one per URL).
// Default: the user cache directory + tagwatch/git.
func WithCacheDir(dir string) Option {
	return func(o *options) error {
		if dir == "" {
			return errors.New("empty cache directory")
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("cache directory %s: %w", dir, err)
		}
		o.cacheDir = abs
		return nil
	}
}

// WithAuth sets credentials.
func WithAuth(a Auth) Option {
	return func(o *options) error { o.auth = a; return nil }
}

// WithAuthor sets author and committer.
func WithAuthor(a Author) Option {
	return func(o *options) error {
		if a.Name == "" || a.Email == "" {
			return fmt.Errorf("author needs a name and an email, got %q <%s>", a.Name, a.Email)
		}
		o.author = a
		return nil
	}
}

// WithMaxAttempts bounds push attempts when the remote moves (default 5).
func WithMaxAttempts(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max attempts must be at least 1, got %d", n)
		}
		o.maxAttempts = n
		return nil
	}
}

// DefaultMaxPacks is how many pack files a cached copy may gather before
// Sync clones it again (every fetch and Publish adds one; go-git does not
// repack).
const DefaultMaxPacks = 100

// WithMaxPacks sets how many pack files a cached copy may gather before
// Sync clones it again (default DefaultMaxPacks).
func WithMaxPacks(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("max packs must be at least 1, got %d", n)
		}
		o.maxPacks = n
		return nil
	}
}

// WithDepth sets how many commits a new cached copy is cloned with:
// 1 (the default) is a shallow clone holding only the branch head, which is
// all Publish needs; 0 clones the full history (for Log). A shallow cache
// opened with depth 0 is cloned again in full.
func WithDepth(n int) Option {
	return func(o *options) error {
		if n < 0 {
			return fmt.Errorf("depth must not be negative, got %d", n)
		}
		o.depth = n
		return nil
	}
}

// WithRetryBackoff sets the backoff between push attempts: the n-th retry
// waits a random duration in [d/2, d) with d = base·2ⁿ⁻¹ capped at max
// (default 200ms and 5s).
func WithRetryBackoff(base, max time.Duration) Option {
	return func(o *options) error {
		if base <= 0 || max < base {
			return fmt.Errorf("invalid backoff %v..%v", base, max)
		}
		o.backoffBase, o.backoffMax = base, max
		return nil
	}
}

// WithLockWait sets how long Open waits for a working copy that another
// process holds before it fails with ErrCacheBusy (default 30s; 0: fail at
// once).
func WithLockWait(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("lock wait must not be negative, got %v", d)
		}
		o.lockWait = d
		return nil
	}
}

// Signer signs the commits Publish makes: it is given the commit as git
// encodes it without a signature and returns the armored signature, which
// goes into the commit's gpgsig header, as git does (an OpenPGP or an SSH
// signature). It is go-git's git.Signer.
type Signer interface {
	Sign(message io.Reader) ([]byte, error)
}

// WithSigner signs every commit Publish makes.
func WithSigner(s Signer) Option {
	return func(o *options) error {
		if s == nil {
			return errors.New("nil signer")
		}
		o.signer = s
		return nil
	}
}

// Repo is a cached working copy of one remote branch. One goroutine at a time.
type Repo struct {
	lock     *cacheLock // held from Open to Close
	repo     *git.Repository
	dir      string
	branch   string
	ep       endpoint // zero when opened with OpenDir
	auth     transport.AuthMethod
	opts     options
	base     plumbing.Hash // the remote head the working tree was last reset to
	clean    bool          // the working tree and index match HEAD
	readOnly bool
	depth    int // commits a shallow copy holds from its head (0: unknown, or complete)
}

// Sentinel errors.
var (
	// ErrPushRejected: the remote branch moved since the last Sync. Publish
	// retries on it, and returns it (wrapped) once it gives up.
	ErrPushRejected = errors.New("push rejected: remote branch moved")
	// errOutsideRepo: an Edit listed a file outside the working tree (an
	// absolute path, "..", inside .git, or behind a symbolic link). A
	// guard against a faulty Edit: callers branch on writeback's
	// ErrOutsideRepo, the one sentinel of the kind.
	errOutsideRepo = errors.New("path leaves the repository")
	// ErrReadOnly is returned by Sync and Publish on a Repo opened with OpenDir.
	ErrReadOnly = errors.New("repository opened read-only")
)

// Open clones url into the cache, or reuses the cached copy (fetch and hard
// reset to the remote branch). A corrupt or foreign cache directory is re-cloned.
//
// url is a local path, file://, http(s):// (credentials in it are moved into
// the auth and never stored), ssh:// or scp-like user@host:path. The cache
// directory of a URL and branch is named by a hash of both. The working copy is locked
// until Close, for every process (flock beside it): a second Open of it
// waits up to WithLockWait, then fails with ErrCacheBusy naming the
// process that holds it. A lock dies with its process, killed or not, and
// the temporary clones that no live process owns are removed here.
func Open(ctx context.Context, url string, opts ...Option) (*Repo, error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, err
	}
	ep, err := parseEndpoint(url, &o.auth)
	if err != nil {
		return nil, err
	}
	ep.ssh = sshConfigFiles{system: sshSystemConfig}
	auth, err := ep.authMethod(o.auth)
	if err != nil {
		return nil, fmt.Errorf("git auth for %s: %w", ep.url, err)
	}
	name := cacheName(ep.url, o.branch)
	r := &Repo{
		dir:    filepath.Join(o.cacheDir, name),
		branch: o.branch,
		ep:     ep,
		auth:   auth,
		opts:   o,
	}
	if err := os.MkdirAll(o.cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("git cache directory: %w", err)
	}
	if r.lock, err = lockCache(ctx, r.dir+".lock", o.lockWait); err != nil {
		return nil, err
	}
	sweepClones(o.cacheDir, name)
	if err := r.openCache(ctx); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close releases the working copy for other processes (and other Opens of
// it in this one). The Repo must not be used after. Close of a Repo from
// OpenDir, or a second Close, does nothing.
func (r *Repo) Close() error {
	err := r.lock.release()
	r.lock = nil
	return err
}

// OpenDir opens an existing local repository in place, for read-only use
// (history): a working tree (dir or one of its subdirectories) or a bare
// repository. Sync and Publish on it return ErrReadOnly.
func OpenDir(dir string) (*Repo, error) {
	// dir itself first: a working tree root (dir/.git) or a bare repository.
	// Only then look upwards, so that a bare repository kept inside some
	// working tree opens as itself rather than as the enclosing repository.
	repo, err := git.PlainOpen(dir)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	}
	if err != nil {
		return nil, fmt.Errorf("opening git repository %s: %w", dir, err)
	}
	r := &Repo{repo: repo, dir: dir, readOnly: true}
	if wt, err := repo.Worktree(); err == nil {
		r.dir = wt.Filesystem.Root()
	}
	head, err := repo.Head()
	if err != nil {
		return nil, fmt.Errorf("reading HEAD of %s: %w", dir, err)
	}
	if head.Name().IsBranch() {
		r.branch = head.Name().Short()
	}
	r.base = head.Hash()
	return r, nil
}

// Dir is the root of the working tree (of a bare repository opened with
// OpenDir: the repository directory).
func (r *Repo) Dir() string { return r.dir }

// Branch is the branch read and written.
func (r *Repo) Branch() string { return r.branch }

// URL is the remote's URL without credentials ("" after OpenDir).
func (r *Repo) URL() string { return r.ep.url }

// Head is the commit the working tree is at.
func (r *Repo) Head() string {
	if ref, err := r.repo.Head(); err == nil {
		return ref.Hash().String()
	}
	return r.base.String()
}

// Sync fetches and hard-resets the working tree to the remote branch.
func (r *Repo) Sync(ctx context.Context) error {
	if r.readOnly {
		return fmt.Errorf("sync %s: %w", r.dir, ErrReadOnly)
	}
	h, err := r.fetchBranch(ctx)
	if err != nil {
		return err
	}
	if r.packCount() > r.opts.maxPacks {
		// Every fetch and every Publish adds a pack, and go-git does not
		// repack: start again from a fresh clone once in a while.
		return r.cloneCache(ctx)
	}
	if r.clean && r.fastReset(h) == nil {
		return nil
	}
	return r.resetTo(h)
}

// CommitInfo is one commit of Log.
type CommitInfo struct {
	Hash    string
	Message string
	Author  Author
	When    time.Time
	// Committer is who made the commit (Author is who wrote the change).
	Committer Author
	// Signature is the kind of signature the commit carries: SignatureSSH,
	// SignatureOpenPGP, SignatureX509, SignatureOther, or "" for none. It
	// says that a signature is there, not that it verifies: that takes the
	// signer's public key (git verify-commit).
	Signature string
}

// Kinds of CommitInfo.Signature.
const (
	SignatureSSH     = "ssh"
	SignatureOpenPGP = "openpgp"
	SignatureX509    = "x509"
	SignatureOther   = "other"
)

// signatureKind tells the kind of an armored signature from its header line.
func signatureKind(sig string) string {
	switch {
	case sig == "":
		return ""
	case strings.Contains(sig, "-----BEGIN SSH SIGNATURE-----"):
		return SignatureSSH
	case strings.Contains(sig, "-----BEGIN PGP SIGNATURE-----"):
		return SignatureOpenPGP
	case strings.Contains(sig, "-----BEGIN SIGNED MESSAGE-----"):
		return SignatureX509
	}
	return SignatureOther
}

// commitInfo is the CommitInfo of c; when is the time it is listed by.
func commitInfo(c *object.Commit, when time.Time) CommitInfo {
	return CommitInfo{
		Hash:      c.Hash.String(),
		Message:   c.Message,
		Author:    Author{Name: c.Author.Name, Email: c.Author.Email},
		Committer: Author{Name: c.Committer.Name, Email: c.Committer.Email},
		When:      when,
		Signature: signatureKind(c.PGPSignature),
	}
}

// Log walks history from Head, newest first, until fn returns an error
// (ErrStopLog stops cleanly). In a shallow copy (see WithDepth) it ends at
// the oldest commit fetched.
func (r *Repo) Log(ctx context.Context, fn func(CommitInfo) error) error {
	head, err := r.repo.Head()
	if err != nil {
		return fmt.Errorf("reading HEAD of %s: %w", r.dir, err)
	}
	it, err := r.repo.Log(&git.LogOptions{From: head.Hash()})
	if err != nil {
		return fmt.Errorf("walking history of %s: %w", r.dir, err)
	}
	defer it.Close()
	err = it.ForEach(func(c *object.Commit) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(commitInfo(c, c.Author.When))
	})
	switch {
	case err == nil, errors.Is(err, ErrStopLog):
		return nil
	case errors.Is(err, plumbing.ErrObjectNotFound) && r.isShallow():
		return nil // the parents of the shallow boundary were never fetched
	}
	return err
}

// ErrStopLog stops Log without an error.
var ErrStopLog = errStopLog{}

type errStopLog struct{}

func (errStopLog) Error() string { return "stop" }
