package writeback

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// benchKustomization is an overlay of realistic size: resources, patches,
// generators and a dozen images.
func benchKustomization() string {
	var b strings.Builder
	b.WriteString("# Production overlay, reviewed by the platform team.\n---\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: production\n")
	b.WriteString("resources:\n  - ../../base\n  - ingress.yaml\n  - hpa.yaml\n\ncommonLabels:\n  env: production\n\n")
	b.WriteString("patches:\n  - target: {kind: Deployment, name: api}\n    patch: |-\n      - op: replace\n        path: /spec/replicas\n        value: 6\n\n")
	b.WriteString("configMapGenerator:\n  - name: settings\n    literals:\n      - LOG_LEVEL=info\n      - 'GREETING=hello: world'\n\nimages:\n")
	for i := range 12 {
		fmt.Fprintf(&b, "  # service %d\n  - name: team/svc-%d\n    newName: registry.example.com/team/svc-%d\n    newTag: \"1.%d.0\" # bumped by tagwatch\n", i, i, i, i)
	}
	return b.String()
}

// benchValues is a Helm values file of about 2,000 lines with the image near the end.
func benchValues() string {
	var b strings.Builder
	b.WriteString("# Default values.\nreplicaCount: 1\n\n")
	for i := range 240 {
		fmt.Fprintf(&b, "component%d:\n  enabled: true\n  # the port\n  port: %d\n  annotations:\n    note: \"component %d\"\n  resources: {limits: {cpu: 100m}}\n\n", i, 8000+i, i)
	}
	b.WriteString("image:\n  repository: registry.example.com/team/app\n  tag: \"1.0.0\"\n  pullPolicy: IfNotPresent\n")
	return b.String()
}

func benchEditReadWrite(b *testing.B, file, content string, t Target) {
	root := b.TempDir()
	writeTestFile(b, filepath.Join(root, file), content)
	tags := []string{"2.0.0", "2.0.1"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := Read(root, t); err != nil {
			b.Fatal(err)
		}
		changed, err := Write(root, t, Image{Tag: tags[i%2]})
		if err != nil || len(changed) != 1 {
			b.Fatalf("Write = %v, %v", changed, err)
		}
	}
}

func BenchmarkReadWriteKustomization(b *testing.B) {
	benchEditReadWrite(b, "kustomization.yaml", benchKustomization(), Target{Kind: Kustomize, Path: ".", Name: "team/svc-7"})
}

func BenchmarkReadWriteHelmValues2000Lines(b *testing.B) {
	v := benchValues()
	if n := strings.Count(v, "\n"); n < 1900 {
		b.Fatalf("values file has %d lines", n)
	}
	benchEditReadWrite(b, "values.yaml", v, Target{Kind: Helm, Path: "values.yaml", RepositoryField: "image.repository", TagField: "image.tag"})
}
