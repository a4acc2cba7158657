package config

import "time"

// Config is tagwatch.yaml (DESIGN.md §1). Load fills defaults and validates.
type Config struct {
	Git          Git           `yaml:"git"`
	Registries   []Registry    `yaml:"registries,omitempty"`
	Interval     Duration      `yaml:"interval,omitempty"` // default 2m
	Environments []Environment `yaml:"environments"`

	// File is the path the config was loaded from ("" for an embedded one).
	File string `yaml:"-"`
}

// Git says where environments live and how to write there.
type Git struct {
	URL    string  `yaml:"url"`
	Branch string  `yaml:"branch,omitempty"` // default: the remote's default branch
	Author Author  `yaml:"author,omitempty"` // default tagwatch <tagwatch@localhost>
	Auth   GitAuth `yaml:"auth,omitempty"`
}

// Author is the commit identity.
type Author struct {
	Name  string `yaml:"name,omitempty"`
	Email string `yaml:"email,omitempty"`
}

// GitAuth holds references to credentials; secrets are read at use time.
type GitAuth struct {
	Username       string `yaml:"username,omitempty"`
	PasswordEnv    string `yaml:"passwordEnv,omitempty"`
	PasswordFile   string `yaml:"passwordFile,omitempty"`
	SSHKeyFile     string `yaml:"sshKeyFile,omitempty"`
	KnownHostsFile string `yaml:"knownHostsFile,omitempty"`
}

// Registry holds per-registry settings; the longest matching prefix wins.
type Registry struct {
	Prefix        string  `yaml:"prefix"`
	Insecure      bool    `yaml:"insecure,omitempty"`
	CAFile        string  `yaml:"caFile,omitempty"`
	Credentials   string  `yaml:"credentials,omitempty"` // env:VAR | file:/path, holding user:pass
	RateLimit     float64 `yaml:"rateLimit,omitempty"`   // default 20
	ImmutableTags bool    `yaml:"immutableTags,omitempty"`
}

// Environment is one folder of the repository.
type Environment struct {
	Name   string  `yaml:"name"`
	Path   string  `yaml:"path"`
	Images []Image `yaml:"images"`
}

// Image is one watched repository in one environment, with its policy and targets.
type Image struct {
	Image          string   `yaml:"image"`
	KustomizeName  string   `yaml:"kustomizeName,omitempty"` // default: Image
	Alias          string   `yaml:"alias,omitempty"`         // marker alias; default: last path element of Image
	Strategy       string   `yaml:"strategy,omitempty"`      // default semver
	Constraint     string   `yaml:"constraint,omitempty"`
	SemverLoose    bool     `yaml:"semverLoose,omitempty"`
	AllowTags      string   `yaml:"allowTags,omitempty"`
	IgnoreTags     []string `yaml:"ignoreTags,omitempty"`
	Extract        string   `yaml:"extract,omitempty"`
	Order          string   `yaml:"order,omitempty"` // asc (default) | desc
	Platforms      []string `yaml:"platforms,omitempty"`
	WriteDigest    bool     `yaml:"writeDigest,omitempty"`
	AllowDowngrade bool     `yaml:"allowDowngrade,omitempty"`
	Helm           *Helm    `yaml:"helm,omitempty"`
}

// Helm is a values-file target of an image: dotted paths inside File
// (relative to the environment's path).
type Helm struct {
	File       string `yaml:"file"`
	Image      string `yaml:"image,omitempty"`      // whole reference name:tag[@digest]
	Repository string `yaml:"repository,omitempty"` // e.g. image.repository
	Tag        string `yaml:"tag,omitempty"`        // e.g. image.tag
	Digest     string `yaml:"digest,omitempty"`     // e.g. image.digest
}

// Duration is a time.Duration written as "2m", "30s".
type Duration struct{ time.Duration }

// Load reads, defaults and validates the config at path. Errors name the
// file, the line and the field.
func Load(path string) (*Config, error) { panic("not implemented") }

// Parse is Load for bytes already read; name is used in errors.
func Parse(name string, data []byte) (*Config, error) { panic("not implemented") }
