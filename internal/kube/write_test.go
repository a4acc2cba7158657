package kube

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testenv"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testgitea"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestWriteDefaults: Applications' repositories in the forge's scope get
// the config's forge (with their own repository path) and every one gets
// its signer; a pull-request Application whose repository has no forge is
// reported with why and left out, the others of the repository kept.
func TestWriteDefaults(t *testing.T) {
	token := func(context.Context) (string, error) { return "t", nil }
	s := &Source{}
	if err := WithWriteDefaults(nil, &plan.Forge{Kind: "gitea", URL: "https://git.example.com", Token: token}, "https://git.example.com/platform/deploy.git")(&s.o); err != nil {
		t.Fatal(err)
	}
	same := &plan.Plan{Repo: plan.Repo{URL: "https://git.example.com/team/apps.git"}}
	if why := s.writeDefaults(same); why != "" || same.Repo.Forge == nil || same.Repo.Forge.Repository != "team/apps" || same.Repo.Forge.Kind != "gitea" {
		t.Errorf("forge of a repository on the forge's host: %+v (%s)", same.Repo.Forge, why)
	}
	other := &plan.Plan{Repo: plan.Repo{URL: "https://elsewhere.example.org/team/apps.git"}}
	why := s.writeDefaults(other)
	if other.Repo.Forge != nil {
		t.Errorf("a repository on another host got the forge (and its token): %+v", other.Repo.Forge)
	}

	pr := &plan.Environment{Name: "prod", Mode: plan.ModePullRequest}
	push := &plan.Environment{Name: "staging"}
	other.Envs = []*plan.Environment{push, pr}
	problems := map[string][]string{}
	needForge(other, why, map[*plan.Environment]*appState{
		pr:   {app: &App{Namespace: "argocd", Name: "prod"}},
		push: {app: &App{Namespace: "argocd", Name: "staging"}},
	}, problems)
	if len(other.Envs) != 1 || other.Envs[0] != push {
		t.Errorf("environments kept: %v, want staging alone", other.Envs)
	}
	want := map[string][]string{"argocd/prod": {"tagwatch.dev/mode: pull-request needs a forge for https://elsewhere.example.org/team/apps.git: " +
		"git.provider (gitea, url https://git.example.com) serves the repositories on git.example.com, the host of its url, " +
		"and this repository is on elsewhere.example.org: the forge's token goes to its own host only"}}
	if diff := cmp.Diff(want, problems); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// TestForgeScope: which Applications' repositories the config's forge
// serves (docs/kubernetes.md, "Pull requests"): the host of
// git.provider.url (GitHub's api.<host> serving <host>), else the kind's
// public service, else for Gitea the host of git.url; and, when it serves
// none, a reason that says what was set and why it does not apply.
func TestForgeScope(t *testing.T) {
	gitea := &plan.Forge{Kind: "gitea", URL: "https://git.example.com"}
	for _, tc := range []struct {
		name   string
		forge  *plan.Forge
		gitURL string // the config's git.url
		repo   string // the Application's repository
		want   string // the forge's repository path; "" for no forge
		why    string
	}{
		{name: "provider url, no git.url (deploy/configmap.yaml)", forge: gitea, repo: "https://git.example.com/team/apps.git", want: "team/apps"},
		{name: "provider url wins over git.url", forge: gitea, gitURL: "https://other.example.org/a/b.git", repo: "ssh://git@GIT.example.com:2222/team/apps.git", want: "team/apps"},
		{name: "provider url, another host", forge: gitea, gitURL: "https://elsewhere.example.org/a/b.git", repo: "git@elsewhere.example.org:team/apps.git",
			why: "git.provider (gitea, url https://git.example.com) serves the repositories on git.example.com, the host of its url, and this repository is on elsewhere.example.org: the forge's token goes to its own host only"},
		{name: "github's API url serves github.com", forge: &plan.Forge{Kind: "github", URL: "https://api.github.com/"}, repo: "https://github.com/team/apps.git", want: "team/apps"},
		{name: "github enterprise api/v3", forge: &plan.Forge{Kind: "github", URL: "https://ghe.example.com/api/v3/"}, repo: "git@ghe.example.com:team/apps.git", want: "team/apps"},
		{name: "github without url: github.com", forge: &plan.Forge{Kind: "github"}, gitURL: "https://ghe.example.com/a/b.git", repo: "https://github.com/team/apps", want: "team/apps"},
		{name: "github without url, another host", forge: &plan.Forge{Kind: "github"}, repo: "https://ghe.example.com/team/apps.git",
			why: "git.provider (github, no url: GitHub's API at api.github.com) serves the repositories on github.com, and this repository is on ghe.example.com: the forge's token goes to its own host only"},
		{name: "gitlab without url: gitlab.com", forge: &plan.Forge{Kind: "gitlab"}, repo: "https://gitlab.com/group/sub/apps.git", want: "group/sub/apps"},
		{name: "gitlab url", forge: &plan.Forge{Kind: "gitlab", URL: "https://gitlab.example.com"}, repo: "https://gitlab.example.com/group/apps.git", want: "group/apps"},
		{name: "gitea without url: git.url's host", forge: &plan.Forge{Kind: "gitea"}, gitURL: "https://git.example.com/platform/deploy.git", repo: "https://git.example.com/team/apps.git", want: "team/apps"},
		{name: "gitea without url nor git.url", forge: &plan.Forge{Kind: "gitea"}, repo: "https://git.example.com/team/apps.git",
			why: "git.provider (gitea) has neither url nor a git.url to take the forge's host from: set git.provider.url to the forge's address"},
		{name: "in scope, no owner path", forge: gitea, repo: "https://git.example.com/apps.git",
			why: "git.provider (gitea, url https://git.example.com) serves the repositories on git.example.com, the host of its url, but git URL https://git.example.com/apps.git names no owner/repository path on a forge"},
		{name: "local repository", forge: gitea, repo: "file:///srv/git/apps.git",
			why: "git.provider (gitea, url https://git.example.com) serves the repositories on git.example.com, the host of its url, and this repository is on no host (a local repository): the forge's token goes to its own host only"},
		{name: "no provider", repo: "https://git.example.com/team/apps.git", why: "the config has no git.provider: set it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Source{}
			if err := WithWriteDefaults(nil, tc.forge, tc.gitURL)(&s.o); err != nil {
				t.Fatal(err)
			}
			p := &plan.Plan{Repo: plan.Repo{URL: tc.repo}}
			why := s.writeDefaults(p)
			got := ""
			if p.Repo.Forge != nil {
				got = p.Repo.Forge.Repository
			}
			if got != tc.want {
				t.Errorf("forge repository = %q, want %q", got, tc.want)
			}
			if why != tc.why {
				t.Errorf("why = %q\nwant  %q", why, tc.why)
			}
		})
	}
}

