package writeback

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const oracleDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: team/app:0.0.1
`

// TestKustomizeOracle writes into overlays of many styles and renders them
// with kustomize's own API: the Deployment must run exactly the image written.
func TestKustomizeOracle(t *testing.T) {
	const d1 = "sha256:4c0ad6b3f1e2d3c4b5a697887766554433221100ffeeddccbbaa998877665544"
	tests := []struct {
		name    string
		overlay string
		img     Image
		want    string
	}{
		{"tag", "resources: [../base]\nimages:\n- name: team/app\n  newTag: 1.3.0\n",
			Image{Tag: "1.4.0"}, "team/app:1.4.0"},
		{"number-like tag", "resources: [../base]\nimages:\n- name: team/app\n  newTag: v1\n",
			Image{Tag: "1.20"}, "team/app:1.20"},
		{"tag and digest", "resources:\n  - ../base\nimages:\n  - name: team/app\n    newTag: 1.3.0\n",
			Image{Tag: "1.4.0", Digest: d1}, "team/app:1.4.0@" + d1},
		{"digest only", "resources: [../base]\nimages:\n- name: team/app\n  newTag: 1.3.0\n",
			Image{Digest: d1}, "team/app@" + d1},
		{"stale digest removed", "resources: [../base]\nimages:\n- name: team/app\n  newTag: 1.3.0\n  digest: " + d1 + "\n",
			Image{Tag: "1.5.0"}, "team/app:1.5.0"},
		{"new name", "resources: [../base]\nimages:\n- name: team/app\n  newTag: 1.3.0\n",
			Image{Name: "registry.example.com:5000/team/app", Tag: "2.0.0"}, "registry.example.com:5000/team/app:2.0.0"},
		{"images absent", "# overlay\nresources:\n- ../base\n",
			Image{Tag: "1.4.0"}, "team/app:1.4.0"},
		{"entry absent", "resources: [../base]\nimages:\n- name: other\n  newTag: \"1\"\n",
			Image{Tag: "1.4.0", Digest: d1}, "team/app:1.4.0@" + d1},
		{"flow", "resources: [../base]\nimages: [{name: other, newTag: \"1\"}]\n",
			Image{Tag: "1e3"}, "team/app:1e3"},
		{"crlf and comments", "# c\r\nresources: # r\r\n- ../base\r\nimages: # i\r\n- name: team/app # n\r\n  newTag: 1.3.0 # t\r\n",
			Image{Tag: "1.4.0", Digest: d1}, "team/app:1.4.0@" + d1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeTestFile(t, filepath.Join(root, "base", "kustomization.yaml"), "resources: [deployment.yaml]\n")
			writeTestFile(t, filepath.Join(root, "base", "deployment.yaml"), oracleDeployment)
			writeTestFile(t, filepath.Join(root, "overlay", "kustomization.yaml"), tc.overlay)
			if _, err := Write(root, Target{Kind: Kustomize, Path: "overlay", Name: "team/app"}, tc.img); err != nil {
				t.Fatalf("Write: %v", err)
			}
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			m, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "overlay"))
			if err != nil {
				out, _ := os.ReadFile(filepath.Join(root, "overlay", "kustomization.yaml"))
				t.Fatalf("kustomize build: %v\n%s", err, out)
			}
			var got string
			for _, r := range m.Resources() {
				if r.GetKind() == "Deployment" {
					got, err = r.GetString("spec.template.spec.containers[0].image")
					if err != nil {
						t.Fatal(err)
					}
				}
			}
			if got != tc.want {
				t.Errorf("rendered image = %q, want %q", got, tc.want)
			}
		})
	}
}

func writeTestFile(t testing.TB, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
