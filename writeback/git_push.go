package writeback

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// repoPush moves the remote branch from r.base to head in one push, sending
// exactly objects (everything Publish wrote). It is a compare-and-swap, never
// a force: the ref update names r.base as the old value, so the remote
// refuses it when the branch moved, both when we see the move in the ref
// advertisement and when it happens between the advertisement and the
// update.
//
// go-git's Remote.Push is not used: to find what to send it walks the
// remote's history (and, for file:// remotes, the remote repository's
// history), which costs seconds on a long history; Publish knows exactly
// what it wrote.
func (r *Repo) repoPush(ctx context.Context, head plumbing.Hash, objects []plumbing.Hash) error {
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
		return r.ep.repoError("pushing to", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return r.ep.repoError("pushing to", err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return r.ep.repoError("pushing to", err)
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
	rs, err := repoSendPack(ctx, sess, r, req, objects, !adv.Capabilities.Supports(capability.OFSDelta))
	if err != nil {
		return r.ep.repoError("pushing to", err)
	}
	if rs != nil {
		if rs.UnpackStatus != "ok" {
			return fmt.Errorf("pushing to %s: remote could not unpack: %s", r.ep.url, rs.UnpackStatus)
		}
		for _, cs := range rs.CommandStatuses {
			if cs.Status != "ok" {
				return fmt.Errorf("pushing to %s: %w", r.ep.url, repoPushRefusal(cs.ReferenceName, cs.Status))
			}
		}
	}
	tracking := plumbing.NewHashReference(plumbing.NewRemoteReferenceName(repoRemoteName, r.branch), head)
	if err := r.repo.Storer.SetReference(tracking); err != nil {
		return fmt.Errorf("pushed to %s, but updating %s: %w", r.ep.url, tracking.Name(), err)
	}
	return nil
}

// repoPushRefusal is the one place where the text of a refused ref update
// (the receiving git's reason, which go-git hands back as a string) is
// translated: a reason meaning the branch moved under us becomes
// ErrPushRejected, which Publish retries; any other (a hook, a protected
// branch) is an error that names it.
func repoPushRefusal(ref plumbing.ReferenceName, reason string) error {
	lower := strings.ToLower(reason)
	for _, moved := range []string{
		"non-fast-forward", "fetch first", "stale info", "failed to lock",
		"cannot lock ref", "failed to update ref", "incorrect old value", "but expected",
	} {
		if strings.Contains(lower, moved) {
			return fmt.Errorf("%w: %s: %s", ErrPushRejected, ref.Short(), reason)
		}
	}
	return fmt.Errorf("remote refused to update %s: %s", ref.Short(), reason)
}

// repoSendPack streams a packfile of objects with the update request and
// returns the remote's report.
func repoSendPack(ctx context.Context, sess transport.ReceivePackSession, r *Repo, req *packp.ReferenceUpdateRequest,
	objects []plumbing.Hash, refDeltas bool) (*packp.ReportStatus, error) {
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		enc := packfile.NewEncoder(wr, r.repo.Storer, refDeltas)
		if _, err := enc.Encode(objects, 10); err != nil {
			_ = wr.CloseWithError(err)
			done <- err
			return
		}
		done <- wr.Close()
	}()
	rs, err := sess.ReceivePack(ctx, req)
	if err != nil {
		_ = rd.CloseWithError(err)
		<-done
		return nil, err
	}
	if err := <-done; err != nil {
		return nil, err
	}
	return rs, nil
}
