package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The commits of Publish are built with go-git's object layer rather than
// Worktree.Add/Commit: those rebuild every tree of the index and rewrite the
// whole index for each file, which is slow for 100 commits on a repository
// of 10,000 files. Here a commit makes one blob per changed file and one
// tree per directory on its path, nothing else. The new objects are kept in
// memory (overlay) and written as one pack, which is also what is
// pushed; the index is brought up to date once per attempt.

// overlay reads objects from memory first, then from the repository,
// and keeps every object written to it in memory, in order.
type overlay struct {
	storer.EncodedObjectStorer // the repository's objects
	mem                        *memory.ObjectStorage
	order                      []plumbing.Hash
}

func (r *Repo) newOverlay() *overlay {
	return &overlay{EncodedObjectStorer: r.repo.Storer, mem: &memory.NewStorage().ObjectStorage}
}

func (o *overlay) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }

func (o *overlay) SetEncodedObject(obj plumbing.EncodedObject) (plumbing.Hash, error) {
	h := obj.Hash()
	if _, ok := o.mem.Objects[h]; ok {
		return h, nil
	}
	if _, err := o.mem.SetEncodedObject(obj); err != nil {
		return h, err
	}
	o.order = append(o.order, h)
	return h, nil
}

func (o *overlay) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, err := o.mem.EncodedObject(t, h); err == nil {
		return obj, nil
	}
	return o.EncodedObjectStorer.EncodedObject(t, h)
}

func (o *overlay) HasEncodedObject(h plumbing.Hash) error {
	if o.mem.HasEncodedObject(h) == nil {
		return nil
	}
	return o.EncodedObjectStorer.HasEncodedObject(h)
}

func (o *overlay) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if sz, err := o.mem.EncodedObjectSize(h); err == nil {
		return sz, nil
	}
	return o.EncodedObjectStorer.EncodedObjectSize(h)
}

