package audit_test

import (
	"fmt"

	"github.com/tagwatch/tagwatch/internal/audit"
)

func ExampleMessage() {
	fmt.Print(audit.Message("production", []audit.Change{{
		Env: "production", Image: "registry.example.com/team/app",
		File: "envs/production/kustomization.yaml", From: "1.3.0", To: "1.4.0",
		Strategy: "semver", Constraint: "^1",
	}}))
	// Output:
	// tagwatch(production): registry.example.com/team/app 1.3.0 -> 1.4.0
	//
	// Moved registry.example.com/team/app in environment production from 1.3.0
	// to 1.4.0. Changed envs/production/kustomization.yaml. 1.4.0 is the best
	// tag under the semver policy with constraint "^1".
	//
	// Tagwatch-Update: env=production image=registry.example.com/team/app from=1.3.0 to=1.4.0 digest=
}

func ExampleParse() {
	msg := "fix: bump by hand\n\nSigned-off-by: Ann <ann@example.com>\n" +
		"Tagwatch-Update: env=staging image=registry.example.com/team/app from= to=1.0.0 digest=sha256:ab\n"
	for _, c := range audit.Parse(msg) {
		fmt.Printf("%s: %s %q -> %q (%s)\n", c.Env, c.Image, c.From, c.To, c.Digest)
	}
	// Output:
	// staging: registry.example.com/team/app "" -> "1.0.0" (sha256:ab)
}
