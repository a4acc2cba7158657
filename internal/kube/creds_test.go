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
