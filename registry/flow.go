package registry

import (
	"context"
	"sync"
	"time"
)

// Bounds of the requests one registry host gets at once (see flow).
const (
	StartConcurrency = 8  // at first
	MaxConcurrency   = 32 // at most, however fast the host answers
	MinConcurrency   = 2  // at least, however strained it is
)

// flow bounds the requests in flight to one registry host, adaptively, so
// that round trips overlap enough to use the rate the token bucket allows
// (at 50 ms a request, 8 at once make 160 requests a second; 32 make 640)
// without piling requests on a registry that is struggling:
//
//   - It starts at StartConcurrency. Each request that had to queue for a
//     slot and was answered in good time adds one: when every request
//     queues, the bound doubles each round trip, up to MaxConcurrency.
//   - A sign of strain halves it, down to MinConcurrency: a 429 or 503, a
//     failed request (reset, timeout), or a metadata answer slower than
//     twice the fastest recently seen plus 50 ms (the registry queues our
//     requests). After a decrease, the next as many answers as the new
//     bound cannot decrease it again: they were sent before it.
//
// Only metadata requests (manifests, blobs) measure latency: a tag list
// of 100,000 tags is slow for its size, not for strain.
type flow struct {
	mu      sync.Mutex
	limit   int
	active  int
	queue   []chan struct{} // FIFO of waiting acquirers
	cool    int             // answers to ignore for decreases
	best    time.Duration   // fastest metadata answer of the current window
	window  int             // samples in the current window
	prevMin time.Duration   // fastest of the previous window
}

// flowWindow is how many metadata answers make a window: the fastest of
// the current and the previous one is the baseline, so that a host that
// got slower for good is measured against its new speed.
const flowWindow = 64

// strainSlack is what an answer may take over twice the baseline before
// it counts as strain: loopback and LAN registries answer in
// microseconds, and scheduling noise is not strain.
const strainSlack = 50 * time.Millisecond

func newFlow() *flow { return &flow{limit: StartConcurrency} }

// acquire waits for a slot. queued says whether it had to wait.
func (f *flow) acquire(ctx context.Context) (queued bool, err error) {
	f.mu.Lock()
	if f.active < f.limit && len(f.queue) == 0 {
		f.active++
		f.mu.Unlock()
		return false, nil
	}
	ch := make(chan struct{})
	f.queue = append(f.queue, ch)
	f.mu.Unlock()
	select {
	case <-ch:
		return true, nil
	case <-ctx.Done():
		f.mu.Lock()
		for i, w := range f.queue {
			if w == ch {
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
				f.mu.Unlock()
				return true, ctx.Err()
			}
		}
		f.mu.Unlock()
		// The slot was handed over as ctx ended: give it back.
		f.done(outcome{})
		return true, ctx.Err()
	}
}

// outcome is how a request went, for done.
type outcome struct {
	queued   bool          // it waited for its slot
	strained bool          // 429, 503, or no answer at all
	latency  time.Duration // time to the answer's headers; 0: not measured
}

// done releases a slot and adapts the bound to how the request went.
func (f *flow) done(o outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active--
	if f.cool > 0 {
		f.cool--
	}
	if o.latency > 0 {
		if f.window == 0 || o.latency < f.best {
			f.best = o.latency
		}
		if f.window++; f.window == flowWindow {
			f.prevMin, f.window = f.best, 0
		}
		base := f.best
		if f.prevMin > 0 && f.prevMin < base {
			base = f.prevMin
		}
		if o.latency > 2*base+strainSlack {
			o.strained = true
		}
	}
	switch {
	case o.strained && f.cool == 0:
		f.limit = max(MinConcurrency, f.limit/2)
		f.cool = f.limit
	case !o.strained && o.queued && f.limit < MaxConcurrency:
		f.limit++
	}
	for f.active < f.limit && len(f.queue) > 0 {
		ch := f.queue[0]
		f.queue = f.queue[1:]
		f.active++
		close(ch)
	}
}

// bound returns the current bound (tests).
func (f *flow) bound() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.limit
}
