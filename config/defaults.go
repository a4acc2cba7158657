package config

import (
	"path"
	"strings"
	"time"
)

// Defaults, in one place (docs/configuration.md lists them).
const (
	DefaultAuthorName  = "tagwatch"
	DefaultAuthorEmail = "tagwatch@localhost"
	DefaultInterval    = 2 * time.Minute
	DefaultStrategy    = "semver"
	DefaultOrder       = "asc"
	// Kubernetes mode.
	DefaultApplicationsNamespace = "argocd"
	DefaultArgoCDNamespace       = "argocd"
	DefaultLeaseName             = "tagwatch"
)

// setDefaults fills every field left empty that has a default.
func (c *Config) setDefaults() {
	if c.Git.Author.Name == "" {
		c.Git.Author.Name = DefaultAuthorName
	}
	if c.Git.Author.Email == "" {
		c.Git.Author.Email = DefaultAuthorEmail
	}
	if c.Interval.Duration == 0 {
		c.Interval.Duration = DefaultInterval
	}
	if a := c.Applications; a != nil {
		if len(a.Namespaces) == 0 {
			a.Namespaces = []string{DefaultApplicationsNamespace}
		}
		if a.ArgoCDNamespace == "" {
			a.ArgoCDNamespace = DefaultArgoCDNamespace
		}
		if c.LeaderElection == nil {
			c.LeaderElection = &LeaderElection{}
		}
	}
	if l := c.LeaderElection; l != nil && l.Name == "" {
		l.Name = DefaultLeaseName
	}
	for i := range c.Environments {
		for j := range c.Environments[i].Images {
			c.Environments[i].Images[j].setDefaults()
		}
	}
}

func (im *Image) setDefaults() {
	if im.Strategy == "" {
		im.Strategy = DefaultStrategy
	}
	if im.Order == "" {
		im.Order = DefaultOrder
	}
	if im.KustomizeName == "" {
		im.KustomizeName = im.Image
	}
	if im.Alias == "" {
		im.Alias = DefaultAlias(im.Image)
	}
}

// DefaultAlias is the marker alias of an image: the last element of its
// repository path ("registry.example.com/team/app" → "app"), without a
// tag or digest.
func DefaultAlias(image string) string {
	image = strings.TrimRight(image, "/")
	if image == "" {
		return ""
	}
	base := path.Base(image)
	base, _, _ = strings.Cut(base, "@")
	base, _, _ = strings.Cut(base, ":")
	return base
}
