package webhook_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/tagwatch/tagwatch/internal/webhook"
)

func ExampleNewHandler() {
	secret, _ := webhook.SecretFrom("env:TAGWATCH_EXAMPLE_SECRET") // read per request; unset here
	h, err := webhook.NewHandler(
		func(typ string, events []webhook.Event) {
			for _, e := range events {
				fmt.Printf("%s: %s:%s\n", typ, e.Repository, e.Tag)
			}
		},
		webhook.WithSecret(webhook.TypeGeneric, func() (string, error) { return "s3cret", nil }),
		webhook.WithSecret(webhook.TypeQuay, secret),
		webhook.WithObserver(func(typ string, r webhook.Result) { fmt.Println("observed", typ, r) }),
	)
	if err != nil {
		panic(err)
	}

	body := `{"image": "registry.example.com/team/app", "tag": "1.4.0"}`
	req := httptest.NewRequest("POST", webhook.Path+"?type=generic", strings.NewReader(body))
	req.Header.Set("X-Tagwatch-Signature", webhook.Sign("s3cret", []byte(body)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Print(w.Code, " ", w.Body)

	req = httptest.NewRequest("POST", webhook.Path+"?type=quay", strings.NewReader(`{}`))
	w = httptest.NewRecorder()
	h.ServeHTTP(w, req)
	fmt.Print(w.Code, " ", w.Body)
	// Output:
	// generic: registry.example.com/team/app:1.4.0
	// observed generic accepted
	// 202 accepted: 1 event(s)
	// observed quay unauthorized
	// 503 the secret of webhook type "quay" cannot be read; see tagwatch's configuration
}
