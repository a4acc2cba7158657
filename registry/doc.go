// Package registry is the only package that talks to container registries,
// through go-containerregistry: tag lists, digests, image metadata, retagging.
//
// # The model
//
// tagwatch polls. Every poll cycle asks each watched repository for its tags
// and, for the strategies that need it, for what some tags point at. The
// Client is built to make that cheap for tagwatch and polite to registries:
//
//   - The Client has no notion of a cycle. Concurrent callers asking the
//     same thing (several environments watching one image) share one
//     request; remembering answers for a cycle is the caller's memo
//     (internal/resolve.Memo), so the caller decides when to forget.
//   - A tag list is complete or it is an error (wrapping ErrIncompleteList
//     when a page after the first failed): no caller ever decides on a part
//     of it. It costs as few round trips as the registry allows: the first
//     question asks for the whole list (no ?n=), which most registries
//     answer at once; a registry that pages on its own (it sent a Link, or
//     it is Docker Hub or ECR) is asked for pages of 1,000 from then on,
//     learnt per host, in this process and in the cache directory (see
//     listing). Pagination is followed to the end, bounded by WithMaxPages
//     and WithMaxTags (counted while the page streams in, so a huge list
//     fails after the tag past the bound, not after reading it all), and
//     stops at a page that brings nothing new (registries that answer a
//     `last` past the end with the first page again).
//   - Every answer is capped (WithMaxBodySize, default 128 MiB).
//   - What a digest describes never changes. Describe caches it, by digest,
//     in memory and (WithCacheDir) on disk, so after a restart newest-build
//     over N unchanged tags costs one list and N manifest HEADs, and no
//     config blob GETs. On a host with ImmutableTags Describe skips the
//     HEADs too, and within a host's TagTTL of when a tag was last seen;
//     Digest never does (the digest strategy follows a tag that moves).
//     Cache records are written in batches, one file at the end of each
//     burst of work (see diskCache); an unreadable one is refetched.
//   - Every request goes through a token bucket per registry host (Host
//     RateLimit; without one DefaultRateLimit, 20/s, in bursts of
//     DefaultBurst, 1,000: a test or a cycle is not slowed down by us) and
//     a bound on the requests in flight to that host that adapts to how it
//     answers (flow: from 8 up to 32 while answers come in good time, halved
//     on 429, 503 or slow answers), and honours Retry-After: waited for up
//     to WithMaxRetryAfter, longer ones fail requests to that host at once
//     with ErrRateLimited until they pass, remembered in the cache
//     directory across processes; 429, 502, 503,
//     504 and connection resets are retried with exponential backoff and
//     jitter (ggcr's retry transport, configured by WithRetry); 401, 403 and
//     404 are never retried and come back as ErrUnauthorized or ErrNotFound,
//     naming the repository. Each request has a timeout (WithTimeout).
//   - Credentials come from docker's config.json and credential helpers, or
//     per Host from "env:VAR" or "file:/path" holding "user:pass", read at use
//     time. They never appear in errors.
//
// # Settings per registry
//
// WithHosts takes Host entries; the longest Prefix matching a repository
// ("registry.example.com/team" before "registry.example.com") applies.
// CAFile adds a CA bundle to the system roots.
//
// # Plain HTTP
//
// Plain HTTP only where the Host entry says Insecure (the --insecure flags
// make one). The one exception is docker's loopback convention: localhost
// and 127.0.0.0/8 may fall back to plain HTTP, never with credentials
// attached. go-containerregistry alone also falls back for RFC 1918
// addresses and some local names, where whoever answers on the port would
// get the password; the Client refuses every such request before it leaves,
// with ErrPlainHTTP and how to allow it (see plainHTTPAllowed).
//
// # The tag-list walk is ours
//
// ListTags reads tag list pages itself, over the connection ggcr's
// handshake made for the repository (the same one Digest and Describe use),
// so that it can stream-decode and bound each page, check Link headers
// against the origin of the page that sent them (go-containerregistry's
// Lister compares them with the scheme it guessed, and refuses https pages
// of registries on private addresses) and fail the whole list on any page.
//
// # What pays for the machinery
//
// test/bench/registry measures a whole `tagwatch test` through a proxy
// that adds 50 ms to every request (its README has the figures). The list
// without ?n= takes 10,300 tags in 1 request instead of 11 (0.70 s to 0.15
// s); the default bucket and the adaptive flow take a cold newest-build over
// 300 tags from 29 s to about 1.3 s and a warm one from 14 s to 0.75 s
// (ggcr's puller alone reads 4 config blobs at a time, which held it at 4.4
// s); the batched cache takes the system time of the cold run from about 0.5
// s to 0.03 s. When a part stops paying there, delete it.
package registry
