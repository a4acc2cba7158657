package kube

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestLeaseLost: the loop runs in the context Lead returns. Another
// replica takes the Lease (its holderIdentity set to another identity, as
// a replica that found it expired does): the context ends, the loop
// stops, and a cycle run with that context afterwards pushes nothing,
// though a newer image waits. Giving up (Release) leaves the other
// replica's Lease alone. Timings are short to keep the test quick; nothing
// is asserted about them.
func TestLeaseLost(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source("file://"+bare, "a"))
	w.waitApps("a")

	leaseNS := w.c.Namespace(t)
	var mu sync.Mutex
	var leading []bool
	el, err := NewElector(w.c.AdminConfig(), leaseNS, "tagwatch", func(l bool) {
		mu.Lock()
		defer mu.Unlock()
		leading = append(leading, l)
	}, 6*time.Second, 4*time.Second, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	lctx, err := el.Lead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	l := w.loop()
	done := make(chan error, 1)
	go func() { done <- l.Run(lctx) }()
	first := <-w.reports
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(first)); diff != "" {
		t.Fatalf("the leader's first cycle (-want +got):\n%s\nerrors: %v", diff, errorsOf(first))
	}

	leases := w.c.Clientset(t).CoordinationV1().Leases(leaseNS)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := leases.Get(context.Background(), "tagwatch", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if got := holder(lease.Spec.HolderIdentity); got != el.Identity() {
			t.Fatalf("the Lease is held by %q, want %q", got, el.Identity())
		}
		now := metav1.NewMicroTime(time.Now())
		other, hour := "other-replica", int32(3600)
		lease.Spec.HolderIdentity, lease.Spec.LeaseDurationSeconds = &other, &hour
		lease.Spec.AcquireTime, lease.Spec.RenewTime = &now, &now
		_, err = leases.Update(context.Background(), lease, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-done: // the loop stopped
	case <-time.After(time.Minute): // a hang guard, not a timing assert
		t.Fatal("the loop still runs a minute after the Lease went to another replica")
	}
	if lctx.Err() == nil {
		t.Error("the loop stopped, but the writer's context did not end")
	}

	w.push("app", "1.2.0")
	head := testgit.Head(t, bare, "main")
	_, _ = l.Cycle(lctx)
	after := <-w.reports
	if len(after.Pushes) != 0 || len(after.Report.Commits) != 0 {
		t.Errorf("a cycle after the Lease was lost pushed: %+v %v", after.Pushes, after.Report.Commits)
	}
	if got := testgit.Head(t, bare, "main"); got != head {
		t.Errorf("main moved from %s to %s after the Lease was lost", head, got)
	}
	if got := testgit.Show(t, bare, "main", "a/kustomization.yaml"); !strings.Contains(got, "1.1.0") {
		t.Errorf("a/kustomization.yaml:\n%s", got)
	}

	el.Release()
	mu.Lock()
	got := slices.Clone(leading)
	mu.Unlock()
	if diff := cmp.Diff([]bool{true, false}, got); diff != "" {
		t.Errorf("leading (-want +got):\n%s", diff)
	}
	lease, err := leases.Get(context.Background(), "tagwatch", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := holder(lease.Spec.HolderIdentity); got != "other-replica" {
		t.Errorf("after Release the Lease is held by %q, want the other replica's still", got)
	}
}

func holder(id *string) string {
	if id == nil {
		return ""
	}
	return *id
}
