package writeback

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// repoPath is a path of the working tree, resolved and checked to be inside it.
type repoPath struct {
	abs string // real path on disk, symlinks resolved
	rel string // slash-separated, relative to the repository's real root
}

// maxLinks bounds the symbolic links followed to resolve one path (Linux's
// limit), so that link loops end.
const maxLinks = 40

// resolveRepoPath resolves rel (slash-separated, relative to root) and checks
// it stays inside root: no absolute path, no "..", no symlink pointing out.
//
// Symbolic links are followed by their text, as a checkout of the
// repository anywhere would resolve them, never through what this machine
// has at their target: a link whose target is absolute is refused, even one
// that names a place inside the working copy here (in another checkout it
// would not), and so is a relative target that climbs out of the
// repository. A relative link to elsewhere inside the repository is
// followed. The working copy's links hold their targets as Git has them
// (gitrepo writes them from the blobs).
func resolveRepoPath(root, rel string) (repoPath, error) {
	if rel == "" {
		rel = "."
	}
	if path.IsAbs(rel) || filepath.IsAbs(rel) || strings.Contains(rel, `\`) ||
		!filepath.IsLocal(filepath.FromSlash(rel)) {
		return repoPath{}, fmt.Errorf("%s: %w", rel, ErrOutsideRepo)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return repoPath{}, fmt.Errorf("repository root: %w", err)
	}
	todo := splitPath(path.Clean(rel))
	var done []string // resolved: no links, relative to realRoot
	for links := 0; len(todo) > 0; {
		part := todo[0]
		todo = todo[1:]
		if part == ".." {
			if len(done) == 0 {
				return repoPath{}, fmt.Errorf("%s: %w", rel, ErrOutsideRepo) // only a link's target gets here
			}
			done = done[:len(done)-1]
			continue
		}
		here := filepath.Join(realRoot, filepath.Join(done...), part)
		fi, err := os.Lstat(here)
		if errors.Is(err, fs.ErrNotExist) {
			return repoPath{}, fmt.Errorf("%s: %w: %w", rel, ErrNotFound, err)
		}
		if err != nil {
			return repoPath{}, fmt.Errorf("%s: %w", rel, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		if links++; links > maxLinks {
			return repoPath{}, fmt.Errorf("%s: more than %d symbolic links", rel, maxLinks)
		}
		target, err := os.Readlink(here)
		if err != nil {
			return repoPath{}, fmt.Errorf("%s: %w", rel, err)
		}
		link := path.Join(append(done, part)...)
		slashed := filepath.ToSlash(target)
		if filepath.IsAbs(target) || path.IsAbs(slashed) || filepath.VolumeName(target) != "" {
			return repoPath{}, fmt.Errorf("%s: symbolic link %s points to the absolute path %q: %w", rel, link, target, ErrOutsideRepo)
		}
		if !filepath.IsLocal(filepath.Join(filepath.Join(done...), target)) {
			return repoPath{}, fmt.Errorf("%s: symbolic link %s -> %s points out of the repository: %w", rel, link, target, ErrOutsideRepo)
		}
		todo = append(splitPath(slashed), todo...)
	}
	r := path.Join(done...)
	if r == "" {
		r = "."
	}
	return repoPath{abs: filepath.Join(realRoot, filepath.FromSlash(r)), rel: r}, nil
}

// splitPath splits a slash-separated path into its elements, without
// empty and "." ones.
func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" && e != "." {
			out = append(out, e)
		}
	}
	return out
}

// fieldStep is one step of a dotted field path: a mapping key or a
// sequence index.
type fieldStep struct {
	key   string
	index int // -1 for a key
}

// parseFieldPath parses a dotted path with indexes: "image.tag",
// "containers[0].image", "[1].name". Keys cannot contain '.', '[' or ']'.
func parseFieldPath(s string) ([]fieldStep, error) {
	bad := func(why string) ([]fieldStep, error) {
		return nil, fmt.Errorf("%w: field path %q: %s", ErrInvalidTarget, s, why)
	}
	if s == "" {
		return bad("empty")
	}
	var steps []fieldStep
	for i, seg := range strings.Split(s, ".") {
		key, rest, _ := strings.Cut(seg, "[")
		if key == "" && (i > 0 || rest == "" && !strings.HasPrefix(seg, "[")) {
			return bad("empty key")
		}
		if strings.Contains(key, "]") {
			return bad("unbalanced ]")
		}
		if key != "" {
			steps = append(steps, fieldStep{key: key, index: -1})
		}
		if !strings.HasPrefix(seg, key+"[") {
			continue
		}
		rest = seg[len(key):]
		for rest != "" {
			if rest[0] != '[' {
				return bad("text after ]")
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad("unbalanced [")
			}
			digits := rest[1:end]
			n, err := strconv.Atoi(digits)
			if err != nil || n < 0 || digits != strconv.Itoa(n) {
				return bad("index must be a non-negative integer")
			}
			steps = append(steps, fieldStep{index: n})
			rest = rest[end+1:]
		}
	}
	return steps, nil
}

func formatFieldPath(steps []fieldStep) string {
	var b strings.Builder
	for _, st := range steps {
		if st.index >= 0 {
			fmt.Fprintf(&b, "[%d]", st.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(st.key)
	}
	return b.String()
}
