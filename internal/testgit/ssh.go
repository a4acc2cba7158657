package testgit

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// SSHServer is Debian's sshd running on a loopback port as the current user,
// with its own host key and one authorized client key, for git over SSH.
type SSHServer struct {
	Host string // 127.0.0.1
	Port int
	User string // the current user: sshd runs as them and lets only them in

	// KeyFile is the authorized client's private key (ed25519, no passphrase).
	KeyFile string
	// KnownHosts is a known_hosts file holding the server's host key.
	KnownHosts string
	// HostPublicKey is the server's host key, one authorized_keys-style line.
	HostPublicKey string

	dir string
	log *lockedBuffer
}

// StartSSH starts sshd on 127.0.0.1 for the rest of the test. It skips (fails
// under CI) when sshd or ssh-keygen is missing.
func StartSSH(t testing.TB) *SSHServer {
	t.Helper()
	sshd := testenv.LookPath(t, "Debian package openssh-server", "/usr/sbin/sshd", "sshd")
	keygen := testenv.LookPath(t, "Debian package openssh-client", "ssh-keygen")
	GitPath(t) // sshd runs git-upload-pack and git-receive-pack
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start without its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	s := &SSHServer{Host: "127.0.0.1", User: u.Username, dir: dir,
		KeyFile: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts")}
	hostKey := filepath.Join(dir, "ssh_host_ed25519_key")
	for _, k := range []string{hostKey, s.KeyFile} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-C", "testgit", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	clientPub := readFile(t, s.KeyFile+".pub")
	s.HostPublicKey = strings.TrimSpace(readFile(t, hostKey+".pub"))
	writeFile(t, filepath.Join(dir, "authorized_keys"), clientPub)

	// Pick a free port; sshd may still lose a race for it, so retry.
	for attempt := 0; ; attempt++ {
		s.Port = freePort(t)
		err := s.start(t, sshd, hostKey)
		if err == nil {
			break
		}
		if attempt == 3 {
			t.Fatal(err)
		}
	}
	hostField := fmt.Sprintf("[%s]:%d", s.Host, s.Port)
	writeFile(t, s.KnownHosts, hostField+" "+s.HostPublicKey+"\n")
	return s
}

func (s *SSHServer) start(t testing.TB, sshd, hostKey string) error {
	t.Helper()
	cfg := filepath.Join(s.dir, fmt.Sprintf("sshd_config.%d", s.Port))
	writeFile(t, cfg, strings.Join([]string{
		fmt.Sprintf("ListenAddress %s:%d", s.Host, s.Port),
		"HostKey " + hostKey,
		"PidFile " + filepath.Join(s.dir, "sshd.pid"),
		"AuthorizedKeysFile " + filepath.Join(s.dir, "authorized_keys"),
		"AllowUsers " + s.User,
		"StrictModes no",
		"UsePAM no",
		"PermitRootLogin prohibit-password",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"AllowTcpForwarding no",
		"X11Forwarding no",
		"PrintMotd no",
		"LogLevel ERROR",
		// The default post-quantum key exchange costs about a second of CPU
		// per connection on a busy machine; tests need no such strength.
		"KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org",
		"UseDNS no",
		"",
	}, "\n"))
	s.log = &lockedBuffer{}
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting sshd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	addr := net.JoinHostPort(s.Host, fmt.Sprint(s.Port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited: %v: %s", err, s.log.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("sshd did not listen on %s: %s", addr, s.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd log:\n%s", s.log.String())
		}
	})
	return nil
}

// Authorize lets the public key (an authorized_keys line) in as well.
func (s *SSHServer) Authorize(t testing.TB, pubKey string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(s.dir, "authorized_keys"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.TrimSpace(pubKey) + "\n"); err != nil {
		t.Fatal(err)
	}
}

// URL returns the ssh:// URL of the repository at the absolute path repo.
func (s *SSHServer) URL(repo string) string {
	return fmt.Sprintf("ssh://%s@%s:%d%s", s.User, s.Host, s.Port, filepath.ToSlash(repo))
}

// Log returns what sshd wrote so far (errors only).
func (s *SSHServer) Log() string { return s.log.String() }

// GitSSHCommand is a GIT_SSH_COMMAND value for the git CLI that uses the
// client key and known_hosts of this server.
func (s *SSHServer) GitSSHCommand() string {
	return fmt.Sprintf("ssh -i %s -o IdentitiesOnly=yes -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes", s.KeyFile, s.KnownHosts)
}

// NewClone clones the repository at the absolute path repo through this
// server with the git CLI (see the package-level NewClone).
func (s *SSHServer) NewClone(t testing.TB, repo string) *Clone {
	t.Helper()
	env := []string{"GIT_SSH_COMMAND=" + s.GitSSHCommand()}
	dir := filepath.Join(t.TempDir(), "foreign")
	if _, err := gitRun(GitPath(t), "", env, "clone", "--quiet", s.URL(repo), dir); err != nil {
		t.Fatal(err)
	}
	return &Clone{Dir: dir, t: t, git: GitPath(t), env: env}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
