package reconcile

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkGiteaPullRequestCycle is the cost of a cycle of pull-request
// mode on the real Gitea (127.0.0.1), one environment in push mode beside
// one in pull-request mode, two pull-request cycles of note:
//
//   - update: a newer tag appeared; staging is pushed to main, production's
//     branch made again and force-pushed with a lease (one receive-pack for
//     both), its pull request found by branch and updated in place.
//   - unchanged: nothing new; the branch is read (a listing) and left, the
//     pull request found and left.
//
// BenchmarkGiteaPushCycle is the update cycle with both environments in
// push mode, for comparison.
func BenchmarkGiteaPushCycle(b *testing.B) {
	f := newGiteaFixture(b, false)
	l := f.loop(b, strings.Replace(f.cfg, "mode: pull-request", "mode: push", 1))
	n := 0
	for b.Loop() {
		b.StopTimer()
		n++
		f.reg.push("team/app", fmt.Sprintf("1.%d.0", n))
		b.StartTimer()
		if rep, err := l.Cycle(context.Background()); err != nil || len(rep.Errors) > 0 {
			b.Fatalf("cycle: %v %+v", err, rep.Errors)
		}
	}
}

func BenchmarkGiteaPullRequestCycle(b *testing.B) {
	f := newGiteaFixture(b, false)
	l := f.loop(b, f.cfg)
	ctx := context.Background()
	cycle := func(b *testing.B) {
		rep, err := l.Cycle(ctx)
		if err != nil || len(rep.Errors) > 0 {
			b.Fatalf("cycle: %v %+v", err, rep.Errors)
		}
	}
	b.Run("update", func(b *testing.B) {
		n := 0
		for b.Loop() {
			b.StopTimer()
			n++
			f.reg.push("team/app", fmt.Sprintf("1.%d.0", n))
			b.StartTimer()
			cycle(b)
		}
	})
	cycle(b) // the branch made again on the head staging's last commit left
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			cycle(b)
		}
	})
}
