package gitrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/kevinburke/ssh_config"
)

// endpoint is a remote URL made safe to store and print: no password or
// token in it, ever. Secrets travel in the auth method, per operation.
type endpoint struct {
	url     string // credential-free; given to go-git and stored in .git/config
	kind    string // "file", "http" or "ssh"
	host    string // ssh: host:port for known_hosts
	sshUser string
	secrets []string       // scrubbed from any error text
	ssh     sshConfigFiles // where ssh host aliases are read
}

// tokenUsername is sent with a token when no username is configured: GitHub,
// GitLab, Gitea and Bitbucket accept any non-empty username with a token.
const tokenUsername = "git"

// parseEndpoint reads raw (a local path, file://, http(s)://, ssh:// or
// scp-like user@host:path) and moves any credentials in it into a.
func parseEndpoint(raw string, a *Auth) (endpoint, error) {
	var ep endpoint
	for _, s := range []string{a.Password, a.SSHKeyPassphrase} {
		if s != "" {
			ep.secrets = append(ep.secrets, s)
		}
	}
	switch {
	case raw == "":
		return ep, errors.New("empty git URL")
	case strings.HasPrefix(raw, "file://"):
		ep.kind, ep.url = "file", raw
		return ep, nil
	case !strings.Contains(raw, "://") && isSCPLike(raw):
		e, err := transport.NewEndpoint(raw)
		if err != nil {
			return ep, fmt.Errorf("invalid git URL %s", Redact(raw))
		}
		ep.kind, ep.url, ep.sshUser = "ssh", raw, e.User
		ep.host = net.JoinHostPort(e.Host, strconv.Itoa(portOr(e.Port, 22)))
		return ep, nil
	case !strings.Contains(raw, "://"):
		abs, err := filepath.Abs(raw)
		if err != nil {
			return ep, fmt.Errorf("git repository path %s: %w", raw, err)
		}
		ep.kind, ep.url = "file", abs
		return ep, nil
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ep, fmt.Errorf("invalid git URL %s", Redact(raw))
	}
	switch u.Scheme {
	case "http", "https":
		ep.kind = "http"
		if u.User != nil {
			user := u.User.Username()
			pass, hasPass := u.User.Password()
			if !hasPass && a.Password == "" {
				// https://TOKEN@host/repo: the user part is the secret.
				user, pass = "", user
			}
			if a.Password == "" {
				a.Password = pass
				if a.Username == "" {
					a.Username = user
				}
			}
			if pass != "" {
				ep.secrets = append(ep.secrets, pass, url.QueryEscape(pass), url.PathEscape(pass))
			}
		}
	case "ssh", "git+ssh", "ssh+git":
		ep.kind, u.Scheme = "ssh", "ssh"
		if u.User != nil {
			ep.sshUser = u.User.Username()
			if pass, ok := u.User.Password(); ok {
				ep.secrets = append(ep.secrets, pass)
			}
		}
		port, _ := strconv.Atoi(u.Port())
		ep.host = net.JoinHostPort(u.Hostname(), strconv.Itoa(portOr(port, 22)))
	default:
		return ep, fmt.Errorf("unsupported git URL scheme %q in %s (want file, http, https or ssh)", u.Scheme, Redact(raw))
	}
	u.User = nil
	if ep.kind == "ssh" && ep.sshUser != "" {
		u.User = url.User(ep.sshUser) // a login name, not a secret
	}
	ep.url = u.String()
	return ep, nil
}

// isSCPLike reports whether s is git's scp-like syntax, [user@]host:path,
// rather than a local path (which has a slash before any colon).
func isSCPLike(s string) bool {
	colon := strings.Index(s, ":")
	if colon <= 0 {
		return false
	}
	if slash := strings.Index(s, "/"); slash >= 0 && slash < colon {
		return false
	}
	if _, err := os.Stat(s); err == nil {
		return false // an existing local file or directory named like host:path
	}
	return colon > 1 || len(s) < 3 || (s[2] != '\\' && s[2] != '/') // not C:\ on Windows
}

func portOr(p, def int) int {
	if p == 0 {
		return def
	}
	return p
}

// Redact returns raw with its credentials replaced, for error messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if at := strings.LastIndex(raw, "@"); at >= 0 && strings.Contains(raw[:at], "://") {
			return raw[:strings.Index(raw, "://")+3] + "REDACTED" + raw[at:]
		}
		return raw
	}
	if u.Scheme == "http" || u.Scheme == "https" {
		u.User = url.User("REDACTED")
	} else {
		u.User = url.User(u.User.Username())
	}
	return u.String()
}