// pack encodes the objects of hashes (all held in memory) as a packfile.
func (o *overlay) pack(hashes []plumbing.Hash, refDeltas bool) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := packfile.NewEncoder(&buf, o.mem, refDeltas).Encode(hashes, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fileChange is one staged file: its new blob, or its removal.
type fileChange struct {
	path    string // slash-separated, relative to the root
	hash    plumbing.Hash
	mode    filemode.FileMode
	deleted bool
}

// stage writes blobs for files (relative to the working tree root) as
// they are in the working tree; a file that no longer exists is a removal.
// It returns the hashes of the objects it wrote too.
func (r *Repo) stage(ov *overlay, files []string) ([]fileChange, []plumbing.Hash, error) {
	changes := make([]fileChange, 0, len(files))
	var written []plumbing.Hash
	seen := map[string]bool{}
	for _, f := range files {
		p, err := cleanPath(f)
		if err != nil {
			return nil, nil, err
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		if err := r.checkParents(p); err != nil {
			return nil, nil, err
		}
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		fi, err := os.Lstat(full)
		if errors.Is(err, fs.ErrNotExist) {
			changes = append(changes, fileChange{path: p, deleted: true})
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("staging %s: %w", p, err)
		}
		var content []byte
		mode := filemode.Regular
		switch {
		case fi.Mode().IsRegular():
			if content, err = os.ReadFile(full); err != nil {
				return nil, nil, fmt.Errorf("staging %s: %w", p, err)
			}
			if fi.Mode()&0o111 != 0 {
				mode = filemode.Executable
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(full)
			if err != nil {
				return nil, nil, fmt.Errorf("staging %s: %w", p, err)
			}
			content, mode = []byte(filepath.ToSlash(target)), filemode.Symlink
		default:
			return nil, nil, fmt.Errorf("staging %s: not a regular file", p)
		}
		h, err := writeObject(ov, plumbing.BlobObject, content)
		if err != nil {
			return nil, nil, fmt.Errorf("staging %s: %w", p, err)
		}
		written = append(written, h)
		changes = append(changes, fileChange{path: p, hash: h, mode: mode})
	}
	return changes, written, nil
}

// cleanPath checks that f names a file inside the working tree and
// returns it slash-separated and clean.
func cleanPath(f string) (string, error) {
	p := path.Clean(filepath.ToSlash(f))
	if f == "" || !filepath.IsLocal(filepath.FromSlash(p)) || p == ".git" || strings.HasPrefix(p, ".git/") {
		return "", fmt.Errorf("file %q: %w", f, errOutsideRepo)
	}
	return p, nil
}

// checkParents refuses a path whose parent directories include a
// symbolic link: what is behind it is not in the repository.
func (r *Repo) checkParents(p string) error {
	dir := r.dir
	parts := strings.Split(p, "/")
	for _, part := range parts[:len(parts)-1] {
		dir = filepath.Join(dir, part)
		fi, err := os.Lstat(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("staging %s: %w", p, err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("file %q: parent %s is a symbolic link: %w", p, part, errOutsideRepo)
		}
	}
	return nil
}

func writeObject(s storer.EncodedObjectStorer, t plumbing.ObjectType, content []byte) (plumbing.Hash, error) {
	obj := s.NewEncodedObject()
	obj.SetType(t)
	obj.SetSize(int64(len(content)))
	w, err := obj.Writer()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if _, err := w.Write(content); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := w.Close(); err != nil {
		return plumbing.ZeroHash, err
	}
	return s.SetEncodedObject(obj)
}

// editTree returns the tree root with changes applied, writing the new
// trees (hashes appended to written). Unchanged subtrees are not read.
func editTree(ov *overlay, root plumbing.Hash, changes []fileChange, written *[]plumbing.Hash) (plumbing.Hash, error) {
	entries := map[string]object.TreeEntry{}
	if !root.IsZero() {
		t, err := object.GetTree(ov, root)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		for _, e := range t.Entries {
			entries[e.Name] = e
		}
	}
	sub := map[string][]fileChange{}
	for _, c := range changes {
		name, rest, nested := strings.Cut(c.path, "/")
		if !nested {
			if c.deleted {
				delete(entries, name)
			} else {
				entries[name] = object.TreeEntry{Name: name, Mode: c.mode, Hash: c.hash}
			}
			continue
		}
		c.path = rest
		sub[name] = append(sub[name], c)
	}
	for name, cs := range sub {
		var old plumbing.Hash
		if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
			old = e.Hash
		}
		h, err := editTree(ov, old, cs, written)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if h.IsZero() {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, nil // git has no empty directories
	}
	t := &object.Tree{Entries: make([]object.TreeEntry, 0, len(entries))}
	for _, e := range entries {
		t.Entries = append(t.Entries, e)
	}
	sort.Slice(t.Entries, func(i, j int) bool { return treeKey(t.Entries[i]) < treeKey(t.Entries[j]) })
	obj := ov.NewEncodedObject()
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := ov.SetEncodedObject(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	*written = append(*written, h)
	return h, nil
}

// treeKey orders tree entries as git does: directories sort as if their
// name ended in a slash.
func treeKey(e object.TreeEntry) string {
	if e.Mode == filemode.Dir {
		return e.Name + "/"
	}
	return e.Name
}

// writeCommit writes a commit of tree on parent by the configured author,
// signed when a Signer is configured.
func (r *Repo) writeCommit(ov *overlay, tree, parent plumbing.Hash, message string) (plumbing.Hash, error) {
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	sig := object.Signature{Name: r.opts.author.Name, Email: r.opts.author.Email, When: time.Now()}
	c := &object.Commit{
		Author:       sig,
		Committer:    sig,
		Message:      message,
		TreeHash:     tree,
		ParentHashes: []plumbing.Hash{parent},
	}
	if r.opts.signer != nil {
		if err := signCommit(c, r.opts.signer); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	obj := ov.NewEncodedObject()
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	return ov.SetEncodedObject(obj)
}

// revert puts files back as they are in tree: the undoing of an Apply
// that failed. Files tree does not hold are removed.
func (r *Repo) revert(ov *overlay, tree plumbing.Hash, files []string) error {
	t, err := object.GetTree(ov, tree)
	if err != nil {
		return err
	}
	var errs []error
	for _, f := range files {
		p, err := cleanPath(f)
		if err != nil {
			continue // never written by us: nothing to undo
		}
		if err := r.checkParents(p); err != nil {
			continue
		}
		full := filepath.Join(r.dir, filepath.FromSlash(p))
		file, err := t.File(p)
		if errors.Is(err, object.ErrFileNotFound) || errors.Is(err, object.ErrDirectoryNotFound) || errors.Is(err, object.ErrEntryNotFound) {
			if err := os.RemoveAll(full); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		errs = append(errs, r.checkout(file, full))
	}
	return errors.Join(errs...)
}

func (r *Repo) checkout(f *object.File, full string) error {
	rd, err := f.Reader()
	if err != nil {
		return err
	}
	defer rd.Close()
	content, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(full)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	if f.Mode == filemode.Symlink {
		return os.Symlink(filepath.FromSlash(string(content)), full)
	}
	perm := os.FileMode(0o644)
	if f.Mode == filemode.Executable {
		perm = 0o755
	}
	return os.WriteFile(full, content, perm)
}

// updateIndex records changes in the index, with the working tree files'
// metadata, so the index matches the new HEAD without rehashing anything.
func (r *Repo) updateIndex(changes map[string]fileChange) error {
	if len(changes) == 0 {
		return nil
	}
	idx, err := r.repo.Storer.Index()
	if err != nil {
		return err
	}
	for p, c := range changes {
		if c.deleted {
			_, _ = idx.Remove(p)
			continue
		}
		fi, err := os.Lstat(filepath.Join(r.dir, filepath.FromSlash(p)))
		if err != nil {
			_, _ = idx.Remove(p) // changed again since: the next reset rehashes it
			continue
		}
		e, err := idx.Entry(p)
		if err != nil {
			e = idx.Add(p)
		}
		e.Hash, e.Mode, e.Size = c.hash, c.mode, uint32(fi.Size())
		e.ModifiedAt = fi.ModTime()
		e.CreatedAt = fi.ModTime()
	}
	return r.repo.Storer.SetIndex(idx)
}

// signCommit signs c as git does: the signature is made over the commit
// encoded without one, and goes into its gpgsig header (for OpenPGP and SSH
// signatures alike).
func signCommit(c *object.Commit, s Signer) error {
	unsigned := &plumbing.MemoryObject{}
	if err := c.EncodeWithoutSignature(unsigned); err != nil {
		return err
	}
	rd, err := unsigned.Reader()
	if err != nil {
		return err
	}
	sig, err := s.Sign(rd)
	if err != nil {
		return fmt.Errorf("signing the commit: %w", err)
	}
	if len(sig) == 0 {
		return errors.New("signing the commit: the signer returned no signature")
	}
	c.PGPSignature = string(sig)
	return nil
}
