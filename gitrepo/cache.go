package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/go-git/go-billy/v5/osfs"
	git "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

const remoteName = "origin"

// openCache makes r.dir a working copy of the remote branch at its head:
// reused (fetch and hard reset) when it is a healthy clone of the same
// remote, cloned again otherwise. A failing fetch is returned as is: the
// network being down is no reason to throw the cache away.
func (r *Repo) openCache(ctx context.Context) error {
	if repo := r.openCached(); repo != nil {
		r.repo = repo
		if err := r.resolveBranch(ctx); err != nil {
			return err
		}
		h, err := r.fetchBranch(ctx)
		if err != nil {
			return err
		}
		if err := r.resetTo(h); err == nil {
			return r.cleanWorktree()
		}
		// A copy that cannot be reset is corrupt: clone it again.
	}
	return r.cloneCache(ctx)
}

// openCached opens the cached copy when it is a readable clone of the
// same remote (and not shallow when full history is wanted); nil otherwise.
func (r *Repo) openCached() *git.Repository {
	if _, err := os.Stat(r.dir); err != nil {
		return nil
	}
	repo, err := plainOpen(r.dir)
	if err != nil {
		return nil
	}
	rem, err := repo.Remote(remoteName)
	if err != nil || len(rem.Config().URLs) != 1 || rem.Config().URLs[0] != r.ep.url {
		return nil
	}
	if r.opts.depth == 0 {
		if sh, err := repo.Storer.Shallow(); err != nil || len(sh) > 0 {
			return nil
		}
	}
	head, err := repo.Head()
	if err != nil {
		return nil
	}
	c, err := repo.CommitObject(head.Hash())
	if err != nil {
		return nil
	}
	if _, err := c.Tree(); err != nil {
		return nil
	}
	if _, err := repo.Storer.Index(); err != nil {
		return nil
	}
	return repo
}

// plainOpen opens the working copy at dir keeping a few pack files open
// between reads: go-git reopens the pack for every object otherwise.
func plainOpen(dir string) (*git.Repository, error) {
	dot := osfs.New(filepath.Join(dir, git.GitDirName))
	if fi, err := dot.Stat("."); err != nil || !fi.IsDir() {
		return nil, git.ErrRepositoryNotExists
	}
	st := filesystem.NewStorageWithOptions(dot, cache.NewObjectLRUDefault(), filesystem.Options{MaxOpenDescriptors: 16})
	return git.Open(st, osfs.New(dir))
}

// resolveBranch sets r.branch to the remote's default branch when none
// was configured.
func (r *Repo) resolveBranch(ctx context.Context) error {
	if r.branch != "" {
		return nil
	}
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return err
	}
	refs, err := rem.ListContext(ctx, &git.ListOptions{Auth: r.auth})
	if err != nil {
		return r.ep.wrapError("listing branches of", err)
	}
	for _, ref := range refs {
		if ref.Name() == plumbing.HEAD && ref.Type() == plumbing.SymbolicReference && ref.Target().IsBranch() {
			r.branch = ref.Target().Short()
			return nil
		}
	}
	return fmt.Errorf("remote %s has no default branch (HEAD); set the branch", r.ep.url)
}

// cloneCache clones the remote branch into a fresh directory beside r.dir and
// moves it into place, so a clone cut short never looks like a cache.
func (r *Repo) cloneCache(ctx context.Context) error {
	if err := os.MkdirAll(r.opts.cacheDir, 0o700); err != nil {
		return fmt.Errorf("git cache directory: %w", err)
	}
	tmp, err := os.MkdirTemp(r.opts.cacheDir, filepath.Base(r.dir)+".clone-")
	if err != nil {
		return fmt.Errorf("git cache directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	co := &git.CloneOptions{
		URL:          r.ep.url,
		Auth:         r.auth,
		RemoteName:   remoteName,
		SingleBranch: true,
		Depth:        r.opts.depth,
		Tags:         git.NoTags,
	}
	if r.branch != "" {
		co.ReferenceName = plumbing.NewBranchReferenceName(r.branch)
	}
	repo, err := git.PlainCloneContext(ctx, tmp, false, co)
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) || errors.Is(err, git.NoMatchingRefSpecError{}) {
			return fmt.Errorf("cloning %s: branch %q not found", r.ep.url, r.branch)
		}
		return r.ep.wrapError("cloning", err)
	}
	head, err := repo.Head()
	if err != nil {
		return fmt.Errorf("cloning %s: %w", r.ep.url, err)
	}
	if r.branch == "" {
		r.branch = head.Name().Short()
	}
	if err := os.RemoveAll(r.dir); err != nil {
		return fmt.Errorf("removing stale git cache %s: %w", r.dir, err)
	}
	if err := os.Rename(tmp, r.dir); err != nil {
		return fmt.Errorf("git cache directory: %w", err)
	}
	if r.repo, err = plainOpen(r.dir); err != nil {
		return fmt.Errorf("opening fresh clone %s: %w", r.dir, err)
	}
	if err := r.writeLinks(); err != nil {
		return fmt.Errorf("checking out %s: %w", r.dir, err)
	}
	r.base, r.clean, r.depth = head.Hash(), true, r.opts.depth
	return nil
}

