// Package gitrepo gets commits onto a remote branch safely next to other
// writers. It knows nothing of YAML, registries or policies: an Edit is a
// function that changes files in a working tree and names them (package
// writeback makes such changes; the reconcile loop composes the two).
//
// # The cached working copy
//
// Open keeps one working copy per remote URL in a cache directory, named by
// a hash of the URL, and reuses it: a fetch and a hard reset to the remote
// branch instead of a clone. A cache that is not a healthy clone of the same
// remote is cloned again (into a fresh directory moved into place, so a
// clone cut short never looks like a cache); a failing fetch is returned, not
// taken as a reason to throw the cache away. Clones are shallow by default
// (WithDepth); Log wants full history. Credentials never reach the cache,
// logs or errors: they are taken out of the URL and travel in the auth
// method, ssh host keys are always checked against known_hosts. OpenDir
// opens an existing repository in place, read-only, for Log.
//
// # Publishing
//
// Publish runs the edits in order on the remote head of the last Sync, one
// commit each, built directly as git objects (one blob per changed file,
// one tree per directory on its path), and pushes all of them in one push.
// The push is a compare-and-swap: the ref update names the head the edits
// were made on as the old value, so the remote refuses it when the branch
// moved. That refusal, which go-git reports only as text, is turned into
// ErrPushRejected in one place; on it Publish syncs to the new head, waits
// a jittered backoff and re-applies every edit there, since an Edit decides
// from what it reads (bounded by WithMaxAttempts). It never force-pushes.
//
// # Branches tagwatch owns
//
// An Edit with a Branch (pull-request mode: tagwatch/<environment>) is
// committed on the base head alone, and its branch is set to that commit in
// the same receive-pack session as the base branch's update: made again
// from the base head at every Publish, left alone when it already holds the
// same change on the same base, deleted when the edit finds nothing left to
// change. Such a branch is the only ref Publish ever moves other than
// forward, and only when its head is tagwatch's own commit (ErrBranchNotOwned
// otherwise) and with a lease on the head it read (ErrLeaseLost when it
// moved since): another writer's commit is never overwritten. When the
// remote refuses the base branch for another reason than its having moved
// (a protected branch), the branch updates are sent again alone.
//
// Only the files an Edit lists are committed, and they must stay inside the
// working tree: an absolute path, "..", a path in .git or one behind a
// symbolic link fails that edit (path leaves the repository). A failing edit is put
// back and fails alone; the others are still committed. Nothing to commit
// is not an error: PublishResult.Pushed is false.
//
// A Repo is used by one goroutine at a time. A working copy is locked from
// Open to Close (flock beside it, released by the kernel when its process
// ends however it ends): another process, or another Open in this one,
// waits (WithLockWait) and then fails with ErrCacheBusy naming the process
// that holds it. Open also removes the temporary clones that no live
// process owns, such as those of a clone killed with SIGKILL.
package gitrepo
