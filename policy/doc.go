// Package policy decides which tag an environment should run.
//
// It is pure: given tag names (and, for some strategies, metadata the caller
// fetched) and the value Git holds now, it filters, ranks and decides. It does
// no I/O and no logging; a test fences its imports.
//
// # The model
//
// A Spec is what a user writes in tagwatch.yaml; New validates all of it
// once and returns an immutable Policy (errors wrap ErrInvalid and are
// *FieldError values naming the field). Select then runs every tag through
// the same pipeline, counting in Stats where each one went:
//
//  1. Name rules, first match drops the tag: cosign artefacts (*.sig,
//     *.att, *.sbom, sha256-*), ignoreTags globs (path.Match, or RE2 for
//     an entry written "regexp:<RE>"), allowTags
//     (RE2, unanchored; or Argo CD Image Updater's "any"/"regexp:<RE>" with
//     ArgoCompat), and for the digest strategy every tag but the followed one.
//     FilterNames applies just these, so a registry client fetches metadata
//     only for the survivors.
//  2. Platforms: the tag must provide every platform asked for ("linux/arm64"
//     accepts any variant). A tag without platform metadata provides none.
//  3. The sort key: extract's regexp.Expand template over allowTags' match,
//     or the tag itself. The result is always the original tag.
//  4. Parsing the key under the strategy; failures are Unparsable, not errors.
//     semver: [v]MAJOR.MINOR.PATCH[-pre][+build] (Loose: also 1.2 and 1).
//     Leading zeros in the numeric part are accepted, as Flux and Argo CD
//     Image Updater do, so calver 2026.01.15 is the version 2026.1.15.
//     numerical: an exact decimal, [+-]digits[.digits], of any size (no
//     float rounding; no exponents, hex, Inf or NaN); 007 equals 7.
//     newest-build: the newest Created among the platforms that match
//     Spec.Platforms (all, when none are asked for), else Tag.Created; a tag
//     without a build time is unparsable. digest: a tag without a digest is.
//  5. semver only: the constraint ("" means "*"). Pre-releases pass only a
//     constraint with a pre-release comparator (">=1.0.0-0"), per the
//     semver library. It is evaluated over all versions at once, in
//     precedence order, with a few checks per comparator (constraint.go):
//     the same answers as checking each version, without the cost.
//
// The survivors are ranked. Ties of the strategy (1.2.3, v1.2.3 and 1.2.3+b1
// have equal precedence; 7 and 007 are equal numbers; two images built in
// the same second) go to the lexically greatest key, then the lexically
// greatest tag, whatever the order. Entries that are the same tag twice, or
// whose extracted keys are the same string (main-17-abc and main-17-def with
// extract "$ts"), collapse into the lexically greatest tag and are counted
// as Duplicates. The order is total, so the result never depends on the
// order of the input, which Select does not modify.
//
// # The decision
//
// The tag in Git is ranked the same way, regardless of the filters (a tag
// pinned by hand outside the constraint still counts), and compared with the
// best candidate: Update when the candidate ranks above it, or when Git's tag
// cannot be ranked (not a version, not a number, extract does not match it,
// no known build time); UpToDate when it is the best candidate; Held when it
// ranks above every candidate (unless AllowDowngrade); None when no
// candidate is left. For the digest strategy, a digest different from
// Current.Digest is an Update. Result.Reason says which, in one sentence.
//
// Select is Rank, everything that does not depend on the value in Git,
// then Ranking.Decide. A caller deciding for many values over the same
// tags (environments sharing an image and a policy) ranks once.
package policy
