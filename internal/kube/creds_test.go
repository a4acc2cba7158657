package kube

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tagwatch/tagwatch/internal/testenv"
	"github.com/tagwatch/tagwatch/internal/testgit"
	"github.com/tagwatch/tagwatch/internal/testreg"
)

// TestRepoCredsInheritance: Argo CD's repository Secret may carry only the
// url, its credentials coming from the repo-creds Secret whose url is the
// longest prefix of the repository's. Three repo-creds Secrets match; only
// the longest has the right password, and it is neither the first nor the
// last listed (Secrets are listed by name).
func TestRepoCredsInheritance(t *testing.T) {
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	srv := testgit.ServeHTTPAuth(t, bare, "deploy", "s3cr3t-token")
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Scheme + "://" + u.Host
	creds := func(name, url, password string) {
		w.secret(w.argo, name, map[string]string{secretTypeLabel: "repo-creds"},
			map[string]string{"url": url, "username": "deploy", "password": password})
	}
	creds("a-short", "http://127.0.0.1", "wrong-short")
	creds("m-long", host+"/", "s3cr3t-token")
	creds("z-medium", host, "wrong-medium")
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"}, map[string]string{"url": srv.URL, "type": "git"})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source(srv.URL, "a"))
	w.waitApps("a")

	sum := w.cycle(w.loop())
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
}

// TestSSHKnownHostsFromConfigMap: without git.auth.knownHostsFile, the
// host keys of an ssh repository are Argo CD's ConfigMap
// argocd-ssh-known-hosts-cm (key ssh_known_hosts), read at every cycle;
// the client key is the repository Secret's sshPrivateKey. Without the
// ConfigMap, without keys in it, or with another key for the host, the
// repository fails with a host key error and nothing is pushed (the
// machine's ~/.ssh/known_hosts, which holds the right key here, is never
// used instead); with the right key the change is pushed.
func TestSSHKnownHostsFromConfigMap(t *testing.T) {
	srv := testgit.StartSSH(t)
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	kh, err := os.ReadFile(srv.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".ssh", "known_hosts"), kh, 0o600); err != nil {
		t.Fatal(err)
	}
	// HOME moves: the servers stay where they were found.
	t.Setenv("TAGWATCH_SERVERS_CACHE", testenv.ServersCache())
	t.Setenv("HOME", home)
	w := newWorld(t, testreg.Options{TLS: true})
	w.push("app", "1.0.0", "1.1.0")
	img := w.image("app")
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": "images:\n  - name: " + img + "\n    newTag: 1.0.0\n"})
	url := srv.URL(bare)
	key, err := os.ReadFile(srv.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	w.secret(w.argo, "repo", map[string]string{secretTypeLabel: "repository"}, map[string]string{"url": url, "sshPrivateKey": string(key)})
	w.application("a", map[string]string{"tagwatch.dev/images": "app=" + img}, source(url, "a"))
	w.waitApps("a")
	seed := testgit.Head(t, bare, "main")
	l := w.loop()
	failed := func(when, want string) {
		t.Helper()
		sum := w.cycle(l)
		if e := errorsOf(sum); len(e) != 1 || !strings.Contains(e[0], want) || len(sum.Pushes) != 0 {
			t.Errorf("%s: errors %q, pushes %+v: want one error with %q and no push", when, e, sum.Pushes, want)
		}
		if testgit.Head(t, bare, "main") != seed {
			t.Errorf("%s: main moved: %v", when, testgit.Subjects(t, bare, "main"))
		}
	}
	cmName := w.argo + "/" + knownHostsCM

	failed("without the ConfigMap", "no ssh host keys: git.auth.knownHostsFile is not set and Argo CD's ConfigMap "+cmName+" does not exist")
	w.waitEvent("a", ReasonImageUpdateFailed, "no ssh host keys", cmName)

	cms := w.c.Clientset(t).CoreV1().ConfigMaps(w.argo)
	cm, err := cms.Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: knownHostsCM, Namespace: w.argo},
		Data: map[string]string{knownHostsKey: "\n"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	failed("with no keys in the ConfigMap", "no ssh host keys: git.auth.knownHostsFile is not set and Argo CD's ConfigMap "+cmName+" has no "+knownHostsKey)

	hostField := fmt.Sprintf("[%s]:%d", srv.Host, srv.Port)
	github := "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\n"
	cm.Data[knownHostsKey] = github + hostField + " " + otherHostKey(t) + "\n"
	if cm, err = cms.Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	failed("with another key for the host", "ssh host key of "+hostField+" not accepted by known_hosts")
	w.waitEvent("a", ReasonImageUpdateFailed, "ssh host key of "+hostField+" not accepted")

	cm.Data[knownHostsKey] = github + hostField + " " + srv.HostPublicKey + "\n"
	if _, err := cms.Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	sum := w.cycle(l)
	if diff := cmp.Diff([]string{"a 1.0.0->1.1.0 a/kustomization.yaml"}, changes(sum)); diff != "" {
		t.Fatalf("with the host's key (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	if got := testgit.Show(t, bare, "main", "a/kustomization.yaml"); !strings.Contains(got, "newTag: 1.1.0") {
		t.Errorf("main holds:\n%s", got)
	}
}

// otherHostKey is the public half of a new ed25519 key: a host key that
// is not the server's.
func otherHostKey(t *testing.T) string {
	t.Helper()
	keygen := testenv.LookPath(t, "Debian package openssh-client", "ssh-keygen")
	f := filepath.Join(t.TempDir(), "other")
	if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "other", "-f", f).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(f + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(pub))
}

