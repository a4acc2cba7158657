package reconcile

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/writeback"
)

// ConflictError is a field that more than one environment would write:
// one writer per field, so none of them writes it. The other fields of
// those environments are written as usual.
type ConflictError struct {
	Field writeback.Field
	Envs  []string // every environment claiming the field, sorted
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s (%s) is claimed by environments %s: one environment writes a field, so none of them writes it (give each environment its own folder, or watch the image in one)",
		e.Field.File, e.Field.Path, strings.Join(e.Envs, " and "))
}

// conflicts finds, in the working tree at dir, the fields that more than
// one environment of envs writes, with the environments claiming each.
// Targets that cannot be read are left to apply, which reports them.
func conflicts(dir string, envs []*plan.Environment) map[writeback.Field][]string {
	claims := map[writeback.Field][]string{}
	for _, e := range envs {
		kfile := writeback.KustomizationFile(dir, e.Path)
		for _, w := range e.Watches {
			for _, l := range targets(dir, e, kfile, w) {
				fs, err := writeback.Fields(dir, l.t)
				if err != nil {
					continue
				}
				for _, f := range fs {
					if !slices.Contains(claims[f], e.Name) {
						claims[f] = append(claims[f], e.Name)
					}
				}
			}
		}
	}
	out := map[writeback.Field][]string{}
	for f, names := range claims {
		if len(names) > 1 {
			slices.Sort(names)
			out[f] = names
		}
	}
	return out
}

// claimed returns the conflicts among the fields target t would write,
// and t without them: markers of shared fields are excluded, a kustomize
// or Helm target (one field each) is dropped (ok false).
func (e *envRun) claimed(dir string, t writeback.Target) (writeback.Target, []*ConflictError, bool) {
	if len(e.conflicts) == 0 {
		return t, nil, true
	}
	fs, err := writeback.Fields(dir, t)
	if err != nil {
		return t, nil, true // left to Read and Write, which report it
	}
	var cs []*ConflictError
	for _, f := range fs {
		if envs, ok := e.conflicts[f]; ok {
			cs = append(cs, &ConflictError{Field: f, Envs: envs})
		}
	}
	switch {
	case len(cs) == 0:
		return t, nil, true
	case t.Kind != writeback.Marker || len(cs) == len(fs):
		return t, cs, false
	}
	t.Exclude = slices.Clone(t.Exclude)
	for _, c := range cs {
		t.Exclude = append(t.Exclude, c.Field)
	}
	return t, cs, true
}
