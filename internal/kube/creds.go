package kube

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/gitrepo"
	"github.com/tagwatch/tagwatch/registry"
)

// Credentials come from the cluster when they are used: a cycle reads each
// Secret it needs once (cycleCreds), and forgets them all when it ends
// (CycleDone). They never appear in logs, errors or Events: errors name the
// Secret and the key, never a value.

// Argo CD's names (its declarative setup).
const (
	secretTypeLabel = "argocd.argoproj.io/secret-type"
	knownHostsCM    = "argocd-ssh-known-hosts-cm"
	knownHostsKey   = "ssh_known_hosts"
)

// cycleCreds is one cycle's memo of what was read.
type cycleCreds struct {
	s  *Source
	mu sync.Mutex

	secrets    map[string]*secretRead // by namespace/name
	repos      *repoRead
	knownHosts *knownHostsRead
}

type secretRead struct {
	once sync.Once
	data map[string][]byte
	err  error
}

type repoRead struct {
	once    sync.Once
	secrets []corev1.Secret
	err     error
}

type knownHostsRead struct {
	once sync.Once
	data []byte
	err  error
}

// newCycle starts a cycle's memo (Plans, at the start of a cycle).
func (s *Source) newCycle() { s.creds.Store(&cycleCreds{s: s, secrets: map[string]*secretRead{}}) }

// endCycle forgets the cycle's credentials.
func (s *Source) endCycle() { s.creds.Store(nil) }

// cycle returns the cycle's memo, or outside a cycle one of its own.
func (s *Source) cycle() *cycleCreds {
	if c := s.creds.Load(); c != nil {
		return c
	}
	return &cycleCreds{s: s, secrets: map[string]*secretRead{}}
}

// secret reads the data of the Secret ns/name.
func (c *cycleCreds) secret(ctx context.Context, ns, name string) (map[string][]byte, error) {
	c.mu.Lock()
	r, ok := c.secrets[ns+"/"+name]
	if !ok {
		r = &secretRead{}
		c.secrets[ns+"/"+name] = r
	}
	c.mu.Unlock()
	r.once.Do(func() {
		sec, err := c.s.core.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			r.err = fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
			return
		}
		r.data = sec.Data
	})
	return r.data, r.err
}

// repoSecrets lists Argo CD's repository and repo-creds Secrets.
func (c *cycleCreds) repoSecrets(ctx context.Context) ([]corev1.Secret, error) {
	c.mu.Lock()
	if c.repos == nil {
		c.repos = &repoRead{}
	}
	r := c.repos
	c.mu.Unlock()
	r.once.Do(func() {
		ns := c.s.o.argocdNamespace
		list, err := c.s.core.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{LabelSelector: secretTypeLabel + " in (repository,repo-creds)"})
		if err != nil {
			r.err = fmt.Errorf("listing Argo CD's repository Secrets in %s: %w", ns, err)
			return
		}
		r.secrets = list.Items
	})
	return r.secrets, r.err
}

// sshKnownHosts reads Argo CD's known hosts, for an ssh repository when
// git.auth.knownHostsFile is not set. Without the ConfigMap, or without
// keys in it, that is an error that says so: the machine's
// ~/.ssh/known_hosts is never used instead (Argo CD has none either).
func (c *cycleCreds) sshKnownHosts(ctx context.Context) ([]byte, error) {
	c.mu.Lock()
	if c.knownHosts == nil {
		c.knownHosts = &knownHostsRead{}
	}
	r := c.knownHosts
	c.mu.Unlock()
	r.once.Do(func() {
		ns := c.s.o.argocdNamespace
		cm, err := c.s.core.CoreV1().ConfigMaps(ns).Get(ctx, knownHostsCM, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			r.err = fmt.Errorf("no ssh host keys: git.auth.knownHostsFile is not set and Argo CD's ConfigMap %s/%s does not exist", ns, knownHostsCM)
		case err != nil:
			r.err = fmt.Errorf("reading ConfigMap %s/%s: %w", ns, knownHostsCM, err)
		case strings.TrimSpace(cm.Data[knownHostsKey]) == "":
			r.err = fmt.Errorf("no ssh host keys: git.auth.knownHostsFile is not set and Argo CD's ConfigMap %s/%s has no %s", ns, knownHostsCM, knownHostsKey)
		default:
			r.data = []byte(cm.Data[knownHostsKey])
		}
	})
	return r.data, r.err
}

