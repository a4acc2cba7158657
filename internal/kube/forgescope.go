package kube

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tagwatch/tagwatch/config"
	"github.com/tagwatch/tagwatch/internal/forge"
	"github.com/tagwatch/tagwatch/internal/plan"
)

// scope is the repositories the config's forge (git.provider) serves in
// Kubernetes mode: those on one host, where its token belongs.
type scope struct {
	host string // "" when no host can be told: the forge serves none
	// what says what was set and, with host, the rule that gave it; with
	// no host, what to set (for messages).
	what string
}

// forgeScopeOf is the scope of forge f, given the config's git.url:
//   - git.provider.url set: its host. GitHub's API host api.<host> serves
//     the repositories of <host> (https://api.github.com: github.com; GitHub
//     Enterprise's https://<host>/api/v3 is on <host> already).
//   - no url: the kind's public service, as the forge's client defaults
//     (github.com, gitlab.com); for Gitea, which has none, the host of
//     git.url (the client takes the API from the repository's host).
//   - a Gitea with neither: no host.
func forgeScopeOf(f *plan.Forge, gitURL string) scope {
	if f == nil {
		return scope{}
	}
	if f.URL != "" {
		u, err := url.Parse(f.URL)
		if err != nil || u.Hostname() == "" {
			return scope{what: fmt.Sprintf("git.provider.url %q names no host: set it to the forge's address", f.URL)}
		}
		host := strings.ToLower(u.Hostname())
		if f.Kind == forge.GitHub {
			if rest, ok := strings.CutPrefix(host, "api."); ok && strings.Contains(rest, ".") {
				host = rest
			}
		}
		return scope{host: host, what: fmt.Sprintf("git.provider (%s, url %s) serves the repositories on %s, the host of its url", f.Kind, u.Redacted(), host)}
	}
	switch f.Kind {
	case forge.GitHub:
		return scope{host: "github.com", what: "git.provider (github, no url: GitHub's API at api.github.com) serves the repositories on github.com"}
	case forge.GitLab:
		return scope{host: "gitlab.com", what: "git.provider (gitlab, no url: gitlab.com) serves the repositories on gitlab.com"}
	}
	if h := strings.ToLower(config.GitHost(gitURL)); h != "" {
		return scope{host: h, what: fmt.Sprintf("git.provider (%s, no url) serves the repositories on %s, the host of git.url", f.Kind, h)}
	}
	return scope{what: fmt.Sprintf("git.provider (%s) has neither url nor a git.url to take the forge's host from: set git.provider.url to the forge's address", f.Kind)}
}

// writeDefaults gives an Applications' repository the config's signer
// and, when it is in the forge's scope, its forge (with the repository's
// path there). When it gets no forge, it returns why.
func (s *Source) writeDefaults(p *plan.Plan) (noForge string) {
	p.Repo.Signer = s.o.signer
	sc := s.o.forgeScope
	host := strings.ToLower(config.GitHost(p.Repo.URL))
	switch {
	case s.o.forge == nil:
		return "the config has no git.provider: set it"
	case sc.host == "":
		return sc.what
	case host != sc.host:
		return fmt.Sprintf("%s, and this repository is on %s: the forge's token goes to its own host only", sc.what, orLocal(host))
	}
	f := *s.o.forge
	var err error
	if f.Repository, err = forge.RepositoryPath(p.Repo.URL); err != nil {
		return fmt.Sprintf("%s, but %v", sc.what, err)
	}
	p.Repo.Forge = &f
	return ""
}

func orLocal(host string) string {
	if host == "" {
		return "no host (a local repository)"
	}
	return host
}

// needForge reports, for the Applications of p in pull-request mode, a
// repository without a forge (why: the reason), and leaves those
// environments out.
func needForge(p *plan.Plan, why string, envOf map[*plan.Environment]*appState, problems map[string][]string) {
	if p.Repo.Forge != nil {
		return
	}
	kept := p.Envs[:0]
	for _, e := range p.Envs {
		st, ok := envOf[e]
		if ok && e.Mode == plan.ModePullRequest {
			problems[st.app.Key()] = append(problems[st.app.Key()], fmt.Sprintf(
				"%smode: pull-request needs a forge for %s: %s", OwnPrefix, p.Repo.Display(), why))
			continue
		}
		kept = append(kept, e)
	}
	p.Envs = kept
}
