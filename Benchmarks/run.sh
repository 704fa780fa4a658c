#!/usr/bin/env bash
# The body of `make bench` (after the set-up and the release build): installs the peers it compares with,
# builds the traffic generator, and runs Benchmarks/bench.py, bounded in time. Root only.
# Extra arguments go to bench.py (e.g. --traffic-reps 7, --only churn,udp, --idle 10000); see bench.py --help.
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
    echo "bench: loading BPF programs and creating network namespaces need root: run sudo make bench." >&2
    exit 77
fi

# nethogs and iftop are the peers; iperf3 (set-up installs it too) makes the bulk traffic.
missing=()
for tool in nethogs iftop iperf3 bpftool; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]} > 0)); then
    echo "bench: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p .build/bench
gcc -O2 -Wall -Wextra -pthread -o .build/bench/benchgen Benchmarks/benchgen.c

# Namespaces left by a bench run that was killed outright (SIGKILL skips its clean-up): ntbench-PID-*
# whose PID is gone.
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep '^ntbench-' || true); do
    pid=${ns#ntbench-}
    pid=${pid%%-*}
    if [[ $pid =~ ^[0-9]+$ ]] && ! kill -0 "$pid" 2>/dev/null; then
        ip netns del "$ns" 2>/dev/null && echo "bench: removed $ns, left by an earlier run"
    fi
done

# bench.py stops starting runs after its budget (780 s) and cleans up on SIGTERM; timeout is the last word.
exec timeout --kill-after=30 840 /usr/bin/python3 Benchmarks/bench.py "$@"
