package forge_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tagwatch/tagwatch/internal/forge"
)

// racedForge is a fake forge, and says so: the race it stages (two
// writers each opening a pull request for one branch, then each closing
// the other's) cannot be ordered at will on a real Gitea, where
// TestGiteaPullRequestInPlace runs it as it falls. Its Close of a pull
// request another writer closes first fails, as Gitea's does ("the issue
// is already changed").
type racedForge struct {
	open     []*forge.PullRequest
	closedBy map[int64]bool // closed by the other writer, at our Close
}

func (f *racedForge) ListOpen(context.Context, string, string) ([]*forge.PullRequest, error) {
	return append([]*forge.PullRequest(nil), f.open...), nil
}

func (f *racedForge) Create(context.Context, forge.Spec) (*forge.PullRequest, error) {
	return nil, forge.ErrConflict
}

func (f *racedForge) Update(_ context.Context, pr *forge.PullRequest, title, body string) (*forge.PullRequest, error) {
	pr.Title, pr.Body = title, body
	return pr, nil
}

func (f *racedForge) Close(_ context.Context, pr *forge.PullRequest) error {
	for i, o := range f.open {
		if o.Number == pr.Number {
			f.open = append(f.open[:i], f.open[i+1:]...)
			break
		}
	}
	if f.closedBy[pr.Number] {
		return errors.New("500 Internal Server Error: the issue is already changed")
	}
	return nil
}

func (f *racedForge) AutoMerge(context.Context, *forge.PullRequest) error { return nil }

// TestEnsureClosesADuplicateClosedMeanwhile: the duplicate Ensure closes
// was closed by the other writer first and the forge refuses the second
// close: nothing is wrong, one pull request is open.
func TestEnsureClosesADuplicateClosedMeanwhile(t *testing.T) {
	spec := forge.Spec{Head: "tagwatch/staging", Base: "main", Title: "t", Body: "b"}
	f := &racedForge{open: []*forge.PullRequest{{Number: 3, Title: "t", Body: "b"}, {Number: 4, Title: "t", Body: "b"}}, closedBy: map[int64]bool{4: true}}
	out, err := forge.Ensure(context.Background(), f, spec)
	if err != nil || out.PR == nil || out.PR.Number != 3 {
		t.Fatalf("Ensure = %+v, %v; want #3 kept and no error", out, err)
	}
	// A close that fails while the duplicate stays open is an error.
	f = &racedForge{open: []*forge.PullRequest{{Number: 3}, {Number: 4}}, closedBy: map[int64]bool{4: true}}
	failing := &stuckClose{f}
	if _, err := forge.Ensure(context.Background(), failing, spec); err == nil {
		t.Error("Ensure succeeded while the duplicate could not be closed")
	}
}

// stuckClose's Close fails and closes nothing.
type stuckClose struct{ *racedForge }

func (s *stuckClose) Close(context.Context, *forge.PullRequest) error { return errors.New("503") }