// cacheName is the directory name of the cached copy of branch of url: a
// hash, so it carries neither credentials nor characters a file system
// might refuse. Each branch has its own working copy.
func cacheName(url, branch string) string {
	sum := sha256.Sum256([]byte(url + "\x00" + branch))
	return hex.EncodeToString(sum[:12])
}

// authMethod builds the go-git auth for ep from a. Host keys of ssh remotes
// are always checked against known_hosts.
func (ep endpoint) authMethod(a Auth) (transport.AuthMethod, error) {
	switch ep.kind {
	case "http":
		if a.Username == "" && a.Password == "" {
			return nil, nil
		}
		user := a.Username
		if user == "" {
			user = tokenUsername
		}
		return &githttp.BasicAuth{Username: user, Password: a.Password}, nil
	case "ssh":
		return ep.sshAuth(a)
	}
	return nil, nil
}

func (ep endpoint) sshAuth(a Auth) (transport.AuthMethod, error) {
	user := ep.sshUser
	if user == "" {
		user = a.Username
	}
	if user == "" {
		user = "git"
	}
	khFile := a.KnownHostsFile
	if len(a.KnownHosts) > 0 {
		f, cleanup, err := knownHostsFile(a.KnownHosts)
		if err != nil {
			return nil, err
		}
		defer cleanup() // the database is read at once, below
		khFile = f
	}
	if khFile == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no known_hosts file configured and no home directory: %w", err)
		}
		khFile = filepath.Join(home, ".ssh", "known_hosts")
	}
	if _, err := os.Stat(khFile); err != nil {
		return nil, fmt.Errorf("known_hosts file (ssh host keys are always verified): %w", err)
	}
	db, err := gitssh.NewKnownHostsDb(khFile)
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts %s: %w", khFile, err)
	}
	addr, err := ep.ssh.dialAddress(ep.host)
	if err != nil {
		return nil, err
	}
	helper := gitssh.HostKeyCallbackHelper{
		HostKeyCallback:   db.HostKeyCallback(),
		HostKeyAlgorithms: db.HostKeyAlgorithms(addr),
	}
	if len(a.SSHKey) > 0 {
		keys, err := gitssh.NewPublicKeys(user, a.SSHKey, a.SSHKeyPassphrase)
		if err != nil {
			return nil, fmt.Errorf("ssh key: %w", scrub(err, a.SSHKeyPassphrase))
		}
		keys.HostKeyCallbackHelper = helper
		return keys, nil
	}
	if a.SSHKeyFile == "" {
		if os.Getenv("SSH_AUTH_SOCK") == "" {
			return nil, errors.New("ssh remote needs a private key (auth.sshKeyFile) or a running ssh-agent")
		}
		agent, err := gitssh.NewSSHAgentAuth(user)
		if err != nil {
			return nil, fmt.Errorf("ssh-agent: %w", err)
		}
		agent.HostKeyCallbackHelper = helper
		return agent, nil
	}
	keys, err := gitssh.NewPublicKeysFromFile(user, a.SSHKeyFile, a.SSHKeyPassphrase)
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", a.SSHKeyFile, scrub(err, a.SSHKeyPassphrase))
	}
	keys.HostKeyCallbackHelper = helper
	return keys, nil
}

// UseHomeSSHConfig makes go-git resolve ssh host aliases (HostName, Port,
// User) from $HOME/.ssh/config and /etc/ssh/ssh_config. go-git's default
// reader finds ~/.ssh/config in the passwd entry's home directory, ignoring
// $HOME, while the default known_hosts (ours and go-git's) is
// $HOME/.ssh/known_hosts: this reads both from the same home.
//
// It sets go-git's package-level DefaultSSHConfig, so a program calls it
// once, at start (tagwatch's main does); a library never does.
func UseHomeSSHConfig() { gitssh.DefaultSSHConfig = sshConfigFiles{system: sshSystemConfig} }

// sshSystemConfig is the system-wide ssh_config(5), read after the user's.
const sshSystemConfig = "/etc/ssh/ssh_config"

