package registry

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestFlow drives the bound of requests in flight through the answers of
// a host: it grows while requests queue and answers come in good time, up
// to MaxConcurrency; strain halves it, once per round of answers, down to
// MinConcurrency.
func TestFlow(t *testing.T) {
	ok := func(ms int) outcome { return outcome{queued: true, latency: time.Duration(ms) * time.Millisecond} }
	f := newFlow()
	if f.bound() != StartConcurrency {
		t.Fatalf("bound = %d at first", f.bound())
	}
	step := func(name string, o outcome, times, want int) {
		t.Helper()
		for range times {
			f.active++ // as acquire would
			f.done(o)
		}
		if got := f.bound(); got != want {
			t.Errorf("%s: bound = %d, want %d", name, got, want)
		}
	}
	step("answers that did not queue", outcome{latency: 50 * time.Millisecond}, 10, 8)
	step("queued answers in good time", ok(50), 10, 18)
	step("up to the maximum", ok(55), 100, MaxConcurrency)
	step("a 429", outcome{strained: true}, 1, 16)
	step("the answers to requests sent before it", outcome{strained: true}, 15, 16)
	step("strain after them", outcome{strained: true}, 1, 8)
	step("not below the minimum", outcome{strained: true}, 100, MinConcurrency)
	step("recovery", ok(50), 6, 8)
	// Twice the fastest recent answer plus 50 ms is strain.
	step("slow answers", ok(151), 1, 4)
	step("noise of a fast host", ok(2), 3, 7)
	step("not strain under the slack", ok(53), 1, 8)
}

// TestFlowQueue: requests beyond the bound wait, in order, and a waiter
// whose ctx ends leaves the queue.
func TestFlowQueue(t *testing.T) {
	f := newFlow()
	f.limit = 1
	if q, err := f.acquire(context.Background()); q || err != nil {
		t.Fatalf("first acquire: queued %v, %v", q, err)
	}
	waitQueue := func(n int) {
		t.Helper()
		for range 10000 {
			f.mu.Lock()
			l := len(f.queue)
			f.mu.Unlock()
			if l == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Fatalf("the queue never held %d", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error)
	go func() { _, err := f.acquire(ctx); gone <- err }()
	waitQueue(1)
	got := make(chan bool)
	go func() { q, _ := f.acquire(context.Background()); got <- q }()
	waitQueue(2)
	cancel()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: %v", err)
	}
	waitQueue(1)
	f.done(outcome{})
	if q := <-got; !q {
		t.Error("the waiter got its slot without queueing")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.active != 1 || len(f.queue) != 0 {
		t.Errorf("active %d, queue %d; want 1, 0", f.active, len(f.queue))
	}
}

func TestHostRate(t *testing.T) {
	for _, tc := range []struct {
		h     Host
		rate  float64
		burst int
	}{
		{Host{}, DefaultRateLimit, DefaultBurst},
		{Host{RateLimit: 20}, 20, 20},
		{Host{RateLimit: 0.5}, 0.5, 1},
	} {
		if r, b := hostRate(tc.h); r != tc.rate || b != tc.burst {
			t.Errorf("hostRate(%+v) = %v, %d; want %v, %d", tc.h, r, b, tc.rate, tc.burst)
		}
	}
}
