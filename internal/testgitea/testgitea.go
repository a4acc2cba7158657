// Package testgitea runs a real Gitea for tests: a forge on 127.0.0.1 with
// a REST API, pull requests and branch protection, serving git over HTTP.
// It keeps its data (sqlite, repositories) in a temporary directory and has
// one site administrator with an access token of every scope.
//
// The binary comes from hack/servers/build.sh (make servers), found through
// internal/testenv: a missing binary skips a test, or fails it under
// CI=true. Starting takes a few seconds, so the tests of a package share
// one server (Shared, stopped by Main) and isolate themselves by repository
// (CreateRepo names each one uniquely); Start gives a test a server of its
// own. SSH is off; the web UI's front-end assets are not built (the API and
// git are what tests use).
package testgitea

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// Version is the Gitea version hack/servers/build.sh builds
// (hack/servers/versions.env).
const Version = "v1.26.0"

// AdminUser is the site administrator every server has.
const AdminUser = "tagwatch-admin"

// startTimeout bounds each step of a start (migrate, users, web).
const startTimeout = 90 * time.Second

// Server is a running Gitea.
type Server struct {
	URL           string // http://127.0.0.1:port, without a trailing slash
	AdminPassword string // AdminUser's password (basic auth for git and the API)
	Token         string // AdminUser's access token, every scope
	Dir           string // app.ini, data, repositories and logs

	bin, config string
	web         *testenv.Process
	http        *http.Client
}

// Binary is the gitea program and the directory of its templates, options
// and public files (STATIC_ROOT_PATH), empty when they are built in.
type Binary struct {
	Path, StaticRoot string
}

// FindBinary finds gitea as internal/testenv does, and the static files
// hack/servers/build.sh recorded next to it (the module's source in the Go
// module cache). The error wraps testenv.ErrNotInstalled.
func FindBinary() (Binary, error) {
	p, err := testenv.FindServer("gitea-"+Version, "gitea")
	if err != nil {
		return Binary{}, err
	}
	b := Binary{Path: p}
	rec := filepath.Join(filepath.Dir(filepath.Dir(p)), "static-root")
	if data, err := os.ReadFile(rec); err == nil {
		b.StaticRoot = strings.TrimSpace(string(data))
		if _, err := os.Stat(filepath.Join(b.StaticRoot, "templates")); err != nil {
			return Binary{}, fmt.Errorf("gitea's static files (%s, recorded in %s): %w; run `make servers` to restore them",
				b.StaticRoot, rec, testenv.ErrNotInstalled)
		}
	}
	return b, nil
}

// Run starts Gitea with its files in dir (an empty directory) for programs
// that are not tests; Stop ends it. Tests use Start or Shared.
func Run(bin Binary, dir string) (*Server, error) {
	return testenv.RetryPortClash(dir, func(dir string) (*Server, error) { return run(bin, dir) })
}

func run(bin Binary, dir string) (_ *Server, err error) {
	s := &Server{Dir: dir, AdminPassword: testenv.RandomHex(12), bin: bin.Path, http: &http.Client{Timeout: 30 * time.Second}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := s.writeConfig(bin.StaticRoot, port); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := s.gitea(ctx, "migrate"); err != nil {
		return nil, err
	}
	if _, err := s.gitea(ctx, "admin", "user", "create", "--admin", "--username", AdminUser,
		"--password", s.AdminPassword, "--email", AdminUser+"@example.com", "--must-change-password=false"); err != nil {
		return nil, err
	}
	out, err := s.gitea(ctx, "admin", "user", "generate-access-token", "--username", AdminUser,
		"--token-name", "testgitea", "--scopes", "all", "--raw")
	if err != nil {
		return nil, err
	}
	if s.Token = strings.TrimSpace(lastLine(out)); len(s.Token) < 20 {
		return nil, fmt.Errorf("gitea generate-access-token printed no token: %q", out)
	}
	cmd := exec.Command(s.bin, "--config", s.config, "--work-path", dir, "web")
	cmd.Dir = dir
	if s.web, err = testenv.StartProcess(cmd, filepath.Join(dir, "gitea-web.log")); err != nil {
		return nil, err
	}
	err = s.web.WaitReady(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := s.http.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /api/healthz: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// writeConfig writes app.ini: sqlite, HTTP on 127.0.0.1:port, no SSH, no
// mail, no Actions, nothing fetched from the internet, queues and caches in
// memory.
func (s *Server) writeConfig(staticRoot string, port int) error {
	d := s.Dir
	static := ""
	if staticRoot != "" {
		static = "STATIC_ROOT_PATH = " + staticRoot
	}
	root := ""
	if os.Geteuid() == 0 {
		root = "I_AM_BEING_UNSAFE_RUNNING_AS_ROOT = true"
	}
	ini := fmt.Sprintf(`APP_NAME = testgitea
RUN_MODE = prod
WORK_PATH = %[1]s
%[4]s

[server]
PROTOCOL = http
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %[2]d
DOMAIN = 127.0.0.1
ROOT_URL = http://127.0.0.1:%[2]d/
APP_DATA_PATH = %[1]s/data
%[3]s
DISABLE_SSH = true
START_SSH_SERVER = false
OFFLINE_MODE = true
LFS_START_SERVER = false

[database]
DB_TYPE = sqlite3
PATH = %[1]s/data/gitea.db

[repository]
ROOT = %[1]s/repositories
DEFAULT_BRANCH = main

[security]
INSTALL_LOCK = true
SECRET_KEY = %[5]s
INTERNAL_TOKEN = %[6]s
PASSWORD_HASH_ALGO = pbkdf2_v1

[oauth2]
ENABLED = false

[service]
DISABLE_REGISTRATION = true

[actions]
ENABLED = false

[mailer]
ENABLED = false

[cron]
ENABLED = false

[queue]
TYPE = channel

[cache]
ADAPTER = memory

[session]
PROVIDER = memory

[indexer]
ISSUE_INDEXER_TYPE = db

[webhook]
ALLOWED_HOST_LIST = loopback

[log]
MODE = console
LEVEL = Warn
`, d, port, static, root, testenv.RandomHex(32), testenv.RandomHex(52))
	s.config = filepath.Join(d, "app.ini")
	return os.WriteFile(s.config, []byte(ini), 0o600)
}

// gitea runs a gitea command against the server's configuration and
// returns its output.
func (s *Server) gitea(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"--config", s.config, "--work-path", s.Dir}, args...)...)
	cmd.Dir = s.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("gitea %s: %w\n%s", strings.Join(args[:min(3, len(args))], " "), err, out)
	}
	return string(out), nil
}

// Stop ends Gitea. Its files stay in Dir.
func (s *Server) Stop() {
	if s.web != nil {
		s.web.Stop()
	}
}

// Logs returns the last lines of the web server's log, for a failing test.
func (s *Server) Logs() string {
	if s.web == nil {
		return ""
	}
	return fmt.Sprintf("--- gitea web (last 40 lines of %s)\n%s", s.web.LogFile, s.web.Tail(40))
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
