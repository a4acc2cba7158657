package webhook

import "net/http"

// genericPayload is tagwatch's own webhook body.
type genericPayload struct {
	Image  string `json:"image"`
	Tag    string `json:"tag"`
	Digest string `json:"digest"`
}

// parseGeneric reads {"image": "registry.example.com/team/app", "tag":
// "1.4.0"} ("digest": "sha256:…" optional). image is the repository as a
// tagwatch config writes it; tag may be left out ("something was pushed
// to image"). Unknown fields are ignored, so a sender may add its own.
func parseGeneric(_ http.Header, body []byte) ([]Event, error) {
	var p genericPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Image == "" {
		return nil, invalid(`missing "image": want {"image": "registry.example.com/team/app", "tag": "1.4.0"}`)
	}
	ev, err := newEvent("image", p.Image, p.Tag, p.Digest)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}
