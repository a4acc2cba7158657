package reconcile

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/testenv"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testgitea"
)

func TestMain(m *testing.M) { os.Exit(testgitea.Main(m)) }

const prConfig = `
git:
  url: GITURL
  branch: main
  author: {name: tagwatch, email: tw@example.com}
  auth: {username: tagwatch-admin, passwordEnv: TW_TEST_FORGE_TOKEN}
  provider: {kind: gitea, tokenEnv: TW_TEST_FORGE_TOKEN}
registries: [{prefix: REG, insecure: true}]
environments:
  - name: staging
    path: envs/staging
    images: [{image: REG/team/app, kustomizeName: team/app}]
  - name: production
    path: envs/production
    mode: pull-request
    AUTOMERGE
    images: [{image: REG/team/app, kustomizeName: team/app}]
`

// giteaFixture is a repository on the shared Gitea with staging and
// production at 1.0.0, a registry, and tagwatch's config for them.
type giteaFixture struct {
	s    *testgitea.Server
	repo testgitea.Repo
	reg  *testRegistry
	cfg  string
}

func newGiteaFixture(t testing.TB, autoMerge bool) *giteaFixture {
	t.Helper()
	s := testgitea.Shared(t)
	f := &giteaFixture{s: s, reg: newTestRegistry(t)}
	dir := t.TempDir()
	for _, env := range []string{"staging", "production"} {
		p := filepath.Join(dir, "envs", env, "kustomization.yaml")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(kustomization("team/app", "1.0.0")), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f.repo = s.CreateRepo(t, "deploy")
	s.Seed(t, f.repo, dir)
	t.Setenv("TW_TEST_FORGE_TOKEN", s.Token)
	am := ""
	if autoMerge {
		am = "autoMerge: true"
	}
	f.cfg = strings.NewReplacer("GITURL", f.repo.CloneURL, "AUTOMERGE", am).Replace(f.reg.expand(prConfig))
	f.reg.push("team/app", "1.0.0")
	return f
}

// loop is a new tagwatch process: a new loop with a cache of its own.
func (f *giteaFixture) loop(t testing.TB, cfg string) *Loop {
	t.Helper()
	l, err := newLoop(t, parseConfig(t, cfg), f.reg.client(), WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

type giteaPull struct {
	Number int64  `json:"number"`
	Title  string `json:"title"`
	Body   string `json:"body"`
	State  string `json:"state"`
	URL    string `json:"html_url"`
	Merged bool   `json:"merged"`
	Head   struct {
		Ref string `json:"ref"`
	} `json:"head"`
}

func (f *giteaFixture) pulls(t *testing.T, state string) []giteaPull {
	t.Helper()
	var out []giteaPull
	if err := f.s.Do(context.Background(), http.MethodGet, f.repo.Path()+"/pulls?state="+state, nil, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// show reads path on branch through a fresh clone.
func (f *giteaFixture) show(t *testing.T, branch, path string) string {
	t.Helper()
	c := testgit.NewClone(t, f.authURL())
	out, err := testgit.GitErr(t, c.Dir, "show", "origin/"+branch+":"+path)
	if err != nil {
		return ""
	}
	return out + "\n"
}

func (f *giteaFixture) authURL() string {
	return strings.Replace(f.repo.CloneURL, "http://", "http://"+testgitea.AdminUser+":"+f.s.Token+"@", 1)
}

func runCycle(t *testing.T, l *Loop) Report {
	t.Helper()
	rep, err := l.Cycle(context.Background())
	if err != nil {
		t.Fatalf("cycle: %v", err)
	}
	for _, e := range rep.Errors {
		t.Errorf("cycle error: %s", e.Error)
	}
	return rep
}

func changeOf(rep Report, env string) *Change {
	for i := range rep.Changes {
		if rep.Changes[i].Env == env {
			return &rep.Changes[i]
		}
	}
	return nil
}

// TestGiteaPullRequestMode: on a real Gitea, production (pull-request mode)
// gets one pull request, opened, updated in place when a newer tag
// appears, not duplicated by a restarted process, and closed when a person
// makes the change directly; staging, beside it in push mode, goes to main
// in the same push.
//
// Every commit is signed (git.signing): the push to main and the commit
// of the pull request's branch both pass git verify-commit.
func TestGiteaPullRequestMode(t *testing.T) {
	f := newGiteaFixture(t, false)
	f.reg.push("team/app", "1.1.0")
	key, allowed := sshSigningKey(t)
	f.cfg = strings.Replace(f.cfg, "  provider:", "  signing: {key: 'file:"+key+"', format: ssh}\n  provider:", 1)
	l := f.loop(t, f.cfg)

	rep := runCycle(t, l)
	prod, staging := changeOf(rep, "production"), changeOf(rep, "staging")
	if prod == nil || staging == nil || prod.To != "1.1.0" || prod.Branch != "tagwatch/production" || prod.PullRequest == "" || staging.PullRequest != "" {
		t.Fatalf("changes %+v: want staging pushed and production proposed in a pull request", rep.Changes)
	}
	if len(rep.Commits) != 1 || rep.Commits[0] != staging.Commit {
		t.Errorf("commits %v: want staging's alone (production's is on its branch, not on main)", rep.Commits)
	}
	open := f.pulls(t, "open")
	if len(open) != 1 || open[0].Head.Ref != "tagwatch/production" || open[0].Title != "tagwatch(production): "+f.reg.host+"/team/app 1.0.0 -> 1.1.0" ||
		!strings.Contains(open[0].Body, "Tagwatch-Update: env=production") || open[0].URL != prod.PullRequest {
		t.Fatalf("open pull requests %+v", open)
	}
	number := open[0].Number
	clone := testgit.NewClone(t, f.authURL())
	clone.Git("fetch", "--quiet", "origin", "tagwatch/production")
	for _, rev := range []string{"origin/main", "FETCH_HEAD"} {
		if out, err := testgit.GitErr(t, clone.Dir, "-c", "gpg.format=ssh", "-c", "gpg.ssh.allowedSignersFile="+allowed, "verify-commit", rev); err != nil {
			t.Errorf("git verify-commit %s: %v %s", rev, err, out)
		}
	}
	if got := f.show(t, "main", "envs/production/kustomization.yaml"); !hasTag(got, "1.0.0") {
		t.Errorf("main's production = %q: the change went to main", got)
	}
	if got := f.show(t, "main", "envs/staging/kustomization.yaml"); !hasTag(got, "1.1.0") {
		t.Errorf("main's staging = %q", got)
	}

	// A newer tag: the same pull request, updated in place.
	f.reg.push("team/app", "1.2.0")
	runCycle(t, l)
	open = f.pulls(t, "open")
	if len(open) != 1 || open[0].Number != number || !strings.HasSuffix(open[0].Title, "1.0.0 -> 1.2.0") {
		t.Fatalf("after 1.2.0, open pull requests %+v; want #%d updated in place", open, number)
	}
	if got := f.show(t, "tagwatch/production", "envs/production/kustomization.yaml"); !hasTag(got, "1.2.0") {
		t.Errorf("tagwatch/production's production = %q", got)
	}

	// The branch was made on main as it was before staging's commit of
	// this cycle: the next cycle makes it again on main's new head.
	rep = runCycle(t, l)
	if prod := changeOf(rep, "production"); prod == nil || prod.Pending {
		t.Errorf("the cycle after staging's commit: production's change %+v; want it made again on the new head", prod)
	}

	// A restarted tagwatch, its cache lost: the same pull request, nothing pushed.
	rep = runCycle(t, f.loop(t, f.cfg))
	if prod := changeOf(rep, "production"); prod == nil || !prod.Pending || prod.PullRequest != open[0].URL {
		t.Errorf("after a restart, production's change %+v: want pending in %s", prod, open[0].URL)
	}
	if open := f.pulls(t, "open"); len(open) != 1 || open[0].Number != number {
		t.Errorf("after a restart, open pull requests %+v; want #%d alone", open, number)
	}

	// A person sets production to 1.2.0 on main: nothing is left to change,
	// the pull request is closed and its branch deleted.
	c := testgit.NewClone(t, f.authURL())
	if _, err := c.CommitAndPush("envs/production/kustomization.yaml", kustomization("team/app", "1.2.0"), "production to 1.2.0 by hand"); err != nil {
		t.Fatal(err)
	}
	rep = runCycle(t, l)
	if prod := changeOf(rep, "production"); prod != nil {
		t.Errorf("production's change %+v after the direct change: want none", prod)
	}
	if open := f.pulls(t, "open"); len(open) != 0 {
		t.Errorf("open pull requests %+v: want the superseded one closed", open)
	}
	if closed := f.pulls(t, "closed"); len(closed) != 1 || closed[0].Number != number || closed[0].Merged {
		t.Errorf("closed pull requests %+v; want #%d closed unmerged", closed, number)
	}
	if _, err := testgit.GitErr(t, c.Dir, "ls-remote", "--exit-code", "origin", "refs/heads/tagwatch/production"); err == nil {
		t.Errorf("tagwatch/production still exists")
	}
}

// TestGiteaAutoMergeThenNothingLeft: with autoMerge, Gitea merges the pull
// request (no checks are required); the next cycle finds main holding the
// change and opens nothing.
func TestGiteaAutoMergeThenNothingLeft(t *testing.T) {
	f := newGiteaFixture(t, true)
	f.reg.push("team/app", "1.1.0")
	l := f.loop(t, f.cfg)
	runCycle(t, l)
	// Gitea tests mergeability in the background, and may refuse the first
	// merge request: the next cycles ask again.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if hasTag(f.show(t, "main", "envs/production/kustomization.yaml"), "1.1.0") {
			break
		}
		runCycle(t, l)
	}
	if got := f.show(t, "main", "envs/production/kustomization.yaml"); !hasTag(got, "1.1.0") {
		t.Fatalf("main's production = %q: the pull request was not merged", got)
	}
	closed := f.pulls(t, "closed")
	if len(closed) != 1 || !closed[0].Merged {
		t.Errorf("closed pull requests %+v: want one, merged", closed)
	}
	rep := runCycle(t, l)
	if len(rep.Changes) != 0 || len(f.pulls(t, "open")) != 0 {
		t.Errorf("after the merge: changes %+v, open pull requests %+v; want none", rep.Changes, f.pulls(t, "open"))
	}
}

// TestGiteaProtectedBranch: main refuses direct pushes; staging (push
// mode) fails and says so, production (pull-request mode) beside it gets
// its pull request all the same.
func TestGiteaProtectedBranch(t *testing.T) {
	f := newGiteaFixture(t, false)
	f.s.ProtectBranch(t, f.repo, "main")
	f.reg.push("team/app", "1.1.0")
	rep, _ := f.loop(t, f.cfg).Cycle(context.Background())
	var stagingErr string
	for _, e := range rep.Errors {
		switch {
		case e.Env == "staging":
			stagingErr = e.Error
		case e.Env == "" && strings.Contains(e.Error, "pre-receive hook declined"):
			// the repository's push to main, refused
		default:
			t.Errorf("unexpected error: %+v", e)
		}
	}
	if !strings.Contains(stagingErr, "not written") || !strings.Contains(stagingErr, "main") {
		t.Errorf("staging's error %q: want the refused push to main", stagingErr)
	}
	// Gitea's own words survive, not only git's "pre-receive hook declined".
	if !strings.Contains(stagingErr, "the remote said:") || !strings.Contains(strings.ToLower(stagingErr), "protected branch") {
		t.Errorf("staging's error %q: want Gitea's message about the protected branch", stagingErr)
	}
	if open := f.pulls(t, "open"); len(open) != 1 || open[0].Head.Ref != "tagwatch/production" {
		t.Errorf("open pull requests %+v: want production's", open)
	}
	if prod := changeOf(rep, "production"); prod == nil || prod.PullRequest == "" {
		t.Errorf("production's change %+v: want it proposed", prod)
	}
}

// TestGiteaRollbackInPullRequestMode: a rollback of an environment in
// pull-request mode is proposed in a pull request of its own branch, and
// main is not written.
func TestGiteaRollbackInPullRequestMode(t *testing.T) {
	f := newGiteaFixture(t, false)
	// production runs 1.1.0, put there by tagwatch (a merged change).
	f.reg.push("team/app", "1.1.0")
	auto := strings.Replace(f.cfg, "mode: pull-request", "mode: pull-request\n    autoMerge: true", 1)
	l := f.loop(t, auto)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		runCycle(t, l)
		if hasTag(f.show(t, "main", "envs/production/kustomization.yaml"), "1.1.0") {
			break
		}
	}
	main := f.show(t, "main", "envs/production/kustomization.yaml")
	if !hasTag(main, "1.1.0") {
		t.Fatalf("setup: main's production = %q", main)
	}
	// A cycle that raced the auto-merge may have proposed the change again;
	// with the change on main, the next cycle closes what is left open.
	runCycle(t, l)
	if open := f.pulls(t, "open"); len(open) != 0 {
		t.Fatalf("setup: open pull requests %+v after the change was merged", open)
	}
	rep, err := f.loop(t, f.cfg).Rollback(context.Background(), RollbackRequest{Env: "production", Image: "team/app"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Changes) != 1 || rep.Changes[0].PullRequest == "" || rep.Changes[0].Branch != "tagwatch-rollback/production" || len(rep.Commits) != 0 {
		t.Fatalf("rollback report %+v: want it proposed on tagwatch-rollback/production", rep)
	}
	open := f.pulls(t, "open")
	if len(open) != 1 || open[0].Head.Ref != "tagwatch-rollback/production" || !strings.Contains(open[0].Body, "Tagwatch-Rollback:") {
		t.Errorf("open pull requests %+v", open)
	}
	if got := f.show(t, "main", "envs/production/kustomization.yaml"); got != main {
		t.Errorf("main's production changed to %q: a rollback in pull-request mode waits for the merge", got)
	}
	// The next cycle leaves the rollback's pull request alone.
	runCycle(t, f.loop(t, f.cfg))
	if open := f.pulls(t, "open"); len(open) != 1 || open[0].Number != f.pulls(t, "open")[0].Number {
		t.Errorf("after a cycle, open pull requests %+v", open)
	}
}

// hasTag reports whether a kustomization holds newTag: tag.
func hasTag(kustomization, tag string) bool {
	return strings.Contains(kustomization, "newTag: "+tag+" ")
}

// sshSigningKey writes a new ed25519 key for git.signing and an
// allowed-signers file naming it for the config's author.
func sshSigningKey(t *testing.T) (key, allowed string) {
	t.Helper()
	dir := t.TempDir()
	key = filepath.Join(dir, "signing")
	keygen := testenv.LookPath(t, "Debian package openssh-client", "ssh-keygen")
	out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "tagwatch", "-f", key).CombinedOutput()
	if err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	allowed = filepath.Join(dir, "allowed_signers")
	if err := os.WriteFile(allowed, []byte("tw@example.com namespaces=\"git\" "+string(pub)), 0o600); err != nil {
		t.Fatal(err)
	}
	return key, allowed
}

// TestGiteaMinimalTokenScopes: an access token with the write:repository
// scope alone (what docs/pull-requests.md asks for) fetches, pushes,
// opens the pull request and merges it.
func TestGiteaMinimalTokenScopes(t *testing.T) {
	f := newGiteaFixture(t, true)
	body := strings.NewReader(`{"name":"tagwatch-` + strings.ReplaceAll(t.Name(), "/", "-") + `-` + f.repo.Name + `","scopes":["write:repository"]}`)
	req, err := http.NewRequest(http.MethodPost, f.s.URL+"/api/v1/users/"+testgitea.AdminUser+"/tokens", body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testgitea.AdminUser, f.s.AdminPassword)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		SHA1 string `json:"sha1"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusCreated || tok.SHA1 == "" {
		t.Fatalf("creating a token: %s, %v", resp.Status, err)
	}
	t.Setenv("TW_TEST_FORGE_TOKEN", tok.SHA1)
	f.reg.push("team/app", "1.1.0")
	l := f.loop(t, f.cfg)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		runCycle(t, l)
		if hasTag(f.show(t, "main", "envs/production/kustomization.yaml"), "1.1.0") {
			return
		}
	}
	t.Errorf("production was not merged with a write:repository token")
}

// TestScopeKeepsPullRequestEnvironmentsWhole: a triggered cycle for one
// image re-checks every image of an environment in pull-request mode, whose
// branch is made again whole (the others' changes would go otherwise), and
// of one whose branch is named after its changes (a part would name
// another).
func TestScopeKeepsPullRequestEnvironmentsWhole(t *testing.T) {
	a, b := &plan.Watch{Image: "r/a", Key: "r/a"}, &plan.Watch{Image: "r/b", Key: "r/b"}
	p := &plan.Plan{Envs: []*plan.Environment{
		{Name: "staging", Watches: []*plan.Watch{a, b}},
		{Name: "production", Mode: plan.ModePullRequest, Watches: []*plan.Watch{a, b}},
		{Name: "qa", Mode: plan.ModePullRequest, Watches: []*plan.Watch{b}},
		{Name: "preview", Mode: plan.ModeBranch, BranchTemplate: &plan.BranchTemplate{Text: "t"}, Watches: []*plan.Watch{a, b}},
	}}
	scoped, _ := scope([]*plan.Plan{p}, map[string]bool{"r/a": true})
	got := map[string]int{}
	for _, e := range scoped[0].Envs {
		got[e.Name] = len(e.Watches)
	}
	if want := map[string]int{"staging": 1, "production": 2, "preview": 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("watches by environment %v, want %v", got, want)
	}
}
