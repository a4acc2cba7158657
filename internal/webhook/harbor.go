package webhook

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// harborPayload is a Harbor webhook in the "Default" payload format; only
// the fields used are read.
type harborPayload struct {
	Type        string `json:"type"`
	SpecVersion string `json:"specversion"` // set in the CloudEvents format, which is not read
	EventData   *struct {
		Resources []struct {
			Digest      string `json:"digest"`
			Tag         string `json:"tag"`
			ResourceURL string `json:"resource_url"`
		} `json:"resources"`
	} `json:"event_data"`
}

// parseHarbor keeps PUSH_ARTIFACT (Harbor 2) and pushImage (Harbor 1)
// events; other types (pulls, deletes, scans, replication) carry no
// event. The repository comes from resource_url,
// "<external host>/<project>/<repo>:<tag>". Harbor names an untagged push
// by its digest, in tag too ("sha256:…", with "@" in resource_url): it
// carries no event.
func parseHarbor(_ http.Header, body []byte) ([]Event, error) {
	var p harborPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	switch {
	case p.SpecVersion != "":
		return nil, invalid(`a CloudEvent: set the Harbor webhook's payload format to Default`)
	case p.Type == "":
		return nil, invalid(`missing "type": not a Harbor webhook (the payload format must be Default, not CloudEvents)`)
	case p.Type != "PUSH_ARTIFACT" && p.Type != "pushImage":
		return nil, nil
	case p.EventData == nil:
		return nil, invalid(`missing "event_data"`)
	}
	var evs eventList
	for i, r := range p.EventData.Resources {
		if r.Tag == "" || strings.Contains(r.Tag, ":") {
			continue
		}
		field := fmt.Sprintf("event_data.resources[%d].resource_url", i)
		if r.ResourceURL == "" {
			return nil, invalid("%s: missing", field)
		}
		ref, err := name.ParseReference(r.ResourceURL)
		if err != nil {
			return nil, invalid("%s: %q is not an image reference", field, r.ResourceURL)
		}
		ev, err := newEvent(field, ref.Context().Name(), r.Tag, r.Digest)
		if err != nil {
			return nil, err
		}
		evs.add(ev)
	}
	return evs.events, nil
}
