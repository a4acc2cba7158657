package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// SecretFunc returns the shared secret of one webhook type. The handler
// calls it on every request, so a rotated file or variable applies at
// once. Its error must not contain the secret.
type SecretFunc func() (string, error)

// SecretFrom parses a secret reference as the config writes it,
// "env:VAR" or "file:/path", into a SecretFunc that reads it at use time.
// A file's surrounding white space (its trailing newline) is trimmed. The
// errors name where the secret was looked for, never its value.
func SecretFrom(ref string) (SecretFunc, error) {
	kind, where, _ := strings.Cut(ref, ":")
	switch {
	case kind == "env" && where != "":
		return func() (string, error) {
			v, ok := os.LookupEnv(where)
			if !ok {
				return "", fmt.Errorf("environment variable %s is not set", where)
			}
			return v, nil
		}, nil
	case kind == "file" && where != "":
		return func() (string, error) {
			b, err := os.ReadFile(where)
			if err != nil {
				return "", err // *fs.PathError: names the path, not the content
			}
			return strings.TrimSpace(string(b)), nil
		}, nil
	}
	return nil, errors.New(`secret: must be env:VAR or file:/path (where the secret is), never the secret itself`)
}

// authScheme is how a webhook type proves where a request came from.
type authScheme int

const (
	// sharedSecret: the secret itself, in Authorization (raw or
	// "Bearer <secret>") or in the query parameter "secret".
	sharedSecret authScheme = iota
	// signature: HMAC-SHA256 of the raw body keyed with the secret, as
	// "sha256=<hex>" in a header.
	signature
)

// errUnauthorized is what a refused credential says to the sender. It never
// contains what was sent, nor the secret.
type errUnauthorized string

func (e errUnauthorized) Error() string { return string(e) }

// checkShared reports whether r carries secret in its Authorization header
// (raw, or after "Bearer ") or its "secret" query parameter. Every
// comparison is of SHA-256 digests in constant time, so neither the
// secret's content nor its length leaks through timing.
func checkShared(r *http.Request, secret string) error {
	want := sha256.Sum256([]byte(secret))
	var offered []string
	if a := r.Header.Get("Authorization"); a != "" {
		offered = append(offered, a)
		if scheme, token, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			offered = append(offered, strings.TrimSpace(token))
		}
	}
	offered = append(offered, r.URL.Query()["secret"]...)
	if len(offered) == 0 {
		return errUnauthorized("missing secret: send it in the Authorization header or the ?secret= parameter")
	}
	match := 0
	for _, o := range offered {
		got := sha256.Sum256([]byte(o))
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return errUnauthorized("wrong secret")
	}
	return nil
}

// checkSignature verifies header ("sha256=<hex>") against the HMAC-SHA256
// of body keyed with secret.
func checkSignature(h http.Header, header string, body []byte, secret string) error {
	v := h.Get(header)
	if v == "" {
		return errUnauthorized("missing " + header + " header")
	}
	hexSig, ok := strings.CutPrefix(v, "sha256=")
	if !ok {
		return errUnauthorized(header + ` must be "sha256=<hex>"`)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return errUnauthorized(header + ` must be "sha256=<hex>"`)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return errUnauthorized("signature does not match the body")
	}
	return nil
}

// Sign returns the signature header value, "sha256=<hex>", of body under
// secret: what a sender of the generic type puts in X-Tagwatch-Signature
// (and GitHub in X-Hub-Signature-256).
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
