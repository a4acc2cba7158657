// Package registry is the only package that talks to container registries,
// through go-containerregistry: tag lists, digests, image metadata, retagging.
//
// # The model
//
// tagwatch polls. Every poll cycle asks each watched repository for its tags
// and, for the strategies that need it, for what some tags point at. The
// Client is built to make that cheap for tagwatch and polite to registries:
//
//   - One tag list per repository per cycle. Concurrent callers (several
//     environments watching one image) share one request; later callers in
//     the cycle reuse its result, errors included. NewCycle starts afresh.
//   - Pagination is followed to the end, bounded by WithMaxPages and
//     WithMaxTags, and stops at a page that brings nothing new (registries
//     that answer a `last` past the end with the first page again).
//   - What a digest describes never changes. Describe caches it, by digest,
//     in memory and (WithCacheDir) on disk, so after a restart newest-build
//     over N unchanged tags costs one list and N manifest HEADs, and no
//     config blob GETs. On a host with ImmutableTags Describe skips the HEADs
//     too; Digest never does (the digest strategy follows a tag that moves).
//     Cache files are written atomically; an unreadable one is refetched and
//     rewritten.
//   - Every request goes through a token bucket per registry host (Host
//     RateLimit, default 20/s) that also honours Retry-After; 429, 502, 503,
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
// Insecure means plain HTTP, CAFile adds a CA bundle to the system roots.
//
// # TLS registries on private addresses
//
// go-containerregistry v0.22.1 assumes plain HTTP for loopback and RFC 1918
// addresses, then refuses the https Link of the second page of a tag list
// (its SSRF check compares schemes). The Client rewrites same-origin Link
// headers so that check passes; Links to other hosts are still refused. See
// linkFixTransport.
package registry
