package reconcile

import (
	"context"
	"sync"

	"github.com/tagwatch/tagwatch/registry"
)

// memo is the loop's per-cycle memory of registry answers: each tag list,
// digest and description is asked once per cycle, errors included, however
// many environments and repositories need it. A new cycle makes a new memo.
type memo struct {
	src   Source
	mu    sync.Mutex
	calls map[memoKey]*memoCall
}

type memoKey struct{ kind, repo, tag string }

type memoCall struct {
	once sync.Once
	v    any
	err  error
}

func newMemo(src Source) *memo { return &memo{src: src, calls: map[memoKey]*memoCall{}} }

func (m *memo) do(k memoKey, fn func() (any, error)) (any, error) {
	m.mu.Lock()
	c, ok := m.calls[k]
	if !ok {
		c = &memoCall{}
		m.calls[k] = c
	}
	m.mu.Unlock()
	c.once.Do(func() { c.v, c.err = fn() })
	return c.v, c.err
}

// ListTags lists repo once per cycle; callers own the slice they get.
func (m *memo) ListTags(ctx context.Context, repo string) ([]string, error) {
	v, err := m.do(memoKey{"list", repo, ""}, func() (any, error) { return m.src.ListTags(ctx, repo) })
	tags, _ := v.([]string)
	return append([]string(nil), tags...), err
}

// Digest looks the digest behind repo:tag up once per cycle.
func (m *memo) Digest(ctx context.Context, repo, tag string) (string, error) {
	v, err := m.do(memoKey{"digest", repo, tag}, func() (any, error) { return m.src.Digest(ctx, repo, tag) })
	d, _ := v.(string)
	return d, err
}

// Describe describes repo:tag once per cycle.
func (m *memo) Describe(ctx context.Context, repo, tag string) (registry.Meta, error) {
	v, err := m.do(memoKey{"describe", repo, tag}, func() (any, error) { return m.src.Describe(ctx, repo, tag) })
	meta, _ := v.(registry.Meta)
	return meta, err
}
