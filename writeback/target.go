package writeback

import "errors"

// Kind is the kind of file an image is written into.
type Kind string

// Target kinds.
const (
	Kustomize Kind = "kustomize" // images: of the kustomization in Path
	Helm      Kind = "helm"      // dotted fields of the values file Path
	Marker    Kind = "marker"    // scalars marked # {"$tagwatch": "<Name>[:tag|:name|:digest]"} in YAML files under Path
)

// Target names one place an image is written. Paths are slash-separated and
// relative to the repository root; they must stay inside it.
type Target struct {
	Kind Kind
	Path string // Kustomize, Marker: a directory; Helm: a file
	Name string // Kustomize: images[].name; Marker: the alias

	// Helm only: dotted paths ("image.tag", "containers[0].image").
	// ImageField holds a whole reference "name:tag[@digest]"; otherwise
	// RepositoryField (optional), TagField and DigestField (optional).
	// With a digest to write and no DigestField, the tag field gets "tag@sha256:…".
	ImageField      string
	RepositoryField string
	TagField        string
	DigestField     string
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
	ErrNotFound      = errors.New("target not found")    // no such entry/field/marker
	ErrOutsideRepo   = errors.New("path leaves the repository")
	ErrInvalidValue  = errors.New("invalid image value")
	ErrPushRejected  = errors.New("push rejected: remote branch moved")
	ErrMalformedYAML = errors.New("malformed YAML")
)

// Read returns the value at t in the working tree rooted at root.
// A kustomization without an entry for t.Name returns ErrNotFound.
func Read(root string, t Target) (Image, error) { panic("not implemented") }

// Write sets img at t under root, changing only the scalars it must and
// nothing else byte for byte. It returns the files it changed (relative to
// root, slash-separated); none when the value was already there.
func Write(root string, t Target, img Image) ([]string, error) { panic("not implemented") }
