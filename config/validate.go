package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tagwatch/tagwatch/policy"
)

var (
	envNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	envVarRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	scpLikeRE = regexp.MustCompile(`^(?:[^@/:]+@)?[^@/:]+:[^/]?`)
)

// validator collects the problems of one config, each at its field's line.
type validator struct {
	c    *Config
	errs Errors
}

func (v *validator) add(field, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{File: v.c.File, Line: v.c.Line(field), Field: field, Err: fmt.Errorf(format, args...)})
}

// Validate checks a defaulted config and returns every problem found as
// Errors, or nil. Load and Parse call it; call it again after changing a
// Config.
func (c *Config) Validate() error {
	if errs := c.validate(); len(errs) > 0 {
		return errs
	}
	return nil
}

func (c *Config) validate() Errors {
	v := &validator{c: c}
	v.git("git", c.Git, c.Applications == nil)
	v.kubernetes()
	for i, r := range c.Registries {
		v.registry(i, r)
	}
	if c.Interval.Duration < 0 || (c.Interval.Duration > 0 && c.Interval.Seconds() < 1) {
		v.add("interval", "%s is too short; use 1s or more", c.Interval.Duration)
	}
	if len(c.Environments) == 0 && c.Applications == nil {
		v.add("environments", "at least one environment is required (or applications:, for environments from Argo CD Applications)")
	}
	names := map[string]string{}
	for i, e := range c.Environments {
		f := fmt.Sprintf("environments[%d]", i)
		if first, dup := names[e.Name]; dup && e.Name != "" {
			v.add(f+".name", "duplicate environment name %q (also %s)", e.Name, first)
		} else {
			names[e.Name] = f
		}
		v.environment(f, &c.Environments[i])
		v.envGit(f, e)
	}
	v.repositories()
	v.oneWriterPerField()
	v.promotions()
	v.modes()
	types := map[string]int{}
	for i, w := range c.Webhooks {
		f := fmt.Sprintf("webhooks[%d]", i)
		switch {
		case w.Type == "":
			v.add(f+".type", "required: one of %s", strings.Join(WebhookTypes, ", "))
		case !slices.Contains(WebhookTypes, w.Type):
			v.add(f+".type", "%q is not one of %s", w.Type, strings.Join(WebhookTypes, ", "))
		default:
			if j, dup := types[w.Type]; dup {
				v.add(f+".type", "%s is already configured by webhooks[%d]", w.Type, j)
			}
			types[w.Type] = i
		}
		if err := checkSecretRef(w.Secret); err != nil {
			v.add(f+".secret", "%v", err)
		}
	}
	return v.errs
}

// git validates a git block at field f: the top level (top: url required,
// author defaulted) or an environment's override (every field optional).
func (v *validator) git(f string, g Git, top bool) {
	if g.URL == "" {
		if top {
			v.add(f+".url", "required: the repository holding the environments")
		}
	} else if err := checkGitURL(g.URL); err != nil {
		v.add(f+".url", "%v", err)
	}
	if g.Branch != "" {
		if err := plumbing.NewBranchReferenceName(g.Branch).Validate(); err != nil || strings.HasPrefix(g.Branch, "refs/") {
			v.add(f+".branch", "%q is not a valid branch name", g.Branch)
		}
	}
	if top || f == "git" || g.Author != (Author{}) {
		if strings.ContainsAny(g.Author.Name, "<>\n") || g.Author.Name == "" {
			v.add(f+".author.name", "must not be empty nor contain <, > or a newline")
		}
		if e := g.Author.Email; strings.ContainsAny(e, "<> \n") || !strings.Contains(e, "@") {
			v.add(f+".author.email", "%q is not an email address", e)
		}
	}
	if p := g.Provider; p != nil {
		v.provider(f+".provider", g, p)
	}
	if s := g.Signing; s != nil {
		switch {
		case s.Key == "":
			v.add(f+".signing.key", "required: file:/path or env:VAR, where the private key is")
		default:
			kind, where, _ := strings.Cut(s.Key, ":")
			if !(kind == "file" && where != "" || kind == "env" && envVarRE.MatchString(where)) {
				v.add(f+".signing.key", "must be file:/path or env:VAR (where the private key is); never the key itself")
			}
		}
		switch {
		case s.Format == "":
			v.add(f+".signing.format", "required: one of %s", strings.Join(SigningFormats, ", "))
		case !slices.Contains(SigningFormats, s.Format):
			v.add(f+".signing.format", "%q is not one of %s", s.Format, strings.Join(SigningFormats, ", "))
		}
	}
	a := g.Auth
	if a.PasswordEnv != "" && a.PasswordFile != "" {
		v.add(f+".auth.passwordFile", "set passwordEnv or passwordFile, not both")
	}
	if a.PasswordEnv != "" && !envVarRE.MatchString(a.PasswordEnv) {
		v.add(f+".auth.passwordEnv", "%q is not an environment variable name", a.PasswordEnv)
	}
}

