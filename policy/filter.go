package policy

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// Filter rules, the keys of Stats.Filtered. A dropped tag is counted once,
// under the first rule that drops it, in this order.
const (
	RuleCosign     = "cosign"     // signatures, attestations, SBOMs: *.sig, *.att, *.sbom, sha256-*
	RuleIgnoreTags = "ignoreTags" // matched an ignoreTags glob
	RuleAllowTags  = "allowTags"  // not matched by allowTags
	RuleDigestTag  = "digest-tag" // digest strategy: not the tag being followed
	RulePlatforms  = "platforms"  // does not provide every platform of Spec.Platforms
	RuleConstraint = "constraint" // semver: outside the constraint
)

// rule indexes ruleNames; counting in an array keeps maps out of the loop.
type rule uint8

const (
	keep rule = iota
	ruleCosign
	ruleIgnoreTags
	ruleAllowTags
	ruleDigestTag
	rulePlatforms
	ruleConstraint
	nRules
)

var ruleNames = [nRules]string{"", RuleCosign, RuleIgnoreTags, RuleAllowTags, RuleDigestTag, RulePlatforms, RuleConstraint}

// allowFunc reports whether a tag passes allowTags, and for a regexp the
// submatch indices extract expands.
type allowFunc func(tag string) (ok bool, match []int)

// compileFilters compiles allowTags, ignoreTags, extract and platforms,
// returning every problem found.
func (p *Policy) compileFilters(spec *Spec) []error {
	var errs []error
	allowErr := p.compileAllow(spec)
	if allowErr != nil {
		errs = append(errs, allowErr)
	}
	for i, g := range spec.IgnoreTags {
		field := fmt.Sprintf("ignoreTags[%d]", i)
		if expr, ok := strings.CutPrefix(g, RegexpPrefix); ok {
			re, err := regexp.Compile(expr)
			if err != nil {
				errs = append(errs, invalid(field, g, "%v", err))
				continue
			}
			p.ignore = append(p.ignore, glob{pattern: g, re: re})
			continue
		}
		if looksLikeRegexp(g) {
			errs = append(errs, invalid(field, g, "%s", regexpHint(g)))
			continue
		}
		if _, err := path.Match(g, ""); err != nil {
			errs = append(errs, invalid(field, g, "%v", err))
			continue
		}
		p.ignore = append(p.ignore, compileGlob(g))
	}
	if spec.Extract != "" {
		switch {
		case spec.Strategy == NewestBuild || spec.Strategy == Digest:
			errs = append(errs, invalid("extract", spec.Extract, "only semver, alphabetical and numerical rank an extracted key"))
		case allowErr != nil:
			// allowTags is reported; its groups are unknown.
		case p.allowRE == nil:
			errs = append(errs, invalid("extract", spec.Extract, "needs allowTags to be a regular expression with the groups it references"))
		default:
			if err := checkTemplate(spec.Extract, p.allowRE); err != nil {
				errs = append(errs, invalid("extract", spec.Extract, "%v", err))
			} else {
				p.extract = spec.Extract
			}
		}
	}
	for i, s := range spec.Platforms {
		pl, ok := parsePlatform(s)
		if !ok {
			errs = append(errs, invalid(fmt.Sprintf("platforms[%d]", i), s, "not os/arch or os/arch/variant"))
			continue
		}
		p.platforms = append(p.platforms, pl)
	}
	return errs
}

// RegexpPrefix marks an ignoreTags entry as a regular expression (RE2,
// unanchored) instead of a glob: "regexp:^v\d+-debug$".
const RegexpPrefix = "regexp:"

// looksLikeRegexp reports an ignoreTags glob that is a regular expression
// in all but name: anchored at either end. As a glob it would match only
// tags that start with "^" or end with "$", which no valid tag does, so it
// would silently ignore nothing.
func looksLikeRegexp(g string) bool {
	return strings.HasPrefix(g, "^") || strings.HasSuffix(g, "$")
}

// regexpHint says how to write what g most likely means: as a regular
// expression, and as a glob when one says the same.
func regexpHint(g string) string {
	msg := fmt.Sprintf("ignoreTags are globs, and this looks like a regular expression, which as a glob matches no tag: write %q to use it as a regular expression", RegexpPrefix+g)
	if alt, ok := globFor(g); ok {
		msg += fmt.Sprintf(", or the glob %q", alt)
	}
	return msg
}

