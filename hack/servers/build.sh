#!/usr/bin/env bash
# build.sh builds the real servers the tests run, from the Go module proxy
# (and etcd from Debian's apt), and caches each under
#   $TAGWATCH_SERVERS_CACHE/<tool>-<version>/bin   (default ~/.cache/tagwatch-servers)
# where internal/testenv finds them. A build is skipped when its binary is
# there and answers --version with the expected version, so a warm machine
# pays a few milliseconds; a cold one pays minutes (see README, "Testing").
#
# usage: hack/servers/build.sh [all|kube|etcd|gitea]...   (default: all)
#
# Versions live in versions.env beside this script; internal/testkube and
# internal/testgitea check that they match theirs.
#
# Each build compiles with a Go build cache of its own, <tool>-<version>/gocache,
# removed once the binary is in place (it holds ~4 GB of objects no test
# reuses); after a failed build it stays, so a rerun resumes. The modules
# stay in the Go module cache: Gitea serves its templates from there.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

CACHE=${TAGWATCH_SERVERS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tagwatch-servers}
GO=${GO:-go}
export GOWORK=off GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"

# The servers are compiled without optimisations: they serve tests on
# loopback, and -N -l saves about 30% of a cold build (kube-apiserver: 310
# CPU-s instead of 430 on this project's 2-core machine).
GCFLAGS=${SERVERS_GCFLAGS:--N -l}

log() { printf '[servers %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() { printf '[servers] ERROR: %s\n' "$*" >&2; exit 1; }

# apt_install PACKAGE... installs Debian packages (as root, or with sudo).
# .ci/apt-install waits (bounded) for another apt-get or dpkg's lock.
apt_install() {
	log "apt-get install $*"
	"$(dirname "$0")/../../.ci/apt-install" "$@" || die "apt-get install $* failed"
}

# answers BIN WANT: BIN runs and its --version output contains WANT. (Not
# grep -q: it may stop reading early, and pipefail then sees SIGPIPE.)
answers() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -F -- "$2" >/dev/null; }

# lock NAME holds an exclusive lock on $CACHE/NAME.lock until the script
# exits, so that two `make test` on one machine build a server once.
lock() {
	mkdir -p "$CACHE"
	exec {fd}>"$CACHE/$1.lock"
	flock "$fd" || die "cannot lock $CACHE/$1.lock"
}

