package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/tagwatch/tagwatch/internal/kube"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/reconcile"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/writeback"
)

// appTestImage is one image of `tagwatch test --application`: the policy
// its annotations give, the tag it picks and why, and what a cycle would
// write (a dry run).
type appTestImage struct {
	Image    string   `json:"image"`
	Alias    string   `json:"alias"`
	Policy   string   `json:"policy"`
	Tag      string   `json:"tag"`
	Digest   string   `json:"digest"`
	Decision string   `json:"decision"`
	Reason   string   `json:"reason"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Files    []string `json:"files"`   // the files a cycle writes now
	Targets  []string `json:"targets"` // where the image is written
	Error    string   `json:"error,omitempty"`
}

type appTestJSON struct {
	Application string         `json:"application"`
	Environment string         `json:"environment"`
	Repository  string         `json:"repository"`
	Branch      string         `json:"branch"`
	Path        string         `json:"path"`
	Images      []appTestImage `json:"images"`
}

// kubeSet is the set of a command of Kubernetes mode: the config's (its
// registries and git defaults) when given, else defaults, watching ns.
func kubeSet(ctx context.Context, configPath string) (*plan.Set, error) {
	set := &plan.Set{Interval: 2 * time.Minute}
	if configPath != "" {
		var err error
		if set, err = loadSet(ctx, configPath); err != nil {
			return nil, usageError{err}
		}
	}
	if set.Kubernetes == nil {
		set.Kubernetes = &plan.Kubernetes{ArgoCDNamespace: "argocd"}
	}
	return set, nil
}

// splitApplication reads NS/NAME.
func splitApplication(app string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(app, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return "", "", usagef("--application %q: want NAMESPACE/NAME", app)
	}
	return ns, name, nil
}

// runTestApplication is `tagwatch test --application NS/NAME`.
func runTestApplication(ctx context.Context, g *globals, o *testOptions, stdout io.Writer) error {
	ns, _, err := splitApplication(o.Application)
	if err != nil {
		return err
	}
	set, err := kubeSet(ctx, o.ConfigPath)
	if err != nil {
		return err
	}
	log := logrus.NewEntry(g.log)
	km, err := startKube(ctx, set, o.Kubeconfig, log, kube.EventsOff, ns)
	if err != nil {
		return err
	}
	defer km.src.Stop()
	env, err := km.applicationEnv(o.Application)
	if err != nil {
		return err
	}
	var p *plan.Plan
	var e *plan.Environment
	for _, cand := range km.src.Plans() {
		if e = cand.Env(env); e != nil {
			p = cand
			break
		}
	}
	dir, err := cacheDir("")
	if err != nil {
		return err
	}
	client, err := newClient(set, dir, registryObserver{log: log}, km.registryOptions()...)
	if err != nil {
		return usagef("registries: %w", err)
	}
	loop, err := reconcile.New(client, reconcile.Static{p}, reconcile.WithLogger(log), reconcile.WithCacheDir(filepath.Join(dir, "git")))
	if err != nil {
		return err
	}
	rep, err := loop.Cycle(ctx, reconcile.DryRun(true))
	if err != nil {
		return err
	}
	out := appTestJSON{Application: o.Application, Environment: env, Repository: p.Repo.Display(), Branch: p.Repo.Branch, Path: e.Path}
	for _, w := range e.Watches {
		out.Images = append(out.Images, testWatch(ctx, client, e, w, rep))
	}
	if o.Output == "json" {
		return json.NewEncoder(stdout).Encode(out)
	}
	return printAppTest(stdout, out)
}

// testWatch picks w's tag and says what the dry run would write.
func testWatch(ctx context.Context, src resolve.Source, e *plan.Environment, w *plan.Watch, rep reconcile.Report) appTestImage {
	im := appTestImage{Image: w.Image, Alias: w.Alias, Policy: describeSpec(w.Policy.Spec()), Targets: describeTargets(e, w), Files: []string{}}
	var cur policy.Current
	for _, c := range rep.Changes {
		if c.Env == e.Name && c.Image == w.Image {
			im.From, im.To, im.Files, cur = c.From, c.To, c.Files, policy.Current{Tag: c.From}
		}
	}
	for _, c := range rep.Held {
		if c.Env == e.Name && c.Image == w.Image {
			im.From, cur = c.From, policy.Current{Tag: c.From}
			im.Decision, im.Reason, im.Tag = string(policy.Held), c.Reason, c.To
		}
	}
	for _, er := range rep.Errors {
		if er.Env == e.Name && (er.Image == w.Image || er.Image == "") {
			im.Error = er.Error
		}
	}
	found, err := resolve.Find(ctx, src, w.Policy, w.Image)
	if err != nil {
		if im.Error == "" {
			im.Error = err.Error()
		}
		return im
	}
	res := w.Policy.Select(found.Tags, cur)
	if im.Decision == "" {
		im.Decision, im.Reason = string(res.Decision), res.Reason
		if im.To == "" && im.Error == "" && res.Tag != "" {
			// Neither changed nor held: Git holds the pick already.
			im.Decision, im.Reason = string(policy.UpToDate), fmt.Sprintf("%s is the best candidate, and Git holds it", res.Tag)
		}
	}
	im.Tag, im.Digest = res.Tag, res.Digest
	return im
}

// describeTargets says where w is written in e.
func describeTargets(e *plan.Environment, w *plan.Watch) []string {
	if len(w.Targets) > 0 {
		var out []string
		for _, t := range w.Targets {
			switch t.Kind {
			case writeback.Kustomize:
				out = append(out, fmt.Sprintf("the kustomization of %s (images[name=%s])", t.Path, t.Name))
			case writeback.ArgoSource:
				if t.Name != "" {
					out = append(out, fmt.Sprintf("%s (kustomize.images[%s])", t.Path, t.Name))
				} else {
					out = append(out, fmt.Sprintf("%s (helm.parameters %s)", t.Path, strings.Join(nonEmpty(t.ImageField, t.RepositoryField, t.TagField), ", ")))
				}
			case writeback.Helm:
				out = append(out, fmt.Sprintf("%s (%s)", t.Path, strings.Join(nonEmpty(t.ImageField, t.RepositoryField, t.TagField, t.DigestField), ", ")))
			}
		}
		return out
	}
	out := []string{fmt.Sprintf("the kustomization of %s (images[name=%s])", e.Path, w.Name())}
	if h := w.Helm; h != nil {
		out = append(out, fmt.Sprintf("%s/%s (%s)", e.Path, h.File, strings.Join(nonEmpty(h.Image, h.Repository, h.Tag, h.Digest), ", ")))
	}
	return append(out, fmt.Sprintf(`scalars marked # {"$tagwatch": %q} under %s`, w.Alias, e.Path))
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func printAppTest(w io.Writer, a appTestJSON) error {
	var b strings.Builder
	branch := a.Branch
	if branch == "" {
		branch = "the default branch"
	}
	fmt.Fprintf(&b, "application: %s\nenvironment: %s\nrepository:  %s (%s)\npath:        %s\n", a.Application, a.Environment, a.Repository, branch, a.Path)
	for _, im := range a.Images {
		tag := orDash(im.Tag)
		if im.Digest != "" {
			tag += "@" + im.Digest
		}
		fmt.Fprintf(&b, "\nimage:       %s (alias %s)\npolicy:      %s\ntag:         %s\n", im.Image, im.Alias, im.Policy, tag)
		if im.Decision != "" {
			fmt.Fprintf(&b, "decision:    %s: %s\n", im.Decision, im.Reason)
		}
		switch {
		case im.Error != "":
			fmt.Fprintf(&b, "error:       %s\n", im.Error)
		case im.To != "":
			fmt.Fprintf(&b, "writes:      %s: %s -> %s\n", strings.Join(im.Files, ", "), orNone(im.From), im.To)
		default:
			fmt.Fprintf(&b, "writes:      nothing now\n")
		}
		fmt.Fprintf(&b, "targets:     %s\n", strings.Join(im.Targets, "; "))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
