package registry

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/authn"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDockerConfigAuth(t *testing.T) {
	const secret = "s3cret-Pa55"
	for _, tc := range []struct {
		name, data, registry string
		want                 *authn.AuthConfig
		wantErr              string
	}{
		{"auth", `{"auths":{"registry.example.com":{"auth":"` + b64("robot:"+secret) + `"}}}`, "registry.example.com",
			&authn.AuthConfig{Username: "robot", Password: secret}, ""},
		{"username and password", `{"auths":{"registry.example.com:5000":{"username":"robot","password":"` + secret + `"}}}`, "registry.example.com:5000",
			&authn.AuthConfig{Username: "robot", Password: secret}, ""},
		{"URL key", `{"auths":{"https://registry.example.com/v2/":{"auth":"` + b64("robot:"+secret) + `"}}}`, "registry.example.com",
			&authn.AuthConfig{Username: "robot", Password: secret}, ""},
		{"Docker Hub key", `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("robot:"+secret) + `"}}}`, "index.docker.io",
			&authn.AuthConfig{Username: "robot", Password: secret}, ""},
		{"docker.io key", `{"auths":{"docker.io":{"auth":"` + b64("robot:"+secret) + `"}}}`, "index.docker.io",
			&authn.AuthConfig{Username: "robot", Password: secret}, ""},
		{"identity token", `{"auths":{"r.example.com":{"identitytoken":"` + secret + `"}}}`, "r.example.com",
			&authn.AuthConfig{IdentityToken: secret}, ""},
		{"password with a colon", `{"auths":{"r.example.com":{"auth":"` + b64("robot:"+secret+":x") + `"}}}`, "r.example.com",
			&authn.AuthConfig{Username: "robot", Password: secret + ":x"}, ""},
		{"other host", `{"auths":{"ghcr.io":{"auth":"` + b64("robot:"+secret) + `"},"quay.io":{}}}`, "r.example.com",
			nil, "no auths entry for r.example.com (it has ghcr.io, quay.io)"},
		{"empty entry", `{"auths":{"r.example.com":{}}}`, "r.example.com", nil, `auths["r.example.com"] holds no credentials`},
		{"no auths", `{"credsStore":"desktop"}`, "r.example.com", nil, "has no auths entries"},
		{"bad base64", `{"auths":{"r.example.com":{"auth":"` + secret + `!"}}}`, "r.example.com", nil, "is not base64"},
		{"auth without colon", `{"auths":{"r.example.com":{"auth":"` + b64(secret) + `"}}}`, "r.example.com", nil, `does not decode to "user:pass"`},
		{"not JSON", `{"auths": ` + secret, "r.example.com", nil, "not a docker config file"},
		{"wrong type", `{"auths":["` + secret + `"]}`, "r.example.com", nil, "auths is a JSON array"},
		{"numeric password", `{"auths":{"r.example.com":{"password":12345678901}}}`, "r.example.com", nil, "is a JSON number, want string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dockerConfigAuth([]byte(tc.data), tc.registry, "dockerconfig:/run/secrets/pull")
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "12345678901") || !strings.Contains(err.Error(), "/run/secrets/pull") {
					t.Errorf("error leaks the secret or does not name the file: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("auth (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckCredentials(t *testing.T) {
	dir := t.TempDir()
	pull := filepath.Join(dir, ".dockerconfigjson")
	os.WriteFile(pull, []byte(`{"auths":{"ghcr.io":{"auth":"`+b64("u:p")+`"}}}`), 0o600)
	userPass := filepath.Join(dir, "auth")
	os.WriteFile(userPass, []byte("u:p\n"), 0o600)
	t.Setenv("TAGWATCH_TEST_CHECK", "u:p")
	for _, tc := range []struct {
		creds, prefix string
		ok            bool
	}{
		{"dockerconfig:" + pull, "ghcr.io/org", true},
		{"file:" + pull, "ghcr.io", true},
		{"dockerconfig:" + pull, "quay.io", false},
		{"file:" + userPass, "quay.io", true},
		{"dockerconfig:" + userPass, "quay.io", false},
		{"env:TAGWATCH_TEST_CHECK", "quay.io", true},
		{"env:TAGWATCH_TEST_CHECK_UNSET", "quay.io", false},
		{"file:" + filepath.Join(dir, "missing"), "quay.io", false},
		{"user:pass", "quay.io", false},
	} {
		if err := CheckCredentials(tc.creds, tc.prefix); (err == nil) != tc.ok {
			t.Errorf("CheckCredentials(%q, %q) = %v, want ok %v", tc.creds, tc.prefix, err, tc.ok)
		}
	}
}

// FuzzDockerConfig: whatever a docker config file holds, reading it never
// panics, and a secret in it never shows up in an error.
func FuzzDockerConfig(f *testing.F) {
	f.Add([]byte(`{"auths":{"r.example.com":{"auth":"`+b64("robot:hunter22")+`"}}}`), "hunter22")
	f.Add([]byte(`{"auths":{"r.example.com":{"auth":"hunter22"}}}`), "hunter22")
	f.Add([]byte(`{"auths":{"hunter22":{}}}`), "x")
	f.Add([]byte(`{"auths": "hunter22"}`), "hunter22")
	f.Fuzz(func(t *testing.T, data []byte, secret string) {
		_, err := dockerConfigAuth(data, "r.example.com", "dockerconfig:/p")
		if err == nil || len(secret) < 6 || strings.ContainsAny(secret, `"{}[]:,\`) {
			return
		}
		// Keys are registry names the error may list; values must not leak.
		if strings.Contains(string(data), `"`+secret+`"`) && !strings.Contains(string(data), `"`+secret+`":`) &&
			strings.Contains(err.Error(), secret) && !strings.Contains("credentials from dockerconfig:/p: not a docker config file (config.json, .dockerconfigjson): invalid JSON at byte auths is a JSON want the file holds no credentials has no auths entries", secret) {
			t.Errorf("error shows a value of the file: %v", err)
		}
	})
}
