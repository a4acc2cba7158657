package kube

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/internal/plan"
)

// TestWriteDefaults: Applications' repositories on the host of git.url get
// the config's forge (with their own repository path) and every one gets
// its signer; a pull-request Application whose repository has no forge is
// reported and left out, the others of the repository kept.
func TestWriteDefaults(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	s := &Source{}
	if err := WithWriteDefaults(nil, &plan.Forge{Kind: "gitea", URL: "https://git.example.com", Token: token}, "https://git.example.com/platform/deploy.git")(&s.o); err != nil {
		t.Fatal(err)
	}
	same := &plan.Plan{Repo: plan.Repo{URL: "https://git.example.com/team/apps.git"}}
	s.writeDefaults(same)
	if same.Repo.Forge == nil || same.Repo.Forge.Repository != "team/apps" || same.Repo.Forge.Kind != "gitea" {
		t.Errorf("forge of a repository on git.url's host: %+v", same.Repo.Forge)
	}
	other := &plan.Plan{Repo: plan.Repo{URL: "https://elsewhere.example.org/team/apps.git"}}
	s.writeDefaults(other)
	if other.Repo.Forge != nil {
		t.Errorf("a repository on another host got the forge (and its token): %+v", other.Repo.Forge)
	}

	pr := &plan.Environment{Name: "prod", Mode: plan.ModePullRequest}
	push := &plan.Environment{Name: "staging"}
	other.Envs = []*plan.Environment{push, pr}
	problems := map[string][]string{}
	s.needForge(other, map[*plan.Environment]*appState{
		pr:   {app: &App{Namespace: "argocd", Name: "prod"}},
		push: {app: &App{Namespace: "argocd", Name: "staging"}},
	}, problems)
	if len(other.Envs) != 1 || other.Envs[0] != push {
		t.Errorf("environments kept: %v, want staging alone", other.Envs)
	}
	want := map[string][]string{"argocd/prod": {"tagwatch.dev/mode: pull-request needs a forge for https://elsewhere.example.org/team/apps.git: set git.provider in the config (for repositories on the host of git.url)"}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
