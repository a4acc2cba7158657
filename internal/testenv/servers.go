package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNotInstalled is wrapped by FindServer when a program is neither built
// into ServersCache nor on PATH.
var ErrNotInstalled = errors.New("not installed")

// ServersCache is the directory where hack/servers/build.sh caches the
// servers it builds, one <tool>-<version>/bin directory each:
// $TAGWATCH_SERVERS_CACHE, else tagwatch-servers under the user cache
// directory ($XDG_CACHE_HOME, else ~/.cache), as in the script.
func ServersCache() string {
	if d := os.Getenv("TAGWATCH_SERVERS_CACHE"); d != "" {
		return d
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "tagwatch-servers")
	}
	return filepath.Join(d, "tagwatch-servers")
}

// FindServer returns the path of program name as hack/servers/build.sh
// caches it, ServersCache()/<build>/bin/<name> (build is "<tool>-<version>",
// e.g. "kube-apiserver-v1.37.1"; "" for a program the script installs with
// apt), else the first of name and extra (names or absolute paths) found on
// PATH, of whatever version. The error wraps ErrNotInstalled.
func FindServer(build, name string, extra ...string) (string, error) {
	where := "on PATH"
	if build != "" {
		p := filepath.Join(ServersCache(), build, "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
		where = fmt.Sprintf("in %s nor on PATH", filepath.Dir(p))
	}
	for _, c := range append([]string{name}, extra...) {
		if p, err := exec.LookPath(c); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: %w: not %s; run `make servers` (hack/servers/build.sh) or `make test`, which installs it",
		name, ErrNotInstalled, where)
}
