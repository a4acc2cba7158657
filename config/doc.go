// Package config loads, defaults and validates tagwatch.yaml (DESIGN.md §1).
//
// A config names one git repository (where every environment lives, as a
// folder on one branch), per-registry settings, and the environments: for
// each, the images it watches, the policy that picks their tags and the
// files that carry them (the kustomization of the environment's path, an
// optional Helm values file, and any scalar marked with a
// `# {"$tagwatch": "<alias>"}` comment).
//
// Loading has three steps, each in one place: decoding walks the YAML nodes
// so that every problem is reported at its file, line and field
// ("tagwatch.yaml:12: environments[1].images[0].constraint: …") and unknown
// fields are errors (decode.go); defaults fill what was left out
// (defaults.go); validation checks the whole config, building each image's
// policy with policy.New, and reports every problem, not only the first
// (validate.go). Load returns them together as Errors, which match
// ErrInvalid.
//
// Secrets are never in the config: it names environment variables and files,
// read at use time (GitAuth.Password, and the registry client for
// credentials), so a rotated token is picked up without a restart.
package config
