package registry_test

import "github.com/google/go-containerregistry/pkg/authn"

// emptyKeychain keeps the tests independent of ~/.docker/config.json.
type emptyKeychain struct{}

func (emptyKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.Anonymous, nil
}
