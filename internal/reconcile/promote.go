package reconcile

import (
	"context"
	"fmt"
	"time"

	"github.com/tagwatch/tagwatch/gitrepo"
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
	commits int // commits of history read
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
// walking history back as far as needed (up to the loop's bound).
func (c *cycle) readPromotions(ctx context.Context, repo Repo, envs []*plan.Environment, full *plan.Plan) (*promotions, error) {
	pr := &promotions{now: time.Now(), running: map[runKey]*gate.Running{}, unknown: map[runKey]string{}, health: map[string]*gate.Health{}}
	want := map[runKey]*plan.Watch{} // the from environment's watch of the image
	current := map[runKey]string{}
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
		return pr, nil
	}
	// Per image of a from environment: its latest trailer, and the oldest
	// of the trailers just before it that name the same digest (a retag,
	// 1.4.0-rc.1 -> 1.4.0, keeps the image it runs): the one that
	// introduced the digest starts the soak.
	latest := map[runKey]audit.Entry{}
	intro := map[runKey]audit.Entry{}
	done := map[runKey]bool{}
	complete, err := repo.Walk(ctx, c.l.o.historyLimit, func(ci gitrepo.CommitInfo) error {
		pr.commits++
		for _, ch := range audit.Parse(ci.Message) {
			k := runKey{ch.Env, plan.Normalize(ch.Image)}
			if _, needed := want[k]; !needed || done[k] {
				continue
			}
			l, found := latest[k]
			switch {
			case !found:
				latest[k] = audit.Entry{Commit: ci.Hash, Time: ci.When, Change: ch}
				intro[k] = latest[k]
			case ch.Digest != "" && ch.Digest == l.Digest:
				intro[k] = audit.Entry{Commit: ci.Hash, Time: ci.When, Change: ch}
			default:
				done[k] = true
			}
		}
		if len(done) == len(want) {
			return gitrepo.ErrStopLog
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the history the promotion gates need: %w", err)
	}
	for k := range want {
		t, found := latest[k]
		switch {
		case !found && complete:
			pr.unknown[k] = fmt.Sprintf("no Tagwatch-Update trailer of %s for this image in its history", k.env)
		case !found:
			pr.unknown[k] = fmt.Sprintf("no Tagwatch-Update trailer of %s for this image in the %d commits read", k.env, pr.commits)
		case t.To != current[k]:
			pr.unknown[k] = fmt.Sprintf("%s runs %s, which tagwatch's latest change (%.10s) did not write (it wrote %s)", k.env, orNone(current[k]), t.Commit, t.To)
		default:
			in := intro[k]
			pr.running[k] = &gate.Running{Tag: t.To, Digest: t.Digest, Since: in.Time, Commit: in.Commit}
		}
	}
	return pr, nil
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

// gated lets the environment's gate decide an update its policy chose:
// the best candidate above the value in Git whose digest the from
// environment vouches for is taken; with none, the image is held with the
// gate's reason for the best candidate.
func (e *envRun) gated(ctx context.Context, w *plan.Watch, tags []policy.Tag, cur policy.Current, res policy.Result) (policy.Result, string, error) {
	g := *e.env.Gate
	run, unknown := e.prom.lookup(g.From, w.Key)
	var first *gate.Result
	for i, cand := range res.Candidates {
		if cand == cur.Tag || i == maxGateProbes {
			break
		}
		d, err := e.c.src.Digest(ctx, w.Image, cand)
		if err != nil {
			return res, "", fmt.Errorf("digest of %s:%s for the promotion gate: %w", w.Image, cand, err)
		}
		gr := gate.Check(gate.Input{Gate: g, Digest: d, Running: run, Unknown: unknown, Health: e.prom.health[g.From], Now: e.prom.now})
		if first == nil {
			first = &gr
		}
		if gr.Open {
			one := []policy.Tag{{Name: cand, Digest: d}}
			for _, t := range tags {
				if t.Name == cand {
					one[0] = t
					one[0].Digest = d
				}
			}
			return w.Policy.Select(one, cur), gr.Reason, nil
		}
		if run == nil || run.Digest == "" {
			break // no candidate can pass: no more digests to look up
		}
	}
	held := res
	held.Decision = policy.Held
	held.Reason = "the promotion gate from " + g.From + " is closed"
	if first != nil {
		held.Reason = first.Reason
	}
	return held, "", nil
}
