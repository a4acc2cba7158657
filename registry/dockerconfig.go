package registry

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// A docker config file: what `docker login` writes (~/.docker/config.json)
// and what a Kubernetes pull secret of type kubernetes.io/dockerconfigjson
// holds under .dockerconfigjson. Credential helpers (credsStore,
// credHelpers) are not run: a file named in a config is read as data.
type dockerConfigFile struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Auth          string `json:"auth"` // base64 of "user:pass"
	Username      string `json:"username"`
	Password      string `json:"password"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// isDockerConfig reports whether data looks like a docker config (JSON)
// rather than "user:pass": a "file:" credentials reference accepts both.
func isDockerConfig(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
}

// dockerConfigAuth returns the credentials data (a docker config file read
// from where) holds for registry (a registry host as ggcr names it:
// "index.docker.io", "registry.example.com:5000"). Errors name where the
// file is and which registries it has, never a secret.
func dockerConfigAuth(data []byte, registry, where string) (*authn.AuthConfig, error) {
	var cf dockerConfigFile
	if err := json.Unmarshal(data, &cf); err != nil {
		// json's errors quote no input beyond a character or a type name.
		return nil, fmt.Errorf("credentials from %s: not a docker config file (config.json, .dockerconfigjson): %v", where, jsonProblem(err))
	}
	var hosts []string
	for key, a := range cf.Auths {
		host := dockerConfigHost(key)
		hosts = append(hosts, host)
		if host != registry {
			continue
		}
		cfg := &authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(a.Auth))
			if err != nil {
				return nil, fmt.Errorf("credentials from %s: auths[%q].auth is not base64", where, key)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok || user == "" {
				return nil, fmt.Errorf("credentials from %s: auths[%q].auth does not decode to \"user:pass\"", where, key)
			}
			cfg.Username, cfg.Password = user, pass
		}
		if *cfg == (authn.AuthConfig{}) {
			return nil, fmt.Errorf("credentials from %s: auths[%q] holds no credentials", where, key)
		}
		return cfg, nil
	}
	slices.Sort(hosts)
	if len(hosts) == 0 {
		return nil, fmt.Errorf("credentials from %s: the docker config has no auths entries", where)
	}
	return nil, fmt.Errorf("credentials from %s: no auths entry for %s (it has %s)", where, registry, strings.Join(hosts, ", "))
}

// dockerConfigHost is the registry host a docker config key names: keys
// are written "registry.example.com", "https://registry.example.com/v2/"
// or, for Docker Hub, "https://index.docker.io/v1/".
func dockerConfigHost(key string) string {
	k := strings.TrimSpace(key)
	k = strings.TrimPrefix(strings.TrimPrefix(k, "https://"), "http://")
	k, _, _ = strings.Cut(k, "/")
	if r, err := name.NewRegistry(k); err == nil {
		return r.RegistryStr() // docker.io → index.docker.io
	}
	return k
}

// jsonProblem describes a JSON error without echoing input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		kind, _, _ := strings.Cut(te.Value, " ") // "number 12345": the value is left out
		return fmt.Sprintf("%s is a JSON %s, want %s", orTop(te.Field), kind, te.Type)
	}
	return "invalid JSON"
}

func orTop(field string) string {
	if field == "" {
		return "the file"
	}
	return field
}

// CheckCredentials reads the secret a Host.Credentials value names
// ("env:VAR", "file:/path" holding user:pass or a docker config,
// "dockerconfig:/path") and checks that it gives credentials for the
// registry of prefix, without any network access: what `tagwatch check`
// verifies. Errors name the variable or file, never the secret.
func CheckCredentials(credentials, prefix string) error {
	ref, err := parseCredentialsRef(credentials)
	if err != nil {
		return err
	}
	ref.registry = registryOf(prefix)
	_, err = ref.Authorization()
	return err
}

// registryOf is the registry host of a Host prefix ("ghcr.io/org" →
// "ghcr.io"), as ggcr names it ("docker.io" → "index.docker.io").
func registryOf(prefix string) string {
	host, _, _ := strings.Cut(normalizePrefix(prefix), "/")
	if r, err := name.NewRegistry(host); err == nil {
		return r.RegistryStr()
	}
	return host
}

// readSecretFile reads a credentials file; its error names the file only.
func readSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return b, nil
}
