#!/usr/bin/env bash
# vmtest: run nettop's kernel tests (or any command) under another Debian kernel, in qemu.
#
# Usage (as root, from the repository; the Makefile target passes its variables through the environment):
#
#   make vmtest KERNEL=6.1|6.12 [BACKEND=auto|tracepoint|kprobe|fentry] [NOBTF=1] [FILTER=regex]
#   make vmtest KERNEL=6.12 CMD="uname -r; .build/debug/nettop check"
#   scripts/vmtest/vmtest.sh [--kernel K] [--backend B] [--no-btf] [--filter RE] [--cmd CMD]
#                            [--timeout DURATION] [--no-build]
#
#   KERNEL    6.1: the newest linux-image-6.1.0-N-amd64 that apt knows (Debian bookworm's own kernel);
#             6.12: the package that the linux-image-6.12-amd64 meta-package depends on (bookworm-backports
#             or security); any other X.Y is tried the same two ways; a full package name
#             (linux-image-...-amd64) is used as it is. Always the generic -amd64 flavour: -cloud-amd64
#             kernels have no 9p.
#   BACKEND   exported to the tests as NETTOP_TEST_BACKEND (default: not set = nettop's automatic choice).
#             The tests also see NETTOP_VMTEST=KVER (under TCG, so timed assertions may relax).
#   NOBTF=1   hides the kernel's BTF in the guest (tmpfs over /sys/kernel/btf) and exports
#             NETTOP_TEST_NO_BTF=1 to the tests.
#   FILTER    a regular expression matched against the test names, as `swift test --filter` does
#             (default: KernelTests). The matching tests run one at a time, one XCTest process per test
#             class (ISOLATE=class; ISOLATE=test: one per test; ISOLATE=none: one in all), so that a test
#             that crashes its process does not hide the rest. At the end the runner lists the tests that
#             failed, crashed or did not run.
#   SKIP      a regular expression of tests to leave out (default: 'KernelTests\.LoadTests/', the host-load
#             hardening tests: 20,000 connections in a burst, 100,000 held open, a ring-buffer flood that must
#             fit between two ticks; under TCG each takes minutes and its pacing no longer holds, so they run
#             in `make test` only). With NOBTF=1 the default also leaves out the two terminal UI classes
#             (UITmuxTests, UIHardeningTests): they test the screen, not the tracer, and every nettop they
#             start guesses offsets again, minutes under TCG; `make test`'s no-BTF pass leaves them out
#             too. SKIP= (empty) runs them too.
#   CMD       run this bash command instead of the tests (no host build unless BUILD=1). It runs in the
#             repository directory, with NETTOP_BIN, NETTOP_PEER (and the BACKEND/NOBTF variables) set.
#   TIMEOUT   bound on the whole VM run, as for timeout(1) (default: 40m; a full run takes 15-25 min). MEM (2G), SMP (2) and
#             APPEND (extra kernel command line) tune the VM. SKIP_BUILD=1 (or --no-build) skips the build
#             (use the bundle already in .build, e.g. while the tree does not compile). VERBOSE=1 prints the
#             guest's uptime at each step of its init.
#
# What happens:
#   1. Missing host packages are installed with apt (qemu-system-x86, busybox-static, kmod, cpio).
#   2. The kernel package is fetched with `apt-get download` into .build/vmtest/debs, unpacked with
#      `dpkg -x` into .build/vmtest/kernels/PACKAGE and indexed with `depmod -b` (once; later runs reuse it).
#   3. Unless CMD is given, `swift build --build-tests` builds the test bundle natively on the host. The guest
#      never builds: it runs the host's binaries (glibc, libbpf and the Swift runtime come from the host too).
#   4. A small initramfs is made in a temporary directory: busybox-static, the kernel's virtio_pci,
#      9pnet_virtio, 9p and overlay modules with their dependencies (from modules.dep, decompressed), and
#      scripts/vmtest/init as /init.
#   5. qemu (TCG: /dev/kvm here cannot boot stock kernels) boots it with two 9p shares: the host's / read-only
#      (the guest puts a tmpfs overlay on top and chroots into it, so every host path is the same path in
#      the guest) and a temporary writable directory that carries vm.env and cmd in and output, rc
#      (and init-error) out. See scripts/vmtest/init for the guest side: kernel file systems, the kernel's
#      config at /boot/config-VER and modules at /lib/modules/VER (module autoloading, e.g. veth and
#      nf_tables, runs the host's modprobe in the chroot), a fresh /run (no host netns names), lo up,
#      optional BTF hiding. Everything else, /tmp included, is the host's, read-only below the overlay.
#   6. The console (ttyS0) streams to the terminal and to .build/vmtest/logs/KVER-DATE.log; the command's
#      own output is kept beside it as KVER-DATE.output.
#
# Exit status: the guest command's exit status; 124 if the run timed out; 125 if the guest stopped without
# reporting one (kernel panic, init failure: see the log); 2 for host-side failures. make itself exits 2
# whenever the recipe fails and shows the script's status as "Error N".
# Temporary files are removed on every exit path, and qemu dies with this script (setpriv --pdeathsig).
#
# Timing (2 busy cores, TCG): boot to the command 8–15 s, power-off and qemu ~4 s more; an exec of a small
# dynamic binary ~0.1 s, a start of the debug nettop ~3 s, a Swift crash backtrace 2–15 s. Run one VM at
# a time.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE="$REPO/scripts/vmtest"
CACHE="$REPO/.build/vmtest"

