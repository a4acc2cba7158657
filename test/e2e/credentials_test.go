package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDockerConfigCredentials: a Kubernetes pull secret mounted as a file
// (.dockerconfigjson) gives the registry's credentials, named with
// dockerconfig: or detected behind file: (issue 15, point 6: it gave a bare 401).
func TestDockerConfigCredentials(t *testing.T) {
	w := newWorld(t, map[string]string{"envs/dev/kustomization.yaml": kustomization("REG/team/app", "1.0.0")})
	cfg := w.config(`  - name: dev
    path: envs/dev
    images:
      - {image: REG/team/app}
`)
	w.reg.PushImage(t, "team/app", t0, "1.0.0", "1.1.0")
	secret := filepath.Join(t.TempDir(), ".dockerconfigjson")
	auth := base64.StdEncoding.EncodeToString([]byte(w.reg.User + ":" + w.reg.Pass))
	if err := os.WriteFile(secret, []byte(fmt.Sprintf(`{"auths":{"http://%s/v2/":{"auth":%q}}}`, w.reg.Host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	credLine := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "credentials: ") {
				return l
			}
		}
		t.Fatal("no credentials line")
		return ""
	}
	line := credLine(string(orig))
	for i, creds := range []string{"dockerconfig:" + secret, "file:" + secret} {
		if err := os.WriteFile(cfg, []byte(strings.Replace(string(orig), line, "    credentials: "+creds, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		rep, r := w.once("--dry-run")
		if r.code != 0 || len(rep.Changes) != 1 || rep.Changes[0].To != "1.1.0" {
			t.Errorf("%s: exit %d, changes %+v\n%s", creds, r.code, rep.Changes, r.stderr)
		}
		if i == 0 {
			if r := w.run("check", "--config", cfg); r.code != 0 {
				t.Errorf("check with %s: exit %d\n%s%s", creds, r.code, r.stdout, r.stderr)
			}
		}
	}
	// A pull secret for another registry: the error names the file and
	// the registries it has, never the secret.
	other := filepath.Join(t.TempDir(), ".dockerconfigjson")
	if err := os.WriteFile(other, []byte(fmt.Sprintf(`{"auths":{"ghcr.io":{"auth":%q}}}`, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(orig), line, "    credentials: dockerconfig:"+other, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, r := w.once("--dry-run")
	if r.code != 1 || len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0].Error, "no auths entry for "+w.reg.Host+" (it has ghcr.io)") {
		t.Errorf("pull secret for another registry: exit %d, errors %+v", r.code, rep.Errors)
	}
	r = w.run("check", "--config", cfg)
	if r.code != 2 || !strings.Contains(r.stdout, "registries[0].credentials") || !strings.Contains(r.stdout, other) || strings.Contains(r.stdout+r.stderr, w.reg.Pass) {
		t.Errorf("check: exit %d, want 2 naming the credentials and the file\n%s%s", r.code, r.stdout, r.stderr)
	}
}