// provider validates a git block's provider at field f.
func (v *validator) provider(f string, g Git, p *Provider) {
	switch {
	case p.Kind == "":
		v.add(f+".kind", "required: one of %s", strings.Join(ProviderKinds, ", "))
	case !slices.Contains(ProviderKinds, p.Kind):
		v.add(f+".kind", "%q is not one of %s", p.Kind, strings.Join(ProviderKinds, ", "))
	}
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		switch {
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			v.add(f+".url", "%q is not an http(s) URL of the forge", p.URL)
		case u.User != nil:
			v.add(f+".url", "the URL holds credentials; put the token in tokenEnv or tokenFile instead")
		}
	}
	if p.TokenEnv != "" && p.TokenFile != "" {
		v.add(f+".tokenFile", "set tokenEnv or tokenFile, not both")
	}
	if p.TokenEnv != "" && !envVarRE.MatchString(p.TokenEnv) {
		v.add(f+".tokenEnv", "%q is not an environment variable name", p.TokenEnv)
	}
}

// modes checks environments[].mode and autoMerge: pull-request mode needs
// a provider and a repository on a forge; environments of one repository
// and branch share its provider and signing.
func (v *validator) modes() {
	type shared struct {
		env  int
		prov *Provider
		sign *Signing
	}
	byRepo := map[string]shared{}
	for i, e := range v.c.Environments {
		f := fmt.Sprintf("environments[%d]", i)
		g := v.c.EffectiveGit(e)
		switch e.Mode {
		case "", ModePush:
		case ModePullRequest:
			switch {
			case g.Provider == nil:
				v.add(f+".mode", "pull-request mode needs git.provider (the forge the pull request is opened on: kind gitea, github or gitlab)")
			case gitURLKind(g.URL) == urlFile || gitURLKind(g.URL) == urlLocal:
				v.add(f+".mode", "pull-request mode needs a repository on a forge, not a local one")
			}
		default:
			v.add(f+".mode", "%q is not one of %s, %s", e.Mode, ModePush, ModePullRequest)
		}
		if e.AutoMerge && e.Mode != ModePullRequest {
			v.add(f+".autoMerge", "only pull-request mode has a pull request to merge (set mode: pull-request)")
		}
		key := repoBranch(g)
		first, seen := byRepo[key]
		if !seen {
			byRepo[key] = shared{i, g.Provider, g.Signing}
			continue
		}
		if !equalPtr(first.prov, g.Provider) {
			v.add(f+".git.provider", "differs from the provider of environments[%d] (%s), in the same repository and branch: they share one", first.env, v.c.Environments[first.env].Name)
		}
		if !equalPtr(first.sign, g.Signing) {
			v.add(f+".git.signing", "differs from the signing of environments[%d] (%s), in the same repository and branch: they share one", first.env, v.c.Environments[first.env].Name)
		}
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return a == b || a != nil && b != nil && *a == *b
}

// envGit validates environments[i].git: its own fields, and that the
// top-level credentials it inherits are not sent to another host.
func (v *validator) envGit(f string, e Environment) {
	if e.Git == nil {
		return
	}
	v.git(f+".git", *e.Git, false)
	top := v.c.Git
	if e.Git.URL == "" || e.Git.Auth != (GitAuth{}) || top.Auth == (GitAuth{}) {
		return
	}
	if h, th := gitHost(e.Git.URL), gitHost(top.URL); h != th {
		v.add(f+".git.auth", "the top-level git.auth (for %s) would be sent to %s: set auth here (auth: {} is not enough; name the credentials for this host)", orLocal(th), orLocal(h))
	}
}

// gitHost is the host a git URL connects to ("" for local paths and file://).
func gitHost(s string) string {
	switch gitURLKind(s) {
	case urlRemote:
		if u, err := url.Parse(s); err == nil && strings.Contains(s, "://") {
			return u.Hostname()
		}
		host, _, _ := strings.Cut(s, ":")
		if _, h, ok := strings.Cut(host, "@"); ok {
			return h
		}
		return host
	}
	return ""
}

func orLocal(host string) string {
	if host == "" {
		return "a local repository"
	}
	return host
}

// URL kinds of git.url.
const (
	urlInvalid = iota
	urlRemote  // https://, http://, ssh://, user@host:path
	urlFile    // file://
	urlLocal   // a local path
)

// gitURLKind tells how git.url is written (it does not validate it fully).
func gitURLKind(s string) int {
	switch {
	case s == "":
		return urlInvalid
	case strings.Contains(s, "://"):
		if strings.HasPrefix(s, "file://") {
			return urlFile
		}
		return urlRemote
	case filepath.IsAbs(s) || strings.HasPrefix(s, "."):
		return urlLocal
	case scpLikeRE.MatchString(s):
		return urlRemote
	}
	return urlLocal
}

// checkGitURL validates the forms of DESIGN.md §1. Errors never repeat a
// URL that carries credentials.
func checkGitURL(s string) error {
	if strings.ContainsAny(s, " \t\n") {
		return errors.New("must not contain whitespace")
	}
	switch gitURLKind(s) {
	case urlRemote:
		if !strings.Contains(s, "://") {
			return nil // user@host:path
		}
		u, err := url.Parse(s)
		if err != nil {
			return errors.New("not a valid URL")
		}
		switch u.Scheme {
		case "https", "http", "ssh":
		default:
			return fmt.Errorf("scheme %q is not supported; use https://, http://, ssh://, user@host:path, file:// or a local path", u.Scheme)
		}
		if u.Host == "" {
			return errors.New("the URL has no host")
		}
		if _, has := u.User.Password(); has {
			return errors.New("the URL holds a password; put credentials in git.auth (passwordEnv or passwordFile) instead")
		}
		if u.Path == "" || u.Path == "/" {
			return errors.New("the URL has no repository path")
		}
	case urlFile:
		u, err := url.Parse(s)
		if err != nil || u.Path == "" {
			return errors.New("file:// URL needs a path, like file:///srv/git/deploy.git")
		}
	}
	return nil
}

func (v *validator) registry(i int, r Registry) {
	f := fmt.Sprintf("registries[%d]", i)
	switch {
	case r.Prefix == "":
		v.add(f+".prefix", "required: a registry host, optionally with a path (registry.example.com/team)")
	case strings.Contains(r.Prefix, "://"):
		v.add(f+".prefix", "%q: write the host without a scheme (use insecure: true for plain HTTP)", r.Prefix)
	default:
		host, repo, _ := strings.Cut(strings.TrimSuffix(r.Prefix, "/"), "/")
		if _, err := name.NewRegistry(host, name.StrictValidation); err != nil {
			v.add(f+".prefix", "%q is not a registry host: %v", r.Prefix, err)
		} else if repo != "" {
			if _, err := name.NewRepository(host+"/"+repo, name.StrictValidation); err != nil {
				v.add(f+".prefix", "%q is not a registry path: %v", r.Prefix, err)
			}
		}
		for j := range i {
			if strings.TrimSuffix(v.c.Registries[j].Prefix, "/") == strings.TrimSuffix(r.Prefix, "/") {
				v.add(f+".prefix", "duplicate prefix %q (also registries[%d])", r.Prefix, j)
				break
			}
		}
	}
	if r.Insecure && r.CAFile != "" {
		v.add(f+".caFile", "insecure: true means plain HTTP, where a CA file has no use")
	}
	if r.Credentials != "" {
		if err := checkCredentials(r.Credentials); err != nil {
			v.add(f+".credentials", "%v", err)
		}
	}
	if r.RateLimit < 0 {
		v.add(f+".rateLimit", "must be positive (requests per second), got %v", r.RateLimit)
	}
	if r.TagTTL.Duration < 0 {
		v.add(f+".tagTTL", "must not be negative, got %v", r.TagTTL.Duration)
	}
}

// checkSecretRef validates "env:VAR" or "file:/path" (never echoing a value).
func checkSecretRef(s string) error {
	kind, ref, ok := strings.Cut(s, ":")
	switch {
	case s == "":
		return errors.New("required: env:VAR or file:/path, where the secret is")
	case ok && kind == "env" && envVarRE.MatchString(ref):
		return nil
	case ok && kind == "file" && ref != "":
		return nil
	}
	return errors.New("must be env:VAR or file:/path (where the secret is); never the secret itself")
}

// checkCredentials validates "env:VAR", "file:/path" or
// "dockerconfig:/path" (never echoing a value).
func checkCredentials(s string) error {
	kind, ref, ok := strings.Cut(s, ":")
	switch {
	case ok && kind == "env" && envVarRE.MatchString(ref):
		return nil
	case ok && (kind == "file" || kind == "dockerconfig") && ref != "":
		return nil
	case ok && kind == "env":
		return errors.New(`env: needs an environment variable name, like env:REGISTRY_AUTH`)
	}
	return errors.New(`must be env:VAR or file:/path (a variable or file holding "user:pass"), or dockerconfig:/path (a docker config.json or a Kubernetes pull secret's .dockerconfigjson); never the secret itself`)
}

func (v *validator) environment(f string, e *Environment) {
	switch {
	case e.Name == "":
		v.add(f+".name", "required")
	case !envNameRE.MatchString(e.Name):
		v.add(f+".name", "%q must match [a-z0-9][a-z0-9-]*", e.Name)
	}
	if err := checkRelPath(e.Path); err != nil {
		v.add(f+".path", "%v", err)
	}
	if len(e.Images) == 0 {
		v.add(f+".images", "at least one image is required")
	}
	images := map[string]int{}
	aliases := map[string]int{}
	for j := range e.Images {
		im := &e.Images[j]
		g := fmt.Sprintf("%s.images[%d]", f, j)
		repo := v.image(g, e.Path, im)
		if repo != "" {
			if k, dup := images[repo]; dup {
				v.add(g+".image", "%s is already watched by images[%d] of this environment", im.Image, k)
			} else {
				images[repo] = j
			}
		}
		if k, dup := aliases[im.Alias]; dup && im.Alias != "" {
			v.add(g+".alias", "alias %q is already used by images[%d]; set alias: to tell them apart in markers", im.Alias, k)
		} else {
			aliases[im.Alias] = j
		}
	}
}

// checkRelPath rejects paths that leave the repository lexically.
func checkRelPath(p string) error {
	switch {
	case p == "":
		return errors.New("required: a directory relative to the repository root")
	case path.IsAbs(p) || filepath.IsAbs(p):
		return fmt.Errorf("%q is absolute; write it relative to the repository root", p)
	case !filepath.IsLocal(filepath.FromSlash(p)):
		return fmt.Errorf("%q leaves the repository", p)
	}
	return nil
}

// image validates one image entry and returns its normalised repository
// name ("" when invalid).
func (v *validator) image(f, envPath string, im *Image) string {
	repo := ""
	switch {
	case im.Image == "":
		v.add(f+".image", "required: the repository to watch, like registry.example.com/team/app")
	default:
		if last := im.Image[strings.LastIndex(im.Image, "/")+1:]; strings.ContainsAny(last, ":@") {
			v.add(f+".image", "%q names a tag or digest; write the repository alone (the policy picks the tag)", im.Image)
		} else if r, err := name.NewRepository(im.Image); err != nil {
			v.add(f+".image", "%q is not a valid image repository: %v", im.Image, err)
		} else {
			repo = r.Name()
		}
	}
	if im.Alias != "" && (strings.ContainsAny(im.Alias, ": \t\n\"") || im.Alias == ".") {
		v.add(f+".alias", "%q must not contain ':', quotes or spaces", im.Alias)
	}
	if h := im.Helm; h != nil {
		v.helm(f+".helm", envPath, h)
	}
	p, err := policy.New(im.PolicySpec())
	if err != nil {
		v.policyError(f, err)
	}
	im.policy = p
	return repo
}

// policyError reports every problem of a policy.New error at the field
// each names: one bad field does not hide the others of the entry.
func (v *validator) policyError(f string, err error) {
	if many, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range many.Unwrap() {
			v.policyError(f, e)
		}
		return
	}
	var pe *policy.FieldError
	switch {
	case errors.As(err, &pe) && pe.Field != "" && pe.Value == "":
		v.add(f+"."+pe.Field, "%v", pe.Err)
		return
	case errors.As(err, &pe) && pe.Field != "":
		v.add(f+"."+pe.Field, "%q: %v", pe.Value, pe.Err)
		return
	}
	v.add(f, "%v", err)
}

