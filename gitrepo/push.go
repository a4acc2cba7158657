package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// pushUpdate moves the remote branch from r.base to out.head, and the
// owned branches of out.branches, in one push, sending out.pack
// (everything Publish wrote). It reports whether any ref moved.
//
// The base branch's update is a compare-and-swap, never a force: it names
// r.base as the old value, so the remote refuses it when the branch moved,
// both when we see the move in the ref advertisement and when it happens
// between the advertisement and the update (ErrPushRejected). An owned
// branch's update names the head its edit saw as the old value (its
// lease); a branch that moved fails that edit alone with ErrLeaseLost.
// When the remote refuses the base branch for another reason (a protected
// branch, whose hook refuses the whole push), the branch updates are sent
// again alone.
//
// go-git's Remote.Push is not used: to find what to send it walks the
// remote's history (and, for file:// remotes, the remote repository's
// history), which costs seconds on a long history; Publish knows exactly
// what it wrote.
func (r *Repo) pushUpdate(ctx context.Context, out *appliedEdits) (pushed bool, err error) {
	baseMoves := out.head != r.base
	pushed, baseErr, retry, err := r.pushRefs(ctx, out, baseMoves, out.branches)
	if err != nil {
		return pushed, err
	}
	if baseErr != nil && !errors.Is(baseErr, ErrPushRejected) && len(retry) > 0 {
		more, _, _, err := r.pushRefs(ctx, out, false, retry)
		pushed = pushed || more
		if err != nil {
			return pushed, err
		}
	}
	return pushed, baseErr
}

// pushRefs sends, in one receive-pack session, the base branch's update
// (when base) and the updates of branches. Each branch's outcome is
// recorded in out.results; baseErr is the base branch's refusal; retry are
// the branch updates refused alongside it with the same reason; err is a
// failure of the whole push.
func (r *Repo) pushRefs(ctx context.Context, out *appliedEdits, base bool, branches []*branchUpdate) (pushed bool, baseErr error, retry []*branchUpdate, err error) {
	ep, err := transport.NewEndpoint(r.ep.url)
	if err != nil {
		return false, nil, nil, fmt.Errorf("pushing to %s: %w", r.ep.url, err)
	}
	cl, err := client.NewClient(ep)
	if err != nil {
		return false, nil, nil, fmt.Errorf("pushing to %s: %w", r.ep.url, err)
	}
	sess, err := cl.NewReceivePackSession(ep, r.auth)
	if err != nil {
		return false, nil, nil, r.ep.wrapError("pushing to", err)
	}
	defer sess.Close()
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		return false, nil, nil, r.ep.wrapError("pushing to", err)
	}
	refs, err := adv.AllReferences()
	if err != nil {
		return false, nil, nil, r.ep.wrapError("pushing to", err)
	}
	remoteAt := func(name plumbing.ReferenceName) plumbing.Hash {
		if ref, err := refs.Reference(name); err == nil {
			return ref.Hash()
		}
		return plumbing.ZeroHash
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	remoteSaid := &remoteMessages{}
	if adv.Capabilities.Supports(capability.Sideband64k) {
		// What the server's hooks say (a protected branch: why, and what
		// to do) comes on the sideband; keep it for the refusal's error.
		_ = req.Capabilities.Set(capability.Sideband64k)
		req.Progress = remoteSaid
	}
	name := plumbing.NewBranchReferenceName(r.branch)
	if base {
		if remote := remoteAt(name); remote != r.base {
			return false, nil, nil, fmt.Errorf("pushing to %s: %w: %s is at %s, not at %s", r.ep.url, ErrPushRejected, r.branch, remote, r.base)
		}
		req.Commands = append(req.Commands, &packp.Command{Name: name, Old: r.base, New: out.head})
	}
	sent := map[plumbing.ReferenceName]*branchUpdate{}
	for _, u := range branches {
		ref := plumbing.NewBranchReferenceName(u.branch)
		res := &out.results[u.edit]
		switch at := remoteAt(ref); {
		case u.new.IsZero() && at.IsZero():
			continue // to be deleted, and gone already
		case at != u.old:
			r.branchFailed(res, fmt.Errorf("%w: %s is at %.10s, not at %.10s as read", ErrLeaseLost, u.branch, orZero(at), orZero(u.old)))
			continue
		case u.new.IsZero() && !adv.Capabilities.Supports(capability.DeleteRefs):
			r.branchFailed(res, fmt.Errorf("deleting %s: the remote does not allow deleting branches", u.branch))
			continue
		}
		sent[ref] = u
		req.Commands = append(req.Commands, &packp.Command{Name: ref, Old: u.old, New: u.new})
	}
	if len(req.Commands) == 0 {
		return false, nil, nil, nil
	}
	if len(out.objects) > 0 && (base || hasNew(branches)) {
		pack := out.pack
		if !adv.Capabilities.Supports(capability.OFSDelta) {
			if pack, err = out.ov.pack(out.objects, true); err != nil {
				return false, nil, nil, fmt.Errorf("pushing to %s: packing: %w", r.ep.url, err)
			}
		}
		req.Packfile = io.NopCloser(bytes.NewReader(pack))
	}
	rs, err := sess.ReceivePack(ctx, req)
	err = remoteSaid.explain(err)
	if err != nil && (rs == nil || len(rs.CommandStatuses) == 0) {
		// The push failed as a whole (the transport, or no per-ref report).
		for _, u := range sent {
			r.branchFailed(&out.results[u.edit], r.ep.wrapError("pushing to", pushRefusal(err)))
		}
		if !base {
			return false, nil, nil, nil
		}
		return false, nil, nil, r.ep.wrapError("pushing to", pushRefusal(err))
	}
	status := map[plumbing.ReferenceName]error{}
	if rs != nil {
		for _, cs := range rs.CommandStatuses {
			status[cs.ReferenceName] = remoteSaid.explain(cs.Error())
		}
	}
	if base {
		if e := status[name]; e != nil {
			baseErr = r.ep.wrapError("pushing to", pushRefusal(e))
		} else {
			pushed = true
			tracking := plumbing.NewHashReference(plumbing.NewRemoteReferenceName(remoteName, r.branch), out.head)
			if err := r.repo.Storer.SetReference(tracking); err != nil {
				return pushed, nil, nil, fmt.Errorf("pushed to %s, but updating %s: %w", r.ep.url, tracking.Name(), err)
			}
		}
	}
	for ref, u := range sent {
		res := &out.results[u.edit]
		e := status[ref]
		if e == nil {
			pushed = true
			r.trackBranch(u)
			continue
		}
		if baseErr != nil && !errors.Is(baseErr, ErrPushRejected) && sameReason(e, status[name]) {
			retry = append(retry, u) // refused with the base (a hook refuses a whole push): again, alone
			continue
		}
		if refusal := pushRefusal(e); errors.Is(refusal, ErrPushRejected) {
			r.branchFailed(res, fmt.Errorf("%w: %s: %v", ErrLeaseLost, u.branch, e))
		} else {
			r.branchFailed(res, r.ep.wrapError("pushing to", e))
		}
	}
	return pushed, baseErr, retry, nil
}

