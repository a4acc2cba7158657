# tagwatch build and test entry points. `make test` is the one test command.
GO        ?= go
PKGS      ?= ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
FUZZTIME  ?= 10s

# Debian packages the tests talk to: CNCF distribution (docker-registry),
# htpasswd (apache2-utils), sshd (openssh-server), git http-backend (git),
# gpg (gnupg: git verify-commit of OpenPGP-signed commits), patch (the
# unified diffs of run --diff applied by GNU patch), and a C toolchain
# (gcc, libc6-dev: go test -race needs cgo).
DEB_PKGS  := docker-registry apache2-utils openssh-server openssh-client git gnupg patch gcc libc6-dev

.PHONY: all build test deps servers vet fmt-check lint fuzz bench image demo clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tagwatch ./cmd/tagwatch

# deps installs, with apt-get, whatever of DEB_PKGS is missing (needs root),
# waiting up to APT_LOCK_WAIT seconds for another apt-get or dpkg to finish.
APT_LOCK_WAIT ?= 300
deps:
	@missing=""; \
	command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing="$$missing docker-registry"; \
	command -v htpasswd >/dev/null 2>&1 || missing="$$missing apache2-utils"; \
	[ -x /usr/sbin/sshd ] || missing="$$missing openssh-server"; \
	command -v ssh-keygen >/dev/null 2>&1 || missing="$$missing openssh-client"; \
	command -v git >/dev/null 2>&1 || missing="$$missing git"; \
	command -v gpg >/dev/null 2>&1 || missing="$$missing gnupg"; \
	command -v patch >/dev/null 2>&1 || missing="$$missing patch"; \
	command -v gcc >/dev/null 2>&1 || missing="$$missing gcc"; \
	[ -e /usr/include/stdlib.h ] || missing="$$missing libc6-dev"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		APT_LOCK_WAIT=$(APT_LOCK_WAIT) ./.ci/apt-install $$missing; \
	fi

# servers builds the real servers the tests run, once per machine, into
# ~/.cache/tagwatch-servers (hack/servers/build.sh): kube-apiserver and
# Gitea from the Go module proxy, etcd from apt. Cold: about 15 min on
# 2 cores; cached: well under a second.
servers: deps
	bash hack/servers/build.sh all

test: deps servers
	$(GO) test -race -count=1 $(PKGS)

vet:
	$(GO) vet $(PKGS)

# lint: staticcheck, unreachable code (deadcode; Example functions are run
# by go test, which deadcode does not see) and a tidy go.mod. The tools are
# installed at pinned versions into GOPATH/bin when missing.
STATICCHECK_VERSION := v0.8.2
DEADCODE_VERSION    := v0.52.0
GOBIN               := $(shell $(GO) env GOPATH)/bin
lint:
	@[ -x $(GOBIN)/staticcheck ] || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@[ -x $(GOBIN)/deadcode ] || $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)
	$(GOBIN)/staticcheck $(PKGS)
	@out=$$($(GOBIN)/deadcode -test $(PKGS) | grep -v ': unreachable func: Example' || true); \
	if [ -n "$$out" ]; then echo "unreachable code:"; echo "$$out"; exit 1; fi
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# fuzz runs every fuzz target briefly (FUZZTIME each). It stops at the first
# finding; with FUZZ_STRICT=0 (CI) it runs every target and reports findings
# as "FUZZ FINDING" lines, with the input, without failing and without
# leaving the input where `make test` would run it: the seed and regression
# corpora (testdata/fuzz) run, blocking, in `make test`; a finding is fixed
# and its input committed there as a regression case.
FUZZ_STRICT ?= 1
fuzz:
	@found=0; \
	for pkg in $$($(GO) list ./...); do \
		for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$f"; \
			if ! $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; then \
				[ "$(FUZZ_STRICT)" = 1 ] && exit 1; \
				found=$$((found+1)); dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
				for in in $$(git ls-files --others --exclude-standard -- "$$dir/testdata/fuzz/$$f"); do \
					echo "FUZZ FINDING: $$pkg $$f, input $$in:"; cat "$$in"; rm -f "$$in"; \
				done; \
			fi; \
		done; \
	done; \
	echo "fuzz: $$found finding(s)"

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

demo:
	$(GO) run ./cmd/tagwatch demo

image:
	docker build -t tagwatch:$(VERSION) --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) .

clean:
	rm -rf bin
