// Package testreg starts real container registries for tests and fills them.
//
//   - Start runs go-containerregistry's in-process registry (pkg/registry)
//     behind httptest on 127.0.0.1, optionally with TLS, basic auth, Link
//     pagination of tag lists, injected faults and request counting.
//   - StartDistribution runs Debian's CNCF distribution 2.8
//     (/usr/bin/docker-registry) on 127.0.0.1 with htpasswd auth and optional
//     TLS; it skips (fails under CI=true) when the program is missing.
//   - StartFaultProxy puts a reverse proxy in front of either that fails
//     the requests its decide function picks (RandomFaults: a share of
//     them at random, seeded): the network and gateways between tagwatch
//     and a real registry.
//   - Both return a *Target whose methods push random images and indexes
//     with chosen created times and tags.
//
// A typical end-to-end test:
//
//	srv := testreg.Start(t, testreg.Options{})
//	srv.PushImage(t, "team/app", time.Now(), "1.0.0", "1.1.0")
//	// talk to srv.Prefix() + "/team/app"
package testreg
