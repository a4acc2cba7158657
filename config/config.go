package config

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tagwatch/tagwatch/policy"
)

// Config is tagwatch.yaml (DESIGN.md §1). Load fills defaults and validates.
type Config struct {
	Git          Git           `yaml:"git"`
	Registries   []Registry    `yaml:"registries,omitempty"`
	Interval     Duration      `yaml:"interval,omitempty"` // default 2m
	Environments []Environment `yaml:"environments"`
	// Webhooks are the registry webhook types `run --listen` serves, with
	// their secrets; InsecureWebhooks serves every type without a secret.
	Webhooks         []Webhook `yaml:"webhooks,omitempty"`
	InsecureWebhooks bool      `yaml:"insecureWebhooks,omitempty"`
	// Applications, when present, is Kubernetes mode (DESIGN §6): Argo
	// CD Applications carry environments too; git.url and environments
	// become optional.
	Applications   *Applications   `yaml:"applications,omitempty"`
	LeaderElection *LeaderElection `yaml:"leaderElection,omitempty"`

	// File is the path the config was loaded from ("" for an embedded one).
	File string `yaml:"-"`

	// lines maps a field path ("environments[1].images[0].constraint") to
	// the line it was written on, so validation can point at it.
	lines map[string]int
}

// Git says where environments live and how to write there.
type Git struct {
	URL    string  `yaml:"url"`
	Branch string  `yaml:"branch,omitempty"` // default: the remote's default branch
	Author Author  `yaml:"author,omitempty"` // default tagwatch <tagwatch@localhost>
	Auth   GitAuth `yaml:"auth,omitempty"`
	// Provider is the forge pull requests are opened on (DESIGN §9);
	// required by environments in pull-request mode.
	Provider *Provider `yaml:"provider,omitempty"`
	// Signing signs every commit tagwatch makes.
	Signing *Signing `yaml:"signing,omitempty"`
}

// Provider is the forge of a repository, for pull requests.
type Provider struct {
	Kind string `yaml:"kind"` // one of ProviderKinds
	// URL is the forge's address: Gitea's root, GitHub's API (GitHub
	// Enterprise: https://host/api/v3), GitLab's root. Default: GitHub's
	// and GitLab's public services; for Gitea the git URL's host.
	URL string `yaml:"url,omitempty"`
	// TokenEnv or TokenFile holds the API token (read at use); neither:
	// the git password (auth.passwordEnv or passwordFile).
	TokenEnv  string `yaml:"tokenEnv,omitempty"`
	TokenFile string `yaml:"tokenFile,omitempty"`
}

// ProviderKinds are the values of git.provider.kind.
var ProviderKinds = []string{"gitea", "github", "gitlab"}

// Signing is the key commits are signed with.
type Signing struct {
	Key    string `yaml:"key"`    // file:/path or env:VAR (the private key itself)
	Format string `yaml:"format"` // one of SigningFormats
}

// SigningFormats are the values of git.signing.format.
var SigningFormats = []string{"ssh", "openpgp"}

// Modes of environments[].mode.
const (
	ModePush        = "push"         // commit to the branch (default)
	ModePullRequest = "pull-request" // commit to tagwatch/<name> and open a pull request
)

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
	Credentials   string  `yaml:"credentials,omitempty"` // env:VAR | file:/path (user:pass or a docker config) | dockerconfig:/path
	RateLimit     float64 `yaml:"rateLimit,omitempty"`   // 0: the registry client's default (registry.DefaultRateLimit)
	ImmutableTags bool    `yaml:"immutableTags,omitempty"`
	// TagTTL: how long the digest seen behind a tag is trusted without
	// asking the registry again (newest-build, platforms); 0: every time.
	TagTTL Duration `yaml:"tagTTL,omitempty"`
}

// Applications says which Argo CD Applications carry environments.
type Applications struct {
	Namespaces []string `yaml:"namespaces,omitempty"` // where Applications are watched; default [argocd]
	Selector   string   `yaml:"selector,omitempty"`   // label selector; "" for all
	// ArgoCDNamespace is where Argo CD's repository Secrets and known
	// hosts ConfigMap are read; default argocd.
	ArgoCDNamespace string `yaml:"argocdNamespace,omitempty"`
}

// LeaderElection is the Lease replicas elect a writer on (Kubernetes mode).
type LeaderElection struct {
	Enabled *bool `yaml:"enabled,omitempty"` // default true
	// Namespace of the Lease; "" for the pod's namespace (POD_NAMESPACE),
	// else "default".
	Namespace string `yaml:"namespace,omitempty"`
	Name      string `yaml:"name,omitempty"` // default tagwatch
}

// IsEnabled reports whether leader election runs (in Kubernetes mode).
func (l *LeaderElection) IsEnabled() bool { return l == nil || l.Enabled == nil || *l.Enabled }

