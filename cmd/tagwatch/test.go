package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/internal/resolve"
	"github.com/tagwatch/tagwatch/policy"
)

// testOptions are the flags of `tagwatch test` (DESIGN.md §3). The live
// half (test_live.go) reads Image, ConfigPath, Insecure and Platforms to
// reach the registry; everything else is already compiled into the policy.
type testOptions struct {
	Image string // IMAGE: the repository, without tag or digest

	// The policy flags, as in tagwatch.yaml.
	Strategy    string
	Constraint  string
	SemverLoose bool
	AllowTags   string
	IgnoreTags  []string
	Extract     string
	Order       string
	Platforms   []string

	// Current is the value Git holds (--current TAG or TAG@DIGEST).
	Current policy.Current

	TagsFile   string // offline: one tag a line, no registry
	ConfigPath string // --config: registry settings (credentials, CA, insecure) from tagwatch.yaml
	Env        string // --env: the policy of IMAGE in this environment of the config
	Insecure   bool   // --insecure: plain HTTP to the registry
	Output     string // "text" or "json"
	// Application (NS/NAME): every image of that Argo CD Application, its
	// policy read from its annotations; Kubeconfig the cluster.
	Application, Kubeconfig string

	current string // raw --current
	// changed reports whether a flag was given on the command line: with
	// --env, the policy flags given override the config's fields.
	changed func(flag string) bool
	origin  string // with --env: where the policy was written
}

// testResult is what `tagwatch test` shows: the policy's result, and the
// names dropped before the policy saw them.
type testResult struct {
	policy.Result
	Invalid resolve.Invalid // names that are not valid tags
	Gate    *gateState      // with --env: the environment's promotion gate
}

// liveTestFunc lists the image's tags in its registry, fetches the
// metadata the policy needs and selects: runLiveTest (test_live.go), or a
// test's stand-in, in globals.liveTest.
type liveTestFunc func(ctx context.Context, g *globals, o *testOptions, pol *policy.Policy) (*testResult, error)

