#!/usr/bin/env bash
# The kernel matrix: runs every package's tests inside QEMU VMs booted on
# Debian's kernels, and prints a table of runner, architecture, kernel,
# package, result and counts.
#
#   scripts/vmtest.sh                  the whole matrix: x86-64 5.10 6.1 6.12
#                                      newest (initramfs), newest under
#                                      virtme-ng, arm64 6.1, s390x 6.1
#                                      (big-endian)
#   scripts/vmtest.sh 6.1 newest       the named x86-64 kernels (or Debian
#                                      suites: bullseye bookworm trixie sid)
#   scripts/vmtest.sh --arch s390x     s390x's default kernel (6.1)
#   scripts/vmtest.sh --arch arm64 6.12
#   scripts/vmtest.sh --runner vng newest
#   scripts/vmtest.sh s390x/6.1 vng/newest 5.10
#                                      several runs in one table: each
#                                      kernel may be prefixed by an
#                                      architecture and/or a runner
#   scripts/vmtest.sh path/to/vmlinuz  an x86-64 kernel image of your own
#
# Options:
#   --runner R         initramfs (QEMU booting a minimal initramfs with the
#                      static test binaries) or vng (virtme-ng: the host's
#                      root file system in the guest; x86-64 only)
#   --arch A           amd64 (x86-64), arm64 or s390x (big-endian), under
#                      QEMU's emulation for the latter two
#   --pkg PATTERN      test only these packages (go list patterns; may be
#                      repeated; default ./...)
#   -run REGEX         run only the tests matching REGEX (go test -run)
#   -C DIR             test the Go module in DIR instead of this repository:
#                      how a module that uses bpfmaps runs its own tests on
#                      the same kernels (see docs/kernels.md)
#   --selfcheck-fail   make vmtests' self-check fail inside the VM, to prove
#                      that a failure in the VM fails this script
#   --refresh          fetch the newest kernel of each suite again
#   -h, --help         this text
#
# Environment:
#   BPFMAPS_VMTEST_CACHE           where kernels and virtme-ng's package are
#                                  kept (default ${XDG_CACHE_HOME:-~/.cache}/bpfmaps/vmtest)
#   BPFMAPS_VMTEST_ACCEL           kvm, tcg or auto (default: KVM if it boots;
#                                  arm64 and s390x always run under TCG)
#   BPFMAPS_VMTEST_KERNEL_TIMEOUT  seconds one VM may run (default 900)
#   BPFMAPS_VMTEST_TEST_TIMEOUT    -test.timeout of each test binary (default 5m)
#   BPFMAPS_VMTEST_MIRROR          Debian mirror (default http://deb.debian.org/debian)
#
# Inside the VM the tests run as root with BPFMAPS_REQUIRE_BPF=1: a skip is
# allowed only where the kernel lacks a feature (or a host tool such as
# bpftool is absent). The initramfs runner packs static test binaries
# (CGO_ENABLED=0, GOARCH of the VM) with busybox into an initramfs whose
# /init (scripts/vm/init) runs them; the vng runner runs the same binaries
# from the host's file system. Both print a marker line with each exit
# status (scripts/vm/run-tests); a missing marker (panic, hang, timeout) is
# a failure. The exit status is non-zero when any package fails on any
# kernel. Logs of the last run stay in .cache/vmtest/ of the module tested.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
modroot=$(dirname "$here")

suites=(5.10:bullseye 6.1:bookworm 6.12:trixie newest:sid)
full_matrix=(initramfs/amd64/5.10 initramfs/amd64/6.1 initramfs/amd64/6.12 initramfs/amd64/newest
	vng/amd64/newest initramfs/arm64/6.1 initramfs/s390x/6.1)
cache=${BPFMAPS_VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfmaps/vmtest}
accel=${BPFMAPS_VMTEST_ACCEL:-auto}
kernel_timeout=${BPFMAPS_VMTEST_KERNEL_TIMEOUT:-900}
test_timeout=${BPFMAPS_VMTEST_TEST_TIMEOUT:-5m}
mirror=${BPFMAPS_VMTEST_MIRROR:-http://deb.debian.org/debian}
# Tests that compile C (testutil.RunC): the initramfs has no compiler, so
# the runner has them write their C sources on the host, compiles each for
# the VM's architecture and ships the programs.
ctwin_tests='AgainstGCC|LayoutMatchesKernelHeader'

die() { echo "vmtest: $*" >&2; exit 2; }
say() { echo "== $*"; }

run_regex="" selfcheck_fail=0 refresh=0 wanted=() runner="" arch="" pkgs=()
while [ $# -gt 0 ]; do
	case "$1" in
	-run | --run) [ $# -ge 2 ] || die "$1 needs a regular expression"; run_regex=$2; shift ;;
	--runner) [ $# -ge 2 ] || die "$1 needs initramfs or vng"; runner=$2; shift ;;
	--arch) [ $# -ge 2 ] || die "$1 needs amd64, arm64 or s390x"; arch=$2; shift ;;
	--pkg) [ $# -ge 2 ] || die "$1 needs a package pattern"; pkgs+=("$2"); shift ;;
	-C) [ $# -ge 2 ] || die "$1 needs a directory"; modroot=$(cd "$2" && pwd) || die "no directory $2"; shift ;;
	--selfcheck-fail) selfcheck_fail=1 ;;
	--refresh) refresh=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) wanted+=("$1") ;;
	esac
	shift
