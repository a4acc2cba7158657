// Package preflight checks, without any network, what a config refers to
// outside itself: the secrets it names are set and readable, the files it
// names exist, are readable and hold what they should (a PEM certificate, a
// private key, user:pass or a docker config with an entry for the
// registry). It is the half of `tagwatch check` that config.Load does not
// do: Load validates the file; Check looks at the machine it runs on.
//
// Secrets are read to be checked and dropped at once; problems name the
// variable or file, never its content.
package preflight

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/kube"
	"github.com/tagwatch/tagwatch/internal/signing"
	"github.com/tagwatch/tagwatch/internal/webhook"
	"github.com/tagwatch/tagwatch/registry"
)

// Check returns every problem of what cfg refers to, each at the field of
// cfg that names it (file, line, field), in line order. cfg may be one
// config.Inspect returned with problems of its own: fields it could not
// read are empty and skipped.
func Check(cfg *config.Config) config.Errors {
	c := &checker{cfg: cfg}
	c.gits()
	for i, r := range cfg.Registries {
		f := fmt.Sprintf("registries[%d]", i)
		if r.Credentials != "" && r.Prefix != "" {
			if err := registry.CheckCredentials(r.Credentials, r.Prefix); err != nil {
				c.add(f+".credentials", "%v", err)
			}
		}
		if r.CAFile != "" {
			c.caFile(f+".caFile", r.CAFile)
		}
	}
	for i, w := range cfg.Webhooks {
		c.secret(fmt.Sprintf("webhooks[%d].secret", i), w.Secret)
	}
	if a := cfg.Applications; a != nil && a.Selector != "" {
		if err := kube.CheckSelector(a.Selector); err != nil {
			c.add("applications.selector", "%v", err)
		}
	}
	slices.SortStableFunc(c.errs, func(a, b *config.FieldError) int { return cmp.Compare(a.Line, b.Line) })
	return c.errs
}

type checker struct {
	cfg  *config.Config
	errs config.Errors
}

func (c *checker) add(field, format string, args ...any) {
	c.errs = append(c.errs, &config.FieldError{File: c.cfg.File, Line: c.cfg.Line(field), Field: field, Err: fmt.Errorf(format, args...)})
}

// authUse is an auth block, where it is written (field: "git" or
// "environments[i].git") and the URLs it is used with.
type authUse struct {
	field string
	auth  config.GitAuth
	urls  []string
}

// gits checks the git blocks as run uses them. What a block names is
// checked where it is written (a local repository exists, the signing key,
// the forge token); its auth where it is used: with the URL of every
// environment whose effective git takes it (an environment's own auth, or
// the top level's when it sets none), and never for a file:// URL or a
// local path, which take no credentials. The top level's auth is also
// used by the Applications' repositories (Kubernetes mode), and, used by
// nothing else, is checked against its own URL.
func (c *checker) gits() {
	cfg := c.cfg
	top := &authUse{field: "git", auth: cfg.Git.Auth}
	uses := []*authUse{top}
	c.block("git", cfg.Git)
	for i, e := range cfg.Environments {
		use := top
		if e.Git != nil {
			f := fmt.Sprintf("environments[%d].git", i)
			c.block(f, *e.Git)
			if e.Git.Auth != (config.GitAuth{}) {
				use = &authUse{field: f, auth: e.Git.Auth}
				uses = append(uses, use)
			}
		}
		use.urls = append(use.urls, cfg.EffectiveGit(e).URL)
	}
	if len(top.urls) == 0 || cfg.Applications != nil {
		top.urls = append(top.urls, cfg.Git.URL)
	}
	for _, u := range uses {
		c.auth(u)
	}
}

// block checks what the git block at field f names, whoever uses it: its
// URL when local, its signing key and its forge token.
func (c *checker) block(f string, g config.Git) {
	if g.URL != "" {
		c.localRepo(f+".url", g.URL)
	}
	if sg := g.Signing; sg != nil && sg.Key != "" && sg.Format != "" {
		if _, err := signing.Load(sg.Key, sg.Format); err != nil {
			c.add(f+".signing.key", "%v", err)
		}
	}
	if p := g.Provider; p != nil {
		switch {
		case p.TokenEnv != "":
			if _, err := g.Token(); err != nil {
				c.add(f+".provider.tokenEnv", "%v", err)
			}
		case p.TokenFile != "":
			if _, err := g.Token(); err != nil {
				c.add(f+".provider.tokenFile", "%v", err)
			}
		}
	}
}

