// Package e2e drives the tagwatch binary as a user would, against Debian's
// docker-registry with htpasswd auth and a git remote served over smart
// HTTP by git http-backend. The tests live in *_test.go; `go test
// ./test/e2e` builds the binary once in TestMain.
package e2e