// globFor translates the simplest regular expressions (anchors, literal
// text, ".*" and "\.") into the glob that matches the same tags.
func globFor(re string) (string, bool) {
	body := strings.TrimPrefix(re, "^")
	anchoredStart, anchoredEnd := body != re, strings.HasSuffix(body, "$") && !strings.HasSuffix(body, `\$`)
	body = strings.TrimSuffix(body, "$")
	var b strings.Builder
	if !anchoredStart {
		b.WriteByte('*')
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '.' && i+1 < len(body) && body[i+1] == '*':
			b.WriteByte('*')
			i++
		case c == '\\' && i+1 < len(body) && (body[i+1] == '.' || body[i+1] == '-' || body[i+1] == '_'):
			b.WriteByte(body[i+1])
			i++
		case isNameByte(c) || c == '-':
			b.WriteByte(c)
		default:
			return "", false // a class, a group, a quantifier: no glob says it
		}
	}
	if !anchoredEnd {
		b.WriteByte('*')
	}
	g := b.String()
	for strings.Contains(g, "**") {
		g = strings.ReplaceAll(g, "**", "*")
	}
	return g, true
}

func (p *Policy) compileAllow(spec *Spec) error {
	expr := spec.AllowTags
	if spec.ArgoCompat {
		// Argo CD Image Updater: "" and "any" allow everything, "regexp:<RE>"
		// a regexp; anything else, or an invalid regexp, allows nothing.
		switch {
		case expr == "" || expr == "any":
			return nil
		case strings.HasPrefix(expr, "regexp:"):
			re, err := regexp.Compile(strings.TrimPrefix(expr, "regexp:"))
			if err != nil {
				p.allow = func(string) (bool, []int) { return false, nil }
				return nil
			}
			p.setAllowRE(re)
			return nil
		default:
			p.allow = func(string) (bool, []int) { return false, nil }
			return nil
		}
	}
	if expr == "" {
		return nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return invalid("allowTags", expr, "%v", err)
	}
	p.setAllowRE(re)
	return nil
}

func (p *Policy) setAllowRE(re *regexp.Regexp) {
	p.allowRE = re
	p.allow = func(tag string) (bool, []int) {
		m := re.FindStringSubmatchIndex(tag)
		return m != nil, m
	}
}

// glob is an ignoreTags pattern. The common shapes (a literal, "*x",
// "x*", "*x*", "*") are matched with string functions, everything else by
// path.Match, which they agree with (FuzzGlob).
type glob struct {
	pattern string
	shape   byte // '=' literal, '<' "x*", '>' "*x", '~' "*x*", 0: path.Match
	lit     string
	re      *regexp.Regexp // a "regexp:" entry: matched by re alone
}

func compileGlob(pattern string) glob {
	g := glob{pattern: pattern}
	inner := strings.TrimSuffix(strings.TrimPrefix(pattern, "*"), "*")
	if strings.ContainsAny(inner, "*?[\\") {
		return g
	}
	lead, trail := strings.HasPrefix(pattern, "*"), len(pattern) > 1 && strings.HasSuffix(pattern, "*")
	switch {
	case pattern == "*":
		g.shape = '~' // contains ""
	case lead && trail:
		g.shape = '~'
	case lead:
		g.shape = '>'
	case trail:
		g.shape = '<'
	default:
		g.shape = '='
	}
	g.lit = inner
	return g
}

func (g glob) match(tag string) bool {
	if g.re != nil {
		return g.re.MatchString(tag)
	}
	if g.shape == '=' {
		return tag == g.lit
	}
	if g.shape == 0 || strings.Contains(tag, "/") { // '*' does not match '/'
		ok, _ := path.Match(g.pattern, tag)
		return ok
	}
	switch g.shape {
	case '<':
		return strings.HasPrefix(tag, g.lit)
	case '>':
		return strings.HasSuffix(tag, g.lit)
	}
	return strings.Contains(tag, g.lit)
}

// isCosign reports the tags sigstore's cosign stores beside images.
func isCosign(tag string) bool {
	return strings.HasSuffix(tag, ".sig") || strings.HasSuffix(tag, ".att") ||
		strings.HasSuffix(tag, ".sbom") || strings.HasPrefix(tag, "sha256-")
}

