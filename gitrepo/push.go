package gitrepo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// pushUpdate moves the remote branch from r.base to head in one push, sending
// pack (everything Publish wrote). It is a compare-and-swap, never
// a force: the ref update names r.base as the old value, so the remote
// refuses it when the branch moved, both when we see the move in the ref
// advertisement and when it happens between the advertisement and the
// update.
//
// go-git's Remote.Push is not used: to find what to send it walks the
// remote's history (and, for file:// remotes, the remote repository's
// history), which costs seconds on a long history; Publish knows exactly
// what it wrote.
func (r *Repo) pushUpdate(ctx context.Context, out appliedEdits) error {
	head, pack := out.head, out.pack
	ep, err := transport.NewEndpoint(r.ep.url)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.ep.url, err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return fmt.Errorf("pushing to %s: %w", r.ep.url, err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return r.ep.wrapError("pushing to", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return r.ep.wrapError("pushing to", err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return r.ep.wrapError("pushing to", err)
	}
	name := plumbing.NewBranchReferenceName(r.branch)
	remote := plumbing.ZeroHash
	if ref, err := refs.Reference(name); err == nil {
		remote = ref.Hash()
	}
	if remote != r.base {
		return fmt.Errorf("pushing to %s: %w: %s is at %s, not at %s", r.ep.url, ErrPushRejected, r.branch, remote, r.base)
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: name, Old: r.base, New: head}}
	if !adv.Capabilities.Supports(capability.OFSDelta) {
		if pack, err = out.ov.pack(out.objects, true); err != nil {
			return fmt.Errorf("pushing to %s: packing: %w", r.ep.url, err)
		}
	}
	req.Packfile = io.NopCloser(bytes.NewReader(pack))
	rs, err := sess.ReceivePack(ctx, req)
	if err == nil && rs != nil {
		err = rs.Error()
	}
	if err != nil {
		return r.ep.wrapError("pushing to", pushRefusal(err))
	}
	tracking := plumbing.NewHashReference(plumbing.NewRemoteReferenceName(remoteName, r.branch), head)
	if err := r.repo.Storer.SetReference(tracking); err != nil {
		return fmt.Errorf("pushed to %s, but updating %s: %w", r.ep.url, tracking.Name(), err)
	}
	return nil
}

// pushRefusal is the one place where go-git's text for a refused ref
// update ("command error on <ref>: <reason>", the receiving git's reason as
// a string, from the report or from the transport) is translated: a reason
// meaning the branch moved under us becomes ErrPushRejected, which Publish
// retries; any other error (a hook, a protected branch, the network) is
// returned as it is.
func pushRefusal(err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "command error on ") {
		return err
	}
	lower := strings.ToLower(msg)
	for _, moved := range []string{
		"non-fast-forward", "fetch first", "stale info", "failed to lock",
		"cannot lock ref", "failed to update ref", "incorrect old value", "but expected",
	} {
		if strings.Contains(lower, moved) {
			return &rejectedError{err: err}
		}
	}
	return err
}

// rejectedError is a refusal that means the branch moved: it is both
// ErrPushRejected and go-git's original error.
type rejectedError struct{ err error }

func (e *rejectedError) Error() string   { return ErrPushRejected.Error() + ": " + e.err.Error() }
func (e *rejectedError) Unwrap() []error { return []error{ErrPushRejected, e.err} }
