package main

import (
	"context"
	"os"
	"os/signal"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sirupsen/logrus"
	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
	"github.com/tagwatch/tagwatch/registry"
)

// runLiveTest is the registry half of `tagwatch test`: registry settings from
// --config or --insecure, candidates from resolve.Candidates (one tag list,
// metadata only for tags that pass the name filters), then the policy.
func runLiveTest(ctx context.Context, g *globals, o *testOptions, pol *policy.Policy) (*testResult, error) {
	hosts, err := testHosts(o)
	if err != nil {
		return nil, err
	}
	c, err := newRegistryClient(g.log, hosts)
	if err != nil {
		return nil, usageError{err}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	start := time.Now()
	found, err := resolve.Find(ctx, c, pol, o.Image)
	if err != nil {
		return nil, err
	}
	res := &testResult{Result: pol.Select(found.Tags, o.Current), Invalid: found.Invalid}
	if g.log != nil {
		st := c.Stats()
		g.log.WithFields(logrus.Fields{
			"image": o.Image, "elapsed": time.Since(start).Round(time.Millisecond).String(),
			"requests": st.Total(), "list": st.List, "head": st.Head, "manifest": st.Manifest, "blob": st.Blob, "other": st.Other,
		}).Debug("registry requests")
	}
	return res, nil
}

// testHosts returns the registry settings of `tagwatch test`: the
// config's registries, or plain HTTP to the image's registry with --insecure.
func testHosts(o *testOptions) ([]registry.Host, error) {
	switch {
	case o.ConfigPath != "":
		cfg, err := config.Load(o.ConfigPath)
		if err != nil {
			return nil, usageError{err}
		}
		return plan.Hosts(cfg), nil
	case o.Insecure:
		repo, err := name.NewRepository(o.Image)
		if err != nil {
			return nil, usagef("IMAGE %q: %v", o.Image, err)
		}
		return []registry.Host{{Prefix: repo.RegistryStr(), Insecure: true}}, nil
	}
	return nil, nil
}
