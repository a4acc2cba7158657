package plan

import (
	"errors"
	"fmt"

	"github.com/tagwatch/tagwatch/policy"
)

// MaxBranchLen is the longest rendered branch name, in bytes: a longer
// render is cut there (Argo CD Image Updater's rule; forges refuse longer
// names).
const MaxBranchLen = 255

// ErrBranchTemplate is a write-branch template that renders no usable
// branch for a change set.
var ErrBranchTemplate = errors.New("the write-branch template renders no usable branch")

// BranchTemplate names an environment's write branch from the changes of
// one commit. Render is pure: the same changes give the same name.
type BranchTemplate struct {
	Text   string // as written, for messages
	Render func(changes []BranchChange) (string, error)
}

// BranchChange is one image a commit changes, as a branch template reads
// it: the watch, and its value before and after. Changes come in the
// order of the environment's watches.
type BranchChange struct {
	Watch    *Watch
	From, To policy.Current
}

// RenderBranch is the branch the environment's commit of changes goes to,
// for an environment with a BranchTemplate: the render, cut to
// MaxBranchLen bytes, checked as a branch name (CheckBranchName). Errors
// wrap ErrBranchTemplate. Whether the name is free in the repository (not
// the base branch, nor another environment's) is the caller's to check.
func (e *Environment) RenderBranch(changes []BranchChange) (string, error) {
	if e.BranchTemplate == nil {
		return "", fmt.Errorf("environment %s: %w: it has no template", e.Name, ErrBranchTemplate)
	}
	b, err := e.BranchTemplate.Render(changes)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %w", ErrBranchTemplate, e.BranchTemplate.Text, err)
	}
	if len(b) > MaxBranchLen {
		b = b[:MaxBranchLen]
	}
	if err := CheckBranchName(b); err != nil {
		return "", fmt.Errorf("%w: %q gives %w", ErrBranchTemplate, e.BranchTemplate.Text, err)
	}
	return b, nil
}