// TestForgeScopeWithoutGitURL: the config of deploy/configmap.yaml has no
// git.url; a git.provider with a url serves the repositories on its host.
// An Application in pull-request mode on a real Gitea gets its pull
// request, its credentials from Argo CD's repository Secret; one on
// another host is skipped with InvalidAnnotations saying what was set and
// why it does not apply.
func TestForgeScopeWithoutGitURL(t *testing.T) {
	gt := testgitea.Start(t)
	w := newWorld(t, testreg.Options{TLS: true}, WithWriteDefaults(nil, &plan.Forge{Kind: "gitea", URL: gt.URL,
		Token: func(context.Context) (string, error) { return gt.Token, nil }}, ""))
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "prod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prod", "kustomization.yaml"), []byte("images:\n  - name: "+img+"\n    newTag: 1.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := gt.CreateRepo(t, "deploy")
	gt.Seed(t, repo, dir)
	w.secret(w.argo, "gitea", map[string]string{secretTypeLabel: "repository"},
		map[string]string{"url": repo.CloneURL, "username": testgitea.AdminUser, "password": gt.Token})
	pr := map[string]string{"tagwatch.dev/images": "app=" + img, "tagwatch.dev/mode": "pull-request"}
	w.application("prod", pr, source(repo.CloneURL, "prod"))
	local := "file://" + testgit.NewBare(t, map[string]string{"prod/kustomization.yaml": "resources: []\n"})
	w.application("local", pr, source(local, "prod"))
	w.waitApps("prod", "local")

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"prod 1.0.0->1.1.0 prod/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	var pulls []struct {
		Title string `json:"title"`
		Head  struct {
			Ref string `json:"ref"`
		} `json:"head"`
	}
	if err := gt.Do(context.Background(), http.MethodGet, repo.Path()+"/pulls?state=open", nil, &pulls); err != nil {
		t.Fatal(err)
	}
	if len(pulls) != 1 || pulls[0].Head.Ref != "tagwatch/prod" {
		t.Errorf("open pull requests: %+v, want one from tagwatch/prod", pulls)
	}
	w.waitEvent("local", ReasonInvalidAnnotations, "tagwatch.dev/mode: pull-request needs a forge for "+local+": git.provider (gitea, url "+gt.URL+
		") serves the repositories on 127.0.0.1, the host of its url, and this repository is on no host (a local repository)")
	for _, e := range w.events("prod") {
		if strings.Contains(e, ReasonInvalidAnnotations) {
			t.Errorf("prod: %s", e)
		}
	}
}

