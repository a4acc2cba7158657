package kube

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// The Lease timings (client-go's usual values): a leader that cannot renew
// for RenewDeadline stops; another replica takes over once LeaseDuration
// has passed since the last renewal, so there is no moment with two
// writers.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Elector campaigns for a coordination.k8s.io Lease: only the replica
// holding it writes (DESIGN §6).
type Elector struct {
	lock     *resourcelock.LeaseLock
	identity string
	timing   [3]time.Duration // lease duration, renew deadline, retry period
	onChange func(leader bool)

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewElector makes an Elector for the Lease namespace/name; onChange is
// told when this replica starts and stops leading. Zero durations take the
// defaults.
func NewElector(cfg *rest.Config, namespace, name string, onChange func(leader bool), leaseDuration, renewDeadline, retryPeriod time.Duration) (*Elector, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	if namespace == "" {
		namespace = os.Getenv("POD_NAMESPACE")
	}
	if namespace == "" {
		namespace = "default"
	}
	host, _ := os.Hostname()
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	id := host + "_" + hex.EncodeToString(suffix)
	if onChange == nil {
		onChange = func(bool) {}
	}
	e := &Elector{identity: id, onChange: onChange, timing: [3]time.Duration{DefaultLeaseDuration, DefaultRenewDeadline, DefaultRetryPeriod},
		lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		}}
	for i, d := range []time.Duration{leaseDuration, renewDeadline, retryPeriod} {
		if d > 0 {
			e.timing[i] = d
		}
	}
	return e, nil
}

// Identity is this replica's name in the Lease.
func (e *Elector) Identity() string { return e.identity }

// Lease is namespace/name of the Lease.
func (e *Elector) Lease() string { return e.lock.LeaseMeta.Namespace + "/" + e.lock.LeaseMeta.Name }

// Lead blocks until this replica holds the Lease, and returns a context
// that ends when it stops holding it (it could not renew in time, or
// Release) or ctx ends: the writer's context, so that losing the Lease is a
// hard stop. After that, Lead campaigns again.
func (e *Elector) Lead(ctx context.Context) (context.Context, error) {
	cctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	got := make(chan context.Context, 1)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:          e.lock,
		LeaseDuration: e.timing[0], RenewDeadline: e.timing[1], RetryPeriod: e.timing[2],
		// A replica that stops gives the Lease up at once: the next one
		// need not wait for it to expire.
		ReleaseOnCancel: true,
		Name:            "tagwatch",
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(lctx context.Context) {
				e.onChange(true)
				got <- lctx
			},
			OnStoppedLeading: func() { e.onChange(false) },
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("leader election: %w", err)
	}
	e.mu.Lock()
	e.cancel, e.done = cancel, done
	e.mu.Unlock()
	go func() {
		defer close(done)
		le.Run(cctx)
	}()
	select {
	case lctx := <-got:
		return lctx, nil
	case <-done:
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("leader election ended without the Lease")
	}
}

// Release ends the campaign: the Lease is given up if held (ReleaseOnCancel),
// and Release returns once it is.
func (e *Elector) Release() {
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}
