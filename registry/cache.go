package registry

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// diskCache is the persistent metadata cache:
//
//	<dir>/v1/packs/*.jsonl            records, one JSON object a line:
//	                                  the Meta of a digest, or the digest last seen behind repo:tag
//	<dir>/v1/hosts/<sha256(host)>.json    a Retry-After: not before this time
//	<dir>/v1/listing/<sha256(host)>.json  how the host lists tags (see listing)
//
// What a digest describes never changes, so meta records never expire. Tag
// records are hints (a HEAD still checks them) except for Describe on hosts
// with ImmutableTags, or within the host's TagTTL of when they were seen.
//
// Records are read once, all packs at the first use, and written in
// batches: new records wait in memory until the client is idle (flush),
// then go to one new pack file, written to a temporary name and renamed, so
// readers never see half a file. A cold newest-build over 300 tags writes
// one file, not 600: the system time of a cold run follows the network's,
// not the file system's (about 0.5 s against 0.03 s on the bench machine,
// where an open costs 0.7 ms). When packs pile up (maxPacks), the next
// load writes what they hold into one and removes them. A line that does not parse is skipped (and dropped at
// the next compaction); the same key twice: the tag record seen last wins.
// Processes sharing a directory each write their own packs; a process sees
// the others' records from its next start.
type diskCache struct {
	dir string

	loadOnce sync.Once
	tags     map[string]tagEntry // loaded
	metas    map[string]Meta     // loaded

	mu      sync.Mutex
	pending []packRecord // to write at the next flush
}

// maxPacks is how many pack files a load tolerates before it compacts them.
const maxPacks = 16

// tagEntry is the digest seen behind a tag, and when.
type tagEntry struct {
	digest string
	seen   time.Time
}

func newDiskCache(dir string) (*diskCache, error) {
	for _, sub := range []string{"packs", "hosts", "listing"} {
		if err := os.MkdirAll(filepath.Join(dir, "v1", sub), 0o755); err != nil {
			return nil, fmt.Errorf("cache dir: %w", err)
		}
	}
	return &diskCache{dir: dir}, nil
}

// packRecord is one line of a pack: Kind "meta" (Digest, Created,
// Platforms) or "tag" (Ref, Digest, Seen).
type packRecord struct {
	Kind      string           `json:"k"`
	Ref       string           `json:"ref,omitempty"` // repo:tag
	Digest    string           `json:"digest"`
	Seen      time.Time        `json:"seen,omitzero"`
	Created   time.Time        `json:"created,omitzero"`
	Platforms []platformRecord `json:"platforms,omitempty"`
}

type platformRecord struct {
	Platform string    `json:"platform"`
	Created  time.Time `json:"created"`
}

const (
	kindMeta = "meta"
	kindTag  = "tag"
)

// validDigest reports a sha256 digest: the only kind cached.
func validDigest(digest string) bool {
	hexPart, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexPart) != 64 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil
}

func (d *diskCache) packDir() string { return filepath.Join(d.dir, "v1", "packs") }

// load reads every pack once.
func (d *diskCache) load() {
	d.loadOnce.Do(func() {
		d.tags, d.metas = map[string]tagEntry{}, map[string]Meta{}
		entries, err := os.ReadDir(d.packDir())
		if err != nil {
			return
		}
		var read []string
		bad := 0
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".jsonl") {
				continue
			}
			p := filepath.Join(d.packDir(), e.Name())
			b, err := os.ReadFile(p)
			if err != nil {
				continue // removed by another process's compaction
			}
			read = append(read, p)
			bad += d.apply(b)
		}
		if len(read) > maxPacks || bad > 0 {
			d.compact(read)
		}
	})
}

// apply adds the records of one pack to the loaded maps and returns how
// many lines it skipped.
func (d *diskCache) apply(b []byte) (bad int) {
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var r packRecord
		if json.Unmarshal(line, &r) != nil || !validDigest(r.Digest) {
			bad++
			continue
		}
		switch r.Kind {
		case kindMeta:
			m := Meta{Digest: r.Digest, Created: r.Created}
			for _, pr := range r.Platforms {
				m.Platforms = append(m.Platforms, Platform(pr))
			}
			d.metas[r.Digest] = m
		case kindTag:
			if r.Ref == "" {
				bad++
				continue
			}
			if old, ok := d.tags[r.Ref]; !ok || !r.Seen.Before(old.seen) {
				d.tags[r.Ref] = tagEntry{digest: r.Digest, seen: r.Seen}
			}
		default:
			bad++
		}
	}
	return bad
}

