package reconcile

import (
	"context"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/internal/testgit"
)

// TestLogsAnOperatorCanActOn: a push rejected because another writer
// pushed first, an environment whose folder is missing, and the decisions
// at debug level, each logged with the repository and what to act on.
func TestLogsAnOperatorCanActOn(t *testing.T) {
	logger, hook := logtest.NewNullLogger()
	logger.SetLevel(logrus.DebugLevel)
	raced := false
	var bare string
	race := func(ctx context.Context, url string, opts ...gitrepo.Option) (Repo, error) {
		r, err := OpenGit(ctx, url, opts...)
		if err != nil {
			return nil, err
		}
		return hookedRepo{Repo: r, before: func() {
			if raced {
				return
			}
			raced = true
			if _, err := testgit.NewClone(t, bare).CommitAndPush("README.md", "another writer\n", "another writer"); err != nil {
				t.Error(err)
			}
		}}, nil
	}
	f := newFixture(t, twoEnvs+`  - name: lost
    path: envs/lost
    images: [{image: REG/team/app, kustomizeName: team/app}]
`, map[string]string{
		"envs/staging/kustomization.yaml":    kustomization("team/app", "0.9.0"),
		"envs/production/kustomization.yaml": kustomization("team/app", "2.0.0"),
	}, WithOpener(race), WithLogger(logrus.NewEntry(logger)))
	bare = f.bare
	f.reg.push("team/app", "1.0.0")
	if _, err := f.rec.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	repo := "file://" + f.bare
	find := func(level logrus.Level, msg string, fields logrus.Fields) *logrus.Entry {
		t.Helper()
		for _, e := range hook.AllEntries() {
			if e.Level != level || !strings.HasPrefix(e.Message, msg) {
				continue
			}
			ok := true
			for k, v := range fields {
				if e.Data[k] != v {
					ok = false
				}
			}
			if ok {
				return e
			}
		}
		var got []string
		for _, e := range hook.AllEntries() {
			got = append(got, e.Level.String()+" "+e.Message)
		}
		t.Errorf("no %s line %q with %v; logged:\n%s", level, msg, fields, strings.Join(got, "\n"))
		return nil
	}
	if e := find(logrus.WarnLevel, "push rejected", logrus.Fields{"repository": repo, "attempt": 1}); e != nil {
		if err, _ := e.Data[logrus.ErrorKey].(error); err == nil {
			t.Errorf("the rejection says no why: %v", e.Data)
		}
	}
	if e := find(logrus.WarnLevel, "environment skipped", logrus.Fields{"repository": repo, "env": "lost"}); e != nil {
		if err, _ := e.Data[logrus.ErrorKey].(error); err == nil || !strings.Contains(err.Error(), "envs/lost") {
			t.Errorf("the skipped environment's error does not name its folder: %v", e.Data)
		}
	}
	find(logrus.DebugLevel, "", logrus.Fields{"repository": repo, "env": "staging", "decision": "update"})
	find(logrus.InfoLevel, "The tag in Git, \"2.0.0\", ranks above", logrus.Fields{"repository": repo, "env": "production", "decision": "held"})
	find(logrus.InfoLevel, "updated", logrus.Fields{"repository": repo, "env": "staging", "to": "1.0.0"})
}
