// Package testkube runs a real Kubernetes API server for tests: etcd and
// kube-apiserver (no controller manager, no nodes) on 127.0.0.1, with RBAC,
// static bearer tokens for an admin and a user without permissions, and
// service-account token signing so the TokenRequest API works.
//
// The binaries come from hack/servers/build.sh (make servers), found through
// internal/testenv: missing binaries skip a test, or fail it under CI=true.
// Starting takes about 3 s, so the tests of a package share one cluster
// (Shared, stopped by Main) and isolate themselves by namespace (Namespace);
// Start gives a test a cluster of its own.
//
// Without a controller manager nothing runs in the background: namespaces
// are never finalized after deletion, service accounts get no token
// secrets (use ServiceAccountToken), and deleted objects are not garbage
// collected.
package testkube

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Version is the kube-apiserver version hack/servers/build.sh builds
// (hack/servers/versions.env).
const Version = "v1.37.1"

// The users of the static token file.
const (
	AdminUser = "tagwatch-admin" // in group system:masters: allowed everything
	User      = "tagwatch-user"  // no roles: forbidden everything until a test binds one
)

// startTimeout bounds the start of etcd and of kube-apiserver each.
const startTimeout = 60 * time.Second

// Cluster is a running etcd and kube-apiserver.
type Cluster struct {
	Host       string // https://127.0.0.1:port
	CAData     []byte // PEM certificates that verify the server
	AdminToken string // bearer token of AdminUser
	UserToken  string // bearer token of User
	Dir        string // data, certificates, tokens and logs

	etcd, apiserver *testenv.Process
}

// Binaries are the programs a cluster runs.
type Binaries struct {
	Etcd, APIServer string
}

// FindBinaries finds etcd and kube-apiserver as internal/testenv does. The
// error wraps testenv.ErrNotInstalled.
func FindBinaries() (Binaries, error) {
	api, err := testenv.FindServer("kube-apiserver-"+Version, "kube-apiserver")
	if err != nil {
		return Binaries{}, err
	}
	etcd, err := testenv.FindServer("", "etcd", "/usr/bin/etcd")
	if err != nil {
		return Binaries{}, err
	}
	return Binaries{Etcd: etcd, APIServer: api}, nil
}

// Run starts a cluster of bins with its files in dir (an empty directory)
// for programs that are not tests; Stop ends it. Tests use Start or Shared.
func Run(bins Binaries, dir string) (*Cluster, error) {
	return testenv.RetryPortClash(dir, func(dir string) (*Cluster, error) { return run(bins, dir) })
}

func run(bins Binaries, dir string) (_ *Cluster, err error) {
	c := &Cluster{Dir: dir, AdminToken: testenv.RandomHex(16), UserToken: testenv.RandomHex(16)}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	for _, d := range []string{"etcd", "certs"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, err
		}
	}
	ports, err := testenv.FreePorts(3)
	if err != nil {
		return nil, err
	}
	if err := c.startEtcd(bins.Etcd, ports[0], ports[1]); err != nil {
		return nil, err
	}
	if err := c.startAPIServer(bins.APIServer, ports[0], ports[2]); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startEtcd(bin string, client, peer int) error {
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", client)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peer)
	cmd := exec.Command(bin,
		"--name=default", "--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+clientURL, "--advertise-client-urls="+clientURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=default="+peerURL, "--logger=zap", "--log-level=warn",
		// One member: no peer to wait for, so a quick first election.
		"--heartbeat-interval=10", "--election-timeout=100")
	var err error
	if c.etcd, err = testenv.StartProcess(cmd, filepath.Join(c.Dir, "etcd.log")); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	hc := &http.Client{Timeout: time.Second}
	return c.etcd.WaitReady(ctx, func(ctx context.Context) error {
		return get(ctx, hc, clientURL+"/health", "")
	})
}

func (c *Cluster) startAPIServer(bin string, etcdPort, port int) error {
	d := c.Dir
	tokens := fmt.Sprintf("%s,%s,%s,\"system:masters\"\n%s,%s,%s\n",
		c.AdminToken, AdminUser, AdminUser, c.UserToken, User, User)
	if err := os.WriteFile(filepath.Join(d, "tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}
	saKey := filepath.Join(d, "sa.key")
	if err := writeECKey(saKey); err != nil {
		return err
	}
	cmd := exec.Command(bin,
		fmt.Sprintf("--etcd-servers=http://127.0.0.1:%d", etcdPort),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		// The endpoint reconciler refuses a loopback address.
		"--endpoint-reconciler-type=none",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+filepath.Join(d, "certs"),
		"--token-auth-file="+filepath.Join(d, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file="+saKey, "--service-account-signing-key-file="+saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// Its admission plugin refuses pods in a namespace until its
		// "default" service account exists: only the controller manager
		// makes that.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false")
	var err error
	if c.apiserver, err = testenv.StartProcess(cmd, filepath.Join(d, "kube-apiserver.log")); err != nil {
		return err
	}
	c.Host = fmt.Sprintf("https://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var hc *http.Client
	return c.apiserver.WaitReady(ctx, func(ctx context.Context) error {
		if hc == nil {
			// The server writes its self-signed certificate and CA before it
			// serves.
			ca, err := os.ReadFile(filepath.Join(d, "certs", "apiserver.crt"))
			if err != nil {
				return err
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(ca) {
				return fmt.Errorf("no certificate in apiserver.crt yet")
			}
			c.CAData = ca
			hc = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		}
		return get(ctx, hc, c.Host+"/readyz", c.AdminToken)
	})
}

// Stop ends kube-apiserver and etcd. Their files stay in Dir.
func (c *Cluster) Stop() {
	if c.apiserver != nil {
		c.apiserver.Stop()
	}
	if c.etcd != nil {
		c.etcd.Stop()
	}
}

// Logs returns the last lines of both servers' logs, for a failing test.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, p := range []*testenv.Process{c.apiserver, c.etcd} {
		if p != nil {
			fmt.Fprintf(&b, "--- %s (last 30 lines of %s)\n%s", p.Name, p.LogFile, p.Tail(30))
		}
	}
	return b.String()
}

// get fails unless url answers 200.
func get(ctx context.Context, hc *http.Client, url, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// writeECKey writes a new P-256 private key: kube-apiserver signs service
// account tokens with it (ES256) and verifies them with its public half.
func writeECKey(file string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600)
}
