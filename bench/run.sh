#!/usr/bin/env bash
# Runs bpfmaps beside cilium/ebpf and libbpf on the same kernel fixtures and
# prints one markdown table of medians with ratios (see main.go). Installs
# what it needs on a fresh Debian machine (gcc, pkg-config, libbpf-dev and
# the kernel headers; Go must be installed), builds the libbpf peer and the
# bench command into bench/.build, and runs them as root.
#
#   bench/run.sh            6 rounds (3.5 minutes on a busy 2-core VM)
#   bench/run.sh -quick     3 rounds, fewer map operations per sample (2.7 minutes there)
#
# Other arguments go to the bench command: -rounds N, -v (every sample).
set -euo pipefail
cd "$(dirname "$0")"

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -f /usr/include/bpf/libbpf.h ] || need+=(libbpf-dev) # brings libelf-dev and zlib1g-dev
[ -f /usr/include/linux/bpf.h ] || need+=(linux-libc-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "== installing ${need[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v go >/dev/null || { echo "run.sh: Go is not installed (https://go.dev/dl/)" >&2; exit 1; }

echo "== building" >&2
mkdir -p .build
# shellcheck disable=SC2046 # pkg-config's flags are separate words
gcc -O2 -Wall -Wextra -o .build/libbpf-peer libbpf/peer.c $(pkg-config --cflags --libs libbpf)
go build -o .build/bench .

echo "== running (rings are filled by the kernel between timed drains)" >&2
$sudo ./.build/bench -libbpf ./.build/libbpf-peer "$@"