// Webhook is one registry webhook type served, with its secret.
type Webhook struct {
	Type   string `yaml:"type"`   // one of WebhookTypes
	Secret string `yaml:"secret"` // env:VAR or file:/path
}

// WebhookTypes are the values of webhooks[].type (DESIGN §7).
var WebhookTypes = []string{"cloudevents", "distribution", "dockerhub", "generic", "github", "harbor", "quay"}

// Environment is one folder of a repository.
type Environment struct {
	Name string `yaml:"name"`
	// Git overrides the top-level git block for this environment: url,
	// branch, author and auth, each taken from the top level when left out.
	Git    *Git    `yaml:"git,omitempty"`
	Path   string  `yaml:"path"`
	Images []Image `yaml:"images"`
	// Promotion gates the environment on another: it takes only images
	// that environment has run, for long enough (DESIGN §8).
	Promotion *Promotion `yaml:"promotion,omitempty"`
	// Mode is push (default) or pull-request (DESIGN §9); AutoMerge asks
	// the forge to merge the pull request when its checks pass.
	Mode      string `yaml:"mode,omitempty"`
	AutoMerge bool   `yaml:"autoMerge,omitempty"`
}

// PullRequest reports whether the environment is in pull-request mode.
func (e Environment) PullRequest() bool { return e.Mode == ModePullRequest }

// Promotion is an environment's gate.
type Promotion struct {
	From           string   `yaml:"from"`                     // the environment promoted from
	Soak           Duration `yaml:"soak,omitempty"`           // default 0: as soon as From runs it
	RequireHealthy bool     `yaml:"requireHealthy,omitempty"` // Kubernetes mode: From's Application Healthy and Synced
}

// EffectiveGit is the git block env is written through: its own fields,
// and the top level's for those it leaves out (author, auth, provider and
// signing as a whole).
func (c *Config) EffectiveGit(env Environment) Git {
	g := c.Git
	o := env.Git
	if o == nil {
		return g
	}
	if o.URL != "" {
		g.URL = o.URL
	}
	if o.Branch != "" {
		g.Branch = o.Branch
	}
	if o.Author != (Author{}) {
		g.Author = o.Author
	}
	if o.Auth != (GitAuth{}) {
		g.Auth = o.Auth
	}
	if o.Provider != nil {
		g.Provider = o.Provider
	}
	if o.Signing != nil {
		g.Signing = o.Signing
	}
	return g
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
	// ArgoCompat reads allowTags in Argo CD Image Updater's syntax ("any",
	// "regexp:<RE>"; anything else matches nothing), for migrated configs.
	ArgoCompat bool `yaml:"argoCompat,omitempty"`

	// policy is the compiled policy, set by validation (Load, Parse,
	// Validate): policies are compiled once.
	policy *policy.Policy
}

// Policy is the image's compiled policy; nil until the config validated.
func (im *Image) Policy() *policy.Policy { return im.policy }

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

// UnmarshalText parses "2m", "30s", "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 30s, 2m or 1h", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// Load reads, defaults and validates the config at path. Errors name the
// file, the line and the field. Relative file paths in the config (a local
// git.url, passwordFile, sshKeyFile, knownHostsFile, provider.tokenFile,
// a file: signing key, caFile, file: and dockerconfig: credentials) are resolved against the directory holding path, and a
// leading "~/" against the user's home directory.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, errs := decode(path, data)
	if c == nil {
		return nil, errs
	}
	c.resolvePaths(filepath.Dir(path))
	return c.finish(errs)
}

// Inspect is Load that returns the config even when it has problems: the
// config as far as it could be read (defaulted; fields that failed to
// decode left empty, policies compiled where valid) with every problem
// found (Errors, or the read error). The config is nil only when the file
// could not be read or is not a YAML mapping. `tagwatch check` uses it to
// look further (files, secrets) than the first failing layer.
func Inspect(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	c, errs := decode(path, data)
	if c == nil {
		return nil, errs
	}
	c.resolvePaths(filepath.Dir(path))
	_, err = c.finish(errs)
	return c, err
}

// Parse is Load for bytes already read; name is used in errors. Relative
// paths are left as written (relative to the working directory).
func Parse(name string, data []byte) (*Config, error) {
	c, errs := decode(name, data)
	if c == nil {
		return nil, errs
	}
	return c.finish(errs)
}

// finish applies defaults and validates. It reports the decoding errors
// with the validation errors, in line order, leaving out validation errors
// about fields that could not be decoded (they were left empty).
func (c *Config) finish(decodeErrs Errors) (*Config, error) {
	c.setDefaults()
	errs := decodeErrs
	for _, e := range c.validate() {
		if !covered(decodeErrs, e.Field) {
			errs = append(errs, e)
		}
	}
	if len(errs) == 0 {
		return c, nil
	}
	slices.SortStableFunc(errs, func(a, b *FieldError) int { return cmp.Compare(a.Line, b.Line) })
	return nil, errs
}

