package webhook

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
)

// cloudEnvelope holds the top-level fields of both shapes the cloudevents
// type reads: an Amazon EventBridge event (as an API destination posts
// it) and a CloudEvent in structured JSON mode.
type cloudEnvelope struct {
	// EventBridge
	DetailType string          `json:"detail-type"`
	Account    string          `json:"account"`
	Region     string          `json:"region"`
	Detail     json.RawMessage `json:"detail"`
	// CloudEvents 1.0
	SpecVersion string          `json:"specversion"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
}

// ecrDetail is the detail of an "ECR Image Action" event.
type ecrDetail struct {
	Result         string `json:"result"`
	RepositoryName string `json:"repository-name"`
	ImageDigest    string `json:"image-digest"`
	ActionType     string `json:"action-type"`
	ImageTag       string `json:"image-tag"`
}

// imageData is the data of a generic CloudEvent.
type imageData struct {
	Repository string `json:"repository"`
	Tag        string `json:"tag"`
	Digest     string `json:"digest"`
}

// parseCloudEvents reads, in this order:
//   - an EventBridge "ECR Image Action" event: action-type PUSH with result
//     SUCCESS and an image-tag is an event for
//     <account>.dkr.ecr.<region>.amazonaws.com/<repository-name>; other
//     ECR actions and other EventBridge events carry none;
//   - a structured-mode CloudEvent (any type) whose data is such an
//     EventBridge event, or {"repository", "tag", "digest"} with
//     repository a full image repository ("registry.example.com/team/app")
//     and tag and digest optional. data_base64 is read like data.
//
// Binary-mode CloudEvents (attributes in ce-* headers) and batches are
// refused with a message saying so.
func parseCloudEvents(h http.Header, body []byte) ([]Event, error) {
	if h.Get("Ce-Specversion") != "" {
		return nil, invalid("binary content mode is not supported: send the CloudEvent in structured mode (Content-Type: application/cloudevents+json)")
	}
	var env cloudEnvelope
	if err := decode(body, &env); err != nil {
		if strings.HasPrefix(strings.TrimSpace(string(body)), "[") {
			return nil, invalid("CloudEvents batches are not supported: send one event per request")
		}
		return nil, err
	}
	switch {
	case env.DetailType != "":
		return parseEventBridge(env, "")
	case env.SpecVersion == "":
		return nil, invalid(`neither a CloudEvent (no "specversion") nor an EventBridge event (no "detail-type")`)
	case !strings.HasPrefix(env.SpecVersion, "1."):
		return nil, invalid("specversion %q: only CloudEvents 1.x is read", truncate(env.SpecVersion, 20))
	}
	data, field := env.Data, "data"
	if env.DataBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(env.DataBase64)
		if err != nil {
			return nil, invalid("data_base64: not base64")
		}
		data, field = b, "data_base64"
	}
	if len(data) == 0 || string(data) == "null" {
		return nil, invalid("missing %q: want {\"repository\": …, \"tag\": …}", field)
	}
	var inner cloudEnvelope
	if err := decode(data, &inner); err != nil {
		return nil, invalid("%s: %v", field, err)
	}
	if inner.DetailType != "" {
		return parseEventBridge(inner, field+".")
	}
	var d imageData
	if err := decode(data, &d); err != nil {
		return nil, invalid("%s: %v", field, err)
	}
	ev, err := newEvent(field+".repository", d.Repository, d.Tag, d.Digest)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}

var (
	awsAccountRE = regexp.MustCompile(`^[0-9]{12}$`)
	awsRegionRE  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// parseEventBridge reads an ECR Image Action; prefix locates env in the
// body for errors ("" or "data.").
func parseEventBridge(env cloudEnvelope, prefix string) ([]Event, error) {
	if env.DetailType != "ECR Image Action" {
		return nil, nil
	}
	var d ecrDetail
	if len(env.Detail) == 0 {
		return nil, invalid("missing %sdetail", prefix)
	}
	if err := decode(env.Detail, &d); err != nil {
		return nil, invalid("%sdetail: %v", prefix, err)
	}
	if d.ActionType != "PUSH" || d.Result != "SUCCESS" || d.ImageTag == "" {
		return nil, nil
	}
	if !awsAccountRE.MatchString(env.Account) {
		return nil, invalid("%saccount: want a 12-digit AWS account id", prefix)
	}
	if !awsRegionRE.MatchString(env.Region) {
		return nil, invalid("%sregion: %q is not an AWS region", prefix, truncate(env.Region, 30))
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(env.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	host := env.Account + ".dkr.ecr." + env.Region + "." + domain
	ev, err := newEvent(prefix+"detail.repository-name", host+"/"+d.RepositoryName, d.ImageTag, d.ImageDigest)
	if err != nil {
		return nil, err
	}
	return []Event{ev}, nil
}
