package writeback

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/yaml"
)

func FuzzParseFieldPath(f *testing.F) {
	for _, s := range []string{"image.tag", "containers[0].image", "[1].a", "a[1][2].b", "a..b", "a[", "a[01]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		steps, err := parseFieldPath(s)
		if err != nil {
			return
		}
		again, err := parseFieldPath(formatFieldPath(steps))
		if err != nil || len(again) != len(steps) {
			t.Fatalf("%q: formatted path %q does not parse back: %v", s, formatFieldPath(steps), err)
		}
	})
}

func FuzzParseMarkerComment(f *testing.F) {
	for _, s := range []string{`# {"$tagwatch": "app"}`, `# {"$tagwatch": "app:tag"}`, `#{"$tagwatch":"a:b:c"}`, `# {"$tagwatch": 1}`, `# x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		alias, fld, ok, err := parseMarkerComment(s)
		if !ok || err != nil {
			return
		}
		if alias == "" || strings.Contains(alias, ":") {
			t.Fatalf("%q: accepted alias %q", s, alias)
		}
		switch fld {
		case markerWhole, markerTag, markerName, markerDigest:
		default:
			t.Fatalf("%q: accepted field %q", s, fld)
		}
		_ = splitReference(alias).String()
	})
}

// FuzzWriteKustomization edits arbitrary kustomization bytes (in memory,
// as Write does after reading the file). It must not panic; when it
// succeeds the result parses and reads back the value, a second edit
// changes nothing, and every line of the original that is gone held one of
// the fields written (or gained text at one place).
func FuzzWriteKustomization(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/kustomize-*/original/kustomization.yaml")
	for _, s := range seeds {
		data, err := os.ReadFile(s)
		if err == nil {
			f.Add(data, uint8(0))
		}
	}
	f.Add([]byte("images: [{name: team/app, newTag: \"1\"}]\n"), uint8(1))
	f.Add([]byte("images:\n- name: team/app\n  digest: x\n"), uint8(2))
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	images := []Image{{Tag: "1.4.0"}, {Tag: "1.20", Digest: d}, {Digest: d}, {Name: "registry.example.com/x", Tag: "0x1F"}}
	target := Target{Kind: Kustomize, Path: ".", Name: "team/app"}
	edit := func(data []byte, img Image) ([]byte, error) {
		kf, err := parseYAMLFile("kustomization.yaml", data)
		if err != nil {
			return nil, err
		}
		files, err := kustomizeEdit(kf, target, img)
		if err != nil || len(files) == 0 {
			return nil, err
		}
		return files[0].out, nil
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		img := images[int(which)%len(images)]
		var before Image
		if kf, err := parseYAMLFile("kustomization.yaml", data); err == nil {
			if k, err := parseKustomization(kf, target.Name); err == nil && k.entry != nil {
				before = k.image()
			}
		}
		out, err := edit(data, img)
		if err != nil {
			if !errors.Is(err, ErrMalformedYAML) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if out == nil {
			out = data // already up to date
		}
		nf, err := parseYAMLFile("kustomization.yaml", out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, out)
		}
		k, err := parseKustomization(nf, target.Name)
		if err != nil || k.entry == nil {
			t.Fatalf("result has no entry: %v\n%s", err, out)
		}
		got := k.image()
		if got.Tag != img.Tag || got.Digest != img.Digest || img.Name != "" && got.Name != img.Name {
			t.Fatalf("read back %+v, wrote %+v\n%s", got, img, out)
		}
		if again, err := edit(out, img); err != nil || again != nil {
			t.Fatalf("second edit = %q, %v", again, err)
		}
		allowed := []string{"images", "newTag", "newName", "digest", "name"}
		for _, v := range []string{before.Name, before.Tag, before.Digest} {
			allowed = append(allowed, strings.Fields(v)...) // a multi-line scalar spans lines
		}
		outLines := strings.Split(string(out), "\n")
		for _, l := range goneLines(string(data), string(out)) {
			ok := false
			for _, nl := range outLines {
				ok = ok || insertedInto(l, strings.TrimRight(nl, "\r"))
			}
			for _, a := range allowed {
				ok = ok || strings.Contains(l, a)
			}
			if !ok {
				t.Fatalf("line %q changed although it holds nothing written\n--- before\n%s\n--- after\n%s", l, data, out)
			}
		}
	})
}

// FuzzWriteHelmValues edits arbitrary values bytes in memory at image.tag
// (or the whole reference at containers[0].image). It must not panic; on
// success the result parses, reads back and a second edit changes nothing.
func FuzzWriteHelmValues(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/helm-*/original/*.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data, uint8(0))
		}
	}
	f.Add([]byte("containers:\n- image: reg:5000/app:1 # x\n"), uint8(1))
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	targets := []Target{
		{Kind: Helm, Path: "values.yaml", TagField: "image.tag"},
		{Kind: Helm, Path: "values.yaml", ImageField: "containers[0].image"},
		{Kind: Helm, Path: "values.yaml", RepositoryField: "image.repository", TagField: "image.tag", DigestField: "image.digest"},
	}
	images := []Image{{Tag: "1.20"}, {Name: "registry.example.com/app", Tag: "true", Digest: d}}
	edit := func(data []byte, t Target, img Image) ([]byte, error) {
		vf, err := parseYAMLFile("values.yaml", data)
		if err != nil {
			return nil, err
		}
		files, err := helmEdit(vf, t, img)
		if err != nil || len(files) == 0 {
			return nil, err
		}
		return files[0].out, nil
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		target := targets[int(which)%len(targets)]
		img := images[int(which/3)%len(images)]
		out, err := edit(data, target, img)
		if err != nil {
			if !errors.Is(err, ErrMalformedYAML) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidTarget) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if out == nil {
			out = data
		}
		nf, err := parseYAMLFile("values.yaml", out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, out)
		}
		got, err := helmImage(nf, target)
		if err != nil || got.Tag != img.Tag || got.Digest != img.Digest {
			t.Fatalf("read back %+v, %v; wrote %+v\n%s", got, err, img, out)
		}
		if again, err := edit(out, target, img); err != nil || again != nil {
			t.Fatalf("second edit = %q, %v", again, err)
		}
	})
}

// insertedInto reports whether new is old with text inserted at one place
// (as in a flow collection gaining an entry).
func insertedInto(old, new string) bool {
	p := 0
	for p < len(old) && p < len(new) && old[p] == new[p] {
		p++
	}
	s := 0
	for s < len(old)-p && s < len(new)-p && old[len(old)-1-s] == new[len(new)-1-s] {
		s++
	}
	return p+s >= len(old)
}

// goneLines returns the lines of a that are not in b (as a multiset).
func goneLines(a, b string) []string {
	count := map[string]int{}
	for _, l := range strings.SplitAfter(b, "\n") {
		count[strings.TrimRight(l, "\r\n")]++
	}
	var gone []string
	for _, l := range strings.SplitAfter(a, "\n") {
		k := strings.TrimRight(l, "\r\n")
		if count[k] > 0 {
			count[k]--
			continue
		}
		gone = append(gone, k)
	}
	return gone
}

// FuzzWriteArgoSource edits arbitrary parameter override file bytes in
// memory, kustomize images and Helm parameters alike. It must not panic;
// on success the result parses and reads back the value, a second edit
// changes nothing, and every line of the original that is gone held what
// was written (or gained text at one place).
func FuzzWriteArgoSource(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/argosource-*/original/*/.argocd-source-app.yaml")
	more, _ := filepath.Glob("testdata/argosource-*/original/*/*/.argocd-source-app.yaml")
	for _, s := range append(seeds, more...) {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data, uint8(0))
			f.Add(data, uint8(1))
		}
	}
	f.Add([]byte(""), uint8(2))
	f.Add([]byte("helm: {parameters: [{name: image.tag}]}\n"), uint8(1))
	const d = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	targets := []Target{
		{Kind: ArgoSource, Path: ".argocd-source-app.yaml", Name: "team/app"},
		{Kind: ArgoSource, Path: ".argocd-source-app.yaml", RepositoryField: "image.name", TagField: "image.tag"},
		{Kind: ArgoSource, Path: ".argocd-source-app.yaml", ImageField: "image.spec"},
	}
	images := []Image{{Name: "registry.example.com/team/app", Tag: "1.20"}, {Name: "registry.example.com/team/app", Tag: "true", Digest: d}}
	edit := func(data []byte, t Target, img Image) ([]byte, error) {
		af, err := parseYAMLFile(".argocd-source-app.yaml", data)
		if err != nil {
			return nil, err
		}
		a, err := parseArgoSource(af, t)
		if err != nil {
			return nil, err
		}
		if argoHelm(t) {
			_, err = a.setParams(t, img)
		} else {
			_, err = a.setImage(t, img)
		}
		if err != nil {
			return nil, err
		}
		files, err := finishEdit(af, func(nf *yamlFile) error {
			na, err := parseArgoSource(nf, t)
			if err != nil {
				return err
			}
			_, err = na.image(t)
			return err
		})
		if err != nil || len(files) == 0 {
			return nil, err
		}
		return files[0].out, nil
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		target := targets[int(which)%len(targets)]
		img := images[int(which/3)%len(images)]
		var before []string // the values of the parameters or entry, which the edit replaces
		if af, err := parseYAMLFile(".argocd-source-app.yaml", data); err == nil {
			if a, err := parseArgoSource(af, target); err == nil && a.list != nil {
				for _, e := range a.list.Content {
					if _, v := mapField(e, "value"); v != nil {
						before = append(before, strings.Fields(v.Value)...)
					}
					if e.Kind == yaml.ScalarNode {
						before = append(before, strings.Fields(e.Value)...)
					}
				}
			}
		}
		out, err := edit(data, target, img)
		if err != nil {
			if !errors.Is(err, ErrMalformedYAML) && !errors.Is(err, ErrInvalidValue) && !errors.Is(err, ErrNotFound) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if out == nil {
			out = data
		}
		nf, err := parseYAMLFile(".argocd-source-app.yaml", out)
		if err != nil {
			t.Fatalf("result does not parse: %v\n%s", err, out)
		}
		na, err := parseArgoSource(nf, target)
		if err != nil {
			t.Fatalf("result does not parse as an override file: %v\n%s", err, out)
		}
		got, err := na.image(target)
		if err != nil || got.Tag != img.Tag || got.Digest != img.Digest {
			t.Fatalf("read back %+v, %v; wrote %+v\n%s", got, err, img, out)
		}
		if again, err := edit(out, target, img); err != nil || again != nil {
			t.Fatalf("second edit = %q, %v", again, err)
		}
		allowed := append([]string{"kustomize", "images", "helm", "parameters", "name", "value", "forcestring"}, before...)
		outLines := strings.Split(string(out), "\n")
		for _, l := range goneLines(string(data), string(out)) {
			ok := false
			for _, nl := range outLines {
				ok = ok || insertedInto(l, strings.TrimRight(nl, "\r"))
			}
			for _, a := range allowed {
				ok = ok || strings.Contains(l, a)
			}
			if !ok {
				t.Fatalf("line %q changed although it holds nothing written\n--- before\n%s\n--- after\n%s", l, data, out)
			}
		}
	})
}