func (v *validator) helm(f, envPath string, h *Helm) {
	switch {
	case h.File == "":
		v.add(f+".file", "required: the values file, relative to the environment's path")
	case path.IsAbs(h.File) || filepath.IsAbs(h.File):
		v.add(f+".file", "%q is absolute; write it relative to the environment's path", h.File)
	case !filepath.IsLocal(filepath.FromSlash(path.Join(envPath, h.File))):
		v.add(f+".file", "%q leaves the repository", h.File)
	}
	if h.Image == "" && h.Tag == "" {
		v.add(f, "needs tag (with repository) or image: the values to write")
	}
	if h.Image != "" && (h.Repository != "" || h.Tag != "" || h.Digest != "") {
		v.add(f+".image", "image writes the whole reference; do not also set repository, tag or digest")
	}
	for _, p := range []struct{ field, val string }{{"image", h.Image}, {"repository", h.Repository}, {"tag", h.Tag}, {"digest", h.Digest}} {
		if p.val == "" {
			continue
		}
		for _, part := range strings.Split(p.val, ".") {
			if part == "" {
				v.add(f+"."+p.field, "%q is not a dotted path like image.tag", p.val)
				break
			}
		}
	}
}

// repoBranch is the key of the repository and branch g writes, as plans
// are grouped (internal/plan): the URL by RepoKey, the branch as written.
func repoBranch(g Git) string { return RepoKey(g.URL) + "\x00" + g.Branch }