// branchFailed records that an owned branch's update did not happen.
func (r *Repo) branchFailed(res *EditResult, err error) {
	res.Err, res.BranchOutcome = err, ""
	if res.Commit != "" {
		res.Commit = "" // made locally, not on the remote
	}
}

// trackBranch records a pushed owned branch in its remote-tracking ref
// (best effort: the next Publish reads the remote again anyway).
func (r *Repo) trackBranch(u *branchUpdate) {
	name := plumbing.NewRemoteReferenceName(remoteName, u.branch)
	if u.new.IsZero() {
		_ = r.repo.Storer.RemoveReference(name)
		return
	}
	_ = r.repo.Storer.SetReference(plumbing.NewHashReference(name, u.new))
}

func hasNew(us []*branchUpdate) bool {
	for _, u := range us {
		if !u.new.IsZero() {
			return true
		}
	}
	return false
}

// sameReason reports whether two refusals of one push say the same.
func sameReason(a, b error) bool {
	if a == nil || b == nil {
		return false
	}
	reason := func(e error) string {
		_, after, _ := strings.Cut(e.Error(), ": ")
		return after
	}
	return reason(a) == reason(b)
}

func orZero(h plumbing.Hash) string {
	if h.IsZero() {
		return "(none)"
	}
	return h.String()
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

// remoteMessages collects what the remote writes on the sideband while it
// receives a push ("remote: …" lines: hooks, protected branches), up to
// 4 KiB, so that a refusal keeps the server's own words.
type remoteMessages struct{ b bytes.Buffer }

const maxRemoteMessages = 4 << 10

func (m *remoteMessages) Write(p []byte) (int, error) {
	if room := maxRemoteMessages - m.b.Len(); room > 0 {
		m.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// explain adds what the remote said to err (nil stays nil): one line,
// control characters dropped.
func (m *remoteMessages) explain(err error) error {
	if err == nil || m.b.Len() == 0 {
		return err
	}
	said := strings.Join(strings.FieldsFunc(m.b.String(), func(r rune) bool { return r == '\n' || r == '\r' }), "; ")
	said = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, said)
	if said = strings.TrimSpace(said); said == "" {
		return err
	}
	return &remoteSaidError{err: err, said: said}
}

// remoteSaidError is a push error with what the remote said about it.
type remoteSaidError struct {
	err  error
	said string
}

func (e *remoteSaidError) Error() string { return e.err.Error() + " (the remote said: " + e.said + ")" }
func (e *remoteSaidError) Unwrap() error { return e.err }