// nameRule returns the rule that drops tag ("" when it survives) and the
// tag's sort key (the extract template expanded, or the tag itself).
func (p *Policy) nameRule(tag string) (r rule, key string) {
	if isCosign(tag) {
		return ruleCosign, ""
	}
	for _, g := range p.ignore {
		if g.match(tag) {
			return ruleIgnoreTags, ""
		}
	}
	key = tag
	if p.allow != nil {
		ok, m := p.allow(tag)
		if !ok {
			return ruleAllowTags, ""
		}
		if p.extract != "" {
			key = string(p.allowRE.ExpandString(nil, p.extract, tag, m))
		}
	}
	if p.spec.Strategy == Digest && tag != p.spec.Constraint {
		return ruleDigestTag, ""
	}
	return keep, key
}

// keyOf returns the sort key of a tag regardless of cosign, ignoreTags and
// digest rules: used to rank the value in Git. ok is false when extract is
// set and allowTags does not match tag.
func (p *Policy) keyOf(tag string) (key string, ok bool) {
	if p.extract == "" {
		return tag, true
	}
	m := p.allowRE.FindStringSubmatchIndex(tag)
	if m == nil {
		return "", false
	}
	return string(p.allowRE.ExpandString(nil, p.extract, tag, m)), true
}

// checkTemplate validates an extract template the way regexp.Expand reads
// it: $name or ${name} (name: letters, digits, underscore; all digits = a
// group number), $$ for a literal $. Every reference must name a group of
// re, and there must be at least one: otherwise every tag gets the same key.
func checkTemplate(tmpl string, re *regexp.Regexp) error {
	refs := 0
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			continue
		}
		i++
		if i == len(tmpl) {
			return errors.New("a trailing $ (write $$ for a literal $)")
		}
		if tmpl[i] == '$' {
			continue
		}
		var name string
		if tmpl[i] == '{' {
			end := strings.IndexByte(tmpl[i:], '}')
			if end < 0 {
				return errors.New("unterminated ${")
			}
			name = tmpl[i+1 : i+end]
			i += end
			if name == "" || !isGroupName(name) {
				return fmt.Errorf("${%s} is not a group reference", name)
			}
		} else {
			j := i
			for j < len(tmpl) && isNameByte(tmpl[j]) {
				j++
			}
			name = tmpl[i:j]
			if name == "" {
				return fmt.Errorf("$ at offset %d is not followed by a group name (write $$ for a literal $)", i-1)
			}
			i = j - 1
		}
		if n, err := strconv.Atoi(name); err == nil {
			if n > re.NumSubexp() {
				return fmt.Errorf("group %d does not exist: allowTags has %d groups", n, re.NumSubexp())
			}
		} else if re.SubexpIndex(name) < 0 {
			if isDigitsThenName(name) {
				return fmt.Errorf("group %q does not exist (write ${%s}%s to follow a group number with text)", name, leadingDigits(name), name[len(leadingDigits(name)):])
			}
			return fmt.Errorf("group %q does not exist in allowTags", name)
		}
		refs++
	}
	if refs == 0 {
		return errors.New("references no group of allowTags, so every tag would get the same key")
	}
	return nil
}

func isNameByte(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isGroupName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return true
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func isDigitsThenName(s string) bool {
	d := leadingDigits(s)
	return d != "" && len(d) < len(s)
}

// validTag reports whether s is a valid OCI tag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isNameByte(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// platform is os/arch[/variant].
type platform struct{ os, arch, variant string }

func parsePlatform(s string) (platform, bool) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 {
		return platform{}, false
	}
	for _, p := range parts {
		if p == "" {
			return platform{}, false
		}
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-') {
				return platform{}, false
			}
		}
	}
	pl := platform{os: parts[0], arch: parts[1]}
	if len(parts) == 3 {
		pl.variant = parts[2]
	}
	return pl, true
}

// matches reports whether an image platform satisfies the wanted one: a
// wanted platform without variant accepts any variant.
func (want platform) matches(have string) bool {
	h, ok := parsePlatform(have)
	if !ok {
		return false
	}
	return h.os == want.os && h.arch == want.arch && (want.variant == "" || h.variant == want.variant)
}

// platformsOK reports whether t provides every wanted platform.
func (p *Policy) platformsOK(t *Tag) bool {
	for _, want := range p.platforms {
		found := false
		for _, have := range t.Platforms {
			if want.matches(have.Platform) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Key returns the sort key of tag: the extract template expanded over
// allowTags' match, or the tag itself. ok is false when a name rule
// (cosign, ignoreTags, allowTags, digest tag) drops tag.
func (p *Policy) Key(tag string) (key string, ok bool) {
	r, key := p.nameRule(tag)
	return key, r == keep
}