// sshConfigFiles answers go-git's ssh_config lookups from $HOME/.ssh/config,
// then the system file, then ssh_config's defaults, as go-git's default
// reader does. Files are read on each lookup (two per connection), so an
// edit applies to the next cycle.
type sshConfigFiles struct {
	system string // the system-wide file
}

func (s sshConfigFiles) Get(alias, key string) string {
	v, _ := s.get(alias, key)
	return v
}

func (s sshConfigFiles) get(alias, key string) (string, error) {
	files := []string{s.system}
	if home, err := os.UserHomeDir(); err == nil {
		files = append([]string{filepath.Join(home, ".ssh", "config")}, files...)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("ssh config: %w", err)
		}
		v, err := sshConfigValue(b, alias, key)
		if err != nil {
			return "", fmt.Errorf("ssh config %s: %w", name, err)
		}
		if v != "" {
			return v, nil
		}
	}
	return ssh_config.Default(key), nil
}

func sshConfigValue(b []byte, alias, key string) (v string, err error) {
	defer func() {
		if r := recover(); r != nil { // ssh_config panics on some input
			err = fmt.Errorf("%v", r)
		}
	}()
	cfg, err := ssh_config.DecodeBytes(b)
	if err != nil {
		return "", err
	}
	return cfg.Get(alias, key)
}

// dialAddress is the host:port go-git dials for hostPort (the URL's), and
// so the name the host key must have in known_hosts ("[host]:port" unless the
// port is 22): when ssh_config gives the host a HostName, that name with the
// config's Port (default 22), else the URL's own host and port. It mirrors
// go-git's ssh transport, which honours no other ssh_config keyword
// (HostKeyAlias, User, IdentityFile, ProxyJump... are ignored).
func (s sshConfigFiles) dialAddress(hostPort string) (string, error) {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return "", err
	}
	name, err := s.get(host, "Hostname")
	if err != nil || name == "" {
		return hostPort, err
	}
	p, err := s.get(host, "Port")
	if err != nil {
		return "", err
	}
	if _, err := strconv.Atoi(p); err == nil {
		port = p
	}
	return net.JoinHostPort(name, port), nil
}

// knownHostsName is how known_hosts names the host at addr: "host" on port
// 22, else "[host]:port".
func knownHostsName(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	switch {
	case err != nil:
		return addr
	case port == "22":
		return host
	}
	return "[" + host + "]:" + port
}

// wrapError wraps err from an operation on the remote: the message names the
// credential-free URL, has every secret scrubbed out, and explains the
// common authentication failures. errors.Is and errors.As see err.
func (ep endpoint) wrapError(op string, err error) error {
	switch {
	case errors.Is(err, transport.ErrAuthenticationRequired):
		err = &scrubbedError{err: err, msg: "authentication required (no credentials, or the remote rejected them): check auth.username and the password or token"}
	case errors.Is(err, transport.ErrAuthorizationFailed):
		err = &scrubbedError{err: err, msg: "authorization failed: check the username and password or token"}
	case strings.Contains(err.Error(), "knownhosts: key is unknown"),
		strings.Contains(err.Error(), "knownhosts: key mismatch"):
		msg := "ssh host key not accepted by known_hosts (" + err.Error() + ")"
		if addr, aerr := ep.ssh.dialAddress(ep.host); aerr == nil {
			msg = "ssh host key of " + knownHostsName(addr) + " not accepted by known_hosts (" + err.Error() + ")"
		}
		err = &scrubbedError{err: err, msg: msg}
	}
	return fmt.Errorf("%s %s: %w", op, ep.url, scrub(err, ep.secrets...))
}

// scrub removes secrets from err's message, keeping err for errors.Is/As.
func scrub(err error, secrets ...string) error {
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg, changed = strings.ReplaceAll(msg, s, "REDACTED"), true
		}
	}
	if !changed {
		return err
	}
	return &scrubbedError{err: err, msg: msg}
}

type scrubbedError struct {
	err error
	msg string
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// knownHostsFile writes known_hosts content (public host keys, no secret)
// to a temporary file for the known_hosts reader, which reads files only.
func knownHostsFile(data []byte) (string, func(), error) {
	f, err := os.CreateTemp("", "tagwatch-known-hosts-*")
	if err != nil {
		return "", nil, fmt.Errorf("known hosts: %w", err)
	}
	cleanup := func() { _ = os.Remove(f.Name()) }
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("known hosts: %w", err)
	}
	return f.Name(), cleanup, nil
}
