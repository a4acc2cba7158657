package registry_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/tagwatch/tagwatch/registry"
)

func Example() {
	// A registry to talk to: go-containerregistry's, in process.
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(64, 1)
	for _, tag := range []string{"1.0.0", "1.1.0-rc.1"} {
		ref, _ := name.NewTag(host + "/team/app:" + tag)
		if err := remote.Write(ref, img); err != nil {
			log.Fatal(err)
		}
	}

	c, err := registry.New(registry.WithHosts(registry.Host{Prefix: host, RateLimit: 100}))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	tags, err := c.ListTags(ctx, host+"/team/app")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tags)

	// Promote the release candidate: the same manifest under a new tag.
	digest, err := c.Retag(ctx, host+"/team/app:1.1.0-rc.1", "1.1.0")
	if err != nil {
		log.Fatal(err)
	}
	again, _ := c.Digest(ctx, host+"/team/app", "1.1.0")
	fmt.Println(digest == again)
	// Output:
	// [1.0.0 1.1.0-rc.1]
	// true
}
