//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package gitrepo

import "os"

// flock is a no-op where flock(2) does not exist (Windows among them): two
// processes must not share a cache directory there, as before the lock.
func flock(*os.File) (bool, error) { return true, nil }
