package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwatch/tagwatch/internal/audit"
	"github.com/tagwatch/tagwatch/internal/gate"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// maxGateProbes bounds the candidates a gated image looks up (one digest
// each) to find the best one the from environment vouches for.
const maxGateProbes = 20

// promotions is what the gated environments of one plan know of the
// environments they are promoted from, read once, at the cycle's start:
// a gate sees its from environment as Git had it then (a commit of the
// from environment in the same cycle starts its soak; it does not satisfy
// it).
type promotions struct {
	now     time.Time
	running map[runKey]*gate.Running
	unknown map[runKey]string // why running is nil
	health  map[string]*gate.Health
	current map[runKey]string // the from environments' values at the cycle's start
}

type runKey struct{ env, image string }

func (p *promotions) lookup(env, image string) (*gate.Running, string) {
	if p == nil {
		return nil, "its history was not read"
	}
	k := runKey{env, image}
	return p.running[k], p.unknown[k]
}

// readPromotions reads, for every gated environment of envs, what its from
// environment runs now: the value in its files and the Tagwatch-Update
// trailer that put it there (the latest of that environment and image),
// walking history back as far as needed (up to the loop's bound). A
// history that cannot be read leaves every gate closed with that reason.
func (c *cycle) readPromotions(ctx context.Context, repo Repo, hist *history, envs []*plan.Environment, full *plan.Plan) *promotions {
	pr := &promotions{now: time.Now(), running: map[runKey]*gate.Running{}, unknown: map[runKey]string{}, health: map[string]*gate.Health{}, current: map[runKey]string{}}
	want := map[runKey]*plan.Watch{} // the from environment's watch of the image
	current := pr.current
	for _, e := range envs {
		if e.Gate == nil {
			continue
		}
		from := full.Env(e.Gate.From)
		if from == nil {
			continue // plan.Check refuses it
		}
		if e.Gate.RequireHealthy {
			pr.health[from.Name] = c.health(ctx, from)
		}
		for _, w := range e.Watches {
			k := runKey{from.Name, w.Key}
			fw := watchOf(from, w.Key)
			if fw == nil {
				pr.unknown[k] = fmt.Sprintf("%s does not watch %s", from.Name, w.Image)
				continue
			}
			probe := &envRun{c: c, env: from}
			locs, err := probe.locate(repo.Dir(), writeback.KustomizationFile(repo.Dir(), from.Path), fw)
			if err != nil || len(locs) == 0 {
				pr.unknown[k] = fmt.Sprintf("its value of %s cannot be read: %v", w.Image, err)
				continue
			}
			current[k], want[k] = locs[0].cur.Tag, fw
		}
	}
	if len(want) == 0 {
		return pr
	}
	// Per image of a from environment: its latest trailer, and the oldest
	// of an unbroken run of retags just before it, trailers of the same
	// digest each moving the value the one before it wrote (1.4.0-rc.1 ->
	// 1.4.0 keeps the image it runs): the one that introduced the digest
	// starts the soak. A rollback, its clearing, or a value that changed
	// in between (by hand) ends the run: a digest taken again soaks again.
	latest := map[runKey]audit.Entry{}
	intro := map[runKey]audit.Entry{}
	done := map[runKey]bool{}
	commits, err := hist.read(ctx)
	if err != nil {
		// The gates stay closed, saying why; the environments without one
		// carry on (their moves check rollbacks against the same history,
		// and report its error per image).
		why := "its history cannot be read: " + causeOf(ctx, err).Error()
		for k := range want {
			pr.unknown[k] = why
		}
		return pr
	}
	for _, ci := range commits {
		for _, ch := range ci.records {
			k := runKey{ch.Env, plan.Normalize(ch.Image)}
			if _, needed := want[k]; !needed || done[k] {
				continue
			}
			l, found := latest[k]
			in := intro[k]
			switch {
			case !found && ch.Kind != audit.KindUpdate:
				// A rollback newer than any update: the value it wrote
				// is checked against the latest update below.
			case !found:
				latest[k] = audit.Entry{Commit: ci.hash, Time: ci.when, Change: ch.Change}
				intro[k] = latest[k]
			case ci.hash == in.Commit:
				// Another file of the same change.
			case ch.Kind == audit.KindUpdate && ch.Digest != "" && ch.Digest == l.Digest && ch.To == in.From:
				intro[k] = audit.Entry{Commit: ci.hash, Time: ci.when, Change: ch.Change}
			default:
				done[k] = true
			}
		}
		if len(done) == len(want) {
			break
		}
	}
	complete := hist.complete
	for k := range want {
		t, found := latest[k]
		switch {
		case !found && complete:
			pr.unknown[k] = fmt.Sprintf("no Tagwatch-Update trailer of %s for this image in its history", k.env)
		case !found:
			pr.unknown[k] = fmt.Sprintf("no Tagwatch-Update trailer of %s for this image in the %d commits read", k.env, len(commits))
		case t.To != current[k]:
			pr.unknown[k] = fmt.Sprintf("%s runs %s, which tagwatch's latest change (%.10s) did not write (it wrote %s)", k.env, orNone(current[k]), t.Commit, t.To)
		default:
			in := intro[k]
			pr.running[k] = &gate.Running{Tag: t.To, Digest: t.Digest, Since: in.Time, Commit: in.Commit}
		}
	}
	return pr
}

