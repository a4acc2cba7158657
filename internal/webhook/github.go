package webhook

import (
	"net/http"
	"strings"
)

// githubPackage is the package object of GitHub's package and
// registry_package webhook events; only the fields used are read.
type githubPackage struct {
	Name        string `json:"name"`
	Ecosystem   string `json:"ecosystem"`
	PackageType string `json:"package_type"`
	Owner       struct {
		Login string `json:"login"`
	} `json:"owner"`
	PackageVersion *struct {
		Version           string `json:"version"`
		PackageURL        string `json:"package_url"`
		ContainerMetadata *struct {
			Tag struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tag"`
		} `json:"container_metadata"`
	} `json:"package_version"`
}

type githubPayload struct {
	Action          string         `json:"action"`
	Package         *githubPackage `json:"package"`
	RegistryPackage *githubPackage `json:"registry_package"`
}

// parseGitHub reads the package event (X-GitHub-Event: package) and its
// older twin registry_package: action published or updated, of a
// container package with a tag. The repository comes from
// package_version.package_url ("ghcr.io/owner/app:1.4.0"), lower-cased as
// GHCR names are, or else from the owner's login and the package name on
// ghcr.io. GitHub sends one event per manifest of a multi-platform push;
// the untagged ones carry no event. A ping (sent when the webhook is
// created) and events of other kinds are accepted and carry none.
func parseGitHub(h http.Header, body []byte) ([]Event, error) {
	kind := h.Get("X-GitHub-Event")
	switch kind {
	case "", "package", "registry_package":
	default:
		return nil, nil // ping, or an event this webhook also subscribes to
	}
	var p githubPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	pkg, field := p.Package, "package"
	if kind == "registry_package" || kind == "" && pkg == nil {
		pkg, field = p.RegistryPackage, "registry_package"
	}
	if pkg == nil {
		return nil, invalid("missing %q: not a GitHub package event", field)
	}
	if p.Action != "published" && p.Action != "updated" {
		return nil, nil
	}
	if !isContainer(pkg.PackageType) && !isContainer(pkg.Ecosystem) {
		return nil, nil // npm, maven, …
	}
	v := pkg.PackageVersion
	if v == nil {
		return nil, invalid("missing %s.package_version", field)
	}
	if v.ContainerMetadata == nil || v.ContainerMetadata.Tag.Name == "" {
		return nil, nil // an untagged manifest
	}
	tag := v.ContainerMetadata.Tag
	digest := tag.Digest
	if digest == "" && strings.HasPrefix(v.Version, "sha256:") {
		digest = v.Version
	}
	repo, where := githubRepository(pkg), field+".package_version.package_url"
	if v.PackageURL == "" {
		where = field + ".name"
	}
	ev, err := newEvent(where, repo, tag.Name, digest)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

func isContainer(s string) bool {
	return strings.EqualFold(s, "container") || strings.EqualFold(s, "docker")
}

// githubRepository is the repository of package_url without its ":tag" or
// "@digest", or ghcr.io/<owner>/<name>; lower-cased.
func githubRepository(pkg *githubPackage) string {
	u := pkg.PackageVersion.PackageURL
	if u == "" {
		if pkg.Owner.Login == "" || pkg.Name == "" {
			return ""
		}
		return strings.ToLower("ghcr.io/" + pkg.Owner.Login + "/" + pkg.Name)
	}
	u, _, _ = strings.Cut(u, "@")
	if i := strings.LastIndex(u, ":"); i > strings.LastIndex(u, "/") {
		u = u[:i]
	}
	return strings.ToLower(u)
}