// compact writes what the packs read hold into one and removes them. Best
// effort: a failure leaves them as they are.
func (d *diskCache) compact(read []string) {
	recs := make([]packRecord, 0, len(d.tags)+len(d.metas))
	for _, m := range d.metas {
		recs = append(recs, metaRecord(m))
	}
	for ref, t := range d.tags {
		recs = append(recs, packRecord{Kind: kindTag, Ref: ref, Digest: t.digest, Seen: t.seen})
	}
	if d.writePack(recs) != nil {
		return
	}
	for _, p := range read {
		_ = os.Remove(p)
	}
}

func metaRecord(m Meta) packRecord {
	r := packRecord{Kind: kindMeta, Digest: m.Digest, Created: m.Created}
	for _, pl := range m.Platforms {
		r.Platforms = append(r.Platforms, platformRecord(pl))
	}
	return r
}

// writePack writes recs to a new pack file.
func (d *diskCache) writePack(recs []packRecord) error {
	if len(recs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	enc := json.NewEncoder(w)
	for _, r := range recs {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	f, err := os.CreateTemp(d.packDir(), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	_, werr := f.Write(buf.Bytes())
	cerr := f.Close()
	if werr != nil || cerr != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: writing a pack: %w", errors.Join(werr, cerr))
	}
	final := filepath.Join(d.packDir(), fmt.Sprintf("%d-%s.jsonl", time.Now().UnixNano(), strings.TrimPrefix(filepath.Base(f.Name()), ".tmp-")))
	if err := os.Rename(f.Name(), final); err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// meta returns the cached Meta of digest.
func (d *diskCache) meta(digest string) (Meta, bool) {
	d.load()
	m, ok := d.metas[digest]
	return m, ok
}

// tag returns the last digest recorded behind ref ("repo:tag"), and when
// it was seen there.
func (d *diskCache) tag(ref string) (tagEntry, bool) {
	d.load()
	t, ok := d.tags[ref]
	return t, ok
}

// storeMeta queues m for the next flush.
func (d *diskCache) storeMeta(m Meta) {
	if validDigest(m.Digest) {
		d.queue(metaRecord(m))
	}
}

// storeTag queues a tag record for the next flush.
func (d *diskCache) storeTag(ref string, t tagEntry) {
	if validDigest(t.digest) {
		d.queue(packRecord{Kind: kindTag, Ref: ref, Digest: t.digest, Seen: t.seen})
	}
}

func (d *diskCache) queue(r packRecord) {
	d.mu.Lock()
	d.pending = append(d.pending, r)
	d.mu.Unlock()
}

// flush writes the queued records to a new pack. Best effort: on failure
// they are dropped (the cache is only a cache).
func (d *diskCache) flush() {
	d.mu.Lock()
	recs := d.pending
	d.pending = nil
	d.mu.Unlock()
	_ = d.writePack(recs)
}

type holdRecord struct {
	Host      string    `json:"host"`
	NotBefore time.Time `json:"notBefore"`
}

func hostFile(dir, sub, host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(dir, "v1", sub, hex.EncodeToString(sum[:])+".json")
}

// hold returns the time before which host asked not to be called, if it
// has not passed.
func (d *diskCache) hold(host string) (time.Time, bool) {
	var r holdRecord
	if !readJSON(hostFile(d.dir, "hosts", host), &r) || r.Host != host || !time.Now().Before(r.NotBefore) {
		return time.Time{}, false
	}
	if limit := time.Now().Add(maxHold); r.NotBefore.After(limit) {
		return limit, true
	}
	return r.NotBefore, true
}

func (d *diskCache) storeHold(host string, notBefore time.Time) error {
	return writeJSON(hostFile(d.dir, "hosts", host), holdRecord{Host: host, NotBefore: notBefore})
}

type listingRecord struct {
	Host string `json:"host"`
	listing
}

// listing returns what was learnt of how host lists tags.
func (d *diskCache) listing(host string) (listing, bool) {
	var r listingRecord
	if !readJSON(hostFile(d.dir, "listing", host), &r) || r.Host != host {
		return listing{}, false
	}
	return r.listing, true
}

func (d *diskCache) storeListing(host string, l listing) error {
	return writeJSON(hostFile(d.dir, "listing", host), listingRecord{Host: host, listing: l})
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
