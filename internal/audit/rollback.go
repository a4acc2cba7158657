package audit

import (
	"fmt"
	"strings"
)

// Trailer keys of rollbacks (DESIGN §8b).
const (
	// RollbackKey marks a digest an environment must not take again:
	// "Tagwatch-Rollback: env=E image=I from=<bad> to=<good> digest=<bad digest>".
	RollbackKey = "Tagwatch-Rollback"
	// ClearedKey lifts a rollback:
	// "Tagwatch-Rollback-Cleared: env=E image=I digest=<digest>".
	ClearedKey = "Tagwatch-Rollback-Cleared"
)

// Kinds of Record.
const (
	KindUpdate   = "update"   // Tagwatch-Update
	KindRollback = "rollback" // Tagwatch-Rollback
	KindCleared  = "cleared"  // Tagwatch-Rollback-Cleared
)

var trailerKinds = map[string]string{
	strings.ToLower(TrailerKey):  KindUpdate,
	strings.ToLower(RollbackKey): KindRollback,
	strings.ToLower(ClearedKey):  KindCleared,
}

// Record is one tagwatch trailer: an update, a rollback (From is the
// value rolled back, To the value restored, Digest the digest rolled
// back) or the lifting of a rollback (Digest).
type Record struct {
	Kind string
	Change
}

// Rollback is what `tagwatch rollback` records.
type Rollback struct {
	Env, Image string
	From, To   string // the bad value and the value restored
	Digest     string // the digest rolled back
	Reason     string // a sentence for the body (optional)
}

// RollbackMessage renders the commit message of a rollback: subject
// "tagwatch(<env>): roll back <image> <from> -> <to>", a body in words,
// and the Tagwatch-Rollback trailer.
func RollbackMessage(r Rollback) string {
	var b strings.Builder
	fmt.Fprintf(&b, "tagwatch(%s): roll back %s %s -> %s\n\n", r.Env, r.Image, orNone(r.From), r.To)
	body := fmt.Sprintf("Rolled %s in environment %s back from %s to %s.", r.Image, r.Env, orNone(r.From), r.To)
	if r.Digest != "" {
		body += fmt.Sprintf(" tagwatch will not take %s again in %s, nor in the environments promoted from it, under any tag, until the rollback is cleared (tagwatch rollback --clear).", r.Digest, r.Env)
	}
	if r.Reason != "" {
		body += " " + r.Reason
	}
	b.WriteString(wrap(body, 72))
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "%s: env=%s image=%s from=%s to=%s digest=%s\n", RollbackKey,
		escape(r.Env), escape(r.Image), escape(r.From), escape(r.To), escape(r.Digest))
	return b.String()
}

// ClearedMessage renders the commit message that lifts the rollbacks of
// digests (one or more) of image in env: a subject naming the digest, or
// how many, a body in words, and one Tagwatch-Rollback-Cleared trailer per
// digest, in the order given.
func ClearedMessage(env, image string, digests ...string) string {
	var b strings.Builder
	switch len(digests) {
	case 1:
		fmt.Fprintf(&b, "tagwatch(%s): clear the rollback of %s %s\n\n", env, image, ShortDigest(digests[0]))
		b.WriteString(wrap(fmt.Sprintf("Lifted the rollback of %s (%s) in environment %s: tagwatch may take it again when its policy picks it.", image, digests[0], env), 72))
	default:
		fmt.Fprintf(&b, "tagwatch(%s): clear %d rollbacks of %s\n\n", env, len(digests), image)
		b.WriteString(wrap(fmt.Sprintf("Lifted the rollbacks of %s (%s) in environment %s: tagwatch may take them again when its policy picks them.", image, strings.Join(digests, ", "), env), 72))
	}
	b.WriteString("\n\n")
	for _, d := range digests {
		fmt.Fprintf(&b, "%s: env=%s image=%s digest=%s\n", ClearedKey, escape(env), escape(image), escape(d))
	}
	return b.String()
}