// covered reports whether field, or a parent of it, failed to decode.
func covered(errs Errors, field string) bool {
	for _, e := range errs {
		if e.Field == field || strings.HasPrefix(field, e.Field+".") || strings.HasPrefix(field, e.Field+"[") {
			return true
		}
	}
	return false
}

// PolicySpec is the policy of the image, ready for policy.New.
func (im Image) PolicySpec() policy.Spec {
	return policy.Spec{
		Strategy:       policy.Strategy(im.Strategy),
		Constraint:     im.Constraint,
		Loose:          im.SemverLoose,
		AllowTags:      im.AllowTags,
		ArgoCompat:     im.ArgoCompat,
		IgnoreTags:     append([]string(nil), im.IgnoreTags...),
		Extract:        im.Extract,
		Order:          im.Order,
		Platforms:      append([]string(nil), im.Platforms...),
		AllowDowngrade: im.AllowDowngrade,
	}
}

// Password reads the password or token git.url needs, at use time: none
// for a file:// URL or a local path, which take no credentials (their
// passwordEnv need not be set), else Auth.Password.
func (g Git) Password() (string, error) {
	if IsLocalGitURL(g.URL) {
		return "", nil
	}
	return g.Auth.Password()
}

// Password reads the git password or token at use time: from the
// environment variable passwordEnv or the file passwordFile (trailing
// newlines trimmed). It returns "" when neither is set; an unset or empty
// variable and a missing or empty file are errors. Errors never contain the
// secret; they name the variable or the file, not the config field (the
// same auth block may be the top level's or an environment's: callers
// that know which add it).
func (a GitAuth) Password() (string, error) {
	return readSecret(a.PasswordEnv, a.PasswordFile)
}

// readSecret reads a secret from the environment variable env, else from
// the file file (trailing newlines trimmed). It returns "" when neither is
// set; an unset or empty variable and a missing or empty file are errors,
// naming the variable or the file. Errors never contain the secret.
func readSecret(env, file string) (string, error) {
	switch {
	case env != "":
		v, ok := os.LookupEnv(env)
		switch {
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set", env)
		case v == "":
			return "", fmt.Errorf("environment variable %s is empty", env)
		}
		return v, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", err // *fs.PathError: names the file
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s is empty", file)
		}
		return v, nil
	}
	return "", nil
}

// Line returns the line field (a path like "environments[0].images[1].constraint")
// was written on, or of its closest written parent; 0 when unknown.
func (c *Config) Line(field string) int {
	for f := field; f != ""; f = parentField(f) {
		if l, ok := c.lines[f]; ok {
			return l
		}
	}
	return 0
}

// parentField strips the last element of a field path.
func parentField(f string) string {
	i := strings.LastIndexAny(f, ".[")
	if i < 0 {
		return ""
	}
	return f[:i]
}

// resolvePaths makes relative file references absolute against dir.
func (c *Config) resolvePaths(dir string) {
	home, _ := os.UserHomeDir()
	abs := func(p string) string {
		if rest, ok := strings.CutPrefix(p, "~/"); ok && home != "" {
			return filepath.Join(home, rest)
		}
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	gits := []*Git{&c.Git}
	for i := range c.Environments {
		if g := c.Environments[i].Git; g != nil {
			gits = append(gits, g)
		}
	}
	for _, g := range gits {
		if gitURLKind(g.URL) == urlLocal {
			g.URL = abs(g.URL)
		}
		g.Auth.PasswordFile = abs(g.Auth.PasswordFile)
		g.Auth.SSHKeyFile = abs(g.Auth.SSHKeyFile)
		g.Auth.KnownHostsFile = abs(g.Auth.KnownHostsFile)
		if p := g.Provider; p != nil {
			p.TokenFile = abs(p.TokenFile)
		}
		if s := g.Signing; s != nil {
			if p, ok := strings.CutPrefix(s.Key, "file:"); ok && p != "" {
				s.Key = "file:" + abs(p)
			}
		}
	}
	for i := range c.Webhooks {
		if p, ok := strings.CutPrefix(c.Webhooks[i].Secret, "file:"); ok && p != "" {
			c.Webhooks[i].Secret = "file:" + abs(p)
		}
	}
	for i := range c.Registries {
		r := &c.Registries[i]
		r.CAFile = abs(r.CAFile)
		for _, kind := range []string{"file:", "dockerconfig:"} {
			if p, ok := strings.CutPrefix(r.Credentials, kind); ok && p != "" {
				r.Credentials = kind + abs(p)
			}
		}
	}
}

// Token reads the forge's API token at use time: provider.tokenEnv or
// tokenFile, else the git password (a token with git and API scopes serves
// both). Errors never contain the token.
func (g Git) Token() (string, error) {
	p := g.Provider
	switch {
	case p == nil:
		return "", nil
	case p.TokenEnv != "" || p.TokenFile != "":
		return readSecret(p.TokenEnv, p.TokenFile)
	}
	return g.Auth.Password()
}
