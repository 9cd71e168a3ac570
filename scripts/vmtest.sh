#!/usr/bin/env bash
# The kernel matrix: runs every package's tests inside QEMU VMs booted on
# Debian's kernels, and prints a table of kernel, package, result and counts.
#
#   scripts/vmtest.sh                  all kernels: 5.10 6.1 6.12 newest
#   scripts/vmtest.sh 6.1 newest       the named kernels (or Debian suites:
#                                      bullseye bookworm trixie sid)
#   scripts/vmtest.sh path/to/vmlinuz  a kernel image of your own
#
# Options:
#   -run REGEX         run only the tests matching REGEX (go test -run)
#   --selfcheck-fail   make vmtests' self-check fail inside the VM, to prove
#                      that a failure in the VM fails this script
#   --refresh          fetch the newest kernel of each suite again
#   -h, --help         this text
#
# Environment:
#   BPFMAPS_VMTEST_CACHE           where kernels are kept
#                                  (default ${XDG_CACHE_HOME:-~/.cache}/bpfmaps/vmtest)
#   BPFMAPS_VMTEST_ACCEL           kvm, tcg or auto (default: KVM if it boots)
#   BPFMAPS_VMTEST_KERNEL_TIMEOUT  seconds one VM may run (default 600)
#   BPFMAPS_VMTEST_TEST_TIMEOUT    -test.timeout of each test binary (default 3m)
#   BPFMAPS_VMTEST_MIRROR          Debian mirror (default http://deb.debian.org/debian)
#
# Inside the VM the tests run as root with BPFMAPS_REQUIRE_BPF=1: a skip is
# allowed only where the kernel lacks a feature (or a host tool such as gcc
# is absent). Every test binary is static (CGO_ENABLED=0), packed with
# busybox into an initramfs whose /init (scripts/vm/init) runs them and
# prints a marker line with each exit status; a missing marker (panic, hang,
# timeout) is a failure. The exit status is non-zero when any package fails
# on any kernel. Logs of the last run stay in scripts/.cache/vmtest/.
set -euo pipefail
cd "$(dirname "$0")/.."

matrix=(5.10:bullseye 6.1:bookworm 6.12:trixie newest:sid)
flavour=cloud-amd64
cache=${BPFMAPS_VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bpfmaps/vmtest}
work=$PWD/scripts/.cache/vmtest
accel=${BPFMAPS_VMTEST_ACCEL:-auto}
kernel_timeout=${BPFMAPS_VMTEST_KERNEL_TIMEOUT:-600}
test_timeout=${BPFMAPS_VMTEST_TEST_TIMEOUT:-3m}
mirror=${BPFMAPS_VMTEST_MIRROR:-http://deb.debian.org/debian}
# Packages whose tests need the Go toolchain at run time (the CLI tests
# build the tool in TestMain, the generator loads packages with go list):
# there is no Go toolchain in the VM.
vm_exclude=(cmd/bpfmaps cmd/bpfcodegen)

die() { echo "vmtest: $*" >&2; exit 2; }
say() { echo "== $*"; }

run_regex="" selfcheck_fail=0 refresh=0 wanted=()
while [ $# -gt 0 ]; do
	case "$1" in
	-run | --run) [ $# -ge 2 ] || die "$1 needs a regular expression"; run_regex=$2; shift ;;
	--selfcheck-fail) selfcheck_fail=1 ;;
	--refresh) refresh=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1 (see --help)" ;;
	*) wanted+=("$1") ;;
	esac
	shift
done