// health reads env's Application (Kubernetes mode); nil when unknown.
func (c *cycle) health(ctx context.Context, env *plan.Environment) *gate.Health {
	if env.Health == nil {
		return nil
	}
	h, err := env.Health(ctx)
	if err != nil {
		c.l.o.log.WithField("env", env.Name).WithError(err).Warn("reading the health of a promotion source")
		return nil
	}
	return h
}

func watchOf(e *plan.Environment, key string) *plan.Watch {
	for _, w := range e.Watches {
		if w.Key == key {
			return w
		}
	}
	return nil
}

// pick decides an update the policy chose, when the environment has a
// promotion gate or rolled-back digests: the best candidate above the
// value in Git that was not rolled back (here or up the promotion chain)
// and whose digest the gate lets through is taken; with none, the image
// is held with the reason of the best candidate. The stage of an error is
// returned with it.
func (e *envRun) pick(ctx context.Context, w *plan.Watch, tags []policy.Tag, cur policy.Current, res policy.Result) (policy.Result, string, string, error) {
	rolled, err := e.rolledBack(ctx, w, cur.Tag)
	if err != nil {
		return res, "", StageGit, err
	}
	if len(rolled) == 0 && e.env.Gate == nil {
		return res, "", "", nil // nothing to check: no digest to look up
	}
	var run *gate.Running
	var unknown string
	if g := e.env.Gate; g != nil {
		run, unknown = e.prom.lookup(g.From, w.Key)
	}
	why := ""
	for i, cand := range res.Candidates {
		if cand == cur.Tag || i == maxGateProbes {
			break
		}
		d, err := e.c.src.Digest(ctx, w.Image, cand)
		if err != nil {
			return res, "", StageRegistry, fmt.Errorf("digest of %s:%s: %w", w.Image, cand, err)
		}
		if f, bad := rolled[d]; bad {
			if why == "" {
				why = f.Reason()
			}
			continue
		}
		opened := ""
		if g := e.env.Gate; g != nil {
			gr := gate.Check(gate.Input{Gate: *g, Digest: d, Running: run, Unknown: unknown, Health: e.healthOf(g.From, run), Now: e.prom.now})
			if !gr.Open {
				if why == "" {
					why = gr.Reason
				}
				if run == nil || run.Digest == "" {
					break // no candidate can pass: no more digests to look up
				}
				continue
			}
			opened = gr.Reason
		}
		one := []policy.Tag{{Name: cand, Digest: d}}
		for _, t := range tags {
			if t.Name == cand {
				one[0] = t
				one[0].Digest = d
			}
		}
		return w.Policy.Select(one, cur), opened, "", nil
	}
	held := res
	held.Decision = policy.Held
	held.Reason = why
	if why == "" {
		held.Reason = "no candidate above " + orNone(cur.Tag) + " passes the promotion gate"
	}
	return held, "", "", nil
}

// healthOf is the health of the from environment for the gate, with
// whether the revision its Application is synced at holds the commit that
// introduced the running digest.
func (e *envRun) healthOf(from string, run *gate.Running) *gate.Health {
	h := e.prom.health[from]
	if h == nil || run == nil || h.Revision == "" {
		return h
	}
	c := *h
	ok, err := e.hist.repo.Contains(h.Revision, run.Commit)
	if err != nil {
		e.log.WithField("env", e.env.Name).WithError(err).Warn("telling whether the promotion source's synced revision holds the change")
	}
	c.Contains = ok
	return &c
}
