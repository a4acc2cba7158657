package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// head is a valid config whose one image entry starts on line 7; cases
// append fields of that image from line 8 on.
const head = minimal

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want []string // every error, in order
	}{
		{"empty", "", []string{"t.yaml: the file is empty"}},
		{"only a comment", "# nothing\n", []string{"t.yaml: the file is empty"}},
		{"syntax", "git: [\n", []string{"t.yaml:1: invalid YAML: did not find expected node content"}},
		{"tab", "git:\n\turl: x\n", []string{"t.yaml:2: invalid YAML: found character that cannot start any token"}},
		{"two documents", head + "---\ngit: {}\n", []string{"t.yaml:8: more than one YAML document; tagwatch.yaml holds one"}},
		{"not a mapping", "- a\n", []string{"t.yaml:1: expected a mapping, got a list"}},
		{"unknown top-level", head + "enviroments: []\n", []string{
			`t.yaml:8: enviroments: unknown field (did you mean "environments"?) (valid: git, registries, interval, environments, webhooks, insecureWebhooks, applications, leaderElection)`,
		}},
		{"unknown image field", head + "        tag: latest\n", []string{
			"t.yaml:8: environments[0].images[0].tag: unknown field (valid: image, kustomizeName, alias, strategy, constraint, semverLoose, allowTags, ignoreTags, extract, order, platforms, writeDigest, allowDowngrade, helm, argoCompat)",
		}},
		{"misspelt field", head + "        constriant: ^1\n", []string{
			`t.yaml:8: environments[0].images[0].constriant: unknown field (did you mean "constraint"?) (valid: image, kustomizeName, alias, strategy, constraint, semverLoose, allowTags, ignoreTags, extract, order, platforms, writeDigest, allowDowngrade, helm, argoCompat)`,
		}},
		{"duplicate key", head + "        strategy: semver\n        strategy: digest\n", []string{
			"t.yaml:9: environments[0].images[0].strategy: given twice (first on line 8)",
		}},
		{"merge key", "x: &x {url: a}\n" + head, []string{
			`t.yaml:1: x: unknown field (valid: git, registries, interval, environments, webhooks, insecureWebhooks, applications, leaderElection)`,
		}},
		{"bool type", head + "        writeDigest: yes please\n", []string{
			`t.yaml:8: environments[0].images[0].writeDigest: expected true or false, got "yes please"`,
		}},
		{"string for list", head + "        ignoreTags: '*-debug'\n", []string{
			`t.yaml:8: environments[0].images[0].ignoreTags: expected a list, got "*-debug"`,
		}},
		{"list for string", head + "        constraint: [1]\n", []string{
			"t.yaml:8: environments[0].images[0].constraint: expected a string, got a list",
		}},
		{"interval", strings.Replace(head, "environments:", "interval: 120\nenvironments:", 1), []string{
			`t.yaml:3: interval: "120" is not a duration like 30s, 2m or 1h`,
		}},
		{"interval too short", strings.Replace(head, "environments:", "interval: 10ms\nenvironments:", 1), []string{
			"t.yaml:3: interval: 10ms is too short; use 1s or more",
		}},
		{"rate limit", "registries:\n  - prefix: r.example.com\n    rateLimit: fast\n" + head, []string{
			`t.yaml:3: registries[0].rateLimit: expected a number, got "fast"`,
		}},
		{"negative rate limit", "registries:\n  - prefix: r.example.com\n    rateLimit: -1\n" + head, []string{
			"t.yaml:3: registries[0].rateLimit: must be positive (requests per second), got -1",
		}},
		{"negative tag TTL", "registries:\n  - prefix: r.example.com\n    tagTTL: -1m\n" + head, []string{
			"t.yaml:3: registries[0].tagTTL: must not be negative, got -1m0s",
		}},
		{"no git url", "git: {}\nenvironments: []\n", []string{
			"t.yaml:1: git.url: required: the repository holding the environments",
			"t.yaml:2: environments: at least one environment is required (or applications:, for environments from Argo CD Applications)",
		}},
		{"git url scheme", strings.Replace(head, "https://git.example.com/deploy.git", "git://git.example.com/deploy.git", 1), []string{
			`t.yaml:2: git.url: scheme "git" is not supported; use https://, http://, ssh://, user@host:path, file:// or a local path`,
		}},
		{"git url with password", strings.Replace(head, "https://git.example.com", "https://me:hunter2@git.example.com", 1), []string{
			"t.yaml:2: git.url: the URL holds a password; put credentials in git.auth (passwordEnv or passwordFile) instead",
		}},
		{"git url no path", strings.Replace(head, "https://git.example.com/deploy.git", "https://git.example.com", 1), []string{
			"t.yaml:2: git.url: the URL has no repository path",
		}},
		{"git url file", strings.Replace(head, "https://git.example.com/deploy.git", "file://", 1), []string{
			"t.yaml:2: git.url: file:// URL needs a path, like file:///srv/git/deploy.git",
		}},
		{"branch", strings.Replace(head, "environments:", "  branch: 'a..b'\nenvironments:", 1), []string{
			`t.yaml:3: git.branch: "a..b" is not a valid branch name`,
		}},
		{"author email", strings.Replace(head, "environments:", "  author: {email: 'bot <x>'}\nenvironments:", 1), []string{
			`t.yaml:3: git.author.email: "bot <x>" is not an email address`,
		}},
		{"password twice", strings.Replace(head, "environments:", "  auth:\n    passwordEnv: T\n    passwordFile: /t\nenvironments:", 1), []string{
			"t.yaml:5: git.auth.passwordFile: set passwordEnv or passwordFile, not both",
		}},
		{"password env name", strings.Replace(head, "environments:", "  auth: {passwordEnv: 'ghp_abc def'}\nenvironments:", 1), []string{
			`t.yaml:3: git.auth.passwordEnv: "ghp_abc def" is not an environment variable name`,
		}},
		{"registry prefix", "registries:\n  - prefix: https://r.example.com\n  - insecure: true\n" + head, []string{
			`t.yaml:2: registries[0].prefix: "https://r.example.com": write the host without a scheme (use insecure: true for plain HTTP)`,
			"t.yaml:3: registries[1].prefix: required: a registry host, optionally with a path (registry.example.com/team)",
		}},
		{"registry duplicate", "registries:\n  - prefix: r.example.com\n  - prefix: r.example.com/\n" + head, []string{
			`t.yaml:3: registries[1].prefix: duplicate prefix "r.example.com/" (also registries[0])`,
		}},
		{"credentials", "registries:\n  - prefix: r.example.com\n    credentials: user:pass\n  - prefix: s.example.com\n    credentials: 'env:'\n" + head, []string{
			`t.yaml:3: registries[0].credentials: must be env:VAR or file:/path (a variable or file holding "user:pass"), or dockerconfig:/path (a docker config.json or a Kubernetes pull secret's .dockerconfigjson); never the secret itself`,
			"t.yaml:5: registries[1].credentials: env: needs an environment variable name, like env:REGISTRY_AUTH",
		}},
		{"webhooks", head + "webhooks:\n  - {type: distribution, secret: 'env:HOOK'}\n  - {type: nexus, secret: 'file:/hook'}\n  - {type: distribution, secret: s3cr3t}\n  - {secret: 'env:'}\n", []string{
			`t.yaml:10: webhooks[1].type: "nexus" is not one of cloudevents, distribution, dockerhub, generic, github, harbor, quay`,
			"t.yaml:11: webhooks[2].type: distribution is already configured by webhooks[0]",
			"t.yaml:11: webhooks[2].secret: must be env:VAR or file:/path (where the secret is); never the secret itself",
			"t.yaml:12: webhooks[3].type: required: one of cloudevents, distribution, dockerhub, generic, github, harbor, quay",
			"t.yaml:12: webhooks[3].secret: must be env:VAR or file:/path (where the secret is); never the secret itself",
		}},
		{"insecure with CA", "registries:\n  - prefix: r.example.com\n    insecure: true\n    caFile: /ca.pem\n" + head, []string{
			"t.yaml:4: registries[0].caFile: insecure: true means plain HTTP, where a CA file has no use",
		}},
		{"environment name and path", strings.NewReplacer("name: staging", "name: Staging_1", "path: envs/staging", "path: ../envs").Replace(head), []string{
			`t.yaml:4: environments[0].name: "Staging_1" must match [a-z0-9][a-z0-9-]*`,
			`t.yaml:5: environments[0].path: "../envs" leaves the repository`,
		}},
		{"absolute path", strings.Replace(head, "path: envs/staging", "path: /envs/staging", 1), []string{
			`t.yaml:5: environments[0].path: "/envs/staging" is absolute; write it relative to the repository root`,
		}},
		{"path leaves after clean", strings.Replace(head, "path: envs/staging", "path: envs/../../x", 1), []string{
			`t.yaml:5: environments[0].path: "envs/../../x" leaves the repository`,
		}},
		{"missing name path images", "git: {url: /r}\nenvironments:\n  - {}\n", []string{
			"t.yaml:3: environments[0].name: required",
			"t.yaml:3: environments[0].path: required: a directory relative to the repository root",
			"t.yaml:3: environments[0].images: at least one image is required",
		}},
		{"duplicate environment", head + "  - name: staging\n    path: envs/b\n    images: [{image: r.example.com/b}]\n", []string{
			`t.yaml:8: environments[1].name: duplicate environment name "staging" (also environments[0])`,
		}},
		{"duplicate image", head + "      - image: registry.example.com/team/app\n        alias: other\n", []string{
			"t.yaml:8: environments[0].images[1].image: registry.example.com/team/app is already watched by images[0] of this environment",
		}},
		{"duplicate image normalised", strings.Replace(head, "registry.example.com/team/app", "nginx", 1) + "      - image: docker.io/library/nginx\n        alias: other\n", []string{
			"t.yaml:8: environments[0].images[1].image: docker.io/library/nginx is already watched by images[0] of this environment",
		}},
		{"duplicate alias", head + "      - image: registry.example.com/other/app\n", []string{
			`t.yaml:8: environments[0].images[1].alias: alias "app" is already used by images[0]; set alias: to tell them apart in markers`,
		}},
		{"image with tag", strings.Replace(head, "team/app", "team/app:1.0", 1), []string{
			`t.yaml:7: environments[0].images[0].image: "registry.example.com/team/app:1.0" names a tag or digest; write the repository alone (the policy picks the tag)`,
		}},
		{"invalid image", strings.Replace(head, "team/app", "Team/App", 1), []string{
			`t.yaml:7: environments[0].images[0].image: "registry.example.com/Team/App" is not a valid image repository: repository can only contain the characters ` + "`abcdefghijklmnopqrstuvwxyz0123456789_-./`: Team/App",
		}},
		{"missing image", strings.Replace(head, "image: registry.example.com/team/app", "strategy: semver", 1), []string{
			"t.yaml:7: environments[0].images[0].image: required: the repository to watch, like registry.example.com/team/app",
		}},
		{"alias", head + "        alias: 'a:b'\n", []string{
			`t.yaml:8: environments[0].images[0].alias: "a:b" must not contain ':', quotes or spaces`,
		}},
		{"strategy", head + "        strategy: latest\n", []string{
			`t.yaml:8: environments[0].images[0].strategy: "latest": not one of semver, newest-build, alphabetical, numerical, digest`,
		}},
		{"digest needs constraint", head + "        strategy: digest\n", []string{
			"t.yaml:7: environments[0].images[0].constraint: the digest strategy needs the tag to follow",
		}},
		{"digest constraint", head + "        strategy: digest\n        constraint: 'a b'\n", []string{
			`t.yaml:9: environments[0].images[0].constraint: "a b": not a valid tag name to follow`,
		}},
		{"semver constraint", head + "        constraint: '^^1'\n", []string{
			`t.yaml:8: environments[0].images[0].constraint: "^^1": improper constraint: "^^1"`,
		}},
		{"order", head + "        order: newest\n", []string{
			`t.yaml:8: environments[0].images[0].order: "newest": not one of asc, desc`,
		}},
		{"order for newest-build", head + "        strategy: newest-build\n        order: desc\n", []string{
			`t.yaml:9: environments[0].images[0].order: "desc": only alphabetical and numerical can be ordered; newest-build always prefers the greatest`,
		}},
		{"allowTags", head + "        allowTags: '^(\\d+$'\n", []string{
			"t.yaml:8: environments[0].images[0].allowTags: \"^(\\\\d+$\": error parsing regexp: missing closing ): `^(\\d+$`",
		}},
		{"extract without allowTags", head + "        extract: $1\n", []string{
			`t.yaml:8: environments[0].images[0].extract: "$1": needs allowTags to be a regular expression with the groups it references`,
		}},
		{"extract group", head + "        strategy: numerical\n        allowTags: '^(\\d+)$'\n        extract: '$2'\n", []string{
			`t.yaml:10: environments[0].images[0].extract: "$2": group 2 does not exist: allowTags has 1 groups`,
		}},
		{"ignoreTags", head + "        ignoreTags: ['*-debug', '[a']\n", []string{
			`t.yaml:8: environments[0].images[0].ignoreTags[1]: "[a": syntax error in pattern`,
		}},
		{"ignoreTags regexp", head + "        ignoreTags: ['regexp:-debug$', '^v.*$']\n", []string{
			`t.yaml:8: environments[0].images[0].ignoreTags[1]: "^v.*$": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^v.*$" to use it as a regular expression, or the glob "v*"`,
		}},
		{"every policy problem of an entry", head + "        strategy: nope\n        ignoreTags: ['^a']\n        platforms: [amd64]\n        order: up\n", []string{
			`t.yaml:8: environments[0].images[0].strategy: "nope": not one of semver, newest-build, alphabetical, numerical, digest`,
			`t.yaml:9: environments[0].images[0].ignoreTags[0]: "^a": ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write "regexp:^a" to use it as a regular expression, or the glob "a*"`,
			`t.yaml:10: environments[0].images[0].platforms[0]: "amd64": not os/arch or os/arch/variant`,
			`t.yaml:11: environments[0].images[0].order: "up": not one of asc, desc`,
		}},
		{"platforms", head + "        platforms:\n          - linux/amd64\n          - amd64\n", []string{
			`t.yaml:10: environments[0].images[0].platforms[1]: "amd64": not os/arch or os/arch/variant`,
		}},
		{"helm", head + "        helm: {tag: image.tag}\n", []string{
			"t.yaml:8: environments[0].images[0].helm.file: required: the values file, relative to the environment's path",
		}},
		{"helm targets", head + "        helm:\n          file: ../../../values.yaml\n          image: a..b\n          tag: image.tag\n      - image: r.example.com/x\n        helm: {file: v.yaml}\n", []string{
			`t.yaml:9: environments[0].images[0].helm.file: "../../../values.yaml" leaves the repository`,
			"t.yaml:10: environments[0].images[0].helm.image: image writes the whole reference; do not also set repository, tag or digest",
			`t.yaml:10: environments[0].images[0].helm.image: "a..b" is not a dotted path like image.tag`,
			"t.yaml:13: environments[0].images[1].helm: needs tag (with repository) or image: the values to write",
		}},
		{"many at once", "git:\n  url: ftp://x/y\n  bogus: 1\nenvironments:\n  - name: A\n    path: /a\n    images:\n      - image: r.example.com/a\n        strategy: nope\n", []string{
			`t.yaml:2: git.url: scheme "ftp" is not supported; use https://, http://, ssh://, user@host:path, file:// or a local path`,
			"t.yaml:3: git.bogus: unknown field (valid: url, branch, author, auth, provider, signing)",
			`t.yaml:5: environments[0].name: "A" must match [a-z0-9][a-z0-9-]*`,
			`t.yaml:6: environments[0].path: "/a" is absolute; write it relative to the repository root`,
			`t.yaml:9: environments[0].images[0].strategy: "nope": not one of semver, newest-build, alphabetical, numerical, digest`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("t.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", c)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("errors.As(FieldError) = false")
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// TestErrorsKeepSecrets: a URL or credentials field holding a secret is
// rejected without repeating the secret.
func TestErrorsKeepSecrets(t *testing.T) {
	y := strings.Replace(head, "https://git.example.com", "https://me:hunter2@git.example.com", 1) +
		"registries:\n  - prefix: r.example.com\n    credentials: admin:hunter2\n"
	_, err := Parse("t.yaml", []byte(y))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("Parse error = %v; want an error without the secret", err)
	}
}

func TestAcceptedGitURLs(t *testing.T) {
	for _, u := range []string{
		"https://git.example.com/deploy.git", "http://127.0.0.1:8080/deploy.git", "ssh://git@git.example.com:2222/deploy.git",
		"git@github.com:example/deploy.git", "github.com:example/deploy.git", "file:///srv/git/deploy.git",
		"/srv/git/deploy.git", "./deploy", "deploy", "https://oauth2@git.example.com/x.git",
	} {
		if err := checkGitURL(u); err != nil {
			t.Errorf("checkGitURL(%q) = %v", u, err)
		}
	}
}

func TestAcceptedRegistryPrefixes(t *testing.T) {
	for _, p := range []string{"registry.example.com", "localhost:5000", "127.0.0.1:5000/team", "ghcr.io/org/", "docker.io"} {
		y := "registries:\n  - prefix: " + p + "\n" + head
		if _, err := Parse("t.yaml", []byte(y)); err != nil {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
}
