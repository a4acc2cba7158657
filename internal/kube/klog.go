package kube

import (
	"fmt"

	"github.com/go-logr/logr"
	"github.com/sirupsen/logrus"
	"k8s.io/klog/v2"
)

// RouteLogs sends client-go's logs (klog: informers, leader election) to
// log, at debug level, and its errors as warnings, instead of klog's own
// lines on stderr, which would break `--log-format json`. It sets klog's
// process-wide logger: a program calls it once, at start.
func RouteLogs(log *logrus.Entry) {
	klog.SetLogger(logr.New(&logrusSink{log: log.WithField("component", "client-go")}))
}

// logrusSink is a logr.LogSink writing to logrus.
type logrusSink struct {
	log  *logrus.Entry
	name string
}

func (s *logrusSink) Init(logr.RuntimeInfo) {}

// Enabled keeps klog's verbose levels out: they are its debugging.
func (s *logrusSink) Enabled(level int) bool {
	return level == 0 && s.log.Logger.IsLevelEnabled(logrus.DebugLevel)
}

func (s *logrusSink) Info(_ int, msg string, kv ...any) { s.entry(kv).Debug(msg) }

func (s *logrusSink) Error(err error, msg string, kv ...any) { s.entry(kv).WithError(err).Warn(msg) }

func (s *logrusSink) WithValues(kv ...any) logr.LogSink {
	return &logrusSink{log: s.entry(kv), name: s.name}
}

func (s *logrusSink) WithName(name string) logr.LogSink {
	if s.name != "" {
		name = s.name + "." + name
	}
	return &logrusSink{log: s.log.WithField("logger", name), name: name}
}

func (s *logrusSink) entry(kv []any) *logrus.Entry {
	e := s.log
	for i := 0; i+1 < len(kv); i += 2 {
		e = e.WithField(fmt.Sprint(kv[i]), kv[i+1])
	}
	return e
}
