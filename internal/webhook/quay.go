package webhook

import (
	"encoding/json"
	"net/http"
	"slices"
)

// quayPayload is a Quay "Repository Push" notification; only the fields
// used are read.
type quayPayload struct {
	DockerURL   string          `json:"docker_url"`
	UpdatedTags json.RawMessage `json:"updated_tags"`
}

// parseQuay reads docker_url ("quay.io/team/app", or the host of a
// self-hosted Quay) and one event per updated tag. updated_tags is a list
// of tags in today's Quay and an object keyed by tag (values: image ids)
// in early quay.io payloads; both are read.
func parseQuay(_ http.Header, body []byte) ([]Event, error) {
	var p quayPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.DockerURL == "" {
		return nil, invalid(`missing "docker_url": not a Quay repository notification`)
	}
	tags, err := quayTags(p.UpdatedTags)
	if err != nil {
		return nil, err
	}
	repo, err := normaliseRepository(p.DockerURL)
	if err != nil {
		return nil, invalid("docker_url: %v", err)
	}
	var evs eventList
	for _, tag := range tags {
		switch {
		case tag == "":
			continue
		case !validTag(tag):
			return nil, invalid("updated_tags: %q is not a valid tag", truncate(tag, 130))
		}
		evs.add(Event{Repository: repo, Tag: tag})
	}
	return evs.events, nil
}

func quayTags(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err == nil {
		return list, nil
	}
	var byTag map[string]json.RawMessage
	if err := json.Unmarshal(raw, &byTag); err != nil {
		return nil, invalid("field updated_tags: want a list of tags (or an object keyed by tag)")
	}
	tags := make([]string, 0, len(byTag))
	for t := range byTag {
		tags = append(tags, t)
	}
	slices.Sort(tags) // map order is random; events are not
	return tags, nil
}
