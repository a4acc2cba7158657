package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	d1 = "sha256:52907bfb9222b98aedf930ef6b5298653b314f0b65e3a577bebebb760b898d81"
	d4 = "sha256:9262a5b5a1a1db6b0cd25a060ac4aedfc2c989bbb139c3f655c0232e3362477d"
	d5 = "sha256:5fdf1f7bbdea57d1446efd79a5b03638e60453e7aada8f391e8a6e8f29794e27"
	d6 = "sha256:94cdb64090464c14c268457db890a01c78cee3da62c100d457bd2f5b0372b72a"
	d7 = "sha256:e9460eda151a5b50118d594f4cf19199880a7f7955d6a2a2860589d5a717cf65"
	d3 = "sha256:7afdc12b60fd2b8b02b4787aa45f7b90a93532874f6dbc61473008fc71771a70"
	d8 = "sha256:b874bac2aae6ccd69d260858fb3e4ad2cc4d162285967ad71846b3a8aa5848c4"
)

func ghEvent(kind string) http.Header { return http.Header{"X-Github-Event": {kind}} }

// parseCases pins what each provider sample of testdata/<type>/ turns
// into. TestParseCoversTestdata keeps it and the directory in step.
var parseCases = []struct {
	typ, file string
	header    http.Header
	want      []Event
}{
	{typ: TypeDistribution, file: "push-tag.json", want: []Event{{"registry.example.com/team/app", "1.4.0", d1}}},
	// Blob push, blob mount, push by digest, tagged index push, pull, tag
	// delete: only the tagged push counts.
	{typ: TypeDistribution, file: "push-sequence.json", want: []Event{{"registry.example.com/team/app", "1.5.0-rc.1", d5}}},
	// The host comes from target.url (not request.host), without the
	// scheme's default port.
	{typ: TypeDistribution, file: "host-from-url.json", want: []Event{
		{"registry.example.com/platform/api", "2026.03.14", d6},
		{"127.0.0.1:5000/platform/api", "latest", d7},
	}},
	// relativeurls: true in the registry: the host comes from request.host.
	{typ: TypeDistribution, file: "relative-urls.json", want: []Event{{"mirror.example.com:5443/library/nginx", "1.27.4", d8}}},
	{typ: TypeDistribution, file: "no-push.json"},

	{typ: TypeDockerHub, file: "push.json", want: []Event{{Repository: "index.docker.io/acmecorp/storefront", Tag: "2.3.1"}}},
	{typ: TypeDockerHub, file: "single-name.json", want: []Event{{Repository: "index.docker.io/library/nginx", Tag: "1.27.4-alpine"}}},
	{typ: TypeDockerHub, file: "automated-build-no-tag.json"},

	// package_url has the owner's capitals; GHCR names are lower case.
	{typ: TypeGitHub, file: "package-published.json", header: ghEvent("package"), want: []Event{{"ghcr.io/acmecorp/storefront", "2.3.1", d1}}},
	{typ: TypeGitHub, file: "package-published.json", want: []Event{{"ghcr.io/acmecorp/storefront", "2.3.1", d1}}}, // no X-GitHub-Event: read by shape
	{typ: TypeGitHub, file: "package-untagged.json", header: ghEvent("package")},
	// No package_url: ghcr.io/<owner>/<name>, and a name with a slash.
	{typ: TypeGitHub, file: "registry-package-published.json", header: ghEvent("registry_package"), want: []Event{{"ghcr.io/acmecorp/team/api", "v0.9.0", d3}}},
	{typ: TypeGitHub, file: "package-npm.json", header: ghEvent("package")},
	{typ: TypeGitHub, file: "ping.json", header: ghEvent("ping")},

	{typ: TypeHarbor, file: "push-artifact.json", want: []Event{{"harbor.example.com/team/app", "1.4.0", d1}}},
	{typ: TypeHarbor, file: "push-artifact-untagged.json"},
	{typ: TypeHarbor, file: "push-artifact-port-nested.json", want: []Event{{"harbor.internal:8443/platform/tools/kubectl", "v2.0.0-rc.1", d5}}},
	{typ: TypeHarbor, file: "pull-artifact.json"},
	{typ: TypeHarbor, file: "harbor1-push-image.json", want: []Event{{"hub.harbor.local/library/redis", "v1.0", d6}}},

	{typ: TypeQuay, file: "repository-push.json", want: []Event{
		{Repository: "quay.io/acmecorp/storefront", Tag: "2.3.1"},
		{Repository: "quay.io/acmecorp/storefront", Tag: "latest"},
	}},
	{typ: TypeQuay, file: "repository-push-legacy.json", want: []Event{
		{Repository: "quay.io/acmecorp/storefront", Tag: "2.3.1"},
		{Repository: "quay.io/acmecorp/storefront", Tag: "latest"},
	}},
	{typ: TypeQuay, file: "self-hosted.json", want: []Event{{Repository: "quay.example.com:8443/finance/billing", Tag: "v3.0.0"}}},
	{typ: TypeQuay, file: "build-queued.json"},

	{typ: TypeCloudEvents, file: "ecr-push.json", want: []Event{{"123456789012.dkr.ecr.eu-central-1.amazonaws.com/team/app", "1.4.0", d1}}},
	{typ: TypeCloudEvents, file: "ecr-push-untagged.json"},
	{typ: TypeCloudEvents, file: "ecr-delete.json"},
	{typ: TypeCloudEvents, file: "ecr-push-failed.json"},
	{typ: TypeCloudEvents, file: "ecr-push-china.json", want: []Event{{"210987654321.dkr.ecr.cn-north-1.amazonaws.com.cn/storefront", "2.3.1", d6}}},
	{typ: TypeCloudEvents, file: "ecr-scan.json"},
	{typ: TypeCloudEvents, file: "cloudevent.json", want: []Event{{"registry.example.com/team/app", "1.4.0", d1}}},
	{typ: TypeCloudEvents, file: "cloudevent-ecr.json", want: []Event{{"123456789012.dkr.ecr.us-west-2.amazonaws.com/platform/api", "v0.9.0", d3}}},
	{typ: TypeCloudEvents, file: "cloudevent-base64.json", want: []Event{{Repository: "quay.example.com:8443/finance/billing", Tag: "v3.0.0"}}},

	{typ: TypeGeneric, file: "push.json", want: []Event{{Repository: "registry.example.com/team/app", Tag: "1.4.0"}}},
	{typ: TypeGeneric, file: "push-digest.json", want: []Event{{"registry.example.com/team/app", "1.4.0", d1}}},
	{typ: TypeGeneric, file: "no-tag.json", want: []Event{{Repository: "index.docker.io/library/nginx"}}},
}

