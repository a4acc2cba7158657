package demo

import (
	"context"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tagwatch/tagwatch/internal/gitseed"
)

//go:embed repo tagwatch.yaml
var files embed.FS

// startRegistry serves an in-memory OCI registry on 127.0.0.1 and returns
// its host:port.
func startRegistry() (*httptest.Server, string) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	return srv, strings.TrimPrefix(srv.URL, "http://")
}

// pushImage pushes a small random image as repo:tag, as a CI job would.
func pushImage(ctx context.Context, repo, tag string) (string, error) {
	ref, err := name.NewTag(repo+":"+tag, name.Insecure)
	if err != nil {
		return "", err
	}
	img, err := random.Image(512, 2)
	if err != nil {
		return "", err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}

// expand fills the placeholders of an embedded file.
func expand(b []byte, vars map[string]string) []byte {
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return []byte(s)
}

// newRepo makes the bare repository at bare (what a Git host holds) with one
// commit of the embedded files, written through a scratch work tree.
func newRepo(bare, scratch string, vars map[string]string) error {
	err := fs.WalkDir(files, "repo", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(scratch, filepath.FromSlash(strings.TrimPrefix(p, "repo/")))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, expand(b, vars), 0o644)
	})
	if err != nil {
		return err
	}
	who := object.Signature{Name: "Platform Team", Email: "platform@demo.invalid"}
	return gitseed.Init(bare, scratch, "Add staging and production overlays of demo/app", who)
}
