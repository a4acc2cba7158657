// Package policy decides which tag an environment should run.
//
// It is pure: given tag names (and, for some strategies, metadata the caller
// fetched) and the value Git holds now, it filters, ranks and decides. It does
// no I/O and no logging; a test fences its imports.
package policy
