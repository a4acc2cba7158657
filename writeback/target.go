package writeback

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of file an image is written into.
type Kind string

// Target kinds.
const (
	Kustomize Kind = "kustomize" // images: of the kustomization in Path
	Helm      Kind = "helm"      // dotted fields of the values file Path
	Marker    Kind = "marker"    // scalars marked # {"$tagwatch": "<Name>[:tag|:name|:digest]"} in YAML files under Path
	// ArgoSource is Argo CD's parameter override file Path
	// (.argocd-source-<app>.yaml): the kustomize.images entry of Name, or
	// the helm.parameters ImageField, or RepositoryField and TagField.
	ArgoSource Kind = "argocd-source"
)

// Target names one place an image is written. Paths are slash-separated and
// relative to the repository root; they must stay inside it.
type Target struct {
	Kind Kind
	Path string // Kustomize, Marker: a directory; Helm, ArgoSource: a file
	Name string // Kustomize: images[].name; Marker: the alias; ArgoSource: the kustomize image name ("" for Helm parameters)

	// Helm: dotted paths ("image.tag", "containers[0].image");
	// ArgoSource: Helm parameter names (no DigestField).
	// ImageField holds a whole reference "name:tag[@digest]"; otherwise
	// RepositoryField (optional), TagField and DigestField (optional).
	// With a digest to write and no DigestField, the tag field gets "tag@sha256:…".
	ImageField      string
	RepositoryField string
	TagField        string
	DigestField     string

	// Exclude lists marked scalars (as Fields returns them) the target
	// leaves alone, as if they were not marked: another writer owns them.
	// Marker targets only.
	Exclude []Field
}

// Image is the value at a target: repository name, tag and digest.
// An empty Name leaves the name alone on write; an empty Digest removes a stale one.
type Image struct {
	Name   string
	Tag    string
	Digest string
}

// Sentinel errors.
var (
	ErrNotFound      = errors.New("target not found") // no such entry/field/marker
	ErrOutsideRepo   = errors.New("path leaves the repository")
	ErrInvalidValue  = errors.New("invalid image value")
	ErrMalformedYAML = errors.New("malformed YAML")
	ErrInvalidTarget = errors.New("invalid target") // a Target that names nothing writable
)

// FileError is a problem at a place in a file of the working tree. It
// unwraps to one of the sentinels (or to the underlying I/O error).
type FileError struct {
	Path string // slash-separated, relative to the repository root
	Line int    // 1-based; 0 when the problem is not at one line
	Msg  string
	Err  error
}

func (e *FileError) Error() string {
	where := e.Path
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
	}
	return where + ": " + e.Msg + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

func newFileError(path string, line int, msg string, err error) error {
	return &FileError{Path: path, Line: line, Msg: msg, Err: err}
}

// Validate checks that t names something: a kind, a name for Kustomize and
// Marker (aliases never contain ':'), and for Helm either ImageField alone
// or a TagField, every field a valid dotted path.
func (t Target) Validate() error {
	switch t.Kind {
	case Kustomize:
		if t.Name == "" {
			return fmt.Errorf("%w: kustomize target without an image name", ErrInvalidTarget)
		}
	case Marker:
		if t.Name == "" || strings.ContainsAny(t.Name, ": \t\n\"") {
			return fmt.Errorf("%w: invalid marker alias %q", ErrInvalidTarget, t.Name)
		}
	case Helm:
		if t.ImageField != "" && (t.TagField != "" || t.RepositoryField != "" || t.DigestField != "") {
			return fmt.Errorf("%w: helm target with imageField and tag/repository/digest fields", ErrInvalidTarget)
		}
		if t.ImageField == "" && t.TagField == "" {
			return fmt.Errorf("%w: helm target without imageField or tagField", ErrInvalidTarget)
		}
		for _, p := range []string{t.ImageField, t.RepositoryField, t.TagField, t.DigestField} {
			if p == "" {
				continue
			}
			if _, err := parseFieldPath(p); err != nil {
				return err
			}
		}
	case ArgoSource:
		return t.validateArgoSource()
	default:
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidTarget, t.Kind)
	}
	return nil
}

