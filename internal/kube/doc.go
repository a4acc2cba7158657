// Package kube is Kubernetes mode (DESIGN §6): Argo CD Applications that
// carry update policies in their annotations become environments of the
// plans the reconcile loop runs, beside those of the config file.
//
// The model. An Application is read as plain data (App) and parsed by a
// pure function (Parse) into a Target: a plan.Environment with compiled
// watches, the repository and branch it writes, and the Secrets it names.
// Two annotation sets lead there: tagwatch.dev/ (the config's image fields,
// one annotation each) and Argo CD Image Updater's v0.x set, read with its
// own semantics (loose semver, allow-tags as regexp:/any, its strategy
// names, its write-back targets, among them the parameter override file
// .argocd-source-<app>.yaml). Every problem names the annotation it is in;
// an Application with one is left out, with a Warning Event, and the others
// go on.
//
// The Source keeps the Applications of its namespaces through one shared
// informer each; it parses an Application again only when its annotations
// or source change (status updates, which Argo CD makes all the time, only
// refresh what health gates and the deployed images read). Plans merges
// the config's plans and the Applications' by repository and branch, so a
// repository is one working copy and one push, and checks across them what
// one Application cannot: unique environment names (the Application made
// first keeps one), one write secret per repository, one writer per write
// branch and none on a base branch (else Publish refuses the whole
// repository), promotion within a repository. A change triggers a cycle of
// the Application's images.
//
// Credentials are the cluster's: read when a cycle needs them, shared
// within the cycle, dropped when it ends, never logged nor put in an Event.
//
// Only the holder of a Lease writes (Elector): losing it cancels the
// writer's context, which stops the loop before its next push. With the
// Lease's usual timings (15 s duration, 10 s renew deadline) the old
// holder has stopped before anyone else can hold it.
//
// This is the one package that imports k8s.io (internal/archtest).
package kube