KERNEL=${KERNEL:-}
BACKEND=${BACKEND:-}
NOBTF=${NOBTF:-0}
FILTER=${FILTER:-KernelTests}
SKIP_SET=${SKIP+set}
SKIP=${SKIP-'KernelTests\.LoadTests/'}
CMD=${CMD:-}
TIMEOUT=${TIMEOUT:-40m}
MEM=${MEM:-2G}
SMP=${SMP:-2}
APPEND=${APPEND:-}
SKIP_BUILD=${SKIP_BUILD:-0}
ISOLATE=${ISOLATE:-class}
VERBOSE=${VERBOSE:-0}
BUILD=${BUILD:-0}

say() { echo "vmtest: $*" >&2; }
die() { echo "vmtest: error: $*" >&2; exit 2; }

while (($#)); do
    case $1 in
        --kernel) KERNEL=$2; shift ;;
        --backend) BACKEND=$2; shift ;;
        --no-btf) NOBTF=1 ;;
        --filter) FILTER=$2; shift ;;
        --cmd) CMD=$2; shift ;;
        --timeout) TIMEOUT=$2; shift ;;
        --no-build) SKIP_BUILD=1 ;;
        -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

[[ -n $KERNEL ]] || die "say which kernel: make vmtest KERNEL=6.1 or KERNEL=6.12 (or a linux-image-...-amd64 package)"
case $BACKEND in ''|auto|tracepoint|kprobe|fentry) ;; *) die "BACKEND must be auto, tracepoint, kprobe or fentry, not '$BACKEND'" ;; esac
[[ $BACKEND == auto ]] && BACKEND=
case $NOBTF in ''|0) NOBTF=0 ;; *) NOBTF=1 ;; esac
if [[ $NOBTF == 1 && -z $SKIP_SET ]]; then SKIP='KernelTests\.(LoadTests|UITmuxTests|UIHardeningTests)/'; fi

