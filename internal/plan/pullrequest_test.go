package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tagwatch/tagwatch/config"
)

// TestFromConfigPullRequestMode: mode, branch and forge reach the plan;
// a signing key that cannot be read or parsed is a configuration error at
// load, at its field.
func TestFromConfigPullRequestMode(t *testing.T) {
	y := `git:
  url: https://git.example.com/platform/deploy.git
  provider: {kind: gitea, tokenEnv: PLAN_TEST_FORGE}
environments:
  - name: staging
    path: envs/staging
    images: [{image: r.example.com/app}]
  - name: production
    path: envs/production
    mode: pull-request
    autoMerge: true
    images: [{image: r.example.com/app}]
`
	cfg, err := config.Parse("t.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	set, err := FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := set.Plans[0]
	st, prod := p.Env("staging"), p.Env("production")
	if st.Mode != ModePush || st.WriteBranch() != "" || prod.Mode != ModePullRequest || prod.WriteBranch() != "tagwatch/production" || !prod.AutoMerge {
		t.Errorf("staging %q %q, production %q %q %v", st.Mode, st.WriteBranch(), prod.Mode, prod.WriteBranch(), prod.AutoMerge)
	}
	if f := p.Repo.Forge; f == nil || f.Kind != "gitea" || f.Repository != "platform/deploy" {
		t.Errorf("forge %+v", f)
	}
	t.Setenv("PLAN_TEST_FORGE", "tok")
	if tok, err := p.Repo.Forge.Token(t.Context()); err != nil || tok != "tok" {
		t.Errorf("Token() = %q, %v", tok, err)
	}

	bad := filepath.Join(t.TempDir(), "key")
	os.WriteFile(bad, []byte("not a key\n"), 0o600)
	cfg, err = config.Parse("t.yaml", []byte(strings.Replace(y, "  provider:", "  signing: {key: 'file:"+bad+"', format: ssh}\n  provider:", 1)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = FromConfig(cfg)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.Field != "git.signing.key" || fe.Line != 3 || !errors.Is(err, config.ErrInvalid) || !strings.Contains(err.Error(), "not an ssh private key") {
		t.Errorf("a bad signing key: %v, want a configuration error at git.signing.key (line 3)", err)
	}
}

func TestCheckModes(t *testing.T) {
	repo := Repo{URL: "https://git.example.com/platform/deploy.git", Branch: "main"}
	// A template's renders are checked as they are made: Check never runs it.
	tpl := &BranchTemplate{Text: "x", Render: func([]BranchChange) (string, error) { panic("rendered by Check") }}
	for _, tc := range []struct {
		name string
		repo Repo
		env  Environment
		want string
	}{
		{"pull request without a forge", repo, Environment{Name: "p", Mode: ModePullRequest}, "has no forge"},
		{"a branch without a name", repo, Environment{Name: "p", Mode: ModeBranch}, "names none"},
		{"the base as the branch", repo, Environment{Name: "p", Mode: ModeBranch, Branch: "main"}, "the repository's own branch"},
		{"an invalid branch", repo, Environment{Name: "p", Mode: ModeBranch, Branch: "a..b"}, "not a valid branch name"},
		{"an argocd-image-updater write branch", repo, Environment{Name: "p", Mode: ModeBranch, Branch: "image-updater-p"}, ""},
		{"a write-branch template", repo, Environment{Name: "p", Mode: ModeBranch, BranchTemplate: tpl}, ""},
		{"a write branch and a template", repo, Environment{Name: "p", Mode: ModeBranch, Branch: "x", BranchTemplate: tpl}, "give one"},
		{"a template in pull-request mode", repo, Environment{Name: "p", Mode: ModePullRequest, BranchTemplate: tpl}, "has a template for its branch too"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := tc.env
			err := Check([]*Plan{{Repo: tc.repo, Envs: []*Environment{&env}}})
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check = %v, want %q", err, tc.want)
			}
		})
	}
}
