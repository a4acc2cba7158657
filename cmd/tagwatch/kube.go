package main

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/kube"
	"github.com/tagwatch/tagwatch/internal/metrics"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/server"
	"github.com/tagwatch/tagwatch/registry"
)

// kubeMode is what Kubernetes mode (applications: in the config) adds to
// a command: the Applications as a source of plans, and for the daemon the
// leader election.
type kubeMode struct {
	src     *kube.Source
	elector *kube.Elector // nil: this process is the one writer
	leader  *leaderField
}

// startKube connects to the cluster (kubeconfig: the --kubeconfig flag) and
// lists the Applications of set's namespaces (namespaces, when given,
// instead). The Source has set's plans as its base and records Events as
// events says.
func startKube(ctx context.Context, set *plan.Set, kubeconfig string, log *logrus.Entry, events kube.EventMode, namespaces ...string) (*kubeMode, error) {
	k := set.Kubernetes
	kube.RouteLogs(log)
	cfg, err := kube.RESTConfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	if len(namespaces) == 0 {
		namespaces = k.Namespaces
	}
	src, err := kube.New(cfg,
		kube.WithNamespaces(namespaces...), kube.WithSelector(k.Selector), kube.WithArgoCDNamespace(k.ArgoCDNamespace),
		kube.WithGitDefaults(k.Git.Author, k.Git.Auth, k.Git.URL, k.KnownHostsFile),
		kube.WithWriteDefaults(k.Git.Signer, k.Git.Forge, k.Git.URL), kube.WithLogger(log), kube.WithEvents(events))
	if err != nil {
		return nil, err
	}
	src.SetBase(set.Plans)
	if err := src.Start(ctx); err != nil {
		src.Stop()
		return nil, err
	}
	return &kubeMode{src: src, leader: &leaderField{}}, nil
}

// elect sets up the leader election of the daemon: metrics, readiness and
// the leader log field follow the Lease.
func (k *kubeMode) elect(set *plan.Set, kubeconfig string, m *metrics.Metrics, health *server.Health, log *logrus.Entry) error {
	cfg, err := kube.RESTConfig(kubeconfig)
	if err != nil {
		return err
	}
	var lease string
	onChange := func(leading bool) {
		k.leader.v.Store(leading)
		m.SetLeader(leading)
		if leading {
			health.SetStandby("")
			log.WithField("lease", lease).Info("leading: this replica writes")
			return
		}
		health.SetStandby("another replica holds the Lease " + lease)
	}
	ks := set.Kubernetes
	if k.elector, err = kube.NewElector(cfg, ks.LeaseNamespace, ks.LeaseName, onChange, 0, 0, 0); err != nil {
		return err
	}
	lease = k.elector.Lease()
	m.SetLeader(false)
	health.SetStandby("waiting for the Lease " + lease)
	log.WithFields(logrus.Fields{"lease": lease, "identity": k.elector.Identity()}).Info("campaigning for the Lease; only its holder reads registries and writes Git")
	return nil
}

// registryOptions are the registry client's options of Kubernetes mode:
// the Applications' pull secrets.
func (k *kubeMode) registryOptions() []registry.Option {
	if k == nil {
		return nil
	}
	return []registry.Option{registry.WithCredentialFunc(k.src.Credentials)}
}

// applicationEnv returns the environment name of the Application ns/name,
// or why it has none.
func (k *kubeMode) applicationEnv(app string) (string, error) {
	env, problems, ok := k.src.Environment(app)
	switch {
	case !ok:
		return "", usagef("no Application %s in the namespaces watched", app)
	case len(problems) > 0:
		return "", usagef("Application %s is skipped: %v", app, problems)
	case env == "":
		return "", usagef("Application %s carries neither tagwatch.dev/images nor %simage-list", app, kube.ImageUpdaterPrefix)
	}
	return env, nil
}

// leaderField is the leader field of the daemon's logs: whether this
// replica holds the Lease when the line is written.
type leaderField struct{ v atomic.Bool }

func (l *leaderField) String() string { return strconv.FormatBool(l.v.Load()) }

// MarshalJSON writes it as a JSON boolean (logrus' JSON formatter).
func (l *leaderField) MarshalJSON() ([]byte, error) { return []byte(l.String()), nil }

var _ fmt.Stringer = (*leaderField)(nil)
