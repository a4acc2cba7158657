package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestApplicationsBlock(t *testing.T) {
	no := false
	for _, tc := range []struct {
		name string
		yaml string
		apps *Applications
		le   *LeaderElection
		errs []string
	}{
		{name: "defaults: git.url and environments optional, leader election on",
			yaml: "applications: {}\n",
			apps: &Applications{Namespaces: []string{"argocd"}, ArgoCDNamespace: "argocd"},
			le:   &LeaderElection{Name: "tagwatch"}},
		{name: "everything set",
			yaml: "git: {url: https://git.example.com/deploy.git, author: {name: bot, email: bot@example.com}, auth: {passwordEnv: TOKEN}}\n" +
				"applications: {namespaces: [team-a, team-b], selector: 'team in (a,b)', argocdNamespace: gitops}\n" +
				"leaderElection: {enabled: false, namespace: tagwatch, name: tagwatch.leader}\n",
			apps: &Applications{Namespaces: []string{"team-a", "team-b"}, Selector: "team in (a,b)", ArgoCDNamespace: "gitops"},
			le:   &LeaderElection{Enabled: &no, Namespace: "tagwatch", Name: "tagwatch.leader"}},
		{name: "bad names",
			yaml: "applications: {namespaces: [Argo_CD, x, x], argocdNamespace: -x}\nleaderElection: {namespace: A, name: 'a b'}\n",
			errs: []string{
				`t.yaml:1: applications.namespaces[0]: "Argo_CD" is not a namespace name`,
				"t.yaml:1: applications.namespaces[2]: x is already listed (applications.namespaces[1])",
				`t.yaml:1: applications.argocdNamespace: "-x" is not a namespace name`,
				`t.yaml:2: leaderElection.namespace: "A" is not a namespace name`,
				`t.yaml:2: leaderElection.name: "a b" is not a Lease name (lower-case letters, digits, '-' and '.')`,
			}},
		{name: "git.auth without git.url: no host to keep the credentials to",
			yaml: "git: {auth: {passwordEnv: TOKEN}}\napplications: {}\n",
			errs: []string{"t.yaml:1: git.auth: Applications' repositories are offered these credentials on the host of git.url only: set git.url (or give the credentials in Argo CD's repository Secrets)"}},
		{name: "leader election without applications",
			yaml: minimal + "leaderElection: {name: x}\n",
			errs: []string{"t.yaml:8: leaderElection: is for Kubernetes mode (applications:); one process without it is the one writer"}},
		{name: "unknown field",
			yaml: "applications: {namespace: argocd}\n",
			errs: []string{`t.yaml:1: applications.namespace: unknown field (did you mean "namespaces"?) (valid: namespaces, selector, argocdNamespace)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if tc.errs != nil {
				var got []string
				if err != nil {
					got = strings.Split(err.Error(), "\n")
				}
				if diff := cmp.Diff(tc.errs, got); diff != "" {
					t.Errorf("errors (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.apps, c.Applications); diff != "" {
				t.Errorf("applications (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.le, c.LeaderElection); diff != "" {
				t.Errorf("leaderElection (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLeaderElectionEnabled(t *testing.T) {
	no, yes := false, true
	for _, tc := range []struct {
		le   *LeaderElection
		want bool
	}{{nil, true}, {&LeaderElection{}, true}, {&LeaderElection{Enabled: &yes}, true}, {&LeaderElection{Enabled: &no}, false}} {
		if got := tc.le.IsEnabled(); got != tc.want {
			t.Errorf("%+v: IsEnabled = %v", tc.le, got)
		}
	}
}
