package testreg

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// DistributionOptions shape a CNCF distribution registry.
type DistributionOptions struct {
	TLS  bool // serve https with a self-signed certificate for 127.0.0.1
	Auth bool // require htpasswd (bcrypt) basic auth with a generated user and password
	// ExtraConfig is YAML appended to the registry's config.yml: further
	// top-level sections, such as notifications:.
	ExtraConfig string
}

// StartDistribution runs Debian's docker-registry (CNCF distribution 2.8) on
// 127.0.0.1 until the test ends. It skips the test (fails it under CI=true)
// when docker-registry, or htpasswd for Auth, is not installed. Note that
// distribution 2.8 ignores ?n= and never paginates tag lists.
func StartDistribution(t testing.TB, opts DistributionOptions) *Target {
	t.Helper()
	bin := testenv.LookPath(t, "Debian package docker-registry", "docker-registry", "/usr/bin/docker-registry")
	htpasswd := ""
	if opts.Auth {
		htpasswd = testenv.LookPath(t, "Debian package apache2-utils", "htpasswd")
	}
	tg, stop, err := RunDistribution(bin, htpasswd, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return tg
}

// RunDistribution is StartDistribution for programs that are not tests
// (benchmarks): bin is the docker-registry program, htpasswd the htpasswd
// program (needed with Auth), dir an empty directory for its files. stop
// ends the registry.
func RunDistribution(bin, htpasswd, dir string, opts DistributionOptions) (tg *Target, stop func(), err error) {
	tg = &Target{dir: dir}
	var authCfg, tlsCfg string
	if opts.Auth {
		tg.User, tg.Pass = "tagwatch", testenv.RandomHex(12)
		out, err := exec.Command(htpasswd, "-Bbn", tg.User, tg.Pass).Output()
		if err != nil {
			return nil, nil, fmt.Errorf("testreg: htpasswd: %w", err)
		}
		p := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(p, out, 0o600); err != nil {
			return nil, nil, err
		}
		authCfg = fmt.Sprintf("auth:\n  htpasswd:\n    realm: testreg\n    path: %s\n", p)
	}
	scheme := "http"
	if opts.TLS {
		scheme = "https"
		cert, key, err := selfSigned(dir)
		if err != nil {
			return nil, nil, err
		}
		tg.CAFile = cert
		tlsCfg = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	if tg.transport, err = newTransport(tg.CAFile); err != nil {
		return nil, nil, err
	}
	for attempt := 0; ; attempt++ {
		port, err := testenv.FreePort()
		if err != nil {
			return nil, nil, err
		}
		tg.Host = fmt.Sprintf("127.0.0.1:%d", port)
		tg.URL = scheme + "://" + tg.Host
		cfg := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: %s
%s%s%s`, filepath.Join(dir, "data"), tg.Host, testenv.RandomHex(16), tlsCfg, authCfg, opts.ExtraConfig)
		cfgPath := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			return nil, nil, err
		}
		cmd := exec.Command(bin, "serve", cfgPath)
		var logs strings.Builder
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			return nil, nil, fmt.Errorf("testreg: starting %s: %w", bin, err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if waitReady(tg, done) {
			return tg, func() {
				cmd.Process.Kill()
				<-done
			}, nil
		}
		cmd.Process.Kill()
		<-done
		if attempt == 2 {
			return nil, nil, fmt.Errorf("testreg: docker-registry did not come up on %s:\n%s", tg.Host, logs.String())
		}
	}
}

// waitReady polls /v2/ until the registry answers (any status) or exits.
func waitReady(tg *Target, done <-chan error) bool {
	client := &http.Client{Transport: tg.transport, Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return false
		default:
		}
		if resp, err := client.Get(tg.URL + "/v2/"); err == nil {
			resp.Body.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// selfSigned writes a certificate for 127.0.0.1 and localhost, valid for a
// day, and its key; the certificate is its own CA.
func selfSigned(dir string) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "testreg"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}