// validateArgoSource checks an ArgoSource target: a file, and either a
// kustomize image name or Helm parameters (ImageField alone, or TagField
// with an optional RepositoryField).
func (t Target) validateArgoSource() error {
	helm := t.ImageField != "" || t.RepositoryField != "" || t.TagField != ""
	switch {
	case t.Path == "":
		return fmt.Errorf("%w: parameter override target without a file", ErrInvalidTarget)
	case t.DigestField != "":
		return fmt.Errorf("%w: a parameter override file has no digest parameter (the tag parameter holds tag@digest)", ErrInvalidTarget)
	case t.Name != "" && helm:
		return fmt.Errorf("%w: parameter override target with a kustomize image name and Helm parameters", ErrInvalidTarget)
	case t.Name == "" && !helm:
		return fmt.Errorf("%w: parameter override target without a kustomize image name or Helm parameters", ErrInvalidTarget)
	case t.ImageField != "" && (t.TagField != "" || t.RepositoryField != ""):
		return fmt.Errorf("%w: parameter override target with an image parameter and tag/repository parameters", ErrInvalidTarget)
	case helm && t.ImageField == "" && t.TagField == "":
		return fmt.Errorf("%w: parameter override target without an image or tag parameter", ErrInvalidTarget)
	}
	for _, p := range []string{t.Name, t.ImageField, t.RepositoryField, t.TagField} {
		if strings.ContainsAny(p, "\n\r") {
			return fmt.Errorf("%w: %q contains a line break", ErrInvalidTarget, p)
		}
	}
	return nil
}

// Read returns the value at t in the working tree rooted at root.
// A kustomization without an entry for t.Name returns ErrNotFound.
//
// Kustomize: Name is the entry's newName, else its name; Tag its newTag.
// Helm: the fields, a "tag@digest" tag field split. Marker: the first whole
// marker, else the :name, :tag and :digest markers combined.
func Read(root string, t Target) (Image, error) {
	if err := t.Validate(); err != nil {
		return Image{}, err
	}
	switch t.Kind {
	case Kustomize:
		return readKustomize(root, t)
	case Helm:
		return readHelm(root, t)
	case ArgoSource:
		return readArgoSource(root, t)
	default:
		return readMarkers(root, t)
	}
}

// Write sets img at t under root, changing only the scalars it must and
// nothing else byte for byte. It returns the files it changed (relative to
// root, slash-separated); none when the value was already there.
//
// img must pass Image.Validate (a tag, a digest or both). An empty img.Name
// leaves the name alone; an empty img.Digest removes a stale digest, and for
// Kustomize an empty img.Tag (a digest only) removes a stale newTag, so the
// entry renders exactly img. Every file's edit is planned, re-parsed and
// read back before any file is written, so a refusal writes nothing; each
// file is then replaced atomically (temporary file and rename, mode kept).
// Should an I/O error stop a multi-file marker write midway, the files
// already written are returned with the error. Safe to repeat: it decides
// from what it reads, so it can re-run on a new head after a rejected push.
func Write(root string, t Target, img Image) ([]string, error) {
	cs, err := WriteChanges(root, t, img)
	var changed []string
	for _, c := range cs {
		changed = append(changed, c.Path)
	}
	return changed, err
}

// FileChange is one file a write changed: what it set and the bytes
// before and after, for a plan a person reads (`tagwatch run --diff`).
type FileChange struct {
	Path string // slash-separated, relative to the repository root
	// Fields are the fields set, in the file's terms:
	// "images[name=team/app].newTag", "images[name=team/app] (added)",
	// "image.tag" (Helm), "line 12 (app:tag)" (a marker).
	Fields        []string
	Before, After []byte
}

// WriteChanges is Write returning, for each file it changed, the fields it
// set and the bytes before and after.
func WriteChanges(root string, t Target, img Image) ([]FileChange, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if err := img.Validate(); err != nil {
		return nil, err
	}
	var files []*yamlFile
	var err error
	switch t.Kind {
	case Kustomize:
		files, err = editKustomize(root, t, img)
	case Helm:
		files, err = editHelm(root, t, img)
	case ArgoSource:
		files, err = editArgoSource(root, t, img)
	default:
		files, err = editMarkers(root, t, img)
	}
	if err != nil {
		return nil, err
	}
	var changed []FileChange
	for _, f := range files {
		if err := f.save(f.out); err != nil {
			return changed, err
		}
		changed = append(changed, FileChange{Path: f.rel, Fields: f.fields, Before: f.original(), After: f.out})
	}
	return changed, nil
}
