package main

import (
	"context"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

// TestRetryAfterWaitIsLogged: a registry answering 429 with Retry-After
// makes the daemon log the wait, naming the registry, how long and why.
func TestRetryAfterWaitIsLogged(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{})
	srv.PushImage(t, "team/app", time.Now(), "1.0.0")
	srv.Inject(testreg.Fault{Path: "/tags/list", Status: 429, RetryAfter: "1"})
	logger, hook := logtest.NewNullLogger()
	c, err := registry.New(registry.WithHosts(registry.Host{Prefix: srv.Host, Insecure: true}), registry.WithObserver(registryObserver{log: logrus.NewEntry(logger)}))
	if err != nil {
		t.Fatal(err)
	}
	if tags, err := c.ListTags(context.Background(), srv.Repo("team/app")); err != nil || len(tags) != 1 {
		t.Fatalf("ListTags = %v, %v; want the tag after the wait", tags, err)
	}
	for _, e := range hook.AllEntries() {
		// The wait is what is left of the second asked for when the
		// client sees the answer.
		secs, _ := e.Data["seconds"].(float64)
		if e.Message == "waiting before the next request to the registry" && e.Data["registry"] == srv.Host && secs > 0 && secs <= 1 && e.Data["why"] == registry.WaitRetryAfter {
			return
		}
	}
	var got []logrus.Fields
	for _, e := range hook.AllEntries() {
		got = append(got, logrus.Fields{"msg": e.Message, "data": e.Data})
	}
	t.Errorf("no wait logged with registry %s, seconds in (0, 1] and why %s; logged %v", srv.Host, registry.WaitRetryAfter, got)
}