started=$(date +%s.%N)
elapsed() { LC_ALL=C awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { t = b - a; printf "%dm%04.1fs", t / 60, t - 60 * int(t / 60) }'; }

# --- Temporary files, removed on every exit path -------------------------------------------------------

TMP=
DL=
QEMU_PID=
cleanup() {
    if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill -TERM "$QEMU_PID" 2>/dev/null || true
        wait "$QEMU_PID" 2>/dev/null || true
    fi
    [[ -n $TMP ]] && rm -rf "$TMP"
    [[ -n $DL ]] && rm -rf "$DL"
    return 0
}
trap cleanup EXIT
trap 'say "error: command failed at ${BASH_SOURCE[0]##*/} line $LINENO: $BASH_COMMAND"' ERR
trap 'say "interrupted"; exit 130' INT
trap 'say "terminated"; exit 143' TERM HUP

# --- Host packages -------------------------------------------------------------------------------------

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }
missing=()
for p in qemu-system-x86 busybox-static kmod cpio xz-utils zstd; do
    installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    [[ $(id -u) -eq 0 ]] || die "missing packages: ${missing[*]} (install them, or run as root: sudo make vmtest ...)"
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 \
        || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2; } \
        || die "apt-get install ${missing[*]} failed"
fi
BUSYBOX=/bin/busybox   # from busybox-static (which conflicts with the dynamic busybox package)
[[ -x $BUSYBOX ]] || die "no $BUSYBOX (package busybox-static)"

# --- Kernel package ------------------------------------------------------------------------------------

# The package name for KERNEL, from apt's lists (empty if apt knows none).
resolve_kernel() {
    local k=$1 re
    if [[ $k == linux-image-* ]]; then echo "$k"; return; fi
    # A meta-package for the series names the current kernel (6.12 in bookworm).
    apt-cache depends "linux-image-$k-amd64" 2>/dev/null \
        | awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-amd64(-unsigned)?$/ && $2 !~ /cloud|-rt-|dbg/ { sub(/-unsigned$/, "", $2); print $2; exit }' \
        | grep . && return
    # Otherwise the highest ABI number of the generic flavour (6.1 in bookworm: linux-image-6.1.0-N-amd64).
    re="^linux-image-${k//./\\.}(\\.0)?-[0-9]+-amd64\$"
    apt-cache search --names-only "$re" 2>/dev/null | awk '{ print $1 }' | grep -E "$re" \
        | awk -F- '{ print $(NF - 1), $0 }' | sort -n | tail -1 | awk '{ print $2 }'
}

[[ $KERNEL =~ ^[0-9]+\.[0-9]+$ || $KERNEL =~ ^linux-image-[-.+~a-z0-9]+$ ]] \
    || die "KERNEL must look like 6.1 or 6.12 (or be a linux-image-...-amd64 package), not '$KERNEL'"
mkdir -p "$CACHE"
exec 9> "$CACHE/.lock"
flock 9   # one fetch at a time (two runs must not unpack the same kernel at once); released before the boot
pkg=$(resolve_kernel "$KERNEL")
if [[ -z $pkg ]]; then
    say "apt knows no kernel for $KERNEL; updating its lists"
    apt-get update >&2 || true
    pkg=$(resolve_kernel "$KERNEL")
fi
[[ -n $pkg ]] || die "no Debian kernel package found for KERNEL=$KERNEL (apt-cache search linux-image-$KERNEL)"

