package config

import "strings"

// Checks of config values that Kubernetes mode applies to annotations as
// well, so both say the same.

// CheckGitURL validates a git URL as git.url is validated (the forms of
// DESIGN §1, no password in it); the error never repeats the URL.
func CheckGitURL(s string) error { return checkGitURL(s) }

// IsLocalGitURL reports a file:// URL or a local path: a repository
// reached without a network, which takes no credentials.
func IsLocalGitURL(s string) bool {
	k := gitURLKind(s)
	return k == urlFile || k == urlLocal
}

// IsSSHGitURL reports an ssh:// URL or an scp-like user@host:path: a
// repository reached over ssh, whose host keys are verified.
func IsSSHGitURL(s string) bool {
	return strings.HasPrefix(s, "ssh://") || gitURLKind(s) == urlRemote && !strings.Contains(s, "://")
}

// GitHost is the host a git URL connects to ("" for a local path or file://).
func GitHost(s string) string { return gitHost(s) }

// Suggest returns ` (did you mean "x"?)` for the name of names closest to
// got, when one is close; "" otherwise.
func Suggest(got string, names []string) string { return suggest(got, names) }
