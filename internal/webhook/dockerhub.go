package webhook

import (
	"net/http"
	"strings"
)

// dockerHubPayload is a Docker Hub repository webhook; only the fields
// used are read.
type dockerHubPayload struct {
	PushData *struct {
		Tag string `json:"tag"`
	} `json:"push_data"`
	Repository *struct {
		RepoName string `json:"repo_name"`
	} `json:"repository"`
}

// parseDockerHub reads repository.repo_name ("team/app", or "nginx" for an
// official image) and push_data.tag. The repository is always on Docker
// Hub: "index.docker.io/team/app", "index.docker.io/library/nginx".
func parseDockerHub(_ http.Header, body []byte) ([]Event, error) {
	var p dockerHubPayload
	if err := decode(body, &p); err != nil {
		return nil, err
	}
	if p.Repository == nil || p.Repository.RepoName == "" {
		return nil, invalid(`missing "repository.repo_name": not a Docker Hub webhook`)
	}
	if p.PushData == nil {
		return nil, invalid(`missing "push_data": not a Docker Hub webhook`)
	}
	if p.PushData.Tag == "" {
		return nil, nil
	}
	// "docker.io/" pins the registry: a repo_name is never read as a host.
	ev, err := newEvent("repository.repo_name", "docker.io/"+strings.TrimPrefix(p.Repository.RepoName, "/"), p.PushData.Tag, "")
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}
