// Package reconcile is the loop of tagwatch: the only place that knows the
// whole flow from registries to Git.
//
// One cycle reads the environments' files from a cached working copy of the
// git repository, lists every watched image repository once (however many
// environments watch it), lets each environment's policy choose a tag against
// the value Git holds now, rewrites every target of the image (kustomization,
// Helm values, marked scalars) and publishes one commit per environment, all
// in one push. Whatever fails (an image, an environment, a registry, a
// malformed file) is reported and the rest still goes through.
//
// An environment in pull-request mode (pullrequest.go) commits on the base
// head to a branch tagwatch owns, pushed in the same push, and its pull
// request is then opened, updated in place or closed on the forge
// (internal/forge), while the working copy is still held: two cycles of
// one process, or two processes on one cache, never race on it. A write
// branch may be named after the changes it carries (branchtemplate.go):
// the environment is tried on the base head first, to name it.
//
// The outcome is a Report, the object `tagwatch run --once -o json` prints.
package reconcile