// repositories refuses two ways of naming one repository that could make
// two working copies write one branch, each blind to the other's fields
// (one writer per field):
//   - spellings that may name one repository or two (git@host:org/app, in
//     git's home directory, and ssh://git@host/org/app: one on a forge, two
//     on a plain ssh server): write the URL the same way in both;
//   - one environment writing "the remote's default branch" (no branch)
//     and another a branch it names: whether they are one branch is known
//     only at the remote.
func (v *validator) repositories() {
	type first struct {
		env         int
		url, branch string
	}
	bySpelling, byRepo := map[string]first{}, map[string]first{}
	for i, e := range v.c.Environments {
		g := v.c.EffectiveGit(e)
		if g.URL == "" {
			continue
		}
		field := fmt.Sprintf("environments[%d]", i)
		if e.Git != nil && e.Git.URL != "" {
			field += ".git.url"
		}
		if f, seen := bySpelling[SpellingKey(g.URL)]; !seen {
			bySpelling[SpellingKey(g.URL)] = first{i, g.URL, g.Branch}
		} else if RepoKey(f.url) != RepoKey(g.URL) {
			v.add(field, "environment %s writes %s and environment %s writes %s: one repository on a forge, maybe two on a plain ssh server (a path without a leading / is in the user's home directory); write its URL the same way in both",
				e.Name, RepoKey(g.URL), v.c.Environments[f.env].Name, RepoKey(f.url))
			continue
		}
		f, seen := byRepo[RepoKey(g.URL)]
		if !seen {
			byRepo[RepoKey(g.URL)] = first{i, g.URL, g.Branch}
			continue
		}
		if (f.branch == "") == (g.Branch == "") {
			continue
		}
		if e.Git != nil && e.Git.Branch != "" {
			field = fmt.Sprintf("environments[%d].git.branch", i)
		}
		other := v.c.Environments[f.env].Name
		named, dflt, branch := e.Name, other, g.Branch
		if g.Branch == "" {
			named, dflt, branch = other, e.Name, f.branch
		}
		v.add(field, "environment %s writes branch %s of %s, and environment %s its default branch (it names none): if the default branch is %s, two working copies would write one branch, each blind to the other's fields; write the branch the same way in both (name it in both, or once at the top level)",
			named, branch, RepoKey(g.URL), dflt, branch)
	}
}

