package config

import (
	"strings"
	"testing"
)

// TestRepoKey: the spellings of one repository share a key; different
// repositories (another scheme, path, port, host, or a local directory
// with and without .git) do not.
func TestRepoKey(t *testing.T) {
	for _, tc := range []struct {
		name  string
		urls  []string // one repository: every URL has want as its key
		want  string
		other []string // other repositories: none has want as its key
	}{
		{
			name: "https",
			urls: []string{
				"https://git.example.com/org/app.git",
				"https://git.example.com/org/app",
				"https://git.example.com/org/app/",
				"https://git.example.com/org/app.git/",
				"HTTPS://Git.Example.COM/org/app.git",
				"https://git.example.com:443/org/app.git",
				"https://bot@git.example.com/org/app.git",
				"https://git.example.com/org/%61pp.git",
			},
			want: "https://git.example.com/org/app",
			other: []string{
				"http://git.example.com/org/app.git",
				"https://git.example.com:8443/org/app.git",
				"https://git.example.com/org/App.git",
				"https://git.example.com/org/app2.git",
				"https://git.example.org/org/app.git",
			},
		},
		{
			name:  "http port",
			urls:  []string{"http://127.0.0.1:80/deploy.git", "http://127.0.0.1/deploy"},
			want:  "http://127.0.0.1/deploy",
			other: []string{"http://127.0.0.1:8080/deploy.git"},
		},
		{
			name: "ssh and scp-like",
			urls: []string{
				"git@git.example.com:/org/app.git",
				"ssh://git@git.example.com/org/app.git",
				"ssh://git@git.example.com:22/org/app",
				"ssh://deploy@GIT.example.com/org/app/",
			},
			want: "ssh://git.example.com/org/app",
			other: []string{
				"ssh://git@git.example.com:2222/org/app.git",
				"https://git.example.com/org/app.git",
				"git@git.example.com:org/app.git", // in git's home: maybe another
			},
		},
		{
			name: "scp-like in a home directory",
			urls: []string{
				"git@git.example.com:org/app.git",
				"git@Git.Example.com:org/app/",
				"ssh://git@git.example.com/~/org/app.git",
			},
			want: "ssh://git@git.example.com/~/org/app",
			other: []string{
				"deploy@git.example.com:org/app.git",
				"git.example.com:org/app.git",
				"git@git.example.com:/org/app.git",
			},
		},
		{
			name:  "IPv6",
			urls:  []string{"ssh://git@[::1]:22/deploy.git", "ssh://[::1]/deploy", "git@[::1]:/deploy.git"},
			want:  "ssh://[::1]/deploy",
			other: []string{"ssh://[::1]:2222/deploy.git", "https://[::1]/deploy.git"},
		},
		{
			name: "IPv6 with a port",
			urls: []string{"http://[::1]:8080/deploy.git", "http://[::1]:8080/deploy/"},
			want: "http://[::1]:8080/deploy",
		},
		{
			name: "local",
			urls: []string{
				"/srv/git/deploy.git",
				"/srv/git/deploy.git/",
				"/srv/git/./deploy.git",
				"/srv/../srv/git/deploy.git",
				"file:///srv/git/deploy.git",
				"file:///srv/git/deploy.git/",
				"file://localhost/srv/git/deploy.git",
			},
			want: "file:///srv/git/deploy.git",
			other: []string{
				"/srv/git/deploy",
				"file:///srv/git/deploy",
				"file://server/srv/git/deploy.git",
				"ssh://localhost/srv/git/deploy.git",
			},
		},
		{
			name:  "relative (Parse, unresolved)",
			urls:  []string{"deploy", "./deploy", "deploy/"},
			want:  "file:deploy",
			other: []string{"../deploy", "/deploy"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range tc.urls {
				if got := RepoKey(u); got != tc.want {
					t.Errorf("RepoKey(%q) = %q, want %q", u, got, tc.want)
				}
			}
			for _, u := range tc.other {
				if got := RepoKey(u); got == tc.want {
					t.Errorf("RepoKey(%q) = %q: another repository has the same key", u, got)
				}
			}
		})
	}
}

// FuzzRepoKey: RepoKey never panics; a key that is a URL is its own key
// (keys are stable); a trailing "/" never changes the key of a valid URL;
// a user never shows in a key.
func FuzzRepoKey(f *testing.F) {
	for _, s := range []string{
		"https://git.example.com/org/app.git", "git@host:org/app.git", "ssh://u@[::1]:2222/x",
		"git@[::1]:x", "file:///srv/x", "/srv/x.git", "./x", "https://h/a%23b", "https://h/.git", "file://localhost/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := RepoKey(s)
		if strings.Contains(k, "://") && RepoKey(k) != k {
			t.Fatalf("RepoKey(%q) = %q, whose key is %q", s, k, RepoKey(k))
		}
		if checkGitURL(s) != nil || gitURLKind(s) == urlInvalid {
			return
		}
		if k2 := RepoKey(s + "/"); checkGitURL(s+"/") == nil && k2 != k && !strings.HasSuffix(s, ":") {
			t.Fatalf("RepoKey(%q) = %q but RepoKey(%q) = %q", s, k, s+"/", k2)
		}
		if u, _, ok := strings.Cut(s, "@"); ok && strings.Contains(u, "://") {
			user := u[strings.Index(u, "://")+3:]
			if user != "" && !strings.Contains(user, "/") && strings.Contains(k, user+"@") {
				t.Fatalf("RepoKey(%q) = %q keeps the user", s, k)
			}
		}
	})
}

// TestSpellingKey: a home-relative scp-like URL and the absolute ssh URL
// of the same path share a spelling key (one repository on a forge), not a
// repository key; other URLs keep their repository key.
func TestSpellingKey(t *testing.T) {
	for _, u := range []string{"git@git.example.com:org/app.git", "deploy@git.example.com:org/app", "ssh://git@git.example.com/org/app.git", "git@git.example.com:/org/app"} {
		if got := SpellingKey(u); got != "ssh://git.example.com/org/app" {
			t.Errorf("SpellingKey(%q) = %q, want ssh://git.example.com/org/app", u, got)
		}
	}
	for _, u := range []string{"https://git.example.com/org/app.git", "/srv/x.git", "ssh://git@h/~other/x"} {
		if got, want := SpellingKey(u), RepoKey(u); got != want {
			t.Errorf("SpellingKey(%q) = %q, want its RepoKey %q", u, got, want)
		}
	}
}

func TestIsSSHGitURL(t *testing.T) {
	for u, want := range map[string]bool{
		"ssh://git@host/org/app.git": true, "git@host:org/app.git": true, "host:org/app": true, "git@[::1]:/x.git": true,
		"https://host/org/app.git": false, "file:///srv/x.git": false, "/srv/x.git": false, "./x": false, "x": false,
	} {
		if got := IsSSHGitURL(u); got != want {
			t.Errorf("IsSSHGitURL(%q) = %v, want %v", u, got, want)
		}
	}
}
