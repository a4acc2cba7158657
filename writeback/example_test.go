package writeback_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/tagwatch/tagwatch/writeback"
)

func ExampleWrite() {
	root, _ := os.MkdirTemp("", "writeback-example")
	defer os.RemoveAll(root)
	_ = os.MkdirAll(filepath.Join(root, "envs", "prod"), 0o755)
	file := filepath.Join(root, "envs", "prod", "kustomization.yaml")
	_ = os.WriteFile(file, []byte(`resources:
  - ../../base

images:
  - name: team/app   # the API
    newTag: 1.3.0
`), 0o644)

	t := writeback.Target{Kind: writeback.Kustomize, Path: "envs/prod", Name: "team/app"}
	changed, err := writeback.Write(root, t, writeback.Image{Tag: "1.20"})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := os.ReadFile(file)
	fmt.Println(changed)
	fmt.Print(string(out))
	img, _ := writeback.Read(root, t)
	fmt.Println(img)
	// Output:
	// [envs/prod/kustomization.yaml]
	// resources:
	//   - ../../base
	//
	// images:
	//   - name: team/app   # the API
	//     newTag: "1.20"
	// team/app:1.20
}