// gitAuth is the Auth func of a repository: the Secret of git:secret
// (writeSecret) when it can be read and yields credentials; else, when
// argo, Argo CD's repository Secret of the URL, else (also when that Secret
// holds the url alone) its repo-creds Secret with the longest URL prefix;
// else fallback (the config's git.auth, or a config plan's own). A
// git:secret that fails fails its Applications alone, through their
// precondition (writeSecretCheck), which reads it from the same memo: the
// other Applications of the repository go on with the other credentials,
// and those of the failing ones are never written with them. SSH host
// keys: the config's knownHostsFile, else Argo CD's known hosts ConfigMap.
func (s *Source) gitAuth(repoURL, writeSecret string, argo bool, fallback func(context.Context) (gitrepo.Auth, error)) func(context.Context) (gitrepo.Auth, error) {
	return func(ctx context.Context) (gitrepo.Auth, error) {
		c := s.cycle()
		var a gitrepo.Auth
		found := false
		if writeSecret != "" {
			var err error
			a, err = c.writeSecretAuth(ctx, writeSecret)
			found = err == nil // else its Applications' precondition reports it
		}
		if !found && argo {
			var err error
			if a, found, err = c.fromArgoSecrets(ctx, repoURL); err != nil {
				return gitrepo.Auth{}, err
			}
		}
		if !found && fallback != nil {
			var err error
			if a, err = fallback(ctx); err != nil {
				return gitrepo.Auth{}, err
			}
		}
		s.mu.RLock()
		khFile := s.o.knownHostsFile
		s.mu.RUnlock()
		if config.IsSSHGitURL(repoURL) && a.KnownHostsFile == "" && len(a.KnownHosts) == 0 {
			if khFile != "" {
				a.KnownHostsFile = khFile
			} else {
				var err error
				if a.KnownHosts, err = c.sshKnownHosts(ctx); err != nil {
					return gitrepo.Auth{}, err
				}
			}
		}
		return a, nil
	}
}

// writeSecretCheck is the precondition (plan.Environment.Precheck) of an
// Application with write-back-method git:secret:<ref>: the Secret can be
// read and yields credentials. It reads through the cycle's memo, as its
// repository's Auth does (gitAuth), so both see the one read: when it
// fails, the Application fails alone, before the repository is opened
// with other credentials.
func (s *Source) writeSecretCheck(ref string) func(context.Context) error {
	return func(ctx context.Context) error {
		if _, err := s.cycle().writeSecretAuth(ctx, ref); err != nil {
			return fmt.Errorf("%swrite-back-method: git:secret:%s: %w", ImageUpdaterPrefix, ref, err)
		}
		return nil
	}
}

// writeSecretAuth reads the git credentials of the Secret ref
// (namespace/name) of write-back-method git:secret.
func (c *cycleCreds) writeSecretAuth(ctx context.Context, ref string) (gitrepo.Auth, error) {
	ns, name, err := splitNamespaced(ref)
	if err != nil {
		return gitrepo.Auth{}, err
	}
	data, err := c.secret(ctx, ns, name)
	if err != nil {
		return gitrepo.Auth{}, err
	}
	return authFromSecret(data, "Secret "+ref)
}

// fromArgoSecrets finds the git credentials of repoURL in Argo CD's
// repository and repo-creds Secrets.
func (c *cycleCreds) fromArgoSecrets(ctx context.Context, repoURL string) (gitrepo.Auth, bool, error) {
	secrets, err := c.repoSecrets(ctx)
	if err != nil {
		return gitrepo.Auth{}, false, err
	}
	want := normalizeGitURL(repoURL)
	var repo, best *corev1.Secret
	bestLen := -1
	for i := range secrets {
		sec := &secrets[i]
		u := string(sec.Data["url"])
		if u == "" {
			continue
		}
		switch sec.Labels[secretTypeLabel] {
		case "repository":
			if repo == nil && normalizeGitURL(u) == want {
				repo = sec
			}
		case "repo-creds":
			if strings.HasPrefix(strings.ToLower(repoURL), strings.ToLower(u)) && len(u) > bestLen {
				best, bestLen = sec, len(u)
			}
		}
	}
	// A repository Secret that carries no credentials (its url alone)
	// takes those of the repo-creds Secret, as Argo CD does.
	if repo != nil && hasCredentials(repo.Data) {
		best = repo
	}
	if best == nil {
		return gitrepo.Auth{}, false, nil
	}
	a, err := authFromSecret(best.Data, fmt.Sprintf("Secret %s/%s", best.Namespace, best.Name))
	return a, err == nil, err
}