// writeLinks writes every symbolic link of the index with its target as
// Git has it (the blob), byte for byte. go-git checks links out through
// go-billy's chroot filesystem, which rewrites an absolute target into the
// working tree (/envs/x becomes <dir>/envs/x, and points into the repository,
// or into the temporary clone that is gone): a checkout by git would write
// /envs/x, and what a link points at must not depend on who checked it out.
// Only links that differ are rewritten; the index is left as it is.
func (r *Repo) writeLinks() error {
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return err
	}
	for _, e := range idx.Entries {
		if e.Mode != filemode.Symlink {
			continue
		}
		blob, err := r.repo.BlobObject(e.Hash)
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		rd, err := blob.Reader()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		target, err := io.ReadAll(rd)
		rd.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", e.Name, err)
		}
		full := filepath.Join(r.dir, filepath.FromSlash(e.Name))
		want := filepath.FromSlash(string(target))
		if got, err := os.Readlink(full); err == nil && got == want {
			continue
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.Symlink(want, full); err != nil {
			return err
		}
	}
	return nil
}

func (r *Repo) packCount() int {
	entries, err := os.ReadDir(filepath.Join(r.dir, git.GitDirName, "objects", "pack"))
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if filepath.Ext(e.Name()) == ".pack" {
			n++
		}
	}
	return n
}

// fetchBranch fetches the branch into its remote-tracking ref and returns the
// remote head. A shallow copy stays as deep as it is (1 commit, or what Walk
// deepened it to), counted from the new head; a full one stays full.
func (r *Repo) fetchBranch(ctx context.Context) (plumbing.Hash, error) {
	tracking := plumbing.NewRemoteReferenceName(remoteName, r.branch)
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", plumbing.NewBranchReferenceName(r.branch), tracking))
	fo := &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.auth,
		Tags:       git.NoTags,
	}
	if r.isShallow() {
		if r.depth == 0 {
			r.depth = r.shallowDepth()
		}
		fo.Depth = r.depth
	}
	err := r.repo.FetchContext(ctx, fo)
	if err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		if errors.Is(err, git.NoMatchingRefSpecError{}) {
			return plumbing.ZeroHash, fmt.Errorf("fetching %s: branch %q not found", r.ep.url, r.branch)
		}
		return plumbing.ZeroHash, r.ep.wrapError("fetching", err)
	}
	ref, err := r.repo.Reference(tracking, true)
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("fetching %s: branch %q: %w", r.ep.url, r.branch, err)
	}
	return ref.Hash(), nil
}

// fastReset moves a clean working tree (one that matches its HEAD, as
// after Open and Publish) to h by writing only the files that differ between
// the two trees, and records them in the index: on a large repository this
// is much cheaper than a hard reset, which looks at every file.
func (r *Repo) fastReset(h plumbing.Hash) error {
	head, err := r.repo.Head()
	if err != nil {
		return err
	}
	from, err := r.treeOf(head.Hash())
	if err != nil {
		return err
	}
	to, err := r.treeOf(h)
	if err != nil {
		return err
	}
	changes, err := object.DiffTree(from, to)
	if err != nil {
		return err
	}
	changed := make(map[string]fileChange, len(changes))
	for _, ch := range changes {
		action, err := ch.Action()
		if err != nil {
			return err
		}
		if action == merkletrie.Delete {
			p := ch.From.Name
			full := filepath.Join(r.dir, filepath.FromSlash(p))
			if err := os.Remove(full); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			for d := filepath.Dir(full); d != r.dir && os.Remove(d) == nil; d = filepath.Dir(d) {
			}
			changed[p] = fileChange{path: p, deleted: true}
			continue
		}
		_, f, err := ch.Files()
		if err != nil || f == nil {
			return fmt.Errorf("%s: %v", ch.To.Name, err) // a submodule: let a hard reset deal with it
		}
		p := ch.To.Name // f.Name is only the base name
		if err := r.checkout(f, filepath.Join(r.dir, filepath.FromSlash(p))); err != nil {
			return err
		}
		changed[p] = fileChange{path: p, hash: f.Hash, mode: f.Mode}
	}
	if err := r.updateIndex(changed); err != nil {
		return err
	}
	branch := plumbing.NewBranchReferenceName(r.branch)
	if err := r.repo.Storer.SetReference(plumbing.NewHashReference(branch, h)); err != nil {
		return err
	}
	if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return err
	}
	r.base = h
	return nil
}

func (r *Repo) treeOf(commit plumbing.Hash) (*object.Tree, error) {
	c, err := r.repo.CommitObject(commit)
	if err != nil {
		return nil, err
	}
	return c.Tree()
}

// resetTo points the branch and HEAD at h and makes the index and the
// working tree match it (git reset --hard).
func (r *Repo) resetTo(h plumbing.Hash) error {
	branch := plumbing.NewBranchReferenceName(r.branch)
	if err := r.repo.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, branch)); err != nil {
		return fmt.Errorf("reset %s: %w", r.dir, err)
	}
	wt, err := r.repo.Worktree()
	if err != nil {
		return fmt.Errorf("reset %s: %w", r.dir, err)
	}
	if err := wt.Reset(&git.ResetOptions{Commit: h, Mode: git.HardReset}); err != nil {
		return fmt.Errorf("reset %s to %s: %w", r.dir, h, err)
	}
	if err := r.writeLinks(); err != nil {
		return fmt.Errorf("reset %s to %s: %w", r.dir, h, err)
	}
	r.base, r.clean = h, true
	return nil
}

// cleanWorktree removes untracked files, such as those a crashed run left.
func (r *Repo) cleanWorktree() error {
	wt, err := r.repo.Worktree()
	if err != nil {
		return err
	}
	if err := wt.Clean(&git.CleanOptions{Dir: true}); err != nil {
		return fmt.Errorf("cleaning %s: %w", r.dir, err)
	}
	return nil
}

func (r *Repo) isShallow() bool {
	sh, err := r.repo.Storer.Shallow()
	return err == nil && len(sh) > 0
}
