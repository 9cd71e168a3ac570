#!/usr/bin/env bash
# The test command of the README: installs what the tests need on a fresh
# Debian machine, then runs gofmt, go vet and staticcheck, the whole suite with
# the race detector against the running kernel, and the kernel matrix in VMs.
#
#   scripts/test.sh                 everything: the whole kernel matrix (x86-64
#                                   5.10 6.1 6.12 newest, newest under
#                                   virtme-ng, arm64 6.1, s390x 6.1)
#   scripts/test.sh --no-vm         skip the QEMU kernel matrix
#   scripts/test.sh -- ARGS...      run the matrix as scripts/vmtest.sh ARGS
#                                   (a subset: "-- 6.1 s390x/6.1", say)
#
# Set BPFMAPS_REQUIRE_BPF=1 (CI does) to turn every skip for missing
# privileges into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

run_vm=1 vm_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-vm) run_vm=0 ;;
	--) shift; vm_args=("$@"); break ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "test.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
start=$SECONDS

# Host tools the tests hold the library against: gcc and the kernel's UAPI
# headers (layout tests), bpftool (interop tests), clang (BTF fixtures),
# setpriv (privilege tests).
need=()
command -v gcc >/dev/null || need+=(gcc)
[ -f /usr/include/linux/bpf.h ] || need+=(linux-libc-dev)
command -v bpftool >/dev/null || need+=(bpftool)
command -v clang >/dev/null || need+=(clang)
command -v setpriv >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The tools are installed now: a test that would skip for want of one fails.
export BPFMAPS_REQUIRE_TOOLS=1

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt -l lists:" $unformatted >&2
	exit 1
fi

echo "== go vet"
go vet ./...

# staticcheck at a pinned version, fetched through the Go module proxy the
# first time and run from the module cache after that.
staticcheck_version=v0.8.2 # staticcheck 2026.2.2
echo "== staticcheck $staticcheck_version"
go run "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version" ./...

echo "== go test -race (kernel tests: BPFMAPS_REQUIRE_BPF=${BPFMAPS_REQUIRE_BPF:-0})"
go test -race -count=1 -timeout 15m ./...

echo "== host checks and tests took $((SECONDS - start))s"

if [ "$run_vm" -eq 1 ] && [ -x scripts/vmtest.sh ]; then
	echo "== kernel matrix in QEMU"
	scripts/vmtest.sh "${vm_args[@]}"
fi
echo "== scripts/test.sh took $((SECONDS - start))s"
