package webhook

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// distributionEnvelope is the CNCF distribution notification envelope
// (media type application/vnd.docker.distribution.events.v1+json), as
// Debian's docker-registry 2.8 sends it; only the fields used are read.
type distributionEnvelope struct {
	Events *[]struct {
		Action string `json:"action"`
		Target struct {
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			URL        string `json:"url"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

// parseDistribution keeps the push events of tagged manifests. The
// registry names the repository without its host ("team/app"); the host
// comes from target.url (which honours the registry's http.host and
// X-Forwarded-Host) or else request.host, so that the event names the
// image as a client of that registry, and a tagwatch config, write it.
//
// An event it cannot read (no host, a name go-containerregistry refuses)
// is skipped, and a digest it cannot read dropped, rather than refusing
// the envelope: the registry retries any answer of 400 or more forever and
// holds the endpoint's queue meanwhile, so one such event would stall every
// notification after it. Nothing is lost: the config normalises images with
// the same rules, so no config can watch a repository that fails them.
// An envelope that is not JSON, or has no events list, is refused.
func parseDistribution(_ http.Header, body []byte) ([]Event, error) {
	var env distributionEnvelope
	if err := decode(body, &env); err != nil {
		return nil, err
	}
	if env.Events == nil {
		return nil, invalid(`missing "events": not a distribution notification envelope`)
	}
	var evs eventList
	for _, e := range *env.Events {
		if e.Action != "push" || e.Target.Tag == "" {
			continue // pulls, deletes, mounts, blob pushes, pushes by digest
		}
		host := registryHost(e.Target.URL)
		if host == "" {
			host = e.Request.Host
		}
		if host == "" {
			continue
		}
		repo := host + "/" + e.Target.Repository
		ev, err := newEvent("", repo, e.Target.Tag, e.Target.Digest)
		if err != nil {
			if ev, err = newEvent("", repo, e.Target.Tag, ""); err != nil {
				continue
			}
		}
		evs.add(ev)
	}
	return evs.events, nil
}

// registryHost returns the host[:port] of an absolute URL, without the
// scheme's default port (a client writes "registry.example.com", not
// "registry.example.com:443"); "" for a relative or unparsable URL.
func registryHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err == nil && (u.Scheme == "https" && port == "443" || u.Scheme == "http" && port == "80") {
		if strings.Contains(host, ":") { // IPv6 literal
			return "[" + host + "]"
		}
		return host
	}
	return u.Host
}
