package registry_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/tagwatch/tagwatch/internal/testreg"
	"github.com/tagwatch/tagwatch/registry"
)

// switchable gives the credentials it holds now, under their key.
type switchable struct {
	mu   sync.Mutex
	key  string
	auth authn.Authenticator
	seen []string // repositories asked for
}

func (s *switchable) set(key string, a authn.Authenticator) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.auth = key, a
}

func (s *switchable) lookup(_ context.Context, repo string) (authn.Authenticator, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, repo)
	return s.auth, s.key, nil
}

// TestCredentialFuncPerRepository: a repository's own credentials win over
// the host's, and a connection made with one key is made again when the
// key changes (a pull secret named anew), with no restart.
func TestCredentialFuncPerRepository(t *testing.T) {
	srv := testreg.Start(t, testreg.Options{TLS: true, User: "puller", Pass: "s3cret"})
	seed(t, srv, "team/app", []string{"1.0.0", "1.1.0"})
	creds := &switchable{}
	creds.set("secret:ns/wrong", &authn.Basic{Username: "puller", Password: "wrong"})
	c := newClient(t, srv.Target, registry.WithCredentialFunc(creds.lookup))
	ctx := context.Background()

	if _, err := c.ListTags(ctx, srv.Repo("team/app")); !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("with the wrong pull secret: err = %v, want ErrUnauthorized", err)
	}
	creds.set("secret:ns/right", &authn.Basic{Username: "puller", Password: "s3cret"})
	got, err := c.ListTags(ctx, srv.Repo("team/app"))
	if err != nil {
		t.Fatalf("after the pull secret changed: %v", err)
	}
	if diff := cmp.Diff([]string{"1.0.0", "1.1.0"}, got); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if creds.seen[0] != srv.Repo("team/app") {
		t.Errorf("asked for %q, want the normalised repository %q", creds.seen[0], srv.Repo("team/app"))
	}

	// No key: the host's settings (here none, so anonymous) decide.
	creds.set("", nil)
	if _, err := c.ListTags(ctx, srv.Repo("team/app")); !errors.Is(err, registry.ErrUnauthorized) {
		t.Errorf("without own credentials: err = %v, want ErrUnauthorized (the host has none)", err)
	}
}

func TestDockerConfigAuth(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("u:p"))
	data := []byte(fmt.Sprintf(`{"auths": {"https://registry.example.com/v2/": {"auth": %q}}}`, auth))
	got, err := registry.DockerConfigAuth(data, "registry.example.com/team/app", "pullsecret:ns/name")
	if err != nil {
		t.Fatal(err)
	}
	if got.Username != "u" || got.Password != "p" {
		t.Errorf("got %+v", got)
	}
	if _, err := registry.DockerConfigAuth(data, "ghcr.io/org/app", "pullsecret:ns/name"); err == nil ||
		err.Error() != "credentials from pullsecret:ns/name: no auths entry for ghcr.io (it has registry.example.com)" {
		t.Errorf("other registry: err = %v", err)
	}
	if _, err := registry.UserPassAuth("nocolon", "env:X"); err == nil {
		t.Error(`UserPassAuth("nocolon") succeeded`)
	}
}
