package resolve

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/tagwatch/tagwatch/registry"
)

// Memo is a Source that remembers every answer of the Source under it for
// as long as it lives: tag lists, digests and metadata, errors included, so
// that a repository that fails is asked once, not once per environment.
// Callers asking the same thing at the same time wait for one request.
//
// The reconcile loop makes one per cycle and drops it at the end: the memo
// is the cycle's, the registry client underneath has no notion of one.
// An answer cut short by the asking caller's own cancellation is not kept.
type Memo struct {
	src     Source
	mu      sync.Mutex
	lists   map[string]*answer[[]string]
	digests map[string]*answer[string]
	metas   map[string]*answer[registry.Meta]
}

type answer[T any] struct {
	done chan struct{} // closed when v and err are set
	v    T
	err  error
}

// NewMemo returns an empty Memo over src.
func NewMemo(src Source) *Memo {
	return &Memo{
		src:     src,
		lists:   map[string]*answer[[]string]{},
		digests: map[string]*answer[string]{},
		metas:   map[string]*answer[registry.Meta]{},
	}
}

// ListTags returns the tags of repo, asking the Source once. The caller
// owns the slice.
func (m *Memo) ListTags(ctx context.Context, repo string) ([]string, error) {
	tags, err := remember(ctx, m, m.lists, repo, func(ctx context.Context) ([]string, error) { return m.src.ListTags(ctx, repo) })
	return slices.Clone(tags), err
}

// Digest returns the digest behind repo:tag, asking the Source once, or
// not at all when Describe already read it.
func (m *Memo) Digest(ctx context.Context, repo, tag string) (string, error) {
	key := repo + ":" + tag
	m.mu.Lock()
	a, ok := m.metas[key]
	m.mu.Unlock()
	if ok {
		select {
		case <-a.done:
			if a.err == nil {
				return a.v.Digest, nil
			}
		default:
		}
	}
	return remember(ctx, m, m.digests, key, func(ctx context.Context) (string, error) { return m.src.Digest(ctx, repo, tag) })
}

// Describe returns the metadata of repo:tag, asking the Source once.
func (m *Memo) Describe(ctx context.Context, repo, tag string) (registry.Meta, error) {
	meta, err := remember(ctx, m, m.metas, repo+":"+tag, func(ctx context.Context) (registry.Meta, error) { return m.src.Describe(ctx, repo, tag) })
	meta.Platforms = slices.Clone(meta.Platforms)
	return meta, err
}

// remember returns the answer kept under key in answers, or asks fn (once,
// whoever else waits) and keeps it. An answer that failed because the
// asking caller's ctx ended is dropped, and callers that waited for it ask
// again with their own.
func remember[T any](ctx context.Context, m *Memo, answers map[string]*answer[T], key string, fn func(context.Context) (T, error)) (T, error) {
	for {
		m.mu.Lock()
		a, ok := answers[key]
		if !ok {
			a = &answer[T]{done: make(chan struct{})}
			answers[key] = a
		}
		m.mu.Unlock()
		if !ok {
			a.v, a.err = fn(ctx)
			if a.err != nil && ctx.Err() != nil && (errors.Is(a.err, context.Canceled) || errors.Is(a.err, context.DeadlineExceeded)) {
				m.mu.Lock()
				delete(answers, key)
				m.mu.Unlock()
			}
			close(a.done)
			return a.v, a.err
		}
		select {
		case <-ctx.Done():
			var zero T
			return zero, ctx.Err()
		case <-a.done:
		}
		m.mu.Lock()
		dropped := answers[key] != a
		m.mu.Unlock()
		if !dropped {
			return a.v, a.err
		}
	}
}
