package config_test

import (
	"fmt"

	"github.com/tagwatch/tagwatch/config"
)

func ExampleParse() {
	_, err := config.Parse("tagwatch.yaml", []byte(`git:
  url: https://git.example.com/platform/deploy.git
environments:
  - name: production
    path: envs/production
    images:
      - image: registry.example.com/team/app
        constriant: "^1"
      - image: registry.example.com/team/web
        strategy: semver
        constraint: "^^1"
`))
	fmt.Println(err)
	// Output:
	// tagwatch.yaml:8: environments[0].images[0].constriant: unknown field (did you mean "constraint"?) (valid: image, kustomizeName, alias, strategy, constraint, semverLoose, allowTags, ignoreTags, extract, order, platforms, writeDigest, allowDowngrade, helm, argoCompat)
	// tagwatch.yaml:11: environments[0].images[1].constraint: "^^1": improper constraint: "^^1"
}
