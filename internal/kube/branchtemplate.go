package kube

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"text/template"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tagwatch/tagwatch/internal/plan"
	"github.com/tagwatch/tagwatch/policy"
)

// Argo CD Image Updater's write-branch templates (git-branch:
// base:<template>): a text/template rendered from the changes of each
// commit, with Image Updater's data.

// noFieldRE finds text/template's error for a field the data has not.
var noFieldRE = regexp.MustCompile(`can't evaluate field (\w+)`)

// iuBranchData is what a write-branch template reads. AppName and
// AppNamespace are the Application's (Image Updater's later releases
// offer them too).
type iuBranchData struct {
	Images       []iuBranchImage
	SHA256       string
	AppName      string
	AppNamespace string
}

// iuBranchImage is one image changed, as Image Updater names it:
//   - Name: the image's path without its registry host
//     (registry.example.com/team/app gives team/app; Docker Hub's
//     implied library/ is left out, nginx gives nginx);
//   - Alias: the alias written in image-list ("" when none is);
//   - OldTag, NewTag: the tag before and after; under the digest
//     strategy, the digest (the tag followed stays the same).
type iuBranchImage struct {
	Name, Alias, OldTag, NewTag string
}

// newBranchTemplate parses a write-branch template of Application a. It
// is rendered once, on a sample change, so that a field the data lacks
// ({{.Foo}}) is refused now rather than at each cycle; other failures of
// the sample ({{slice .NewTag 7}} of a tag shorter than a digest) may not
// be the real changes', and are left to the cycles. aliases maps a watch
// (Watch.Key) to its alias as written in image-list; a watch not in it
// goes by Watch.Alias.
func newBranchTemplate(text string, a *App, aliases map[string]string) (*plan.BranchTemplate, error) {
	tpl, err := template.New("git-branch").Parse(text)
	if err != nil {
		return nil, err
	}
	render := func(changes []plan.BranchChange) (string, error) {
		var b strings.Builder
		if err := tpl.Execute(&b, branchData(a, changes, aliases)); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	sample := []plan.BranchChange{{Watch: &plan.Watch{Image: "registry.example.com/team/app", Key: "registry.example.com/team/app", Alias: "app"},
		From: policy.Current{Tag: "1.0.0"}, To: policy.Current{Tag: "1.1.0"}}}
	if _, err := render(sample); err != nil {
		// text/template says so in words only (its ExecError has no kind).
		if m := noFieldRE.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("there is no .%s: the data is .Images (each with .Name, .Alias, .OldTag, .NewTag), .SHA256, .AppName and .AppNamespace", m[1])
		}
	}
	return &plan.BranchTemplate{Text: text, Render: render}, nil
}

// branchData is the template data of changes: the images in the order of
// changes (image-list's), and SHA256, Image Updater's hash of them: the
// hex SHA-256 of "<Name>-<OldTag>-<NewTag>," for each image in turn.
func branchData(a *App, changes []plan.BranchChange, aliases map[string]string) iuBranchData {
	d := iuBranchData{Images: make([]iuBranchImage, 0, len(changes)), AppName: a.Name, AppNamespace: a.Namespace}
	h := sha256.New()
	for _, c := range changes {
		alias, ok := aliases[c.Watch.Key]
		if !ok {
			alias = c.Watch.Alias
		}
		im := iuBranchImage{Name: iuImageName(c.Watch.Image), Alias: alias, OldTag: c.From.Tag, NewTag: c.To.Tag}
		if c.Watch.Policy != nil && c.Watch.Policy.Spec().Strategy == policy.Digest {
			im.OldTag, im.NewTag = orTag(c.From), orTag(c.To)
		}
		d.Images = append(d.Images, im)
		fmt.Fprintf(h, "%s-%s-%s,", im.Name, im.OldTag, im.NewTag)
	}
	d.SHA256 = hex.EncodeToString(h.Sum(nil))
	return d
}

// orTag is the digest of c, or its tag when the digest is not known.
func orTag(c policy.Current) string {
	if c.Digest != "" {
		return c.Digest
	}
	return c.Tag
}

// iuImageName is Image Updater's name of an image: its repository path
// without the registry host, and without Docker Hub's library/ unless
// written.
func iuImageName(image string) string {
	r, err := name.NewRepository(image)
	if err != nil {
		return image
	}
	p := r.RepositoryStr()
	if !strings.HasPrefix(image, "library/") {
		p = strings.TrimPrefix(p, "library/")
	}
	return p
}
