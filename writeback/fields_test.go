package writeback

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestFields(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"envs/prod/kustomization.yaml":       "images:\n  - name: app\n    newTag: 1.0.0\n",
		"envs/prod/values.yaml":              "image:\n  tag: 1.0.0\n",
		"envs/prod/deploy.yaml":              "a: r/app:1 # {\"$tagwatch\": \"app\"}\nb: 1 # {\"$tagwatch\": \"app:tag\"}\nc: x # {\"$tagwatch\": \"web\"}\n",
		"envs/prod/.argocd-source-prod.yaml": "kustomize:\n  images: [r/app:1.0.0]\n",
	})
	for _, tc := range []struct {
		name string
		t    Target
		want []Field
	}{
		{"kustomize entry", Target{Kind: Kustomize, Path: "envs/prod", Name: "app"}, []Field{{"envs/prod/kustomization.yaml", "images[name=app]"}}},
		{"kustomize without the entry: the one a write adds", Target{Kind: Kustomize, Path: "envs/prod", Name: "web"}, []Field{{"envs/prod/kustomization.yaml", "images[name=web]"}}},
		{"no kustomization", Target{Kind: Kustomize, Path: ".", Name: "app"}, nil},
		{"helm paths, canonical", Target{Kind: Helm, Path: "envs/prod/values.yaml", RepositoryField: "image.repository", TagField: "image.tag"},
			[]Field{{"envs/prod/values.yaml", "image.repository"}, {"envs/prod/values.yaml", "image.tag"}}},
		{"markers of one alias, nested path", Target{Kind: Marker, Path: ".", Name: "app"},
			[]Field{{"envs/prod/deploy.yaml", "line 1"}, {"envs/prod/deploy.yaml", "line 2"}}},
		{"Argo CD override file, kustomize", Target{Kind: ArgoSource, Path: "envs/prod/.argocd-source-prod.yaml", Name: "r/app"},
			[]Field{{"envs/prod/.argocd-source-prod.yaml", "kustomize.images[r/app]"}}},
		{"Argo CD override file not there yet, helm", Target{Kind: ArgoSource, Path: "envs/prod/./.argocd-source-new.yaml", RepositoryField: "image.name", TagField: "image.tag"},
			[]Field{{"envs/prod/.argocd-source-new.yaml", "helm.parameters[name=image.name]"}, {"envs/prod/.argocd-source-new.yaml", "helm.parameters[name=image.tag]"}}},
		{"excluded markers are not written", Target{Kind: Marker, Path: ".", Name: "app", Exclude: []Field{{"envs/prod/deploy.yaml", "line 1"}}},
			[]Field{{"envs/prod/deploy.yaml", "line 2"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Fields(root, tc.t)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Fields (-want +got):\n%s", diff)
			}
		})
	}
}

// TestExcludeLeavesMarkersAlone: Read and Write of a marker target skip the
// scalars it excludes, byte for byte.
func TestExcludeLeavesMarkersAlone(t *testing.T) {
	root := writeFiles(t, map[string]string{
		"a.yaml": "image: r/app:1.0.0 # {\"$tagwatch\": \"app\"}\n",
		"b.yaml": "image: r/app:0.9.0 # {\"$tagwatch\": \"app\"}\n",
	})
	tg := Target{Kind: Marker, Path: ".", Name: "app", Exclude: []Field{{"a.yaml", "line 1"}}}
	img, err := Read(root, tg)
	if err != nil || img.Tag != "0.9.0" {
		t.Fatalf("Read = %+v, %v; want b.yaml's 0.9.0", img, err)
	}
	changed, err := Write(root, tg, Image{Tag: "2.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b.yaml"}, changed); diff != "" {
		t.Errorf("changed (-want +got):\n%s", diff)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a.yaml")); string(b) != "image: r/app:1.0.0 # {\"$tagwatch\": \"app\"}\n" {
		t.Errorf("a.yaml changed: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "b.yaml")); string(b) != "image: r/app:2.0.0 # {\"$tagwatch\": \"app\"}\n" {
		t.Errorf("b.yaml = %q", b)
	}
}
