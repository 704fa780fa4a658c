#!/usr/bin/env bash
# Prepares a Debian or Ubuntu machine to build, test and run nettop: installs the missing packages, mounts
# tracefs, bpffs and a cgroup v2 hierarchy when they are not mounted, and checks for Swift.
# Idempotent: run it as often as you like. It prints one line per action it takes and nothing otherwise.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "scripts/setup.sh installs packages and mounts kernel file systems, so it must run as root: run it with sudo (or use sudo make nettop / sudo make test)." >&2
    exit 77
fi

say() { echo "setup: $*"; }
warn() { echo "setup: $*" >&2; }

# --- Packages -------------------------------------------------------------------------------------

PACKAGES=(libbpf-dev libelf-dev zlib1g-dev libncursesw5-dev libnetfilter-conntrack-dev libnfnetlink-dev
          bpftool nftables iproute2 tmux iperf3 python3 procps util-linux)

installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

# True when apt knows an installable version of the package.
available() {
    local candidate
    candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
    [[ -n $candidate && $candidate != "(none)" ]]
}

# A need is met by the package itself or by what replaces it on other releases.
satisfied() {
    case $1 in
        bpftool) installed bpftool || { installed linux-tools-common && installed "linux-tools-$(uname -r)"; } ;;
        libncursesw5-dev) installed libncursesw5-dev || installed libncurses-dev ;;
        *) installed "$1" ;;
    esac
}

# The packages that meet a need on this release (Ubuntu ships bpftool in linux-tools, and newer releases
# fold libncursesw5-dev into libncurses-dev).
resolve() {
    case $1 in
        bpftool)
            if available bpftool; then echo bpftool
            elif available "linux-tools-$(uname -r)"; then echo "linux-tools-common linux-tools-$(uname -r)"
            elif available linux-tools-common; then echo linux-tools-common
            fi ;;
        libncursesw5-dev)
            if available libncursesw5-dev; then echo libncursesw5-dev
            elif available libncurses-dev; then echo libncurses-dev
            fi ;;
        *) available "$1" && echo "$1" ;;
    esac
    return 0
}

missing=()
for p in "${PACKAGES[@]}"; do
    satisfied "$p" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
    export DEBIAN_FRONTEND=noninteractive
    say "updating package lists (missing: ${missing[*]})"
    apt-get update -qq
    install=()
    for p in "${missing[@]}"; do
        names=$(resolve "$p")
        if [[ -z $names ]]; then
            if [[ $p == bpftool ]]; then
                warn "no bpftool package for kernel $(uname -r) here; nettop builds and runs without it (it only helps to inspect BPF by hand)"
                continue
            fi
            warn "package $p is not available from the configured apt sources; add the release's main repository and run this again"
            exit 1
        fi
        read -r -a list <<<"$names"
        install+=("${list[@]}")
    done
    if ((${#install[@]} > 0)); then
        say "installing ${install[*]}"
        apt-get install -y -qq --no-install-recommends "${install[@]}" >/dev/null
    fi
fi

# --- Kernel file systems --------------------------------------------------------------------------

mounted_type() { awk -v t="$1" '$3 == t { found = 1 } END { exit !found }' /proc/mounts; }
mounted_at() { awk -v p="$1" -v t="$2" '$2 == p && $3 == t { found = 1 } END { exit !found }' /proc/mounts; }

# tracefs: attaching tracepoints needs it. Mounted by itself at /sys/kernel/tracing (no debugfs needed);
# kernels without that directory (before 4.1) only offer it inside debugfs, at /sys/kernel/debug/tracing.
if ! mounted_type tracefs; then
    if [[ -d /sys/kernel/tracing ]] && mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; then
        say "mounted tracefs at /sys/kernel/tracing"
    else
        if ! mounted_type debugfs && mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null; then
            say "mounted debugfs at /sys/kernel/debug"
        fi
        if [[ -d /sys/kernel/debug/tracing/events ]]; then
            :  # debugfs mounted tracefs inside itself
        elif [[ -d /sys/kernel/debug/tracing ]] && mount -t tracefs tracefs /sys/kernel/debug/tracing 2>/dev/null; then
            say "mounted tracefs at /sys/kernel/debug/tracing"
        else
            warn "could not mount tracefs (is CONFIG_TRACING on?); nettop needs it to attach its tracepoints: mount -t tracefs tracefs /sys/kernel/tracing"
        fi
    fi
fi

# bpffs, for pinning maps and programs.
if ! mounted_at /sys/fs/bpf bpf; then
    if mkdir -p /sys/fs/bpf 2>/dev/null && mount -t bpf bpf /sys/fs/bpf 2>/dev/null; then
        say "mounted bpffs at /sys/fs/bpf"
    else
        warn "could not mount bpffs at /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf"
    fi
fi

# A cgroup v2 hierarchy, anywhere: the socket-release program attaches to its root.
if ! mounted_type cgroup2; then
    done_cgroup=""
    for dir in /sys/fs/cgroup/unified /run/nettop-cgroup2; do
        if mkdir -p "$dir" 2>/dev/null && mount -t cgroup2 cgroup2 "$dir" 2>/dev/null; then
            say "mounted cgroup2 at $dir"
            done_cgroup=1
            break
        fi
    done
    [[ -n $done_cgroup ]] || warn "could not mount a cgroup v2 hierarchy: mount -t cgroup2 cgroup2 /run/nettop-cgroup2"
fi

# --- Swift ----------------------------------------------------------------------------------------

SWIFT_DIR=/opt/swift/usr/bin
if command -v swift >/dev/null 2>&1; then
    swift=$(command -v swift)
elif [[ -x $SWIFT_DIR/swift ]]; then
    swift=$SWIFT_DIR/swift
    say "Swift is at $SWIFT_DIR but not on PATH (the Makefile adds it); for your shell: export PATH=$SWIFT_DIR:\$PATH"
else
    warn "Swift is not installed: install a Swift 6 toolchain for this release from https://www.swift.org/install/linux/ and unpack it so that $SWIFT_DIR/swift exists, then run this again."
    exit 1
fi
version=$("$swift" --version 2>&1 | sed -n 's/.*Swift version \([0-9][0-9]*\).*/\1/p' | head -n 1)
if [[ -z $version || $version -lt 6 ]]; then
    warn "$swift is not Swift 6 or later (nettop needs Swift 6): install a Swift 6 toolchain at /opt/swift, from https://www.swift.org/install/linux/."
    exit 1
fi
