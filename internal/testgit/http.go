package testgit

import (
	"crypto/subtle"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tagwatch/tagwatch/internal/testenv"
)

// HTTPServer serves one bare repository over git's smart HTTP protocol
// through `git http-backend` (CGI) on 127.0.0.1, with basic auth checked by
// the handler. Pushes are allowed for authenticated users.
type HTTPServer struct {
	// URL of the repository, without credentials: http://127.0.0.1:port/repo.git
	URL      string
	Username string
	Password string

	srv        *httptest.Server
	mu         sync.Mutex
	stats      HTTPStats
	hook       func()
	uploadHook func(*http.Request)
	log        lockedBuffer
}

// BeforeReceivePack makes the server call f once, at the next push, after
// the client has read the refs and before git receives the update: the
// moment to race a client that checked the branch head. f must not push
// through this server (push to the bare repository's path instead).
func (s *HTTPServer) BeforeReceivePack(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = f
}

// BeforeUploadPack makes the server call f once, at the next pack request
// of a clone or fetch, before git sends the pack: the moment a client has
// made its temporary clone directory and waits for objects. f may block to
// hold the client there, for instance to kill it mid-clone, but must return
// before the test ends: the server's Close waits for the request (and
// r.Context() may not end when the client dies, as the body is unread).
func (s *HTTPServer) BeforeUploadPack(f func(r *http.Request)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uploadHook = f
}

// HTTPStats counts the requests the server answered, by git service.
type HTTPStats struct {
	InfoRefs    int // GET …/info/refs (ref advertisement, before each fetch or push)
	UploadPack  int // POST …/git-upload-pack (fetch and clone)
	ReceivePack int // POST …/git-receive-pack (push)
	Denied      int // requests refused for missing or wrong credentials
}

// ServeHTTP serves the bare repository at bare over smart HTTP with basic
// auth user "git" and a fixed password, until the test ends.
func ServeHTTP(t testing.TB, bare string) *HTTPServer {
	t.Helper()
	return ServeHTTPAuth(t, bare, "git", "s3cr3t-Passw0rd")
}

// ServeHTTPAuth is ServeHTTP with the given credentials. An empty username
// turns authentication off (anonymous pushes are still allowed).
func ServeHTTPAuth(t testing.TB, bare, username, password string) *HTTPServer {
	t.Helper()
	git := GitPath(t)
	execPath, err := exec.Command(git, "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	backend := filepath.Join(strings.TrimSpace(string(execPath)), "git-http-backend")
	if _, err := exec.LookPath(backend); err != nil {
		testenv.Missing(t, "git-http-backend not found at %s (Debian package git); run `make test`", backend)
	}
	s := &HTTPServer{Username: username, Password: password}
	root, name := filepath.Dir(bare), filepath.Base(bare)
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := s.authorize(r)
		if !ok {
			s.count(func(st *HTTPStats) { st.Denied++ })
			w.Header().Set("WWW-Authenticate", `Basic realm="testgit"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		s.count(func(st *HTTPStats) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/info/refs"):
				st.InfoRefs++
			case strings.HasSuffix(r.URL.Path, "/git-upload-pack"):
				st.UploadPack++
			case strings.HasSuffix(r.URL.Path, "/git-receive-pack"):
				st.ReceivePack++
			}
		})
		if strings.HasSuffix(r.URL.Path, "/git-upload-pack") {
			s.mu.Lock()
			hook := s.uploadHook
			s.uploadHook = nil
			s.mu.Unlock()
			if hook != nil {
				hook(r)
			}
		}
		if strings.HasSuffix(r.URL.Path, "/git-receive-pack") {
			s.mu.Lock()
			hook := s.hook
			s.hook = nil
			s.mu.Unlock()
			if hook != nil {
				hook()
			}
		}
		h := &cgi.Handler{
			Path:   backend,
			Dir:    root,
			Stderr: &s.log,
			Env: append(gitEnv(),
				"GIT_PROJECT_ROOT="+root,
				"GIT_HTTP_EXPORT_ALL=1",
				"REMOTE_USER="+user,
				"GIT_CONFIG_COUNT=1",
				"GIT_CONFIG_KEY_0=http.receivepack",
				"GIT_CONFIG_VALUE_0=true",
			),
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		s.srv.Close()
		if t.Failed() && s.log.String() != "" {
			t.Logf("git http-backend stderr:\n%s", s.log.String())
		}
	})
	s.URL = s.srv.URL + "/" + name
	return s
}

func (s *HTTPServer) authorize(r *http.Request) (string, bool) {
	if s.Username == "" {
		return "anonymous", true
	}
	u, p, ok := r.BasicAuth()
	if !ok {
		return "", false
	}
	userOK := subtle.ConstantTimeCompare([]byte(u), []byte(s.Username)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(p), []byte(s.Password)) == 1
	return u, userOK && passOK
}

func (s *HTTPServer) count(f func(*HTTPStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
}

// Stats returns the requests counted so far.
func (s *HTTPServer) Stats() HTTPStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ResetStats sets the counters back to zero.
func (s *HTTPServer) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats = HTTPStats{}
}

// CloneURL is URL with the credentials in it, for the git CLI (NewClone).
// Never hand it to code under test that must keep credentials out of URLs.
func (s *HTTPServer) CloneURL() string {
	if s.Username == "" {
		return s.URL
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword(s.Username, s.Password)
	return u.String()
}