func readTestdata(t testing.TB, typ, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", typ, file))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParse(t *testing.T) {
	for _, tc := range parseCases {
		t.Run(tc.typ+"/"+tc.file, func(t *testing.T) {
			got, err := providers[tc.typ].parse(tc.header, readTestdata(t, tc.typ, tc.file))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseCoversTestdata: every sample under testdata/<type>/ is pinned
// by parseCases, and every type has samples.
func TestParseCoversTestdata(t *testing.T) {
	pinned := map[string]bool{}
	for _, tc := range parseCases {
		pinned[filepath.Join(tc.typ, tc.file)] = true
	}
	for _, typ := range Types() {
		files, err := filepath.Glob(filepath.Join("testdata", typ, "*.json"))
		if err != nil || len(files) == 0 {
			t.Errorf("no samples in testdata/%s", typ)
		}
		for _, f := range files {
			if rel, _ := filepath.Rel("testdata", f); !pinned[rel] {
				t.Errorf("testdata/%s is not in parseCases", rel)
			}
		}
	}
}

func TestParseInvalid(t *testing.T) {
	ecr := func(account, region, repo string) string {
		return `{"detail-type":"ECR Image Action","source":"aws.ecr","account":"` + account + `","region":"` + region +
			`","detail":{"result":"SUCCESS","action-type":"PUSH","repository-name":"` + repo + `","image-tag":"1.0"}}`
	}
	ghPkg := func(pkg string) string { return `{"action":"published","package":` + pkg + `}` }
	tests := []struct {
		typ     string
		header  http.Header
		body    string
		wantErr string
	}{
		{typ: TypeDistribution, body: `{}`, wantErr: `missing "events"`},
		{typ: TypeDistribution, body: `{"events": {}}`, wantErr: "field events: want an array, got JSON object"},
		{typ: TypeDistribution, body: `{"events": [{"action": "push", "target": {"tag": 7}}]}`, wantErr: "field events.target.tag: want a string, got JSON number"},

		{typ: TypeDockerHub, body: `{"push_data": {"tag": "1.0"}}`, wantErr: `missing "repository.repo_name"`},
		{typ: TypeDockerHub, body: `{"repository": {"repo_name": "acme/app"}}`, wantErr: `missing "push_data"`},
		{typ: TypeDockerHub, body: `{"push_data": {"tag": 1}, "repository": {"repo_name": "acme/app"}}`, wantErr: "field push_data.tag: want a string, got JSON number"},
		{typ: TypeDockerHub, body: `{"push_data": {"tag": "1.0"}, "repository": {"repo_name": "Acme/App"}}`, wantErr: `repository.repo_name: "docker.io/Acme/App" is not a valid image repository`},

		{typ: TypeGitHub, header: ghEvent("package"), body: `{"action": "published"}`, wantErr: `missing "package"`},
		{typ: TypeGitHub, header: ghEvent("registry_package"), body: ghPkg(`{}`), wantErr: `missing "registry_package"`},
		{typ: TypeGitHub, header: ghEvent("package"), body: ghPkg(`{"package_type":"CONTAINER"}`), wantErr: "missing package.package_version"},
		{typ: TypeGitHub, header: ghEvent("package"), body: ghPkg(`{"package_type":"CONTAINER","package_version":{"package_url":"ghcr.io/a b/c:1","container_metadata":{"tag":{"name":"1"}}}}`), wantErr: `package.package_version.package_url: "ghcr.io/a b/c" is not a valid image repository`},
		{typ: TypeGitHub, header: ghEvent("package"), body: ghPkg(`{"package_type":"CONTAINER","package_version":{"container_metadata":{"tag":{"name":"1"}}}}`), wantErr: "package.name: missing repository"},

		{typ: TypeHarbor, body: `{}`, wantErr: `missing "type"`},
		{typ: TypeHarbor, body: `{"specversion": "1.0", "type": "harbor.artifact.pushed", "data": {}}`, wantErr: "payload format to Default"},
		{typ: TypeHarbor, body: `{"type": "PUSH_ARTIFACT"}`, wantErr: `missing "event_data"`},
		{typ: TypeHarbor, body: `{"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "1.0"}]}}`, wantErr: "event_data.resources[0].resource_url: missing"},
		{typ: TypeHarbor, body: `{"type": "PUSH_ARTIFACT", "event_data": {"resources": [{"tag": "1.0", "resource_url": "https://harbor/x:1.0"}]}}`, wantErr: `"https://harbor/x:1.0" is not an image reference`},

		{typ: TypeQuay, body: `{"updated_tags": ["1.0"]}`, wantErr: `missing "docker_url"`},
		{typ: TypeQuay, body: `{"docker_url": "quay.io/a/b", "updated_tags": 5}`, wantErr: "field updated_tags: want a list of tags"},
		{typ: TypeQuay, body: `{"docker_url": "quay.io/a/b:1", "updated_tags": ["1"]}`, wantErr: `docker_url: "quay.io/a/b:1" names a tag or digest`},

		{typ: TypeCloudEvents, body: `{"id": "x"}`, wantErr: "neither a CloudEvent"},
		{typ: TypeCloudEvents, body: `[{"specversion": "1.0"}]`, wantErr: "batches are not supported"},
		{typ: TypeCloudEvents, header: http.Header{"Ce-Specversion": {"1.0"}}, body: `{"repository": "a/b"}`, wantErr: "binary content mode is not supported"},
		{typ: TypeCloudEvents, body: `{"specversion": "0.3", "data": {}}`, wantErr: `specversion "0.3": only CloudEvents 1.x`},
		{typ: TypeCloudEvents, body: `{"specversion": "1.0"}`, wantErr: `missing "data"`},
		{typ: TypeCloudEvents, body: `{"specversion": "1.0", "data_base64": "!!"}`, wantErr: "data_base64: not base64"},
		{typ: TypeCloudEvents, body: `{"specversion": "1.0", "data": "text"}`, wantErr: "data: want a JSON object, got JSON string"},
		{typ: TypeCloudEvents, body: `{"specversion": "1.0", "data": {"tag": "1.0"}}`, wantErr: "data.repository: missing repository"},
		{typ: TypeCloudEvents, body: ecr("1234", "eu-central-1", "team/app"), wantErr: "account: want a 12-digit AWS account id"},
		{typ: TypeCloudEvents, body: ecr("123456789012", "europe", "team/app"), wantErr: `region: "europe" is not an AWS region`},
		{typ: TypeCloudEvents, body: ecr("123456789012", "eu-central-1", "Team"), wantErr: "detail.repository-name:"},
		{typ: TypeCloudEvents, body: `{"detail-type": "ECR Image Action"}`, wantErr: "missing detail"},
		{typ: TypeCloudEvents, body: `{"specversion": "1.0", "data": {"detail-type": "ECR Image Action", "detail": {"action-type": "PUSH", "result": "SUCCESS", "image-tag": "1"}, "account": "1"}}`, wantErr: "data.account: want a 12-digit"},

		{typ: TypeGeneric, body: `{"tag": "1.4.0"}`, wantErr: `missing "image"`},
		{typ: TypeGeneric, body: `{"image": "registry.example.com/team/app:1.4.0"}`, wantErr: `image: "registry.example.com/team/app:1.4.0" names a tag or digest: want the repository alone`},
		{typ: TypeGeneric, body: `{"image": "registry.example.com/team/app", "tag": "1.4.0/x"}`, wantErr: `image: "1.4.0/x" is not a valid tag`},
		{typ: TypeGeneric, body: `{"image": "registry.example.com/team/app", "digest": "md5:00"}`, wantErr: `image: "md5:00" is not a valid digest`},
		{typ: TypeGeneric, body: `{"image": "registry.example.com//app"}`, wantErr: "is not a valid image repository"},
		{typ: TypeGeneric, body: `{"image": ["a"]}`, wantErr: "field image: want a string, got JSON array"},
	}
	// Every type refuses what is not JSON, or not an object, the same way.
	for _, typ := range Types() {
		tests = append(tests,
			struct {
				typ     string
				header  http.Header
				body    string
				wantErr string
			}{typ: typ, body: "  \n", wantErr: "empty body: want a JSON object"},
			struct {
				typ     string
				header  http.Header
				body    string
				wantErr string
			}{typ: typ, body: `{"a": `, wantErr: "malformed JSON"},
			struct {
				typ     string
				header  http.Header
				body    string
				wantErr string
			}{typ: typ, body: `"push"`, wantErr: "want a JSON object, got JSON string"},
		)
	}
	for _, tc := range tests {
		t.Run(tc.typ+"/"+tc.body, func(t *testing.T) {
			got, err := providers[tc.typ].parse(tc.header, []byte(tc.body))
			if err == nil {
				t.Fatalf("parse = %v, want an error containing %q", got, tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", err, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidPayload) {
				t.Errorf("error %q does not wrap ErrInvalidPayload", err)
			}
			if got != nil {
				t.Errorf("events %v returned with the error", got)
			}
		})
	}
}

// TestParseDistributionSkipsUnreadableEvents: an event of a valid
// envelope that tagwatch cannot name is skipped (and an unreadable digest
// dropped), not refused: docker-registry would retry the envelope forever
// and hold every later notification behind it.
func TestParseDistributionSkipsUnreadableEvents(t *testing.T) {
	event := func(target string) string {
		return `{"action":"push","target":` + target + `,"request":{"host":"registry.example.com"}}`
	}
	good := event(`{"repository":"team/app","tag":"1.4.0"}`)
	tests := []struct {
		name, event string
		want        []Event
	}{
		{"upper case", event(`{"repository":"Team/App","tag":"1.0"}`), nil},
		{"bad tag", event(`{"repository":"team/app","tag":"1 0"}`), nil},
		{"no repository", event(`{"repository":"","tag":"1.0"}`), nil},
		{"no host", `{"action":"push","target":{"repository":"team/app","tag":"1.0","url":"/v2/x"}}`, nil},
		{"bad digest", event(`{"repository":"team/other","tag":"1.0","digest":"sha256:abc"}`), []Event{{Repository: "registry.example.com/team/other", Tag: "1.0"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseDistribution(nil, []byte(`{"events":[`+tc.event+`,`+good+`]}`))
			if err != nil {
				t.Fatal(err)
			}
			want := append(tc.want, Event{Repository: "registry.example.com/team/app", Tag: "1.4.0"})
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParseBoundsEvents: past maxEvents, a payload yields only events of
// repositories it has not named yet.
func TestParseBoundsEvents(t *testing.T) {
	tags := make([]string, 0, 3*maxEvents)
	for i := range cap(tags) {
		tags = append(tags, fmt.Sprintf(`"1.0.%d"`, i))
	}
	got, err := parseQuay(nil, []byte(`{"docker_url": "quay.io/acme/app", "updated_tags": [`+strings.Join(tags, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != maxEvents || got[0].Tag != "1.0.0" || got[maxEvents-1].Tag != fmt.Sprintf("1.0.%d", maxEvents-1) {
		t.Errorf("%d events, first %v, last %v; want the first %d tags", len(got), got[0], got[len(got)-1], maxEvents)
	}

	var l eventList
	for i := range maxEvents + 10 {
		l.add(Event{Repository: "quay.io/acme/app", Tag: fmt.Sprint(i)})
	}
	l.add(Event{Repository: "quay.io/acme/other", Tag: "1"})
	if n := len(l.events); n != maxEvents+1 || l.events[n-1].Repository != "quay.io/acme/other" {
		t.Errorf("%d events, last %v: want a new repository still listed past the bound", n, l.events[n-1])
	}
}
