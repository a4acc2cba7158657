package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/tagwatch/tagwatch/internal/plan"
)

func TestKubeRestart(t *testing.T) {
	base := plan.Kubernetes{Namespaces: []string{"argocd"}, ArgoCDNamespace: "argocd", LeaderElection: true, LeaseName: "tagwatch"}
	with := func(f func(k *plan.Kubernetes)) *plan.Kubernetes {
		k := base
		f(&k)
		return &k
	}
	for _, tc := range []struct {
		old, cur *plan.Kubernetes
		want     string
	}{
		{nil, nil, ""},
		{&base, with(func(k *plan.Kubernetes) { k.KnownHostsFile = "/kh" }), ""}, // applied by the reload
		{nil, &base, "applications: (Kubernetes mode on or off)"},
		{&base, with(func(k *plan.Kubernetes) { k.Namespaces = []string{"argocd", "team"} }), "applications: (namespaces, selector, argocdNamespace)"},
		{&base, with(func(k *plan.Kubernetes) { k.Selector = "team=a" }), "applications: (namespaces, selector, argocdNamespace)"},
		{&base, with(func(k *plan.Kubernetes) { k.LeaseName = "other" }), "leaderElection:"},
	} {
		if got := kubeRestart(tc.old, tc.cur); got != tc.want {
			t.Errorf("kubeRestart(%+v, %+v) = %q, want %q", tc.old, tc.cur, got, tc.want)
		}
	}
}

// TestLeaderField: the leader field reads the state when a line is
// written, in text and in JSON.
func TestLeaderField(t *testing.T) {
	l := &leaderField{}
	if got := fmt.Sprint(l); got != "false" {
		t.Errorf("text: %q", got)
	}
	l.v.Store(true)
	b, err := json.Marshal(map[string]any{"leader": l})
	if err != nil || string(b) != `{"leader":true}` {
		t.Errorf("JSON: %s %v", b, err)
	}
}