// TestSigningOfApplications: the config's git.signing (through
// plan.FromConfig and WithWriteDefaults, as tagwatch run wires it) signs
// the commits made for Applications: each of the two Applications'
// commits passes git verify-commit with gpg.format=ssh and an allowed
// signers file holding the key, under the config's author; a key that is
// not allowed does not verify them.
func TestSigningOfApplications(t *testing.T) {
	keygen := testenv.LookPath(t, "Debian package openssh-client", "ssh-keygen")
	dir := t.TempDir()
	newKey := func(name string) (key, pub string) {
		key = filepath.Join(dir, name)
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		b, err := os.ReadFile(key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		return key, strings.TrimSpace(string(b))
	}
	key, pub := newKey("signing")
	_, otherPub := newKey("other")
	allowedSigners := func(pub string) string {
		f := filepath.Join(t.TempDir(), "allowed_signers")
		if err := os.WriteFile(f, []byte(`bot@example.com namespaces="git" `+pub+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	cfg, err := config.Parse("tagwatch.yaml", []byte(`
applications:
  namespaces: [argocd]
git:
  author: {name: Release Bot, email: bot@example.com}
  signing: {key: 'file:`+key+`', format: ssh}
`))
	if err != nil {
		t.Fatal(err)
	}
	set, err := plan.FromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	k := set.Kubernetes
	if k == nil || k.Git.Signer == nil {
		t.Fatalf("plan.FromConfig gave Kubernetes mode no signer: %+v", k)
	}
	w := newWorld(t, testreg.Options{TLS: true}, WithGitDefaults(k.Git.Author, k.Git.Auth, k.Git.URL, k.KnownHostsFile),
		WithWriteDefaults(k.Git.Signer, k.Git.Forge, k.Git.URL))
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	seed := "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": seed, "b/kustomization.yaml": seed})
	url := "file://" + bare
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "a"))
	w.application("b", map[string]string{iu + "image-list": "app=" + img, iu + "write-back-target": "kustomization"}, source(url, "b"))
	w.waitApps("a", "b")

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml", "b 1.0.0->1.1.0 b/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Fatalf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	commits := sum.Report.Commits
	if len(commits) != 2 {
		t.Fatalf("commits %v, want two", commits)
	}
	allowed, notAllowed := allowedSigners(pub), allowedSigners(otherPub)
	for _, c := range commits {
		if out, err := testgit.GitErr(t, bare, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", c); err != nil {
			t.Errorf("git verify-commit %s: %v %s", c, err, out)
		}
		if _, err := testgit.GitErr(t, bare, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+notAllowed, "verify-commit", c); err == nil {
			t.Errorf("git verify-commit %s passed with another key allowed", c)
		}
		if got := testgit.Git(t, bare, "log", "-1", "--format=%an <%ae>", c); got != "Release Bot <bot@example.com>" {
			t.Errorf("author of %s = %q, want the config's", c, got)
		}
	}
}