// TestPullSecretForms: Argo CD Image Updater's pull-secret forms
// secret:<ns>/<name>#<field> and env:<VAR> (user:pass) each log in to a
// registry that wants credentials. A field the Secret does not have, or
// a variable that is not set, fails that image alone with an error naming
// the reference (never a credential); an image without a pull secret is
// refused by the registry; the others of the cycle update.
func TestPullSecretForms(t *testing.T) {
	const envVar, unsetVar = "TAGWATCH_TEST_PULL_CREDS", "TAGWATCH_TEST_PULL_UNSET"
	t.Setenv(envVar, "puller:pull-pass")
	t.Setenv(unsetVar, "") // restored at the end; unset meanwhile
	os.Unsetenv(unsetVar)
	w := newWorld(t, testreg.Options{TLS: true, User: "puller", Pass: "pull-pass"})
	aliases := []string{"sec", "env", "nokey", "noenv", "anon"}
	var list []string
	kust := "images:\n"
	for _, a := range aliases {
		w.push(a, "1.0.0", "1.1.0")
		list = append(list, a+"="+w.image(a))
		kust += "  - name: " + w.image(a) + "\n    newTag: 1.0.0\n"
	}
	w.secret(w.argo, "pull", nil, map[string]string{"creds": "puller:pull-pass"})
	bare := testgit.NewBare(t, map[string]string{"a/kustomization.yaml": kust})
	ref := map[string]string{
		"sec":   "secret:" + w.argo + "/pull#creds",
		"env":   "env:" + envVar,
		"nokey": "secret:" + w.argo + "/pull#missing",
		"noenv": "env:" + unsetVar,
	}
	ann := map[string]string{iu + "image-list": strings.Join(list, ","), iu + "write-back-target": "kustomization"}
	for a, r := range ref {
		ann[iu+a+".pull-secret"] = r
	}
	w.application("a", ann, source("file://"+bare, "a"))
	w.waitApps("a")

	sum := w.cycle(w.loop())
	want := []string{"a 1.0.0->1.1.0 a/kustomization.yaml", "a 1.0.0->1.1.0 a/kustomization.yaml"}
	if diff := cmp.Diff(want, changes(sum)); diff != "" {
		t.Errorf("changes (-want +got):\n%s\nerrors: %v", diff, errorsOf(sum))
	}
	got := map[string]string{}
	for _, c := range sum.Report.Changes {
		got[c.Image] = c.To
	}
	if diff := cmp.Diff(map[string]string{w.image("sec"): "1.1.0", w.image("env"): "1.1.0"}, got); diff != "" {
		t.Errorf("images updated (-want +got):\n%s", diff)
	}
	errs := map[string]string{}
	for _, e := range sum.Report.Errors {
		errs[e.Image] = e.Error
	}
	for image, part := range map[string]string{
		w.image("nokey"): "pull secret " + ref["nokey"] + ": Secret " + w.argo + "/pull has no key missing",
		w.image("noenv"): "pull secret " + ref["noenv"] + ": the environment variable is not set",
		w.image("anon"):  "unauthorized",
	} {
		if !strings.Contains(errs[image], part) {
			t.Errorf("error of %s = %q, want %q in it", image, errs[image], part)
		}
	}
	if len(errs) != 3 {
		t.Errorf("errors: %v, want nokey's, noenv's and anon's", errorsOf(sum))
	}
	kustomization := testgit.Show(t, bare, "main", "a/kustomization.yaml")
	for _, a := range aliases {
		tag := "1.0.0"
		if a == "sec" || a == "env" {
			tag = "1.1.0"
		}
		if !strings.Contains(kustomization, "name: "+w.image(a)+"\n    newTag: "+tag) {
			t.Errorf("%s is not at %s:\n%s", a, tag, kustomization)
		}
	}
	msg := w.waitEvent("a", ReasonImageUpdateFailed, ref["nokey"], ref["noenv"])
	if strings.Contains(msg, "pull-pass") || strings.Contains(fmt.Sprint(sum.Report), "pull-pass") {
		t.Errorf("the password is in the Event or the report: %s", msg)
	}
}
