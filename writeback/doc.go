// Package writeback edits environment files in place, changing only the
// scalars it must, and gets commits onto a remote branch safely next to other
// writers. It knows nothing of registries or policies.
package writeback