// auth checks the credentials of u for the remote URLs it is used with:
// none when every one is local; an ssh URL needs known hosts and a key or
// an agent.
func (c *checker) auth(u *authUse) {
	remote := slices.DeleteFunc(slices.Clone(u.urls), config.IsLocalGitURL)
	if len(remote) == 0 {
		return // file:// and local paths take no credentials (as run reads them: config.Git.Password)
	}
	f, a := u.field, u.auth
	switch {
	case a.PasswordEnv != "":
		if _, err := a.Password(); err != nil {
			c.add(f+".auth.passwordEnv", "%v", err)
		}
	case a.PasswordFile != "":
		if _, err := a.Password(); err != nil {
			c.add(f+".auth.passwordFile", "%v", err)
		}
	}
	if a.SSHKeyFile != "" {
		c.sshKey(f+".auth.sshKeyFile", a.SSHKeyFile)
	}
	if a.KnownHostsFile != "" {
		c.readable(f+".auth.knownHostsFile", a.KnownHostsFile)
	}
	if !slices.ContainsFunc(remote, config.IsSSHGitURL) {
		return
	}
	if a.KnownHostsFile == "" {
		if home, err := os.UserHomeDir(); err != nil {
			c.add(f+".auth.knownHostsFile", "not set, and there is no home directory for ~/.ssh/known_hosts: ssh host keys are always verified")
		} else if _, err := os.Stat(filepath.Join(home, ".ssh", "known_hosts")); err != nil {
			c.add(f+".auth.knownHostsFile", "not set, and the default %s cannot be read (%v): ssh host keys are always verified; add the host's key with ssh-keyscan", filepath.Join(home, ".ssh", "known_hosts"), errors.Unwrap(err))
		}
	}
	if a.SSHKeyFile == "" && os.Getenv("SSH_AUTH_SOCK") == "" {
		c.add(f+".auth.sshKeyFile", "an ssh URL needs a private key (sshKeyFile) or a running ssh-agent (SSH_AUTH_SOCK is not set)")
	}
}

// localRepo checks that a local repository (a path or file://) exists.
func (c *checker) localRepo(field, u string) {
	p := ""
	switch {
	case strings.HasPrefix(u, "file://"):
		if pu, err := url.Parse(u); err == nil {
			p = pu.Path
		}
	case filepath.IsAbs(u):
		p = u
	}
	if p == "" {
		return
	}
	if fi, err := os.Stat(p); err != nil {
		c.add(field, "the local repository %s: %v", p, errors.Unwrap(err))
	} else if !fi.IsDir() {
		c.add(field, "the local repository %s is not a directory", p)
	}
}

// readable checks that path can be read and is not empty.
func (c *checker) readable(field, path string) []byte {
	b, err := os.ReadFile(path)
	switch {
	case err != nil:
		c.add(field, "%v", err)
		return nil
	case len(strings.TrimSpace(string(b))) == 0:
		c.add(field, "%s is empty", path)
		return nil
	}
	return b
}

func (c *checker) sshKey(field, path string) {
	b := c.readable(field, path)
	if b == nil {
		return
	}
	_, err := ssh.ParseRawPrivateKey(b)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		c.add(field, "%s is encrypted: tagwatch needs a private key without a passphrase", path)
	case err != nil:
		c.add(field, "%s is not a private key tagwatch can read (OpenSSH, PEM RSA, ECDSA or Ed25519)", path)
	}
}

func (c *checker) caFile(field, path string) {
	b := c.readable(field, path)
	if b != nil && !x509.NewCertPool().AppendCertsFromPEM(b) {
		c.add(field, "%s holds no PEM certificate", path)
	}
}

// secret checks a webhook's "env:VAR" or "file:/path" reference as the
// webhook handler reads it (webhook.SecretFrom): set, or readable, and not
// empty. The format itself is config validation's.
func (c *checker) secret(field, ref string) {
	read, err := webhook.SecretFrom(ref)
	if err != nil {
		return // config validation reports the format
	}
	switch v, err := read(); {
	case err != nil:
		c.add(field, "%v", err)
	case v == "":
		if kind, where, _ := strings.Cut(ref, ":"); kind == "env" {
			c.add(field, "environment variable %s is empty", where)
		} else {
			c.add(field, "%s is empty", where)
		}
	}
}
