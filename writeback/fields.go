package writeback

import (
	"errors"
)

// Field is one place in the working tree a target writes: a file and a
// field inside it. Two targets that share a Field write the same bytes.
type Field struct {
	File string // slash-separated, relative to the repository's real root (symlinks resolved)
	Path string // images[name=team/app] (kustomize), image.tag (Helm), line 12 (a marker)
}

func (f Field) String() string { return f.File + " " + f.Path }

// Fields returns the fields t writes in the tree at root, without writing:
// the images entry of t.Name in the kustomization (when the entry is
// missing, the one a write would add; none without a kustomization), the configured dotted paths of a Helm
// values file, every scalar marked for the alias under a marker target's
// folder. It fails as Read does on a target that cannot be read.
func Fields(root string, t Target) ([]Field, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	switch t.Kind {
	case Kustomize:
		f, err := openKustomization(root, t.Path)
		if errors.Is(err, ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		if _, err := parseKustomization(f, t.Name); err != nil {
			return nil, err
		}
		return []Field{{File: f.rel, Path: "images[name=" + t.Name + "]"}}, nil
	case Helm:
		p, err := resolveRepoPath(root, t.Path)
		if err != nil {
			return nil, err
		}
		var out []Field
		for _, fp := range []string{t.ImageField, t.RepositoryField, t.TagField, t.DigestField} {
			if fp == "" {
				continue
			}
			steps, err := parseFieldPath(fp)
			if err != nil {
				return nil, err
			}
			out = append(out, Field{File: p.rel, Path: formatFieldPath(steps)})
		}
		return out, nil
	case ArgoSource:
		return argoSourceFields(root, t)
	default:
		files, err := markerFiles(root, t)
		if err != nil {
			return nil, err
		}
		ms, err := collectMarkers(files, t)
		if err != nil {
			return nil, err
		}
		out := make([]Field, 0, len(ms))
		for _, m := range ms {
			out = append(out, m.field())
		}
		return out, nil
	}
}
