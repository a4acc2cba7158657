package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
)

// gateState is the promotion gate of an environment for one image, as a
// dry-run cycle over the environment's repository finds it now.
type gateState struct {
	From   string `json:"from"`
	Open   bool   `json:"open"`
	Tag    string `json:"tag,omitempty"` // the tag the environment would take through it
	Reason string `json:"reason"`
}

// readGate runs a dry-run cycle scoped to o.Image and reports the gate of
// o.Env: nil when the environment has no gate. It reads Git (the history
// of the from environment) and the registry, and writes nothing.
func readGate(ctx context.Context, g *globals, o *testOptions) (*gateState, error) {
	set, err := loadSet(ctx, o.ConfigPath)
	if err != nil {
		return nil, usageError{err}
	}
	var env *plan.Environment
	for _, p := range set.Plans {
		if e := p.Env(o.Env); e != nil {
			env = e
		}
	}
	if env == nil || env.Gate == nil {
		return nil, nil
	}
	dir, err := cacheDir("")
	if err != nil {
		return nil, err
	}
	client, err := newClient(set, dir, registryObserver{log: logrus.NewEntry(g.log)})
	if err != nil {
		return nil, usageError{err}
	}
	// A working copy of its own: a daemon may hold run's (git/) locked.
	loop, err := reconcile.New(client, reconcile.Static(set.Plans), reconcile.WithLogger(logrus.NewEntry(g.log)),
		reconcile.WithCacheDir(filepath.Join(dir, "test", "git")))
	if err != nil {
		return nil, err
	}
	rep, err := loop.Cycle(ctx, reconcile.DryRun(true), reconcile.Only(plan.Normalize(o.Image)))
	if err != nil {
		return nil, err
	}
	st := &gateState{From: env.Gate.From}
	for _, c := range rep.Changes {
		if c.Env == o.Env {
			st.Open, st.Tag, st.Reason = true, c.To, c.Reason
			return st, nil
		}
	}
	for _, h := range rep.Held {
		if h.Env == o.Env {
			st.Reason = h.Reason
			return st, nil
		}
	}
	for _, e := range rep.Errors {
		if e.Env == o.Env || e.Env == "" {
			return nil, fmt.Errorf("reading the gate of %s: %s", o.Env, e.Error)
		}
	}
	st.Reason = "nothing to promote: the environment runs the best candidate its policy allows"
	return st, nil
}