KROOT="$CACHE/kernels/$pkg"
if [[ ! -f $KROOT/.vmtest-ready ]]; then
    mkdir -p "$CACHE/debs"
    deb=$(ls "$CACHE/debs/${pkg}_"*.deb 2>/dev/null | tail -1 || true)
    if [[ -z $deb ]]; then
        say "downloading $pkg"
        DL=$(mktemp -d "$CACHE/debs/.dl.XXXXXX"); dl=$DL
        chown _apt "$dl" 2>/dev/null || true   # apt downloads as _apt when it can write there
        if ! (cd "$dl" && apt-get download "$pkg" >&2); then
            say "download failed; updating apt's lists and retrying"
            apt-get update >&2 || true
            (cd "$dl" && apt-get download "$pkg" >&2) || { rm -rf "$dl"; die "apt-get download $pkg failed"; }
        fi
        mv "$dl"/*.deb "$CACHE/debs/" && rm -rf "$dl" && DL=
        deb=$(ls "$CACHE/debs/${pkg}_"*.deb | tail -1)
    fi
    say "unpacking $(basename "$deb")"
    rm -rf "$KROOT" "$KROOT.tmp"
    mkdir -p "$KROOT.tmp"
    dpkg -x "$deb" "$KROOT.tmp"
    mods=$(ls -d "$KROOT.tmp"/lib/modules/*/ "$KROOT.tmp"/usr/lib/modules/*/ 2>/dev/null | head -1 || true)
    [[ -n $mods ]] || die "$deb has no lib/modules/VERSION"
    kver=$(basename "$mods")
    if [[ ! -d $KROOT.tmp/lib/modules ]]; then ln -s usr/lib "$KROOT.tmp/lib"; fi
    [[ -f $KROOT.tmp/boot/vmlinuz-$kver ]] || die "$deb has no boot/vmlinuz-$kver"
    depmod -b "$KROOT.tmp" "$kver"
    echo "$kver" > "$KROOT.tmp/.vmtest-ready"
    mv "$KROOT.tmp" "$KROOT"
fi
KVER=$(cat "$KROOT/.vmtest-ready")
exec 9>&-
MODDIR="$KROOT/lib/modules/$KVER"
say "kernel $KVER ($pkg)"

# --- The command -----------------------------------------------------------------------------------------

export PATH="${SWIFT_BIN_DIR:-/opt/swift/usr/bin}:$PATH"
cd "$REPO"
if [[ -z $CMD || $BUILD == 1 ]] && [[ $SKIP_BUILD != 1 ]]; then
    command -v swift >/dev/null || die "no swift in PATH (the toolchain is expected at /opt/swift)"
    say "building on the host: swift build --build-tests"
    swift build --build-tests >&2 || die "swift build --build-tests failed"
fi
BIN=$(swift build --show-bin-path 2>/dev/null || echo "$REPO/.build/debug")
NETTOP_BIN=${NETTOP_BIN:-$BIN/nettop}
NETTOP_PEER=${NETTOP_PEER:-$BIN/nettop-peer}

TESTS=
if [[ -z $CMD ]]; then
    bundle=$(ls -d "$BIN"/*PackageTests.xctest 2>/dev/null | head -1 || true)
    [[ -n $bundle && -x $bundle ]] || die "no test bundle in $BIN (swift build --build-tests)"
    # Like `swift test --filter`: the regex selects among the bundle's tests (Module.Class/method).
    TESTS=$("$bundle" --list-tests | grep -E -- "$FILTER") || true
    if [[ -n $SKIP && -n $TESTS ]]; then TESTS=$(grep -Ev -- "$SKIP" <<<"$TESTS") || true; fi
    [[ -n $TESTS ]] || die "no test matches FILTER='$FILTER' ($bundle --list-tests)"
    case $ISOLATE in
        none) groups=$(paste -sd, - <<<"$TESTS") ;;
        class) groups=$(awk -F/ '{ if ($1 != last) { if (NR > 1) printf "\n"; printf "%s", $0; last = $1 } else printf ",%s", $0 } END { printf "\n" }' <<<"$TESTS") ;;
        test) groups=$TESTS ;;
        *) die "ISOLATE must be class, test or none, not '$ISOLATE'" ;;
    esac
    say "$(wc -l <<<"$TESTS") tests match FILTER='$FILTER'; $(wc -l <<<"$groups") XCTest process(es) (ISOLATE=$ISOLATE)"
    # One process per group, so that a test that crashes its process does not take the others with it.
    # The exit status is the first non-zero one.
    CMD="bundle=$(printf %q "$bundle")
status=0
while read -r group <&3; do
    echo \"=== vmtest: \${group%%/*}\"
    \"\$bundle\" \"\$group\" < /dev/null
    s=\$?
    if [ \$s -ne 0 ] && [ \$status -eq 0 ]; then status=\$s; fi
done 3<<'VMTEST_GROUPS'
$groups
VMTEST_GROUPS
exit \$status"
fi

# --- Temporary directory: the writable share and the initramfs -----------------------------------------

# Leftovers of runs that were killed with SIGKILL (the only way past the trap) go first.
for d in /tmp/vmtest.??????; do
    if [[ -f $d/pid ]] && ! kill -0 "$(cat "$d/pid")" 2>/dev/null; then rm -rf "$d"; fi
done
TMP=$(mktemp -d /tmp/vmtest.XXXXXX)
echo $$ > "$TMP/pid"
OUT="$TMP/out"
mkdir -p "$OUT" "$TMP/initramfs"
chmod 777 "$OUT"

q() { local v=${1//\'/\'\\\'\'}; printf "'%s'" "$v"; }
{
    echo "VMTEST_KVER=$(q "$KVER")"
    echo "VMTEST_KDIR=$(q "$(readlink -f "$KROOT")")"
    echo "VMTEST_NOBTF=$NOBTF"
    echo "VMTEST_VERBOSE=$VERBOSE"
} > "$OUT/vm.env"
{
    echo '# written by scripts/vmtest/vmtest.sh; run by bash inside the guest chroot'
    echo "export PATH=$(printf %q "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${SWIFT_BIN_DIR:-/opt/swift/usr/bin}")"
    echo 'export HOME=/root LANG=C.UTF-8 TERM=dumb'
    echo "export NETTOP_BIN=$(printf %q "$NETTOP_BIN") NETTOP_PEER=$(printf %q "$NETTOP_PEER")"
    echo "export NETTOP_VMTEST=$(printf %q "$KVER")   # emulated: timings are several times slower"
    [[ -n $BACKEND ]] && echo "export NETTOP_TEST_BACKEND=$(printf %q "$BACKEND")"
    [[ $NOBTF == 1 ]] && echo 'export NETTOP_TEST_NO_BTF=1'
    echo "cd $(printf %q "$REPO") || exit 125"
    echo "$CMD"
} > "$OUT/cmd"

# Modules for the 9p root and the overlay, with their dependencies, dependencies first.
declare -A seen=()
order=()
dep_line() { awk -v m="$1:" '$1 == m { $1 = ""; print; exit }' "$MODDIR/modules.dep"; }
add_module() {
    local rel=$1 d
    [[ -n ${seen[$rel]:-} ]] && return
    seen[$rel]=1
    for d in $(dep_line "$rel"); do add_module "$d"; done
    order+=("$rel")
}
for name in virtio_pci 9pnet_virtio 9p overlay; do
    rel=$(awk -F: -v n="$name" '{ f = $1; sub(/.*\//, "", f); sub(/\.ko(\.(xz|zst|gz))?$/, "", f); gsub(/-/, "_", f)
                                  if (f == n) { print $1; exit } }' "$MODDIR/modules.dep")
    if [[ -n $rel ]]; then
        add_module "$rel"
    elif grep -qE "/${name//_/[-_]}\.ko$" "$MODDIR/modules.builtin" 2>/dev/null; then
        :
    else
        die "kernel $KVER has no module $name (and it is not built in)"
    fi
done
mkdir -p "$TMP/initramfs/lib/modules" "$TMP/initramfs/bin"
: > "$TMP/initramfs/modules"
for rel in "${order[@]}"; do
    base=$(basename "$rel"); dst="$TMP/initramfs/lib/modules/${base%.ko*}.ko"
    case $rel in
        *.ko.xz) xz -dc "$MODDIR/$rel" > "$dst" ;;
        *.ko.zst) zstd -qdc "$MODDIR/$rel" > "$dst" ;;
        *.ko.gz) gzip -dc "$MODDIR/$rel" > "$dst" ;;
        *) cp "$MODDIR/$rel" "$dst" ;;
    esac
    echo "${base%.ko*}.ko" >> "$TMP/initramfs/modules"
done
cp "$BUSYBOX" "$TMP/initramfs/bin/busybox"
ln -s busybox "$TMP/initramfs/bin/sh"
install -m 755 "$HERE/init" "$TMP/initramfs/init"
(cd "$TMP/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) > "$TMP/initramfs.cpio.gz"

# --- Boot ----------------------------------------------------------------------------------------------

mkdir -p "$CACHE/logs"
# The 30 newest logs are kept (none yet on a fresh clone: ls then fails, which is no error here).
{ ls -t "$CACHE/logs"/*.log 2>/dev/null || true; } | tail -n +30 | while read -r old; do rm -f "$old" "${old%.log}.output"; done
stamp="$KVER-$(date +%Y%m%d-%H%M%S)"
LOG="$CACHE/logs/$stamp.log"
say "booting $KVER under TCG ($SMP cpus, $MEM), timeout $TIMEOUT; console log: ${LOG#"$REPO"/}"
vm_started=$(date +%s.%N)
qemu=(qemu-system-x86_64
      -accel tcg,thread=multi -cpu max -m "$MEM" -smp "$SMP"
      -nographic -no-reboot -nic none -monitor none
      -chardev "stdio,id=console,signal=off,logfile=$LOG" -serial chardev:console
      -kernel "$KROOT/boot/vmlinuz-$KVER" -initrd "$TMP/initramfs.cpio.gz"
      -append "console=ttyS0 panic=-1 quiet loglevel=4 $APPEND"
      -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
      -virtfs "local,path=$OUT,mount_tag=vmtest_out,security_model=none")
# timeout(1) bounds the run; setpriv makes timeout die with this script and qemu die with timeout.
# Started in the background so that the INT/TERM traps run at once (bash defers them during a foreground
# child); stdin is /dev/null so qemu never puts the terminal in raw mode.
setpriv --pdeathsig KILL timeout -k 10s "$TIMEOUT" setpriv --pdeathsig KILL "${qemu[@]}" < /dev/null &
QEMU_PID=$!
qrc=0
wait "$QEMU_PID" || qrc=$?
QEMU_PID=
echo >&2
vm_time=$(elapsed "$vm_started")

[[ -f $OUT/output ]] && cp "$OUT/output" "$CACHE/logs/$stamp.output"
if [[ $qrc == 124 || $qrc == 137 ]]; then
    say "TIMED OUT after $TIMEOUT: the guest was killed (console log: ${LOG#"$REPO"/})"
    rc=124
elif [[ -s $OUT/rc ]]; then
    rc=$(tr -dc 0-9 < "$OUT/rc")
    rc=${rc:-125}
    ((qrc == 0)) || say "qemu exited with status $qrc after the command finished"
elif [[ -s $OUT/init-error ]]; then
    say "the guest failed before running the command: $(cat "$OUT/init-error") (console log: ${LOG#"$REPO"/})"
    rc=125
else
    say "the guest stopped without reporting an exit status (kernel panic or crash? qemu status $qrc; console log: ${LOG#"$REPO"/})"
    rc=125
fi
# Which of the selected tests passed, were skipped (XCTSkip: not this backend's), failed, crashed
# (started, never finished) or never ran.
if [[ -n $TESTS && -f $OUT/output ]]; then
    tr -d '\r' < "$OUT/output" | awk -v list="$TESTS" '
        BEGIN { n = split(list, all, "\n"); for (i = 1; i <= n; i++) { t = all[i]; sub(/^[^.]*\./, "", t); sub(/\//, ".", t); name[i] = t } }
        match($0, /^Test Case \x27[^\x27]+\x27 (started|passed|failed|skipped)/) {
            split(substr($0, RSTART, RLENGTH), f, "\x27"); state[f[2]] = f[3]; sub(/^ /, "", state[f[2]])
        }
        END {
            for (i = 1; i <= n; i++) {
                st = state[name[i]]
                if (st == "passed") passed++
                else if (st == "skipped") { skipped++; failed = failed "\n    skipped: " name[i] }
                else if (st == "failed") failed = failed "\n    failed:  " name[i]
                else if (st == "started") failed = failed "\n    crashed: " name[i]
                else failed = failed "\n    not run: " name[i]
            }
            printf "vmtest: %d of %d tests passed%s%s\n", passed, n, skipped ? sprintf(", %d skipped", skipped) : "", failed
        }' >&2 || true
fi
say "kernel $KVER: exit status $rc; VM wall time $vm_time, total $(elapsed "$started")"
exit "$rc"