func newTestCmd(g *globals) *cobra.Command {
	o := &testOptions{}
	cmd := &cobra.Command{
		Use:   "test IMAGE",
		Short: "Show which tag a policy picks for an image, and why",
		Long: `test applies a policy to the tags of IMAGE and prints the tag it picks,
the decision against --current (update, current, held or none), how many
tags each filter removed and which candidates were left.

With --tags-file it runs offline on a list of tag names (one a line; blank
lines and # comments are ignored; "-" reads stdin), for the strategies that need nothing but
names (semver, alphabetical, numerical). Without it, it asks the registry.

With --config and --env it uses the policy the config gives IMAGE in that
environment; policy flags given as well override its fields.

With --application NS/NAME (and no IMAGE) it reads that Argo CD Application
and shows, for each of its images, the policy its annotations give, the tag
picked and why, and the file a cycle would write (a dry run: nothing is
written). --config, when given, supplies registries and git defaults.`,
		Example: `  tagwatch test registry.example.com/team/app --constraint '^1' --tags-file tags.txt
  tagwatch test registry.example.com/team/app --config tagwatch.yaml --env production --current 1.3.0
  tagwatch test ghcr.io/org/app --strategy numerical --allow-tags '^main-(?P<ts>\d+)-' --extract '$ts' --tags-file tags.txt -o json
  tagwatch test --application argocd/staging --kubeconfig ~/.kube/config`,
		Args: func(_ *cobra.Command, args []string) error {
			switch {
			case o.Application != "" && len(args) > 0:
				return usagef("test --application takes no IMAGE: it tests every image of the Application")
			case o.Application == "" && len(args) != 1:
				return usagef("test takes exactly one IMAGE, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Application != "" {
				if o.Output != "text" && o.Output != "json" {
					return usagef("-o: %q is not one of text, json", o.Output)
				}
				return runTestApplication(cmd.Context(), g, o, cmd.OutOrStdout())
			}
			o.Image = args[0]
			o.changed = cmd.Flags().Changed
			return runTest(cmd.Context(), g, o, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Strategy, "strategy", "semver", "semver, newest-build, alphabetical, numerical or digest")
	f.StringVar(&o.Constraint, "constraint", "", `semver range (empty: "*"); for digest, the tag to follow`)
	f.BoolVar(&o.SemverLoose, "semver-loose", false, `semver: also accept "1.2" and "1" as versions`)
	f.StringVar(&o.AllowTags, "allow-tags", "", "RE2 expression a tag must match (unanchored)")
	f.StringArrayVar(&o.IgnoreTags, "ignore-tags", nil, "glob of tags to ignore, or regexp:<RE> (repeatable)")
	f.StringVar(&o.Extract, "extract", "", "regexp.Expand template over --allow-tags giving the sort key ($1, $name, ${name})")
	f.StringVar(&o.Order, "order", "asc", "alphabetical and numerical: asc picks the greatest, desc the smallest")
	f.StringArrayVar(&o.Platforms, "platform", nil, "os/arch[/variant] a candidate must provide (repeatable; needs the registry)")
	f.StringVar(&o.current, "current", "", "the tag Git holds now (TAG or TAG@sha256:…), to decide update/current/held")
	f.StringVar(&o.TagsFile, "tags-file", "", `evaluate offline on the tags in this file (one a line; "-": stdin)`)
	f.StringVar(&o.ConfigPath, "config", "", "tagwatch.yaml to take registry settings (and, with --env, the policy) from")
	f.StringVar(&o.Env, "env", "", "with --config: use the policy the config gives IMAGE in this environment")
	f.BoolVar(&o.Insecure, "insecure", false, "talk plain HTTP to the registry")
	f.StringVarP(&o.Output, "output", "o", "text", "output: text or json")
	f.StringVar(&o.Application, "application", "", "NAMESPACE/NAME of an Argo CD Application: test each of its images (instead of IMAGE)")
	f.StringVar(&o.Kubeconfig, "kubeconfig", "", "with --application: the kubeconfig of the cluster (default: in-cluster, $KUBECONFIG, ~/.kube/config)")
	return cmd
}

// policySpec is the policy the flags describe.
func (o *testOptions) policySpec() policy.Spec {
	return policy.Spec{
		Strategy:   policy.Strategy(o.Strategy),
		Constraint: o.Constraint,
		Loose:      o.SemverLoose,
		AllowTags:  o.AllowTags,
		IgnoreTags: o.IgnoreTags,
		Extract:    o.Extract,
		Order:      o.Order,
		Platforms:  o.Platforms,
	}
}

func (o *testOptions) validate() error {
	switch o.Output {
	case "text", "json":
	default:
		return usagef("-o: %q is not one of text, json", o.Output)
	}
	if o.ConfigPath != "" && o.Insecure {
		return usagef("--config and --insecure exclude each other: set insecure for the registry in the config")
	}
	if o.Env != "" && o.ConfigPath == "" {
		return usagef("--env needs --config: the environment's policy is in the config")
	}
	if err := checkRepository(o.Image); err != nil {
		return err
	}
	tag, digest, _ := strings.Cut(o.current, "@")
	o.Current = policy.Current{Tag: tag, Digest: digest}
	return nil
}

// configSpec is the policy the config gives IMAGE in environment --env,
// with the policy flags given on the command line over it.
func (o *testOptions) configSpec() (policy.Spec, error) {
	cfg, err := config.Load(o.ConfigPath)
	if err != nil {
		return policy.Spec{}, usageError{err}
	}
	var names []string
	for i, e := range cfg.Environments {
		names = append(names, e.Name)
		if e.Name != o.Env {
			continue
		}
		var images []string
		for j, im := range e.Images {
			images = append(images, im.Image)
			if plan.Normalize(im.Image) != plan.Normalize(o.Image) {
				continue
			}
			spec := im.PolicySpec()
			o.origin = fmt.Sprintf("%s: environments[%d].images[%d]", cfg.File, i, j)
			o.overrideSpec(&spec)
			return spec, nil
		}
		return policy.Spec{}, usagef("environment %q of %s does not watch %s (it watches %s)", o.Env, cfg.File, o.Image, strings.Join(images, ", "))
	}
	return policy.Spec{}, usagef("%s has no environment %q (it has %s)", cfg.File, o.Env, strings.Join(names, ", "))
}

// overrideSpec sets the fields of spec whose flags were given.
func (o *testOptions) overrideSpec(spec *policy.Spec) {
	given := o.policySpec()
	var over []string
	set := func(flag string, apply func()) {
		if o.changed != nil && o.changed(flag) {
			apply()
			over = append(over, "--"+flag)
		}
	}
	set("strategy", func() { spec.Strategy = given.Strategy })
	set("constraint", func() { spec.Constraint = given.Constraint })
	set("semver-loose", func() { spec.Loose = given.Loose })
	set("allow-tags", func() { spec.AllowTags = given.AllowTags })
	set("ignore-tags", func() { spec.IgnoreTags = given.IgnoreTags })
	set("extract", func() { spec.Extract = given.Extract })
	set("order", func() { spec.Order = given.Order })
	set("platform", func() { spec.Platforms = given.Platforms })
	if len(over) > 0 {
		o.origin += ", with " + strings.Join(over, " ")
	}
}

// checkRepository rejects an IMAGE that is empty or carries a tag or digest.
func checkRepository(image string) error {
	last := image[strings.LastIndex(image, "/")+1:]
	switch {
	case image == "" || strings.ContainsAny(image, " \t\n"):
		return usagef("IMAGE %q is not a repository name", image)
	case strings.ContainsAny(last, ":@"):
		return usagef("IMAGE %q carries a tag or digest: give the repository alone, and the tag in Git as --current", image)
	}
	return nil
}

func runTest(ctx context.Context, g *globals, o *testOptions, stdin io.Reader, stdout io.Writer) error {
	if err := o.validate(); err != nil {
		return err
	}
	spec := o.policySpec()
	if o.Env != "" {
		var err error
		if spec, err = o.configSpec(); err != nil {
			return err
		}
	}
	pol, err := policy.New(spec)
	if err != nil {
		return usagef("%v", err)
	}
	var res *testResult
	if o.TagsFile != "" {
		if pol.NeedsMetadata() || pol.NeedsDigest() {
			return usagef("a registry is needed: %s needs image metadata that --tags-file (names only) cannot give; drop --tags-file", needsWhat(o, pol))
		}
		tags, err := readTagsFile(o.TagsFile, stdin)
		if err != nil {
			return usagef("%v", err)
		}
		if g.log != nil {
			g.log.WithField("image", o.Image).Debugf("read %d tags from %s", len(tags), o.TagsFile)
		}
		tags, invalid := validTags(tags)
		res = &testResult{Result: pol.Select(tags, o.Current), Invalid: invalid}
	} else {
		if g.liveTest == nil {
			return usagef("a registry is needed: pass --tags-file")
		}
		if res, err = g.liveTest(ctx, g, o, pol); err != nil {
			return err
		}
	}
	if o.Env != "" && o.TagsFile == "" {
		if res.Gate, err = readGate(ctx, g, o); err != nil {
			return err
		}
	}
	if o.Output == "json" {
		return printTestJSON(stdout, o.Image, res)
	}
	return printTestText(stdout, o, pol, res)
}

func needsWhat(o *testOptions, pol *policy.Policy) string {
	switch {
	case pol.NeedsDigest():
		return "the digest strategy"
	case len(o.Platforms) > 0:
		return "--platform"
	}
	return "the " + o.Strategy + " strategy"
}

// readTagsFile reads one tag a line ("-": from stdin, e.g. `crane ls`);
// blank lines and # comments are skipped.
func readTagsFile(name string, stdin io.Reader) ([]policy.Tag, error) {
	r := stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--tags-file: %w", err)
		}
		defer f.Close()
		r = f
	} else {
		name = "stdin"
	}
	var tags []policy.Tag
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsFunc(line, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
			return nil, fmt.Errorf("%s:%d: %q is not one tag (one tag a line)", name, n, line)
		}
		tags = append(tags, policy.Tag{Name: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return tags, nil
}

// validTags drops the names that are not valid tags, as reading a
// registry's list does (resolve.Find).
func validTags(tags []policy.Tag) ([]policy.Tag, resolve.Invalid) {
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Name
	}
	valid, invalid := resolve.ValidNames(names)
	if invalid.N == 0 {
		return tags, invalid
	}
	out := make([]policy.Tag, len(valid))
	for i, n := range valid {
		out[i].Name = n
	}
	return out, invalid
}

// testJSON is the -o json shape of DESIGN.md §3.
type testJSON struct {
	Image      string   `json:"image"`
	Tag        string   `json:"tag"`
	Digest     string   `json:"digest"`
	Candidates []string `json:"candidates"`
	// Gate, with --env, is the environment's promotion gate now.
	Gate *gateState `json:"gate,omitempty"`
}

func printTestJSON(w io.Writer, image string, res *testResult) error {
	out := testJSON{Image: image, Tag: res.Tag, Digest: res.Digest, Candidates: res.Candidates, Gate: res.Gate}
	if out.Candidates == nil {
		out.Candidates = []string{}
	}
	enc := json.NewEncoder(w)
	return enc.Encode(out)
}

// maxListed candidates are printed in text output; the rest are counted.
const maxListed = 10

func printTestText(w io.Writer, o *testOptions, pol *policy.Policy, res *testResult) error {
	s := res.Stats
	tag := res.Tag
	if tag == "" {
		tag = "(none)"
	} else if res.Digest != "" {
		tag += "@" + res.Digest
	}
	var b strings.Builder
	fmt.Fprintf(&b, "image:      %s\n", o.Image)
	fmt.Fprintf(&b, "policy:     %s\n", describeSpec(pol.Spec()))
	if o.origin != "" {
		fmt.Fprintf(&b, "from:       %s\n", o.origin)
	}
	fmt.Fprintf(&b, "tag:        %s\n", tag)
	fmt.Fprintf(&b, "decision:   %s: %s\n", res.Decision, res.Reason)
	if gt := res.Gate; gt != nil {
		state := "closed (held)"
		if gt.Open {
			state = "open: takes " + gt.Tag
		}
		fmt.Fprintf(&b, "gate:       from %s, %s: %s\n", gt.From, state, gt.Reason)
	}
	if res.Invalid.N > 0 {
		fmt.Fprintf(&b, "invalid:    %s\n", res.Invalid)
	}
	fmt.Fprintf(&b, "seen:       %d tags\n", s.Seen)
	removed := []string{}
	for _, r := range []string{policy.RuleCosign, policy.RuleIgnoreTags, policy.RuleAllowTags, policy.RuleDigestTag, policy.RulePlatforms, policy.RuleConstraint} {
		if n := s.Filtered[r]; n > 0 {
			removed = append(removed, fmt.Sprintf("%s %d", r, n))
		}
	}
	if len(removed) == 0 {
		removed = append(removed, "none")
	}
	fmt.Fprintf(&b, "removed:    %s\n", strings.Join(removed, ", "))
	fmt.Fprintf(&b, "unparsable: %d (not a %s)\n", s.Unparsable, unparsableWhat(pol.Spec()))
	if s.Duplicates > 0 {
		fmt.Fprintf(&b, "duplicates: %d (same tag, or same extracted key: the lexically greatest tag stays)\n", s.Duplicates)
	}
	fmt.Fprintf(&b, "candidates: %d", s.Candidates)
	if n := len(res.Candidates); n > 0 {
		list := res.Candidates[:min(n, maxListed)]
		fmt.Fprintf(&b, ", best first: %s", strings.Join(list, " "))
		if n > maxListed {
			fmt.Fprintf(&b, " … and %d more", n-maxListed)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func describeSpec(s policy.Spec) string {
	var parts []string
	parts = append(parts, string(s.Strategy))
	if s.Constraint != "" {
		parts = append(parts, fmt.Sprintf("constraint %q", s.Constraint))
	}
	if s.Loose {
		parts = append(parts, "loose")
	}
	if s.AllowTags != "" {
		parts = append(parts, fmt.Sprintf("allowTags %q", s.AllowTags))
	}
	if s.Extract != "" {
		parts = append(parts, fmt.Sprintf("extract %q", s.Extract))
	}
	for _, g := range s.IgnoreTags {
		parts = append(parts, fmt.Sprintf("ignoreTags %q", g))
	}
	for _, p := range s.Platforms {
		parts = append(parts, "platform "+p)
	}
	if s.Order == "desc" {
		parts = append(parts, "order desc")
	}
	return strings.Join(parts, ", ")
}

func unparsableWhat(s policy.Spec) string {
	switch s.Strategy {
	case policy.Semver:
		if s.Loose {
			return "version"
		}
		return "MAJOR.MINOR.PATCH version"
	case policy.Numerical:
		return "number"
	case policy.NewestBuild:
		return "tag with a build time"
	case policy.Digest:
		return "tag with a digest"
	}
	return "name"
}
