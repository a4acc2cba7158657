package writeback

import (
	"errors"
	"fmt"
	"io/fs"
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

// resolveRepoPath resolves rel (slash-separated, relative to root) and checks
// it stays inside root: no absolute path, no "..", no symlink pointing out.
// A symlink to elsewhere inside the repository is followed.
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
	real, err := filepath.EvalSymlinks(filepath.Join(realRoot, filepath.FromSlash(rel)))
	if errors.Is(err, fs.ErrNotExist) {
		return repoPath{}, fmt.Errorf("%s: %w: %w", rel, ErrNotFound, err)
	}
	if err != nil {
		return repoPath{}, fmt.Errorf("%s: %w", rel, err)
	}
	r, err := filepath.Rel(realRoot, real)
	if err != nil || !filepath.IsLocal(r) && r != "." {
		return repoPath{}, fmt.Errorf("%s resolves to %s: %w", rel, real, ErrOutsideRepo)
	}
	return repoPath{abs: real, rel: filepath.ToSlash(r)}, nil
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