# gomod_file MODULE@VERSION prints the path of that module's go.mod in the
# module cache, downloading the module.
gomod_file() {
	local f
	f=$("$GO" mod download -json "$1" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
	[ -n "$f" ] && [ -f "$f" ] || die "go mod download $1 gave no go.mod"
	printf '%s\n' "$f"
}

# module_dir MODULE@VERSION prints the module's source dir in the module cache.
module_dir() {
	local d
	d=$("$GO" mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	[ -n "$d" ] && [ -d "$d" ] || die "go mod download $1 gave no source dir"
	printf '%s\n' "$d"
}

# replaces GOMOD STAGING_VERSION prints the replace directives of GOMOD for a
# scratch module: a replace into ./staging/src/X becomes X => X STAGING_VERSION,
# a replace to a module version is copied; any other local path is an error.
replaces() {
	awk -v sv="$2" '
	function emit(line,   parts, n) {
		sub(/[[:space:]]*\/\/.*$/, "", line)
		n = split(line, parts, /[[:space:]]*=>[[:space:]]*/)
		if (n != 2) { print "bad replace: " line > "/dev/stderr"; exit 1 }
		lhs = parts[1]; rhs = parts[2]
		sub(/^[[:space:]]+/, "", lhs); sub(/[[:space:]]+$/, "", rhs)
		if (rhs ~ /^\.\/staging\/src\//) { split(lhs, m, /[[:space:]]+/); print "\t" m[1] " => " m[1] " " sv; return }
		if (rhs ~ /^\.|^\//) { print "unsupported local replace: " line > "/dev/stderr"; exit 1 }
		print "\t" lhs " => " rhs
	}
	/^replace[[:space:]]*\($/ { inblock = 1; next }
	inblock && /^\)/ { inblock = 0; next }
	inblock && /=>/ { emit($0); next }
	/^replace[[:space:]]+[^(]/ { r = $0; sub(/^replace[[:space:]]+/, "", r); emit(r) }
	' "$1"
}

# scratch_gomod GOMOD MODULE VERSION STAGING_VERSION prints the go.mod of a
# scratch module that requires MODULE@VERSION and builds it as GOMOD (the
# module's own go.mod) does: same go version, godebug settings and replaces.
scratch_gomod() {
	echo "// Scratch module that builds $2 $3 for tagwatch's tests (hack/servers/build.sh)."
	echo "module tagwatch.test/servers/${2##*/}"
	echo
	grep -E '^go [0-9.]+$' "$1" | head -1
	grep -E '^godebug ' "$1" || true
	echo
	echo "require $2 $3"
	echo
	echo "replace ("
	replaces "$1" "$4"
	echo ")"
}

build_kube() {
	local v=$KUBE_VERSION dest="$CACHE/kube-apiserver-$KUBE_VERSION"
	lock "kube-apiserver-$v"
	if answers "$dest/bin/kube-apiserver" "Kubernetes $v"; then
		log "kube-apiserver $v: cached in $dest/bin"
		return
	fi
	local t0=$SECONDS staging="v0.${v#v1.}" minor
	minor=${v#v1.}; minor=${minor%%.*}
	log "kube-apiserver $v: building from the Go module proxy (cold: ~8 min on 2 cores)"
	rm -rf "$dest/src" && mkdir -p "$dest/src" "$dest/bin"
	local gomod; gomod=$(gomod_file "k8s.io/kubernetes@$v")
	scratch_gomod "$gomod" k8s.io/kubernetes "$v" "$staging" >"$dest/src/go.mod"
	cat >"$dest/src/tools.go" <<GO
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"
GO
	local pkg=k8s.io/component-base/version
	(cd "$dest/src" && GOCACHE="$dest/gocache" CGO_ENABLED=0 "$GO" build -trimpath -gcflags=all="$GCFLAGS" \
		-ldflags "-s -w -X $pkg.gitVersion=$v -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
		-o "$dest/bin/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver) ||
		die "building kube-apiserver $v failed"
	mv "$dest/bin/kube-apiserver.tmp" "$dest/bin/kube-apiserver"
	rm -rf "$dest/gocache"
	answers "$dest/bin/kube-apiserver" "Kubernetes $v" || die "the built kube-apiserver does not report $v"
	log "kube-apiserver $v: built in $((SECONDS - t0)) s → $dest/bin"
}

build_gitea() {
	local v=$GITEA_VERSION dest="$CACHE/gitea-$GITEA_VERSION"
	lock "gitea-$v"
	if answers "$dest/bin/gitea" "version ${v#v} " && [ -d "$(cat "$dest/static-root" 2>/dev/null)/templates" ]; then
		log "gitea $v: cached in $dest/bin"
		return
	fi
	local t0=$SECONDS
	if answers "$dest/bin/gitea" "version ${v#v} "; then
		# The binary is there but `go clean -modcache` removed its static files.
		module_dir "code.gitea.io/gitea@$v" >"$dest/static-root"
		log "gitea $v: static files restored at $(cat "$dest/static-root")"
		return
	fi
	# cgo, for sqlite.
	command -v "${CC:-gcc}" >/dev/null || apt_install gcc libc6-dev
	log "gitea $v: building from the Go module proxy (cold: ~7 min on 2 cores)"
	rm -rf "$dest/src" && mkdir -p "$dest/src" "$dest/bin"
	local gomod; gomod=$(gomod_file "code.gitea.io/gitea@$v")
	scratch_gomod "$gomod" code.gitea.io/gitea "$v" "" >"$dest/src/go.mod"
	cat >"$dest/src/tools.go" <<GO
//go:build tools

package tools

import (
	_ "code.gitea.io/gitea/cmd"
	_ "code.gitea.io/gitea/modules/markup/asciicast"
	_ "code.gitea.io/gitea/modules/markup/console"
	_ "code.gitea.io/gitea/modules/markup/csv"
	_ "code.gitea.io/gitea/modules/markup/markdown"
	_ "code.gitea.io/gitea/modules/markup/orgmode"
)
GO
	local tags="sqlite sqlite_unlock_notify"
	(cd "$dest/src" && GOCACHE="$dest/gocache" CGO_ENABLED=1 "$GO" build -trimpath -gcflags=all="$GCFLAGS" -tags "$tags" \
		-ldflags "-s -w -X 'main.Version=${v#v}' -X 'main.Tags=$tags'" \
		-o "$dest/bin/gitea.tmp" code.gitea.io/gitea) ||
		die "building gitea $v failed"
	mv "$dest/bin/gitea.tmp" "$dest/bin/gitea"
	rm -rf "$dest/gocache"
	answers "$dest/bin/gitea" "version ${v#v} " || die "the built gitea does not report $v"
	# Gitea reads its templates, options and public files from STATIC_ROOT_PATH:
	# the module's source in the module cache (internal/testgitea reads this file).
	(cd "$dest/src" && "$GO" list -m -f '{{.Dir}}' code.gitea.io/gitea) >"$dest/static-root"
	[ -d "$(cat "$dest/static-root")/templates" ] || die "no templates under $(cat "$dest/static-root")"
	log "gitea $v: built in $((SECONDS - t0)) s → $dest/bin (static files: $(cat "$dest/static-root"))"
}

# etcd comes from Debian (etcd-server 3.4, ~8 s) rather than the proxy (~1 min).
build_etcd() {
	if command -v etcd >/dev/null && etcd --version >/dev/null 2>&1; then
		log "etcd: $(etcd --version | head -1) at $(command -v etcd)"
		return
	fi
	apt_install etcd-server
	etcd --version >/dev/null || die "etcd does not run after installing etcd-server"
}

for what in "${@:-all}"; do
	case $what in
	all) build_etcd; build_kube; build_gitea ;;
	kube) build_kube ;;
	etcd) build_etcd ;;
	gitea) build_gitea ;;
	*) die "unknown target $what (want all, kube, etcd or gitea)" ;;
	esac
done
