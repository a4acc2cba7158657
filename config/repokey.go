package config

import (
	"net"
	"net/url"
	"path"
	"path/filepath"
	"strings"
)

// defaultPorts are the ports a git URL may leave out, by scheme.
var defaultPorts = map[string]string{"http": "80", "https": "443", "ssh": "22"}

// RepoKey returns the key of the repository a git URL (any form git.url
// takes) names: the spellings of one repository share it, so that
// environments are grouped, and their fields claimed, by repository rather
// than by how the URL was typed (one writer per field, DESIGN §4b).
//
//   - http(s):// and ssh://: scheme and host lower-cased, the default port
//     (80, 443, 22) and the user dropped (who connects does not change what
//     is written), the path without trailing "/" and ".git" (forges serve
//     org/app and org/app.git as one repository).
//   - user@host:/path (scp-like) is ssh://host/path; user@host:path, a path
//     relative to the user's home directory, is ssh://user@host/~/path
//     (the same repository as ssh://host/path on a forge, not on a plain
//     ssh server: SpellingKey tells those apart for validation).
//   - file:///srv/x and the local path /srv/x are one key; a local
//     repository keeps a ".git" suffix (/srv/x and /srv/x.git are two
//     directories), and its path is cleaned lexically (symbolic links are
//     not followed: RepoKey reads nothing).
//
// The scheme is kept (http:// and https:// stay apart: one plan's URL is
// used for every environment of it, so keys merge only what is certainly
// one repository). A URL that does not parse is its own key. The key is
// for comparison, not for display: it may differ from what the user wrote.
func RepoKey(s string) string {
	switch gitURLKind(s) {
	case urlLocal:
		p := filepath.ToSlash(filepath.Clean(s))
		if !path.IsAbs(p) {
			return "file:" + p // relative (Parse, no directory to resolve against)
		}
		return (&url.URL{Scheme: "file", Path: p}).String()
	case urlFile:
		u, err := url.Parse(s)
		if err != nil || u.Path == "" {
			return s
		}
		host := strings.ToLower(u.Host)
		if host == "localhost" {
			host = ""
		}
		return (&url.URL{Scheme: "file", Host: host, Path: path.Clean(u.Path)}).String()
	case urlRemote:
		if !strings.Contains(s, "://") {
			return scpKey(s)
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return s
		}
		return remoteKey(u.Scheme, u.User.Username(), u.Hostname(), u.Port(), u.Path, u.RawQuery)
	}
	return s
}

// SpellingKey is RepoKey without what sets a home-relative ssh path apart
// (ssh://user@host/~/path is ssh://host/path): two URLs with one
// SpellingKey and two RepoKeys are one repository on a forge and maybe two
// on a plain ssh server, so config validation asks for one spelling.
func SpellingKey(s string) string {
	k := RepoKey(s)
	u, err := url.Parse(k)
	if err != nil || u.Scheme != "ssh" || !strings.HasPrefix(u.Path, "/~/") {
		return k
	}
	u.User, u.Path = nil, strings.TrimPrefix(u.Path, "/~")
	return u.String()
}

// scpKey is the key of user@host:path, as ssh://host/path.
func scpKey(s string) string {
	userHost, p, _ := strings.Cut(s, ":")
	if i := strings.Index(s, "]:"); i > 0 && strings.Contains(userHost, "[") {
		userHost, p = s[:i+1], s[i+2:] // user@[::1]:path
	}
	at := strings.LastIndex(userHost, "@")
	user, host := "", userHost[at+1:]
	if at > 0 {
		user = userHost[:at]
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if !strings.HasPrefix(p, "/") {
		p = "/~/" + p // relative to the user's home directory
	}
	return remoteKey("ssh", user, host, "", p, "")
}

// remoteKey builds the key of a remote repository from its parts. The
// user counts only for a path in a home directory (/~/, /~user/).
func remoteKey(scheme, user, host, port, p, query string) string {
	scheme, host = strings.ToLower(scheme), strings.ToLower(host)
	var who *url.Userinfo
	if strings.HasPrefix(p, "/~") && user != "" {
		who = url.User(user)
	}
	if port == defaultPorts[scheme] {
		port = ""
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]" // IPv6
	}
	p = strings.TrimRight(p, "/")
	p = strings.TrimRight(strings.TrimSuffix(p, ".git"), "/")
	return (&url.URL{Scheme: scheme, User: who, Host: host, Path: p, RawQuery: query}).String()
}
