package registry

import (
	"context"
	"errors"

	"github.com/google/go-containerregistry/pkg/authn"
)

// CredentialFunc gives the credentials of one image repository when the
// caller has some of its own for it (Kubernetes mode: an Application's
// pull-secret annotation). repo is the normalised repository name
// (index.docker.io/library/nginx). It returns the authenticator and a key
// naming where the credentials come from ("secret:ns/name#field"; never
// the secret): "" when it has none for repo, and the Host's credentials and
// the keychain decide. It is called at every use of a connection, so it
// must be cheap (no I/O: the authenticator reads the secret when asked);
// a connection made with another key is made again.
type CredentialFunc func(ctx context.Context, repo string) (auth authn.Authenticator, key string, err error)

// WithCredentialFunc sets per-repository credentials, consulted before the
// Host's credentials and the keychain.
func WithCredentialFunc(fn CredentialFunc) Option {
	return func(o *options) error {
		if fn == nil {
			return errors.New("credential func: nil")
		}
		o.credentials = fn
		return nil
	}
}

// repoCredentials asks the CredentialFunc, if any, for repo.
func (c *Client) repoCredentials(ctx context.Context, repo string) (authn.Authenticator, string, error) {
	if c.o.credentials == nil {
		return nil, "", nil
	}
	return c.o.credentials(ctx, repo)
}

// DockerConfigAuth returns the credentials a docker config (config.json,
// a Kubernetes pull secret's .dockerconfigjson) holds for the registry of
// repo; where names the data in errors, which never hold a secret.
func DockerConfigAuth(data []byte, repo, where string) (*authn.AuthConfig, error) {
	return dockerConfigAuth(data, registryOf(repo), where)
}

// UserPassAuth reads "user:pass" (surrounding space trimmed); where names
// the text in errors, which never hold it.
func UserPassAuth(raw, where string) (*authn.AuthConfig, error) { return parseUserPass(raw, where) }