// oneWriterPerField reports the fields two environments would both write
// that are known without reading the repository: in the same folder of the
// same repository and branch (however their URLs are spelled: RepoKey),
// the kustomization entry of one name, or a dotted path of one Helm values
// file. Nested folders and markers are found when the repository is read
// (the cycle refuses them there).
func (v *validator) oneWriterPerField() {
	type owner struct {
		env, image int
		what       string
	}
	claims := map[string]owner{}
	for i, e := range v.c.Environments {
		g := v.c.EffectiveGit(e)
		where := repoBranch(g) + "\x00"
		dir := path.Clean(e.Path)
		for j, im := range e.Images {
			var fields []owner
			if im.KustomizeName != "" {
				fields = append(fields, owner{i, j, fmt.Sprintf("the kustomization of %s, images entry %q", dir, im.KustomizeName)})
			}
			if h := im.Helm; h != nil {
				file := path.Join(dir, h.File)
				for _, p := range []string{h.Image, h.Repository, h.Tag, h.Digest} {
					if p != "" {
						fields = append(fields, owner{i, j, fmt.Sprintf("%s, field %s", file, p)})
					}
				}
			}
			for _, f := range fields {
				key := where + f.what
				first, taken := claims[key]
				if !taken {
					claims[key] = f
					continue
				}
				if first.env == i {
					continue // the same environment: the image checks report it
				}
				spelling := ""
				if fg := v.c.EffectiveGit(v.c.Environments[first.env]); fg.URL != g.URL {
					spelling = fmt.Sprintf(" (their git URLs name one repository, %s)", RepoKey(g.URL))
				}
				v.add(fmt.Sprintf("environments[%d].images[%d]", i, j),
					"%s is written by both %s (environments[%d].images[%d]) and %s (environments[%d].images[%d])%s: one environment writes a field, so neither would (one environment per folder and image)",
					f.what, e.Name, i, j, v.c.Environments[first.env].Name, first.env, first.image, spelling)
			}
		}
	}
}

