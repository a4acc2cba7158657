// Package webhook turns registry push notifications into hints for the
// reconcile loop: "a tag of this image repository was pushed".
//
// A Handler serves POST /webhooks/registry?type=T. Each type T names a
// sender and its payload: distribution (the CNCF distribution
// notification envelope that docker-registry sends), dockerhub, github
// (package and registry_package events), harbor, quay, cloudevents (Amazon
// ECR through EventBridge, or any structured-mode CloudEvent whose data
// names a repository) and generic (tagwatch's own {"image", "tag"}). A
// parser per type reads only the fields it needs and turns a payload into
// zero or more Events; a payload about something else (a pull, a scan, a
// GitHub ping, an untagged push) is accepted and carries none.
//
// An Event's Repository is normalised as go-containerregistry's
// name.NewRepository(…).Name() gives it, which is how the config
// normalises its image fields, so the loop can look the watching
// environments up by equality. Where a sender names a repository without
// its registry (distribution, ECR, Docker Hub), the parser supplies the
// registry the way a client of that registry writes it. The tag is a hint
// only: the loop lists the registry anyway, so a lost, repeated or forged
// (but authenticated) event costs a listing, never a wrong decision.
//
// Authentication is per type and read at request time, so a rotated secret
// applies at once. github and generic sign the raw body (HMAC-SHA256,
// "sha256=<hex>" in X-Hub-Signature-256 or X-Tagwatch-Signature); the
// others carry a shared secret in Authorization (raw or "Bearer …") or in
// ?secret=, compared in constant time. A type without a secret is not
// served unless the handler is insecure. Nothing reaches the Sink unless
// the answer is 202, and the Observer hears of every request once, which
// is what tagwatch_webhook_events_total{type,result} counts.
//
// The package logs nothing and keeps no state between requests: debouncing
// and coalescing events belong to the loop behind the Sink.
package webhook