// credentialKeys are the keys of Argo CD's repository Secrets that carry
// credentials (its Repository.HasCredentials): a repository Secret with
// none of them inherits the repo-creds Secret's. tagwatch reads username,
// password and sshPrivateKey; a Secret holding only the others is an
// error that says so, not a silent fall-through.
var credentialKeys = []string{"username", "password", "sshPrivateKey", "bearerToken", "tlsClientCertData", "githubAppPrivateKey"}

// hasCredentials reports whether a repository Secret's data carries
// credentials of its own.
func hasCredentials(data map[string][]byte) bool {
	for _, k := range credentialKeys {
		if len(data[k]) > 0 {
			return true
		}
	}
	return false
}

// authFromSecret reads username and password, or sshPrivateKey, of a
// Secret's data (Argo CD's repository Secret fields).
func authFromSecret(data map[string][]byte, what string) (gitrepo.Auth, error) {
	a := gitrepo.Auth{Username: string(data["username"]), Password: string(data["password"]), SSHKey: data["sshPrivateKey"]}
	if a.Password == "" && len(a.SSHKey) == 0 {
		return gitrepo.Auth{}, fmt.Errorf("%s holds neither password (with username) nor sshPrivateKey", what)
	}
	return a, nil
}

// normalizeGitURL is a URL as Argo CD compares repository URLs: lower
// case, without a trailing slash or .git.
func normalizeGitURL(u string) string {
	u = strings.ToLower(strings.TrimSpace(u))
	u = strings.TrimSuffix(u, "/")
	return strings.TrimSuffix(u, ".git")
}

// Credentials gives the registry client an image repository's pull secret
// (registry.CredentialFunc): the pull-secret annotation of the
// Applications watching it. The secret is read when the registry asks.
func (s *Source) Credentials(_ context.Context, repo string) (authn.Authenticator, string, error) {
	s.mu.RLock()
	ref, ok := s.pull[repo]
	s.mu.RUnlock()
	if !ok {
		return nil, "", nil
	}
	ps, err := parsePullSecret(ref)
	if err != nil {
		return nil, "", err
	}
	return &pullAuth{s: s, ps: ps, repo: repo}, ref, nil
}

// pullAuth reads a pull secret when the registry asks for credentials.
type pullAuth struct {
	s    *Source
	ps   pullSecret
	repo string
}

func (p *pullAuth) Authorization() (*authn.AuthConfig, error) {
	return p.AuthorizationContext(context.Background())
}

func (p *pullAuth) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	ps := p.ps
	switch ps.kind {
	case "env":
		v, ok := os.LookupEnv(ps.variable)
		if !ok {
			return nil, fmt.Errorf("pull secret %s: the environment variable is not set", ps.reference)
		}
		return registry.UserPassAuth(v, ps.reference)
	case "secret":
		data, err := p.s.cycle().secret(ctx, ps.ns, ps.name)
		if err != nil {
			return nil, fmt.Errorf("pull secret: %w", err)
		}
		v, ok := data[ps.field]
		if !ok {
			return nil, fmt.Errorf("pull secret %s: Secret %s/%s has no key %s", ps.reference, ps.ns, ps.name, ps.field)
		}
		return registry.UserPassAuth(string(v), ps.reference)
	}
	data, err := p.s.cycle().secret(ctx, ps.ns, ps.name)
	if err != nil {
		return nil, fmt.Errorf("pull secret: %w", err)
	}
	cfg, ok := data[corev1.DockerConfigJsonKey]
	if !ok {
		return nil, fmt.Errorf("pull secret %s: Secret %s/%s has no %s", ps.reference, ps.ns, ps.name, corev1.DockerConfigJsonKey)
	}
	return registry.DockerConfigAuth(cfg, p.repo, ps.reference)
}
