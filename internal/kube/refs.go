package kube

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envVarRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	secretKeyRE    = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

// splitNamespaced reads "namespace/name" of a Secret.
func splitNamespaced(ref string) (ns, name string, err error) {
	ns, name, ok := strings.Cut(ref, "/")
	switch {
	case !ok:
		return "", "", fmt.Errorf("want <namespace>/<name>")
	case !dnsLabelRE.MatchString(ns):
		return "", "", fmt.Errorf("%q is not a namespace name", ns)
	case len(name) > 253 || !dnsSubdomainRE.MatchString(name):
		return "", "", fmt.Errorf("%q is not a Secret name", name)
	}
	return ns, name, nil
}

// pullSecret is a parsed pull-secret reference.
type pullSecret struct {
	kind      string // "pullsecret", "secret" or "env"
	ns, name  string // pullsecret, secret
	field     string // secret: the key holding user:pass
	variable  string // env
	reference string // as written: names it in errors and keys, never the secret
}

// parsePullSecret reads Argo CD Image Updater's pull-secret forms:
// pullsecret:<ns>/<name> (a .dockerconfigjson), secret:<ns>/<name>#<field>
// (user:pass in a field), env:<VAR> (user:pass). ext:<script> is refused:
// tagwatch runs no scripts.
func parsePullSecret(ref string) (pullSecret, error) {
	kind, rest, _ := strings.Cut(ref, ":")
	ps := pullSecret{kind: kind, reference: ref}
	var err error
	switch kind {
	case "pullsecret":
		ps.ns, ps.name, err = splitNamespaced(rest)
	case "secret":
		obj, field, ok := strings.Cut(rest, "#")
		if !ok || !secretKeyRE.MatchString(field) {
			return ps, fmt.Errorf("secret:%s: want secret:<namespace>/<name>#<field>", rest)
		}
		ps.field = field
		ps.ns, ps.name, err = splitNamespaced(obj)
	case "env":
		if !envVarRE.MatchString(rest) {
			return ps, fmt.Errorf("env:%s: %q is not an environment variable name", rest, rest)
		}
		ps.variable = rest
	case "ext":
		return ps, fmt.Errorf("ext: (a script printing credentials) is refused: tagwatch runs no scripts; use pullsecret:, secret: or env: instead")
	default:
		return ps, fmt.Errorf("%q is not pullsecret:<namespace>/<name>, secret:<namespace>/<name>#<field> or env:<VAR>", ref)
	}
	if err != nil {
		return ps, fmt.Errorf("%s: %w", ref, err)
	}
	return ps, nil
}

func checkPullSecret(ref string) error {
	_, err := parsePullSecret(ref)
	return err
}