# kernels: "label suite-or-path" pairs to boot, in matrix order.
kernels=()
if [ ${#wanted[@]} -eq 0 ]; then
	for m in "${matrix[@]}"; do kernels+=("${m%%:*} ${m#*:}"); done
fi
for w in "${wanted[@]}"; do
	found=""
	for m in "${matrix[@]}"; do
		if [ "$w" = "${m%%:*}" ] || [ "$w" = "${m#*:}" ]; then found="${m%%:*} ${m#*:}"; fi
	done
	if [ -z "$found" ] && [ -f "$w" ]; then found="$(basename "$w") $(realpath "$w")"; fi
	[ -n "$found" ] || die "unknown kernel '$w': name one of ${matrix[*]//:/ or }, or the path of a kernel image"
	kernels+=("$found")
done

# --- tools -------------------------------------------------------------------

static_busybox() {
	local b
	for b in /bin/busybox /usr/bin/busybox /usr/lib/busybox/busybox; do
		if [ -x "$b" ] && ! ldd "$b" >/dev/null 2>&1; then echo "$b"; return; fi
	done
	return 1
}

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
static_busybox >/dev/null || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v gzip >/dev/null || need+=(gzip)
command -v timeout >/dev/null || need+=(coreutils)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || need+=(debian-archive-keyring)
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing ${need[*]}: install qemu-system-x86_64, a static busybox and cpio (no apt-get here)"
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "missing ${need[*]} and not root: apt-get install ${need[*]}"
		sudo=sudo
	fi
	say "installing ${need[*]}"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"
busybox=$(static_busybox) || die "no static busybox (apt-get install busybox-static)"
command -v go >/dev/null || die "go is not installed"

# --- kernels -----------------------------------------------------------------

# apt_private runs an apt command against a private apt directory that knows
# the matrix's suites, leaving the system's sources untouched (the system's
# apt.conf.d, with its proxy and mirror settings, still applies).
apt_private() {
	local dir=$cache/apt
	if [ ! -f "$dir/apt.conf" ]; then
		mkdir -p "$dir"/sources.list.d "$dir"/preferences.d "$dir"/state/lists/partial "$dir"/cache/archives/partial
		: >"$dir/state/status"
		local m
		for m in "${matrix[@]}"; do
			echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror ${m#*:} main"
		done >"$dir/sources.list"
		{
			echo "Dir::Etc::SourceList \"$dir/sources.list\";"
			echo "Dir::Etc::SourceParts \"$dir/sources.list.d\";"
			echo "Dir::Etc::Preferences \"$dir/preferences\";"
			echo "Dir::Etc::PreferencesParts \"$dir/preferences.d\";"
			echo "Dir::State \"$dir/state\";"
			echo "Dir::State::status \"$dir/state/status\";"
			echo "Dir::Cache \"$dir/cache\";"
			echo "APT::Architecture \"amd64\";"
			echo "APT::Architectures { \"amd64\"; };"
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

apt_updated=0
apt_update() {
	[ "$apt_updated" -eq 1 ] && return
	say "reading Debian's package lists (${matrix[*]#*:})"
	apt_private apt-get update -qq >/dev/null || die "apt-get update of the private kernel sources failed"
	apt_updated=1
}

# deps prints the Depends of package $1 in suite $2.
deps() { apt_private apt-cache show "$1/$2" 2>/dev/null | sed -n 's/^Depends: //p' | head -1; }

# fetch_kernel downloads the kernel of suite $1 into $cache/kernels/$1.
fetch_kernel() {
	local suite=$1 dir=$cache/kernels/$1 pkg=linux-image-$flavour next d tmp deb members
	apt_update
	# The meta package depends on the versioned image; newer suites split
	# the image itself into a linux-binary package.
	for _ in 1 2 3; do
		d=$(deps "$pkg" "$suite")
		next=$(grep -o 'linux-binary-[^ ,]*' <<<"$d" | head -1 || true)
		[ -n "$next" ] || next=$(grep -o 'linux-image-[^ ,]*' <<<"$d" | head -1 || true)
		[ -n "$next" ] || break
		pkg=$next
	done
	[ "$pkg" != "linux-image-$flavour" ] || die "no linux-image-$flavour in Debian $suite at $mirror"
	say "fetching $pkg from Debian $suite"
	tmp=$(mktemp -d "$cache/fetch.XXXXXX")
	(cd "$tmp" && apt_private apt-get download -qq "$pkg/$suite" >/dev/null) || { rm -rf "$tmp"; die "cannot download $pkg/$suite"; }
	deb=$(ls "$tmp"/*.deb)
	# Only the kernel image (./boot/vmlinuz-* or ./usr/lib/modules/*/vmlinuz)
	# and its config: no install, no modules.
	members=$(dpkg-deb --fsys-tarfile "$deb" | tar -t | grep -E '^\./boot/(vmlinuz|config)-|^\./usr/lib/modules/[^/]+/(vmlinuz|config)$' || true)
	[ -n "$members" ] || { rm -rf "$tmp"; die "$pkg holds no kernel image"; }
	mkdir -p "$tmp/x"
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp/x" $members
	mkdir -p "$tmp/k"
	find "$tmp/x" -name 'vmlinuz*' -exec mv {} "$tmp/k/vmlinuz" \;
	find "$tmp/x" -name 'config*' -exec mv {} "$tmp/k/config" \;
	echo "$(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) $suite" >"$tmp/k/package"
	rm -rf "$dir"
	mkdir -p "$(dirname "$dir")"
	mv "$tmp/k" "$dir"
	rm -rf "$tmp"
}

mkdir -p "$cache"
declare -A image
for k in "${kernels[@]}"; do
	label=${k%% *} src=${k#* }
	if [ -f "$src" ]; then image[$label]=$src; continue; fi
	if [ "$refresh" -eq 1 ] || [ ! -s "$cache/kernels/$src/vmlinuz" ]; then fetch_kernel "$src"; fi
	image[$label]=$cache/kernels/$src/vmlinuz
done

# --- test binaries and the initramfs ----------------------------------------

# One run at a time per checkout: a second run would overwrite the
# initramfs and the results of the first while its VMs read them.
mkdir -p "$(dirname "$work")"
exec 9>"$(dirname "$work")/vmtest.lock"
flock -n 9 || die "another scripts/vmtest.sh is running in this checkout (it holds $(dirname "$work")/vmtest.lock)"
rm -rf "$work"
mkdir -p "$work/root/bin" "$work/root/vmtest/bin" "$work/root/vmtest/src" "$work/logs"
: >"$work/root/vmtest/tests"
: >"$work/build-failed"
module=$(go list -m)
say "building static test binaries"
build_start=$SECONDS
for ip in $(CGO_ENABLED=0 go list -e -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' ./...); do
	rel=${ip#"$module"}
	rel=${rel#/}
	rel=${rel:-.}
	skip=0
	for x in "${vm_exclude[@]}"; do [ "$rel" = "$x" ] && skip=1; done
	if [ "$skip" -eq 1 ]; then
		echo "$rel: not run in the VM (its tests need the Go toolchain)"
		continue
	fi
	bin=$(tr '/.' '__' <<<"$rel").test
	if ! CGO_ENABLED=0 go test -c -o "$work/root/vmtest/bin/$bin" "./$rel" >"$work/logs/build-$bin.log" 2>&1; then
		echo "$rel: build failed:" >&2
		sed 's/^/    /' "$work/logs/build-$bin.log" >&2
		echo "$rel" >>"$work/build-failed"
		continue
	fi
	echo "$rel $bin" >>"$work/root/vmtest/tests"
done
echo "built $(wc -l <"$work/root/vmtest/tests") test binaries in $((SECONDS - build_start))s"

# The source tree (Go files and testdata) so that each test runs in its
# package directory, as go test runs it.
git ls-files --cached --others --exclude-standard -- '*.go' '*/testdata/*' go.mod go.sum |
	while read -r f; do [ -f "$f" ] && echo "$f"; done |
	cpio -p -d --quiet "$work/root/vmtest/src"
cp "$busybox" "$work/root/bin/busybox"
install -m 0755 scripts/vm/init "$work/root/init"
install -m 0755 scripts/vm/run-tests "$work/root/vmtest/run-tests"
{
	echo "BPFMAPS_REQUIRE_BPF=1"
	echo "BPFMAPS_VMTEST=1"
	echo "BPFMAPS_VMTEST_SELFCHECK_FAIL=$selfcheck_fail"
	echo "VMTEST_TEST_TIMEOUT=$test_timeout"
	echo "VMTEST_RUN='${run_regex//\'/}'"
} >"$work/root/vmtest/env"
(cd "$work/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initramfs.gz"

# --- booting -----------------------------------------------------------------

append="console=ttyS0 panic=-1 oops=panic quiet loglevel=4 rdinit=/init"
qemu_base=(qemu-system-x86_64 -nodefaults -display none -no-reboot -m 1G -smp 2)

# kvm_works boots the first kernel under KVM with a trivial /init: on some
# hosts /dev/kvm exists but cannot run a stock kernel (nested
# virtualization), so only a VM that really boots counts.
kvm_works() {
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || return 1
	local d=$work/kvm-probe
	mkdir -p "$d/root/bin"
	cp "$busybox" "$d/root/bin/busybox"
	printf '#!/bin/busybox sh\n/bin/busybox echo BPFMAPS-VMTEST-KVM-OK\n/bin/busybox poweroff -f\n' >"$d/root/init"
	chmod 0755 "$d/root/init"
	(cd "$d/root" && find . | cpio -o -H newc --quiet | gzip -1) >"$d/initramfs.gz"
	# In a subshell whose stderr is the log: QEMU aborting on a broken KVM
	# is an expected answer, and bash would report it on our stderr.
	(timeout -k 5 30 "${qemu_base[@]}" -accel kvm -cpu host -kernel "$1" -initrd "$d/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet" -serial "file:$d/console.log") >"$d/qemu.log" 2>&1 || true
	grep -q BPFMAPS-VMTEST-KVM-OK "$d/console.log" 2>/dev/null
}

first=${kernels[0]%% *}
case "$accel" in
auto) if kvm_works "${image[$first]}"; then accel=kvm; else accel=tcg; fi ;;
kvm | tcg) ;;
*) die "BPFMAPS_VMTEST_ACCEL must be kvm, tcg or auto, not $accel" ;;
esac
if [ "$accel" = kvm ]; then qemu_accel=(-accel kvm -cpu host); else qemu_accel=(-accel tcg -cpu max); fi
say "booting ${#kernels[@]} kernel(s) under $accel"

use_vng=0
if command -v vng >/dev/null; then use_vng=1; fi

# boot runs the tests on kernel $1 (label); the test output lands in
# $work/logs/$1.tests.log, the kernel console in $1.console.log.
boot() {
	local label=$1 img=${image[$1]} tests=$work/logs/$1.tests.log console=$work/logs/$1.console.log
	if [ "$use_vng" -eq 1 ]; then
		# virtme-ng shares the host's file systems with the guest, so the
		# guest runs the same script over the staged directory.
		timeout -k 10 "$kernel_timeout" vng --run "$img" --user root --memory 1G --cpus 2 \
			-- sh "$work/root/vmtest/run-tests" "$work/root/vmtest" >"$tests" 2>"$console" </dev/null
	else
		timeout -k 10 "$kernel_timeout" "${qemu_base[@]}" "${qemu_accel[@]}" \
			-kernel "$img" -initrd "$work/initramfs.gz" -append "$append" \
			-serial "file:$console" -serial "file:$tests" </dev/null >"$work/logs/$1.qemu.log" 2>&1
	fi
}

# report parses the markers of kernel $1's test log into rows of
# "kernel package result pass fail skip seconds", naming the kernel $2 (or
# by the release the guest reports), and appends skip reasons and failures
# to the files $3 and $4.
report() {
	touch "$work/logs/$1.tests.log"
	awk -v kernel="$2" -v skips="$3" -v fails="$4" -v tests="$work/root/vmtest/tests" '
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
		printf "%s  %s  %s: %s\n", kernel, pkg, name, said[pkg, name] >> skips
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
			printf "%s\t%s\t%s\t%d\t%d\t%d\t%s\n", kernel, p, res, pass[p], fail[p], skip[p], (p in secs) ? secs[p] "s" : "-"
			if (res != "ok" && (p in begun)) {
				printf "---- %s on %s: %s\n", p, kernel, res >> fails
				m = split(out[p], l, "\n"); from = m > 60 ? m - 60 : 1
				for (j = from; j <= m; j++) print l[j] >> fails
			}
		}
	}' "$work/logs/$1.tests.log"
}

rows=$work/rows skips=$work/skips fails=$work/fails
: >"$rows"
: >"$skips"
: >"$fails"
while read -r p; do
	[ -n "$p" ] && printf '%s\t%s\t%s\t%d\t%d\t%d\t%s\n' "all" "$p" "BUILD FAILED" 0 0 0 "-" >>"$rows"
done <"$work/build-failed"
matrix_start=$SECONDS
for k in "${kernels[@]}"; do
	label=${k%% *}
	start=$SECONDS
	status=0
	boot "$label" || status=$?
	took=$((SECONDS - start))
	if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
		echo "$label: the VM did not finish within ${kernel_timeout}s" >>"$fails"
	fi
	name=""
	if [ -f "$(dirname "${image[$label]}")/package" ]; then
		read -r _ version suite <"$(dirname "${image[$label]}")/package"
		name="${version%-*} $suite"
	fi
	report "$label" "$name" "$skips" "$fails" >>"$rows"
	echo "$label: $took s (boot, tests and power-off)"
	if ! grep -q BPFMAPS-VMTEST-DONE "$work/logs/$label.tests.log" 2>/dev/null; then
		{
			echo "---- $label: the VM stopped before the tests finished (exit $status); kernel console:"
			tail -n 40 "$work/logs/$label.console.log" 2>/dev/null
		} >>"$fails"
	fi
done

echo
{
	printf 'KERNEL\tPACKAGE\tRESULT\tPASS\tFAIL\tSKIP\tTIME\n'
	cat "$rows"
} | awk -F'\t' '{ for (i = 1; i <= NF; i++) { c[NR, i] = $i; if (length($i) > w[i]) w[i] = length($i) } } END {
	for (r = 1; r <= NR; r++) { line = ""; for (i = 1; i <= 7; i++) line = line sprintf("%" (i >= 4 ? "" : "-") w[i] "s  ", c[r, i]); sub(/ +$/, "", line); print line } }'
if [ -s "$skips" ]; then
	echo
	echo "Skipped tests:"
	sed 's/^/  /' "$skips"
fi
if [ -s "$fails" ]; then
	echo
	echo "Failures (full logs in scripts/.cache/vmtest/logs/):"
	cat "$fails"
fi
echo
read -r npass nfail nskip nbad < <(awk -F'\t' '{ p += $4; f += $5; s += $6; if ($3 != "ok") b++ } END { printf "%d %d %d %d\n", p, f, s, b }' "$rows")
echo "kernel matrix: ${#kernels[@]} kernel(s), $((SECONDS - matrix_start))s in VMs under $accel, $nbad package run(s) not ok"
echo "vmtest: $npass passed, $nfail failed, $nskip skipped"
[ "$nbad" -eq 0 ] && [ "$nfail" -eq 0 ]
