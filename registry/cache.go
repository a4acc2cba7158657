package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// diskCache is the persistent metadata cache. What a digest describes never
// changes, so entries never expire:
//
//	<dir>/v1/meta/sha256/<hex>.json   Meta of a manifest or index digest
//	<dir>/v1/tags/<sha256(repo:tag)>.json   last digest seen behind repo:tag
//	<dir>/v1/hosts/<sha256(host)>.json      a Retry-After: not before this time
//
// The tag records are hints (a HEAD still checks them) except for Describe
// on hosts with ImmutableTags. A file that does not parse, or describes another key, is
// ignored and rewritten on the next store. Writes go to a temporary file in
// the same directory, then rename, so readers never see half a file.
type diskCache struct{ dir string }

func newDiskCache(dir string) (*diskCache, error) {
	for _, sub := range []string{"meta/sha256", "tags", "hosts"} {
		if err := os.MkdirAll(filepath.Join(dir, "v1", sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
	}
	return &diskCache{dir: dir}, nil
}

type metaRecord struct {
	Digest    string           `json:"digest"`
	Created   time.Time        `json:"created"`
	Platforms []platformRecord `json:"platforms,omitempty"`
}

type platformRecord struct {
	Platform string    `json:"platform"`
	Created  time.Time `json:"created"`
}

type tagRecord struct {
	Ref    string `json:"ref"` // repo:tag
	Digest string `json:"digest"`
}

func (d *diskCache) metaPath(digest string) (string, bool) {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexPart) != 64 {
		return "", false
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", false
	}
	return filepath.Join(d.dir, "v1", "meta", "sha256", hexPart+".json"), true
}

func (d *diskCache) tagPath(ref string) string {
	sum := sha256.Sum256([]byte(ref))
	return filepath.Join(d.dir, "v1", "tags", hex.EncodeToString(sum[:])+".json")
}

// meta returns the cached Meta of digest.
func (d *diskCache) meta(digest string) (Meta, bool) {
	p, ok := d.metaPath(digest)
	if !ok {
		return Meta{}, false
	}
	var r metaRecord
	if !readJSON(p, &r) || r.Digest != digest {
		return Meta{}, false
	}
	m := Meta{Digest: r.Digest, Created: r.Created}
	for _, pr := range r.Platforms {
		m.Platforms = append(m.Platforms, Platform(pr))
	}
	return m, true
}

func (d *diskCache) storeMeta(m Meta) error {
	p, ok := d.metaPath(m.Digest)
	if !ok {
		return nil // not a sha256 digest: not cached
	}
	r := metaRecord{Digest: m.Digest, Created: m.Created}
	for _, pl := range m.Platforms {
		r.Platforms = append(r.Platforms, platformRecord(pl))
	}
	return writeJSON(p, r)
}

// tag returns the last digest recorded behind ref ("repo:tag").
func (d *diskCache) tag(ref string) (string, bool) {
	var r tagRecord
	if !readJSON(d.tagPath(ref), &r) || r.Ref != ref {
		return "", false
	}
	if _, ok := d.metaPath(r.Digest); !ok {
		return "", false
	}
	return r.Digest, true
}

func (d *diskCache) storeTag(ref, digest string) error {
	return writeJSON(d.tagPath(ref), tagRecord{Ref: ref, Digest: digest})
}

type holdRecord struct {
	Host      string    `json:"host"`
	NotBefore time.Time `json:"notBefore"`
}

func (d *diskCache) holdPath(host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(d.dir, "v1", "hosts", hex.EncodeToString(sum[:])+".json")
}

// hold returns the time before which host asked not to be called, if it
// has not passed.
func (d *diskCache) hold(host string) (time.Time, bool) {
	var r holdRecord
	if !readJSON(d.holdPath(host), &r) || r.Host != host || !time.Now().Before(r.NotBefore) {
		return time.Time{}, false
	}
	if limit := time.Now().Add(maxHold); r.NotBefore.After(limit) {
		return limit, true
	}
	return r.NotBefore, true
}

func (d *diskCache) storeHold(host string, notBefore time.Time) error {
	return writeJSON(d.holdPath(host), holdRecord{Host: host, NotBefore: notBefore})
}

func readJSON(path string, v any) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	return json.Unmarshal(b, v) == nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, werr := f.Write(b)
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: writing %s: %w", path, errors.Join(werr, cerr))
	}
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
