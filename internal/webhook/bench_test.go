package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"testing"
)

// BenchmarkParse parses each type's sample payload.
func BenchmarkParse(b *testing.B) {
	for _, typ := range Types() {
		s := samples[typ]
		body := readTestdata(b, typ, s.file)
		b.Run(typ, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := providers[typ].parse(s.header, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseDistributionBatch parses an envelope of 100 events (a
// registry catching up after tagwatch was away): 50 blob pushes and 50
// tagged manifest pushes over 10 repositories.
func BenchmarkParseDistributionBatch(b *testing.B) {
	type target struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		URL        string `json:"url"`
		Tag        string `json:"tag,omitempty"`
	}
	type event struct {
		Action  string            `json:"action"`
		Target  target            `json:"target"`
		Request map[string]string `json:"request"`
	}
	var evs []event
	for i := range 50 {
		repo := fmt.Sprintf("team%d/app", i%10)
		evs = append(evs,
			event{"push", target{"application/octet-stream", d3, repo, "https://registry.example.com/v2/" + repo + "/blobs/" + d3, ""}, map[string]string{"host": "registry.example.com"}},
			event{"push", target{"application/vnd.oci.image.manifest.v1+json", d1, repo, "https://registry.example.com/v2/" + repo + "/manifests/" + d1, fmt.Sprintf("1.%d.0", i)}, map[string]string{"host": "registry.example.com"}})
	}
	body, err := json.Marshal(map[string]any{"events": evs})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := parseDistribution(nil, body)
		if err != nil || len(got) != 50 {
			b.Fatalf("%d events, %v", len(got), err)
		}
	}
}

// BenchmarkHandler serves whole requests: a bearer-authenticated
// distribution notification, a signed generic one, and a signed body of
// the largest accepted size (the HMAC over 1 MiB dominates).
func BenchmarkHandler(b *testing.B) {
	h, err := NewHandler(func(string, []Event) {},
		WithSecret(TypeDistribution, staticSecret(testSecret)), WithSecret(TypeGeneric, staticSecret(testSecret)))
	if err != nil {
		b.Fatal(err)
	}
	generic := []byte(`{"image": "registry.example.com/team/app", "tag": "1.4.0"}`)
	largest := append(bytes.Clone(generic), bytes.Repeat([]byte(" "), MaxBodyBytes-len(generic))...)
	cases := []struct {
		name, typ string
		body      []byte
	}{
		{"distribution", TypeDistribution, readTestdata(b, TypeDistribution, "push-tag.json")},
		{"generic", TypeGeneric, generic},
		{"generic-1MiB", TypeGeneric, largest},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, request(c.typ, "POST", c.body, nil, rightly))
				if w.Code != 202 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkParseQuayLargest parses the worst case an authenticated sender
// can post: a body just under MaxBodyBytes listing ~117,000 distinct tags
// of one repository, which yield maxEvents events.
func BenchmarkParseQuayLargest(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"docker_url": "quay.io/acme/app", "updated_tags": [`)
	n := 0
	for ; buf.Len() < MaxBodyBytes-32; n++ {
		if n > 0 {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, `"v%d"`, n)
	}
	buf.WriteString(`]}`)
	body := buf.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		got, err := parseQuay(nil, body)
		if err != nil || len(got) != maxEvents {
			b.Fatalf("%d events of %d tags, %v", len(got), n, err)
		}
	}
}
