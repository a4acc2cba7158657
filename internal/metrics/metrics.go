// Package metrics is tagwatch's Prometheus instrumentation (DESIGN §7):
// the families below, on a registry of their own, fed by the code paths
// they name through small observer methods (the loop's cycles, the
// registry client's requests, the webhook receiver, leader election).
// Label values are bounded: environments, registry hosts, request kinds,
// status codes, stages and results; never tags or digests.
package metrics

import (
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/webhook"
)

// Results of tagwatch_cycles_total.
const (
	CycleOK      = "ok"      // every target went through
	CyclePartial = "partial" // the cycle completed; some targets failed (see tagwatch_errors_total)
	CycleFailed  = "failed"  // no repository could be worked on (the cycle's own error)
)

// Results of tagwatch_git_pushes_total.
const (
	PushOK       = "ok"
	PushRejected = "rejected" // the branch moved: tagwatch fetched, re-applied and tried again
	PushError    = "error"
)

// Metrics holds tagwatch's metric families. Safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	cycles        *prometheus.CounterVec
	cycleDuration prometheus.Histogram
	requests      *prometheus.CounterVec
	cacheHits     *prometheus.CounterVec
	changes       *prometheus.CounterVec
	held          *prometheus.CounterVec
	errs          *prometheus.CounterVec
	pushes        *prometheus.CounterVec
	webhooks      *prometheus.CounterVec
	watched       prometheus.Gauge
	lastSuccess   prometheus.Gauge
	leader        prometheus.Gauge

	mu sync.Mutex // orders CycleDone's gauge updates
}

// New makes the families and registers them, with the Go and process
// collectors, on a registry of their own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		cycles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_cycles_total", Help: "Cycles run, by result: ok, partial (some targets failed), failed.",
		}, []string{"result"}),
		cycleDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "tagwatch_cycle_duration_seconds", Help: "Duration of cycles, triggered ones included.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_registry_requests_total", Help: "Requests sent to registries (retries included), by registry host, kind (list, head, manifest, blob, put, other) and status code (0: no response).",
		}, []string{"registry", "kind", "code"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_registry_cache_hits_total", Help: "Image metadata answered by the digest-keyed cache instead of the registry.",
		}, []string{"registry"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_changes_total", Help: "Images moved (committed and pushed), by environment.",
		}, []string{"environment"}),
		held: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_held_total", Help: "Decisions to hold an image (no downgrade, a promotion gate, a rollback), by environment; counted each cycle it is held.",
		}, []string{"environment"}),
		errs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_errors_total", Help: "Errors reported by cycles, by stage: config, registry, policy, writeback, git.",
		}, []string{"stage"}),
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_git_pushes_total", Help: "Push attempts, by result: ok, rejected (the branch moved; retried), error.",
		}, []string{"result"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tagwatch_webhook_events_total", Help: "Webhook requests, by type and result: accepted, unauthorized, invalid, too_large.",
		}, []string{"type", "result"}),
		watched: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagwatch_watched_images", Help: "Distinct image repositories watched.",
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagwatch_last_success_timestamp_seconds", Help: "When the latest cycle that completed ended (Unix time).",
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "tagwatch_leader", Help: "1 while this replica may read registries and write Git, else 0.",
		}),
	}
	m.reg.MustRegister(m.cycles, m.cycleDuration, m.requests, m.cacheHits, m.changes, m.held, m.errs,
		m.pushes, m.webhooks, m.watched, m.lastSuccess, m.leader,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every result and stage is exported from the start, at 0, so that
	// rate() and alerts see the series before their first increment.
	for _, r := range []string{CycleOK, CyclePartial, CycleFailed} {
		m.cycles.WithLabelValues(r)
	}
	for _, s := range []string{reconcile.StageConfig, reconcile.StageRegistry, reconcile.StagePolicy, reconcile.StageWriteback, reconcile.StageGit} {
		m.errs.WithLabelValues(s)
	}
	for _, r := range []string{PushOK, PushRejected, PushError} {
		m.pushes.WithLabelValues(r)
	}
	return m
}

// Handler serves the families in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Registry is where the families are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// CycleDone counts a finished cycle (reconcile.Observer).
func (m *Metrics) CycleDone(s reconcile.Summary) {
	result := CycleOK
	switch {
	case s.Err != nil:
		result = CycleFailed
	case s.Report.Failed():
		result = CyclePartial
	}
	m.cycles.WithLabelValues(result).Inc()
	m.cycleDuration.Observe(s.Duration.Seconds())
	for _, c := range s.Report.Changes {
		if !c.Pending { // waiting in a pull request that held it already: not made again
			m.changes.WithLabelValues(c.Env).Inc()
		}
	}
	for _, h := range s.Report.Held {
		m.held.WithLabelValues(h.Env).Inc()
	}
	for _, e := range s.Report.Errors {
		stage := e.Stage
		if stage == "" {
			stage = reconcile.StageGit
		}
		m.errs.WithLabelValues(stage).Inc()
	}
	for _, p := range s.Pushes {
		m.push(p)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.Scope == nil {
		m.watched.Set(float64(s.Watched))
	}
	if s.Err == nil {
		m.lastSuccess.Set(float64(s.Started.Add(s.Duration).UnixNano()) / float64(time.Second))
	}
}

// push counts the attempts of one repository's push: those the remote
// rejected because the branch moved (p.Rejected, the last one included
// when Publish gave up), and the outcome of the last: it went through,
// failed, or found nothing left to push (not an attempt of its own).
func (m *Metrics) push(p reconcile.Push) {
	switch {
	case p.Err == nil && p.Pushed:
		m.pushes.WithLabelValues(PushOK).Inc()
	case p.Err == nil, errors.Is(p.Err, gitrepo.ErrPushRejected):
		// Nothing left to push; or given up, its last rejection counted.
	default:
		m.pushes.WithLabelValues(PushError).Inc()
	}
	if p.Rejected > 0 {
		m.pushes.WithLabelValues(PushRejected).Add(float64(p.Rejected))
	}
}

// ConfigError counts a configuration error found outside a cycle: a
// reloaded config that was refused (the previous one keeps running).
func (m *Metrics) ConfigError() { m.errs.WithLabelValues(reconcile.StageConfig).Inc() }

// Request counts one registry request (code 0: no response).
func (m *Metrics) Request(host, kind string, code int) {
	m.requests.WithLabelValues(host, kind, strconv.Itoa(code)).Inc()
}

// CacheHit counts metadata answered from the cache.
func (m *Metrics) CacheHit(host string) { m.cacheHits.WithLabelValues(host).Inc() }

// Wait is not counted (registry.Observer): a wait is for the logs.
func (m *Metrics) Wait(string, time.Duration, string) {}

// Webhook counts one webhook request (webhook.Observer).
func (m *Metrics) Webhook(typ string, result webhook.Result) {
	m.webhooks.WithLabelValues(typ, string(result)).Inc()
}

// SetLeader says whether this replica is the leader.
func (m *Metrics) SetLeader(on bool) {
	v := 0.0
	if on {
		v = 1
	}
	m.leader.Set(v)
}