done
case "$runner" in "" | initramfs | vng) ;; *) die "--runner must be initramfs or vng, not $runner" ;; esac
case "$arch" in "" | amd64 | arm64 | s390x) ;; x86-64 | x86_64) arch=amd64 ;; *) die "--arch must be amd64, arm64 or s390x, not $arch" ;; esac
[ ${#pkgs[@]} -gt 0 ] || pkgs=(./...)
cd "$modroot"
[ -f go.mod ] || die "$modroot holds no go.mod"

# runs: "runner arch label suite-or-path" in matrix order.
runs=()
if [ ${#wanted[@]} -eq 0 ]; then
	if [ -z "$runner$arch" ]; then
		wanted=("${full_matrix[@]}")
	elif [ "${arch:-amd64}" = amd64 ] && [ "$runner" = vng ]; then
		wanted=(newest)
	elif [ "${arch:-amd64}" = amd64 ]; then
		wanted=(5.10 6.1 6.12 newest)
	else
		wanted=(6.1)
	fi
fi
for w in "${wanted[@]}"; do
	r=${runner:-initramfs} a=${arch:-amd64} k=$w
	if [ ! -f "$w" ]; then
		while [[ $k == */* ]]; do
			p=${k%%/*} k=${k#*/}
			case "$p" in
			initramfs | vng) r=$p ;;
			amd64 | x86-64 | x86_64) a=amd64 ;;
			arm64 | s390x) a=$p ;;
			*) die "unknown prefix '$p' in '$w': a runner (initramfs, vng) or an architecture (amd64, arm64, s390x)" ;;
			esac
		done
	fi
	found=""
	for m in "${suites[@]}"; do
		if [ "$k" = "${m%%:*}" ] || [ "$k" = "${m#*:}" ]; then found="${m%%:*} ${m#*:}"; fi
	done
	if [ -z "$found" ] && [ -f "$w" ]; then found="$(basename "$w") $(realpath "$w")"; fi
	[ -n "$found" ] || die "unknown kernel '$w': name one of ${suites[*]//:/ or }, or the path of a kernel image"
	[ "$r" = initramfs ] || [ "$a" = amd64 ] || die "$w: the vng runner runs the host's programs, so x86-64 kernels only"
	runs+=("$r $a $found")
done

# --- tools -------------------------------------------------------------------

declare -A qemu_bin=([amd64]=qemu-system-x86_64 [arm64]=qemu-system-aarch64 [s390x]=qemu-system-s390x)
declare -A qemu_pkg=([amd64]=qemu-system-x86 [arm64]=qemu-system-arm [s390x]=qemu-system-misc)
declare -A cross_cc=([amd64]=gcc [arm64]=aarch64-linux-gnu-gcc [s390x]=s390x-linux-gnu-gcc)
declare -A cross_pkg=([amd64]="gcc libc6-dev linux-libc-dev" [arm64]="gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
	[s390x]="gcc-s390x-linux-gnu libc6-dev-s390x-cross")
# what the static C programs need: libc.a and linux/bpf.h of the architecture
declare -A cross_lib=([amd64]=/usr/lib/x86_64-linux-gnu/libc.a:/usr/include/linux/bpf.h
	[arm64]=/usr/aarch64-linux-gnu/lib/libc.a:/usr/aarch64-linux-gnu/include/linux/bpf.h
	[s390x]=/usr/s390x-linux-gnu/lib/libc.a:/usr/s390x-linux-gnu/include/linux/bpf.h)
declare -A arch_name=([amd64]=x86-64 [arm64]=arm64 [s390x]=s390x)
declare -A archs=() runners=() initramfs_archs=()
for r in "${runs[@]}"; do
	read -r rn a _ <<<"$r"
	archs[$a]=1 runners[$rn]=1
	[ "$rn" != initramfs ] || initramfs_archs[$a]=1
done
ctwins=0
[ -n "$(grep -rl --include='*_test.go' 'testutil.RunC(' . 2>/dev/null | head -1)" ] && ctwins=1

sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
apt_install() {
	command -v apt-get >/dev/null || die "missing $*: install them (no apt-get here)"
	[ -z "$sudo" ] || command -v sudo >/dev/null || die "missing $* and not root: apt-get install $*"
	say "installing $*"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

static_busybox() {
	local b
	for b in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox; do
		if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return; fi
	done
	return 1
}

need=()
for a in "${!archs[@]}"; do
	command -v "${qemu_bin[$a]}" >/dev/null || need+=("${qemu_pkg[$a]}")
	if [ "$ctwins" -eq 1 ] && { [ -n "${initramfs_archs[$a]:-}" ] || [ "$a" = amd64 ]; }; then
		if ! command -v "${cross_cc[$a]}" >/dev/null || ! [ -f "${cross_lib[$a]%:*}" ] || ! [ -f "${cross_lib[$a]#*:}" ]; then
			need+=(${cross_pkg[$a]})
		fi
	fi
done
[ -z "${initramfs_archs[amd64]:-}" ] || static_busybox >/dev/null || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v gzip >/dev/null || need+=(gzip)
command -v timeout >/dev/null || need+=(coreutils)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
for a in "${!archs[@]}"; do
	command -v "${qemu_bin[$a]}" >/dev/null || die "${qemu_bin[$a]} is not installed (apt-get install ${qemu_pkg[$a]})"
done
command -v go >/dev/null || die "go is not installed"

# --- Debian packages ---------------------------------------------------------

# apt_private ARCH CMD... runs an apt command against a private apt
# directory for Debian architecture ARCH that knows the matrix's suites,
# leaving the system's sources untouched (the system's apt.conf.d, with its
# proxy and mirror settings, still applies).
apt_private() {
	local a=$1 dir=$cache/apt-$1
	shift
	if [ ! -f "$dir/apt.conf" ]; then
		mkdir -p "$dir"/sources.list.d "$dir"/preferences.d "$dir"/state/lists/partial "$dir"/cache/archives/partial
		: >"$dir/state/status"
		{
			echo "Dir::Etc::SourceList \"$dir/sources.list\";"
			echo "Dir::Etc::SourceParts \"$dir/sources.list.d\";"
			echo "Dir::Etc::Preferences \"$dir/preferences\";"
			echo "Dir::Etc::PreferencesParts \"$dir/preferences.d\";"
			echo "Dir::State \"$dir/state\";"
			echo "Dir::State::status \"$dir/state/status\";"
			echo "Dir::Cache \"$dir/cache\";"
			echo "APT::Architecture \"$a\";"
			echo "APT::Architectures { \"$a\"; };"
			echo "Acquire::Languages \"none\";"
			echo "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";"
			# The download helper would run as _apt, which may not be
			# able to write to every temporary directory.
			[ "$(id -u)" -ne 0 ] || echo "APT::Sandbox::User \"root\";"
		} >"$dir/apt.conf.new"
		mv "$dir/apt.conf.new" "$dir/apt.conf"
	fi
	APT_CONFIG=$dir/apt.conf "$@"
}

# apt_update ARCH reads the package lists of the suites this run needs for
# ARCH (bookworm's busybox-static for the initramfs of arm64 and s390x, sid's
# virtme-ng).
declare -A apt_updated=()
apt_update() {
	[ -n "${apt_updated[$1]:-}" ] && return
	local want=" " r rn a src
	[ "$1" = amd64 ] || want+="bookworm "
	[ "$1" != amd64 ] || [ -z "${runners[vng]:-}" ] || want+="sid "
	for r in "${runs[@]}"; do
		read -r rn a _ src <<<"$r"
		[ "$a" != "$1" ] || [[ $want == *" $src "* ]] || [ -f "$src" ] || want+="$src "
	done
	apt_private "$1" true
	for r in $want; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $r main"
	done >"$cache/apt-$1/sources.list"
	say "reading Debian's package lists for $1 ($(echo $want))"
	# The signatures are checked, but not the Release files' expiry: sid's
	# lasts a week, and a mirror that lags (or a clock ahead of it) would
	# otherwise stop the matrix; these are test kernels, not a system's.
	apt_private "$1" apt-get update -qq -o Acquire::Check-Valid-Until=false >/dev/null ||
		die "apt-get update of the private $1 sources failed"
	apt_updated[$1]=1
}

# deps ARCH PKG SUITE prints the Depends of package PKG in SUITE.
deps() { apt_private "$1" apt-cache show "$2/$3" 2>/dev/null | sed -n 's/^Depends: //p' | head -1; }

# download ARCH DIR PKG/SUITE... fetches the packages' .deb files into DIR.
download() {
	local a=$1 dir=$2
	shift 2
	apt_update "$a"
	(cd "$dir" && apt_private "$a" apt-get download -qq "$@" >/dev/null) || die "cannot download $* for $a"
}

# fetch_kernel ARCH FLAVOUR SUITE MODULES downloads the kernel of SUITE into
# $cache/kernels/ARCH-FLAVOUR/SUITE: vmlinuz, config and package; with
# MODULES=1 the whole package (modules too) is extracted under root/.
fetch_kernel() {
	local a=$1 flavour=$2 suite=$3 with_mods=$4 dir=$cache/kernels/$1-$2/$3 img d bin mods tmp deb members
	apt_update "$a"
	img=$(deps "$a" "linux-image-$flavour" "$suite" | grep -o 'linux-image-[0-9][^ ,]*' | head -1 || true)
	[ -n "$img" ] || die "no linux-image-$flavour in Debian $suite at $mirror"
	# Newer suites split the image into linux-binary (vmlinuz) and
	# linux-modules packages.
	d=$(deps "$a" "$img" "$suite")
	bin=$(grep -o 'linux-binary-[^ ,]*' <<<"$d" | head -1 || true)
	mods=$(grep -o 'linux-modules-[^ ,]*' <<<"$d" | head -1 || true)
	say "fetching $img ($a) from Debian $suite${with_mods:+ with its modules}"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	if [ "$with_mods" = 1 ]; then
		download "$a" "$tmp" "$img/$suite" ${bin:+"$bin/$suite"} ${mods:+"$mods/$suite"}
		mkdir -p "$tmp/k/root"
		for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$tmp/k/root"; done
		# The image where virtme-ng looks for the modules: beside it.
		members=$(find "$tmp/k/root" -path '*/boot/vmlinuz-*' -o -path '*/lib/modules/*/vmlinuz' | head -1)
		[ -n "$members" ] || { rm -rf "$tmp"; die "$img holds no kernel image"; }
		ln -s "${members#"$tmp/k/"}" "$tmp/k/vmlinuz"
		find "$tmp/k/root" -path '*/boot/config-*' -exec cp {} "$tmp/k/config" \;
	else
		download "$a" "$tmp" "${bin:-$img}/$suite"
		deb=$(ls "$tmp"/*.deb)
		# Only the kernel image (./boot/vmlinuz-* or
		# ./usr/lib/modules/*/vmlinuz) and its config: no modules.
		members=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -E '^\./boot/(vmlinuz|config)-|^\./usr/lib/modules/[^/]+/(vmlinuz|config)$' || true)
		[ -n "$members" ] || { rm -rf "$tmp"; die "${bin:-$img} holds no kernel image"; }
		mkdir -p "$tmp/x" "$tmp/k"
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" $members
		find "$tmp/x" -name 'vmlinuz*' -exec mv {} "$tmp/k/vmlinuz" \;
		find "$tmp/x" -name 'config*' -exec mv {} "$tmp/k/config" \;
	fi
	echo "$img $(dpkg-deb -f "$(ls "$tmp"/*.deb | head -1)" Version) $suite" >"$tmp/k/package"
	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	mv "$tmp/k" "$dir"
	rm -rf "$tmp"
}

# busybox_for ARCH prints a static busybox for ARCH: the host's for amd64,
# Debian bookworm's busybox-static package for the others.
busybox_for() {
	if [ "$1" = amd64 ]; then static_busybox; return; fi
	local f=$cache/busybox/$1/busybox tmp
	if [ ! -x "$f" ]; then
		mkdir -p "$cache"
		tmp=$(mktemp -d "$cache/fetch.XXXXXX")
		download "$1" "$tmp" busybox-static/bookworm >&2
		dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/x"
		mkdir -p "$(dirname "$f")"
		mv "$tmp/x/bin/busybox" "$f"
		rm -rf "$tmp"
	fi
	echo "$f"
}

# install_vng installs virtme-ng as KERNELS.md describes: its needs from
# the system's Debian release (udev pinned to the installed systemd: vng's
# shell init needs udev on the host, or the guest's output and exit status
# do not come back), and sid's virtme-ng package, which is architecture
# "all", with dpkg.
install_vng() {
	local v want=() deb
	if command -v vng >/dev/null && command -v udevadm >/dev/null; then return; fi
	for p in python3-requests python3-argcomplete kbd kmod busybox-static file iproute2 util-linux-extra; do
		dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || want+=("$p")
	done
	if ! command -v udevadm >/dev/null; then
		v=$(dpkg-query -W -f '${Version}' systemd 2>/dev/null || true)
		want+=("udev${v:+=$v}")
	fi
	[ ${#want[@]} -eq 0 ] || apt_install "${want[@]}"
	if ! command -v vng >/dev/null; then
		mkdir -p "$cache/virtme-ng"
		deb=$(ls "$cache"/virtme-ng/virtme-ng_*.deb 2>/dev/null | head -1 || true)
		if [ -z "$deb" ]; then
			download amd64 "$cache/virtme-ng" virtme-ng/sid
			deb=$(ls "$cache"/virtme-ng/virtme-ng_*.deb | head -1)
		fi
		say "installing $(basename "$deb")"
		$sudo dpkg -i "$deb" >/dev/null
	fi
	command -v vng >/dev/null || die "virtme-ng did not install (vng is not on PATH)"
}
[ -z "${runners[vng]:-}" ] || install_vng

# The kernel of each run.
declare -A image
for r in "${runs[@]}"; do
	read -r rn a label src <<<"$r"
	key="$rn $a $label"
	if [ -f "$src" ]; then image[$key]=$src; continue; fi
	case "$rn/$a" in
	initramfs/amd64) flavour=cloud-amd64 mods="" ;;
	# Cloud kernels have no 9p, so virtme-ng cannot mount the root:
	# the generic kernel, with its modules.
	vng/amd64) flavour=amd64 mods=1 ;;
	initramfs/arm64) flavour=cloud-arm64 mods="" ;;
	initramfs/s390x) flavour=s390x mods="" ;;
	esac
	d=$cache/kernels/$a-$flavour/$src
	if [ "$refresh" -eq 1 ] || [ ! -s "$d/vmlinuz" ]; then fetch_kernel "$a" "$flavour" "$src" "$mods"; fi
	image[$key]=$d/vmlinuz
done

# --- test binaries -----------------------------------------------------------

work=$modroot/.cache/vmtest
# One run at a time per module: a second run would overwrite the
# initramfs and the results of the first while its VMs read them.
mkdir -p "$(dirname "$work")"
exec 9>"$(dirname "$work")/vmtest.lock"
flock -n 9 || die "another scripts/vmtest.sh is running on $modroot (it holds $(dirname "$work")/vmtest.lock)"
rm -rf "$work"
mkdir -p "$work/logs"
module=$(go list -m)
# Packages whose tests need the Go toolchain at run time (the generator
# loads packages with go list): there is no Go toolchain in the initramfs.
# The CLI's tests run the test binary itself as the tool.
vm_exclude=()
[ "$module" != github.com/bpfmaps/bpfmaps ] || vm_exclude=(cmd/bpfcodegen)

# stage ARCH builds the static test binaries for ARCH into $work/ARCH/root/vmtest.
stage() {
	local a=$1 root=$work/$1/root ip rel bin x skip start=$SECONDS
	mkdir -p "$root/bin" "$root/vmtest/bin" "$root/vmtest/src"
	: >"$root/vmtest/tests"
	: >"$work/$a/build-failed"
	say "building static test binaries for ${arch_name[$a]}"
	local list=() names=() name dup
	while read -r ip name; do
		[ -n "$ip" ] || continue
		[ "$name" != main ] || name=${ip##*/} # go test -c names a command's binary after its directory
		rel=${ip#"$module"}
		rel=${rel#/}
		rel=${rel:-.}
		skip=0
		for x in "${vm_exclude[@]}"; do [ "$rel" = "$x" ] && skip=1; done
		if [ "$skip" -eq 1 ]; then
			[ "$a" != amd64 ] || echo "$rel: not run in the VM (its tests need the Go toolchain)"
			continue
		fi
		list+=("$rel") names+=("$name")
	done < <(CGO_ENABLED=0 GOARCH=$a go list -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Name}}{{end}}' "${pkgs[@]}")
	[ ${#list[@]} -gt 0 ] || die "no package with tests in ${pkgs[*]}"
	# One go command builds them all (in parallel) when the package names
	# differ, as go test -c -o DIR/ requires; else, or when that fails,
	# one package at a time, which names the package that does not build.
	dup=$(printf '%s\n' "${names[@]}" | sort | uniq -d)
	if [ -z "$dup" ] && (cd "$modroot" && CGO_ENABLED=0 GOARCH=$a go test -c -o "$root/vmtest/bin/" "${list[@]/#/./}") >"$work/logs/build-$a.log" 2>&1; then
		for i in "${!list[@]}"; do
			if [ -f "$root/vmtest/bin/${names[$i]}.test" ]; then
				echo "${list[$i]} ${names[$i]}.test" >>"$root/vmtest/tests"
			else
				echo "${list[$i]}" >>"$work/$a/build-failed"
			fi
		done
	else
		rm -f "$root/vmtest/bin/"*
		for rel in "${list[@]}"; do
			bin=$(tr '/.' '__' <<<"$rel").test
			if ! CGO_ENABLED=0 GOARCH=$a go test -c -o "$root/vmtest/bin/$bin" "./$rel" >"$work/logs/build-$a-$bin.log" 2>&1; then
				echo "$rel ($a): build failed:" >&2
				sed 's/^/    /' "$work/logs/build-$a-$bin.log" >&2
				echo "$rel" >>"$work/$a/build-failed"
				continue
			fi
			echo "$rel $bin" >>"$root/vmtest/tests"
		done
	fi
	echo "built $(wc -l <"$root/vmtest/tests") test binaries for ${arch_name[$a]} in $((SECONDS - start))s"
	# The source tree (Go and C files, BPF objects and testdata) so that
	# each test runs in its package directory, as go test runs it, and
	# finds the files it reads next to it (the CLI's BTF tests compile
	# examples/flowtypes/bpf/flow.bpf.c with clang, under vng).
	{ git ls-files --cached --others --exclude-standard -- '*.go' '*.c' '*.h' '*.o' '*/testdata/*' go.mod go.sum 2>/dev/null ||
		find . -path ./.cache -prune -o \( -name '*.go' -o -name '*.[cho]' -o -path '*/testdata/*' -o -name go.mod -o -name go.sum \) -print; } |
		while read -r f; do [ -f "$f" ] && echo "$f"; done |
		cpio -p -d --quiet "$root/vmtest/src"
	install -m 0755 "$here/vm/run-tests" "$root/vmtest/run-tests"
	{
		echo "BPFMAPS_REQUIRE_BPF=1"
		echo "BPFMAPS_VMTEST=1"
		echo "BPFMAPS_VMTEST_SELFCHECK_FAIL=$selfcheck_fail"
		echo "VMTEST_TEST_TIMEOUT=$test_timeout"
		echo "VMTEST_RUN='${run_regex//\'/}'"
	} >"$root/vmtest/env"
}

# ctwins ARCH compiles, for ARCH, the C programs of the tests that call
# testutil.RunC: the host's test binaries write their sources (and the
# flags) under BPFMAPS_CTWINS_EMIT, each named by its SHA-256; in the VM
# RunC runs the program of the same name instead of calling gcc.
ctwins() {
	local a=$1 root=$work/$1/root src=$work/ctwin-src c sum n=0 line
	if [ ! -d "$src" ]; then
		mkdir -p "$src"
		while read -r line; do
			set -- $line
			(cd "$work/amd64/root/vmtest/src/$1" && BPFMAPS_CTWINS_EMIT=$src BPFMAPS_REQUIRE_BPF=0 \
				"$work/amd64/root/vmtest/bin/$2" -test.run "$ctwin_tests" >"$work/logs/ctwin-emit-$2.log" 2>&1) ||
				die "writing the C sources of $1's tests failed: $(tail -5 "$work/logs/ctwin-emit-$2.log")"
		done <"$work/amd64/root/vmtest/tests"
	fi
	mkdir -p "$root/vmtest/ctwins"
	for c in "$src"/*.c; do
		[ -f "$c" ] || continue
		sum=$(basename "$c" .c)
		# shellcheck disable=SC2046
		"${cross_cc[$a]}" -static $(cat "$src/$sum.flags") -o "$root/vmtest/ctwins/$sum" "$c" 2>"$work/logs/ctwin-$a-$sum.log" ||
			die "${cross_cc[$a]} failed on $c: $(head -20 "$work/logs/ctwin-$a-$sum.log")"
		n=$((n + 1))
	done
	echo "BPFMAPS_CTWINS=/vmtest/ctwins" >>"$root/vmtest/env"
	echo "compiled $n C program(s) of the layout tests with ${cross_cc[$a]} for ${arch_name[$a]}"
}

# initramfs ARCH packs the binaries, busybox and /init into $work/ARCH/initramfs.gz.
initramfs() {
	local a=$1 root=$work/$1/root
	cp "$(busybox_for "$a")" "$root/bin/busybox"
	install -m 0755 "$here/vm/init" "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/$a/initramfs.gz"
}

stage amd64 # the host's binaries also write the C sources for the others
for a in "${!archs[@]}"; do
	[ "$a" = amd64 ] || stage "$a"
done
# vng runs the amd64 binaries from the host's file system, and the same C
# programs as the initramfs (gcc in an emulated guest, reading the host's
# files through 9p, takes minutes).
declare -A ctwin_archs=()
for a in "${!initramfs_archs[@]}"; do ctwin_archs[$a]=1; done
[ -z "${runners[vng]:-}" ] || ctwin_archs[amd64]=1
if [ "$ctwins" -eq 1 ]; then
	for a in "${!ctwin_archs[@]}"; do ctwins "$a"; done
fi
[ -z "${runners[vng]:-}" ] || cp -a "$work/amd64/root/vmtest" "$work/vng"
sed -i "s|^BPFMAPS_CTWINS=.*|BPFMAPS_CTWINS=$work/vng/ctwins|" "$work/vng/env" 2>/dev/null || true
for a in "${!initramfs_archs[@]}"; do initramfs "$a"; done

# --- booting -----------------------------------------------------------------

# kvm_works boots kernel $1 under KVM with a trivial /init: on some hosts
# /dev/kvm exists but cannot run a stock kernel (nested virtualization), so
# only a VM that really boots counts.
kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	local d=$work/kvm-probe
	mkdir -p "$d/root/bin"
	cp "$(static_busybox)" "$d/root/bin/busybox"
	printf '#!/bin/busybox sh\n/bin/busybox echo BPFMAPS-VMTEST-KVM-OK\n/bin/busybox poweroff -f\n' >"$d/root/init"
	chmod 0755 "$d/root/init"
	(cd "$d/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$d/initramfs.gz"
	# In a subshell whose stderr is the log: QEMU aborting on a broken KVM
	# is an expected answer (timeout then kills itself with the same
	# signal), and bash would report it on our stderr; the subshell takes
	# the report and exits 0.
	(timeout -k 5 30 qemu-system-x86_64 -nodefaults -display none -no-reboot -m 256M -accel kvm -cpu host \
		-kernel "$1" -initrd "$d/initramfs.gz" -append "console=ttyS0 panic=-1 quiet" \
		-serial "file:$d/console.log" || true) >"$d/qemu.log" 2>&1
	grep -q BPFMAPS-VMTEST-KVM-OK "$d/console.log" 2>/dev/null
}

if [ -n "${archs[amd64]:-}" ]; then
	case "$accel" in
	auto)
		accel=tcg
		for r in "${runs[@]}"; do
			read -r rn a label _ <<<"$r"
			if [ "$a" = amd64 ]; then
				if kvm_works "${image[$rn $a $label]}"; then accel=kvm; fi
				break
			fi
		done
		;;
	kvm | tcg) ;;
	*) die "BPFMAPS_VMTEST_ACCEL must be kvm, tcg or auto, not $accel" ;;
	esac
fi
say "x86-64 VMs run under ${accel/auto/tcg}; arm64 and s390x under TCG; ${#runs[@]} run(s)"

# Two vCPUs: under TCG QEMU (7.2) already emulates them on two host threads
# (multi-threaded TCG is its default for x86-64, arm64 and s390x guests on an
# x86-64 host), so a 2-core runner is used whole.
common=(-nodefaults -display none -no-reboot -m 1G -smp 2)
append_common="panic=-1 oops=panic loglevel=1 rdinit=/init"

# boot RUNNER ARCH LABEL ID runs the tests; the test output lands in
# $work/logs/ID.tests.log, the kernel console in ID.console.log.
boot() {
	local rn=$1 a=$2 img=${image[$1 $2 $3]} id=$4
	local tests=$work/logs/$id.tests.log console=$work/logs/$id.console.log
	case "$rn/$a" in
	vng/amd64)
		local kvm=()
		[ "$accel" = kvm ] || kvm=(--disable-kvm)
		# virtme-ng shares the host's file systems with the guest, so
		# the guest runs the same script over the staged directory.
		# --verbose puts the console (a panic, say) on stderr.
		# The image's real path: vng finds the modules beside it.
		timeout -k 10 "$kernel_timeout" vng --run "$(realpath "$img")" --user root "${kvm[@]}" --verbose --memory 1G --cpus 2 \
			-- sh "$work/vng/run-tests" "$work/vng" >"$tests" 2>"$console" </dev/null
		;;
	initramfs/amd64)
		local acc=(-accel tcg -cpu max)
		[ "$accel" != kvm ] || acc=(-accel kvm -cpu host)
		# Kernel messages on ttyS0, the tests on ttyS1: no printk can
		# split a marker line.
		timeout -k 10 "$kernel_timeout" qemu-system-x86_64 "${common[@]}" "${acc[@]}" \
			-kernel "$img" -initrd "$work/$a/initramfs.gz" -append "console=ttyS0 $append_common vmtest.out=ttyS1" \
			-serial "file:$console" -serial "file:$tests" </dev/null >"$work/logs/$id.qemu.log" 2>&1
		;;
	initramfs/arm64)
		# One UART: the tests share the console (loglevel=1 keeps the
		# kernel quiet; the markers are found anywhere in a line).
		timeout -k 10 "$kernel_timeout" qemu-system-aarch64 -M virt -cpu max,pauth-impdef=on "${common[@]}" \
			-kernel "$img" -initrd "$work/$a/initramfs.gz" -append "console=ttyAMA0 $append_common" \
			-serial "file:$tests" </dev/null >"$work/logs/$id.qemu.log" 2>&1
		cp "$tests" "$console"
		;;
	initramfs/s390x)
		timeout -k 10 "$kernel_timeout" qemu-system-s390x -M s390-ccw-virtio -cpu max "${common[@]}" \
			-kernel "$img" -initrd "$work/$a/initramfs.gz" -append "console=ttysclp0 $append_common" \
			-serial "file:$tests" </dev/null >"$work/logs/$id.qemu.log" 2>&1
		cp "$tests" "$console"
		;;
	esac
}

# report ID KERNEL RUNNER ARCH TESTS parses the markers of run ID's test log
# into rows of "runner arch kernel package result pass fail skip seconds",
# naming the kernel KERNEL (or by the release the guest reports), and
# appends skip reasons and failures to $skips and $fails. TESTS lists the
# packages the run was given.
report() {
	touch "$work/logs/$1.tests.log"
	awk -v kernel="$2" -v runner="$3" -v arch="$4" -v skips="$skips" -v fails="$fails" -v tests="$5" '
	BEGIN { while ((getline line < tests) > 0) { split(line, f, " "); order[++n] = f[1] } }
	{ sub(/\r$/, "") }
	/BPFMAPS-VMTEST-KERNEL / { sub(/.*BPFMAPS-VMTEST-KERNEL /, ""); if (kernel == "") kernel = $0; next }
	/BPFMAPS-VMTEST-BEGIN / { sub(/.*BPFMAPS-VMTEST-BEGIN /, ""); pkg = $0; begun[pkg] = 1; out[pkg] = ""; next }
	/BPFMAPS-VMTEST-END / { sub(/.*BPFMAPS-VMTEST-END /, ""); split($0, f, " "); rc[f[1]] = f[2]; secs[f[1]] = f[3]; pkg = ""; next }
	/BPFMAPS-VMTEST-DONE/ { done = 1; next }
	pkg == "" { next }
	{ out[pkg] = out[pkg] $0 "\n" }
	/^ *=== RUN / { cur = $0; sub(/^ *=== RUN +/, "", cur); next }
	/^ *--- PASS: / { pass[pkg]++; next }
	/^ *--- FAIL: / { fail[pkg]++; next }
	/^ *--- SKIP: / {
		skip[pkg]++; name = $0; sub(/^ *--- SKIP: /, "", name); sub(/ \(.*/, "", name)
		printf "%s %s (%s)  %s  %s: %s\n", arch, kernel, runner, pkg, name, said[pkg, name] >> skips
		next
	}
	/^ *=== / { next }
	{ line = $0; sub(/^ +/, "", line); said[pkg, cur] = line } # the last thing the test said
	END {
		if (kernel == "") kernel = "?"
		for (i = 1; i <= n; i++) {
			p = order[i]
			if (!(p in begun)) { res = done ? "missing" : "not run" }
			else if (!(p in rc)) { res = "crashed" }
			else { res = rc[p] == 0 ? "ok" : "FAIL" }
			printf "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", runner, arch, kernel, p, res, pass[p], fail[p], skip[p], (p in secs) ? secs[p] "s" : "-"
			if (res != "ok" && (p in begun)) {
				printf "---- %s on %s %s (%s): %s\n", p, arch, kernel, runner, res >> fails
				m = split(out[p], l, "\n"); from = m > 60 ? m - 60 : 1
				for (j = from; j <= m; j++) print l[j] >> fails
			}
		}
	}' "$work/logs/$1.tests.log"
}

rows=$work/rows skips=$work/skips fails=$work/fails retried=$work/retried
: >"$retried"
: >"$rows"
: >"$skips"
: >"$fails"
matrix_start=$SECONDS
for r in "${runs[@]}"; do
	read -r rn a label _ <<<"$r"
	id=$rn-$a-$label
	tests=$work/$a/root/vmtest/tests build_failed=$work/$a/build-failed
	[ "$rn" != vng ] || tests=$work/vng/tests
	while read -r p; do
		[ -n "$p" ] && printf '%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n' "$rn" "${arch_name[$a]}" "$label" "$p" "BUILD FAILED" 0 0 0 "-" >>"$rows"
	done <"$build_failed"
	start=$SECONDS
	status=0
	boot "$rn" "$a" "$label" "$id" || status=$?
	if ! grep -q BPFMAPS-VMTEST-BEGIN "$work/logs/$id.tests.log" 2>/dev/null; then
		# The kernel never reached the first test: a boot that dies is
		# booted once more (seen: an oops in 6.12's boot-time code
		# patching under TCG, once in several boots). A run whose tests
		# started is never retried.
		mv "$work/logs/$id.console.log" "$work/logs/$id.first-boot.console.log" 2>/dev/null || true
		echo "$id: the VM stopped before the first test (exit $status); booting it once more" \
			"(console of the first boot: $work/logs/$id.first-boot.console.log)" | tee -a "$retried"
		status=0
		boot "$rn" "$a" "$label" "$id" || status=$?
	fi
	took=$((SECONDS - start))
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "$id: the VM did not finish within ${kernel_timeout}s" >>"$fails"
	fi
	name=""
	if [ -f "$(dirname "${image[$rn $a $label]}")/package" ]; then
		read -r _ version suite <"$(dirname "${image[$rn $a $label]}")/package"
		name="${version%-*} $suite"
	fi
	report "$id" "$name" "$rn" "${arch_name[$a]}" "$tests" >>"$rows"
	echo "$id: $took s (boot, tests and power-off)"
	if ! grep -q BPFMAPS-VMTEST-DONE "$work/logs/$id.tests.log" 2>/dev/null; then
		{
			echo "---- $id: the VM stopped before the tests finished (exit $status); kernel console:"
			tail -n 40 "$work/logs/$id.console.log" 2>/dev/null
		} >>"$fails"
	fi
done

echo
{
	printf 'RUNNER\tARCH\tKERNEL\tPACKAGE\tRESULT\tPASS\tFAIL\tSKIP\tTIME\n'
	cat "$rows"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } } END {
	for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= 9; i++) line = line sprintf("%" (i >= 6 ? "" : "-") w[i] "s  ", c[r, i]); sub(/ +$/, "", line); print line } }'
if [ -s "$skips" ]; then
	echo
	echo "Skipped tests:"
	sed 's/^/  /' "$skips"
fi
if [ -s "$retried" ]; then
	echo
	echo "Boots retried:"
	sed 's/^/  /' "$retried"
fi
if [ -s "$fails" ]; then
	echo
	echo "Failures (full logs in $work/logs/):"
	cat "$fails"
fi
echo
read -r npass nfail nskip nbad < <(awk -F'\t' '{ p += $6; f += $7; s += $8; if ($5 != "ok") b++ } END { printf "%d %d %d %d\n", p, f, s, b }' "$rows")
echo "kernel matrix: ${#runs[@]} run(s), $((SECONDS - matrix_start))s in VMs, $nbad package run(s) not ok"
echo "vmtest: $npass passed, $nfail failed, $nskip skipped"
[ "$nbad" -eq 0 ] && [ "$nfail" -eq 0 ]
