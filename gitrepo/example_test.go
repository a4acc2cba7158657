package gitrepo_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/tagwatch/tagwatch/gitrepo"
)

// One cycle of a GitOps writer: bring the cached copy up to date, edit one
// file per environment, and get all the commits out in one push. When
// another writer pushed meanwhile, Publish re-runs the edits on the new head.
func ExampleRepo_Publish() {
	ctx := context.Background()
	repo, err := gitrepo.Open(ctx, "https://git.example.com/platform/deploy.git",
		gitrepo.WithBranch("main"),
		gitrepo.WithAuth(gitrepo.Auth{Username: "git", Password: os.Getenv("GIT_TOKEN")}),
		gitrepo.WithAuthor(gitrepo.Author{Name: "tagwatch", Email: "tagwatch@example.com"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	var edits []gitrepo.Edit
	for _, env := range []string{"staging", "production"} {
		file := "envs/" + env + "/VERSION"
		edits = append(edits, gitrepo.Edit{Name: env, Apply: func(_ context.Context, dir string) (string, []string, error) {
			// Decide from what is in dir now: this may run again on a newer head.
			old, _ := os.ReadFile(filepath.Join(dir, file))
			if string(old) == "1.4.0\n" {
				return "", nil, nil // already there
			}
			err := os.WriteFile(filepath.Join(dir, file), []byte("1.4.0\n"), 0o644)
			return fmt.Sprintf("tagwatch(%s): app 1.3.0 -> 1.4.0", env), []string{file}, err
		}})
	}
	res, err := repo.Publish(ctx, edits)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range res.Edits {
		fmt.Println(e.Name, e.Commit, e.Err)
	}
	fmt.Println("pushed:", res.Pushed, "attempts:", res.Attempts)
}