// promotions checks every environment's promotion block: from names
// another environment of the same repository and branch (the gate reads
// its history there), soak is not negative, no cycles.
func (v *validator) promotions() {
	byName := map[string]int{}
	for i, e := range v.c.Environments {
		byName[e.Name] = i
	}
	for i, e := range v.c.Environments {
		p := e.Promotion
		if p == nil {
			continue
		}
		f := fmt.Sprintf("environments[%d].promotion", i)
		j, known := byName[p.From]
		switch {
		case p.From == "":
			v.add(f+".from", "required: the environment this one is promoted from")
		case p.From == e.Name:
			v.add(f+".from", "%s cannot be promoted from itself", e.Name)
		case !known:
			v.add(f+".from", "%q is not an environment of this config", p.From)
		default:
			g, h := v.c.EffectiveGit(e), v.c.EffectiveGit(v.c.Environments[j])
			if repoBranch(g) != repoBranch(h) {
				v.add(f+".from", "%s is in another repository or branch (%s); the gate reads its history, so both must be in one repository and branch", p.From, orDefaultBranch(h))
			}
		}
		if p.Soak.Duration < 0 {
			v.add(f+".soak", "%s is negative", p.Soak.Duration)
		}
		if p.RequireHealthy {
			v.add(f+".requireHealthy", "reads the Argo CD Application of %s: environments from Applications set it with the annotation tagwatch.dev/require-healthy", orDash(p.From))
		}
		// Every environment on a cycle reports it, at its own from.
		seen := map[string]bool{e.Name: true}
		path := []string{e.Name}
		for cur := p.From; cur != ""; {
			path = append(path, cur)
			if seen[cur] {
				if cur == e.Name && p.From != e.Name {
					v.add(f+".from", "promotion cycle: %s", strings.Join(path, " <- "))
				}
				break
			}
			seen[cur] = true
			k, ok := byName[cur]
			if !ok || v.c.Environments[k].Promotion == nil {
				break
			}
			cur = v.c.Environments[k].Promotion.From
		}
	}
}

