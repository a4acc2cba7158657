package e2e

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestQuickstart follows the README's quickstart as written, against a
// Debian docker-registry with TLS (its CA trusted the way a machine trusts
// a public one: SSL_CERT_FILE) and htpasswd auth (credentials from a
// docker config.json, as `docker login` leaves them) and a git server over
// smart HTTP: the example files and every tagwatch command of its steps,
// with only the example hosts replaced by the test servers'.
func TestQuickstart(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(readme)
	section = section[strings.Index(section, "## Quickstart"):]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)```[a-z]*\n(.*?)```").FindAllStringSubmatch(section, -1) {
		blocks = append(blocks, dedent(m[1]))
	}
	if len(blocks) < 6 {
		t.Fatalf("the quickstart has %d code blocks, want at least 6", len(blocks))
	}
	if !strings.Contains(blocks[0], "go build -o bin/tagwatch ./cmd/tagwatch") {
		t.Errorf("the install step does not build from the clone:\n%s", blocks[0])
	}

	w := newWorldWith(t, map[string]string{
		"envs/staging/kustomization.yaml": strings.ReplaceAll(blocks[1], "registry.example.com", "REG"),
		"base/kustomization.yaml":         "resources: []\n",
	}, testreg.DistributionOptions{TLS: true, Auth: true})
	cfg := filepath.Join(w.dir, "tagwatch.yaml")
	text := strings.ReplaceAll(blocks[2], "https://git.example.com/platform/deploy.git", w.gitURL)
	if err := os.WriteFile(cfg, []byte(w.expand(strings.ReplaceAll(text, "registry.example.com", "REG"))), 0o600); err != nil {
		t.Fatal(err)
	}
	w.reg.PushImage(t, "team/app", t0, "1.0.0")
	w.reg.PushImage(t, "team/app", t0.Add(1), "1.1.0-rc.1")

	// Step 4: the git token in GIT_TOKEN, the registry as `docker login` leaves it.
	docker := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(w.reg.User + ":" + w.reg.Pass))
	if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, w.reg.Host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"GIT_TOKEN=" + w.git.Password, "DOCKER_CONFIG=" + docker, "XDG_CACHE_HOME=" + t.TempDir(), "SSL_CERT_FILE=" + w.reg.CAFile}
	var outputs []string
	for _, block := range blocks[3:] {
		for _, line := range strings.Split(block, "\n") {
			if !strings.HasPrefix(line, "tagwatch ") {
				continue
			}
			if i := strings.Index(line, "  #"); i >= 0 {
				line = line[:i]
			}
			args := shellWords(t, w.expand(strings.ReplaceAll(strings.TrimPrefix(line, "tagwatch "), "registry.example.com", "REG")))
			for i, a := range args {
				if a == "tagwatch.yaml" {
					args[i] = cfg
				}
			}
			r := tagwatch(t, env, args...)
			if r.code != 0 {
				t.Fatalf("%s: exit %d\n%s%s", line, r.code, r.stdout, r.stderr)
			}
			outputs = append(outputs, r.stdout)
		}
	}
	all := strings.Join(outputs, "\n")
	for _, want := range []string{
		"no problems found",
		"tag:        1.1.0-rc.1",
		"would update staging: " + w.reg.Repo("team/app") + " 1.0.0 -> 1.1.0-rc.1",
		"+    newTag: 1.1.0-rc.1",
		"updated staging: ",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the quickstart's output lacks %q:\n%s", want, all)
		}
	}
	if got := w.show("envs/staging/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0-rc.1") {
		t.Errorf("staging after the quickstart:\n%s", got)
	}
	if trailers := testgit.Git(t, w.bare, "log", "-1", "--format=%(trailers:key=Tagwatch-Update)", "main"); !strings.Contains(trailers, "env=staging") {
		t.Errorf("no Tagwatch-Update trailer: %q", trailers)
	}
}

// dedent removes the indentation of a code block nested in a list item.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	indent := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		if n := len(l) - len(strings.TrimLeft(l, " ")); indent < 0 || n < indent {
			indent = n
		}
	}
	for i, l := range lines {
		if len(l) >= indent {
			lines[i] = l[indent:]
		}
	}
	return strings.Join(lines, "\n")
}

// shellWords splits a command line as sh would for the quickstart's
// commands: words, 'single' and "double" quotes.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, byte(0)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0 && c == quote:
			quote = 0
		case quote != 0:
			cur.WriteByte(c)
		case c == '\'' || c == '"':
			quote, in = c, true
		case c == ' ':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteByte(c)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}