func orDefaultBranch(g Git) string {
	if g.Branch == "" {
		return g.URL + ", its default branch"
	}
	return g.URL + ", branch " + g.Branch
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// dnsLabelRE is a Kubernetes namespace name (RFC 1123 label).
var dnsLabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)

// dnsSubdomainRE is a Kubernetes object name (RFC 1123 subdomain).
var dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)

// kubernetes validates applications and leaderElection. The selector's
// syntax is Kubernetes' own: `tagwatch check` checks it (internal/kube).
func (v *validator) kubernetes() {
	if a := v.c.Applications; a != nil {
		seen := map[string]int{}
		for i, ns := range a.Namespaces {
			f := fmt.Sprintf("applications.namespaces[%d]", i)
			if !dnsLabelRE.MatchString(ns) {
				v.add(f, "%q is not a namespace name", ns)
			} else if j, dup := seen[ns]; dup {
				v.add(f, "%s is already listed (applications.namespaces[%d])", ns, j)
			}
			seen[ns] = i
		}
		if !dnsLabelRE.MatchString(a.ArgoCDNamespace) {
			v.add("applications.argocdNamespace", "%q is not a namespace name", a.ArgoCDNamespace)
		}
		if g := v.c.Git; g.URL == "" && (g.Auth.PasswordEnv != "" || g.Auth.PasswordFile != "" || g.Auth.SSHKeyFile != "") {
			// An Application names its repository: without a host of
			// its own, the config's credentials would go to any host an
			// annotation names.
			v.add("git.auth", "Applications' repositories are offered these credentials on the host of git.url only: set git.url (or give the credentials in Argo CD's repository Secrets)")
		}
	}
	l := v.c.LeaderElection
	if l == nil {
		return
	}
	if v.c.Applications == nil {
		v.add("leaderElection", "is for Kubernetes mode (applications:); one process without it is the one writer")
	}
	if l.Namespace != "" && !dnsLabelRE.MatchString(l.Namespace) {
		v.add("leaderElection.namespace", "%q is not a namespace name", l.Namespace)
	}
	if len(l.Name) > 253 || !dnsSubdomainRE.MatchString(l.Name) {
		v.add("leaderElection.name", "%q is not a Lease name (lower-case letters, digits, '-' and '.')", l.Name)
	}
}
