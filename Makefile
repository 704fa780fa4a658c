# nettop — build, test and run.
#
#   sudo make nettop [ARGS="--batch"]   set up the machine, build (release) and run nettop with ARGS
#   sudo make test                      set up the machine, build and run the whole test suite
#   sudo make vmtest KERNEL=6.1|6.12 [BACKEND=auto|tracepoint|kprobe|fentry] [NOBTF=1] [FILTER=regex] [CMD="..."]
#                                       run the kernel tests (or CMD) under a Debian kernel in qemu; see scripts/vmtest/vmtest.sh
#   make build                          build the release binary only (.build/release/nettop)
#   sudo make bench [BENCH_ARGS=...]    what nettop costs the traffic it watches, next to nethogs and iftop
#                                       (about 10 minutes; table on stdout, bench-results/latest.json)
#   make clean                          remove build products
#
# The set-up step (scripts/setup.sh) installs missing Debian/Ubuntu packages and mounts tracefs, bpffs and
# cgroup2 when needed; it needs root. Loading BPF programs needs root too, hence sudo.

SHELL := /bin/bash

# The Swift toolchain lives at /opt/swift on the project's machines; sudo's PATH does not have it.
SWIFT_BIN_DIR ?= /opt/swift/usr/bin
ifneq ($(wildcard $(SWIFT_BIN_DIR)/swift),)
export PATH := $(SWIFT_BIN_DIR):$(PATH)
endif

SWIFT ?= swift
ARGS ?=

.PHONY: nettop build test setup clean bench

nettop: setup
	$(SWIFT) build -c release --product nettop
	.build/release/nettop $(ARGS)

build:
	$(SWIFT) build -c release --product nettop

# The kernel tests run the built binaries (also inside network namespaces); NETTOP_BIN and NETTOP_PEER
# tell them where. Tests run one at a time: kernel tests share the kernel and its network namespaces.
# Then the tracer's kernel tests run again without BTF (NETTOP_TEST_NO_BTF=1: nettop --no-btf, struct
# offsets guessed); tests that do not run the tracer, cover both modes already, or harden the front ends
# (UI, signals, environment, load) are not repeated.
test: setup
	$(SWIFT) build --build-tests
	bin="$$($(SWIFT) build --show-bin-path)" && \
	export NETTOP_BIN="$$bin/nettop" NETTOP_PEER="$$bin/nettop-peer" && \
	$(SWIFT) test --skip-build --no-parallel --disable-swift-testing && \
	NETTOP_TEST_NO_BTF=1 $(SWIFT) test --skip-build --no-parallel --disable-swift-testing --filter KernelTests \
		--skip 'KernelTests\.(Backend|OffsetGuess|PeerSelf|ConntrackResolverKernel|NDJSONDecoding|InProcessTracer|UITmux|UIHardening|LoadTests|SignalCleanup|Environment|HostileName|MapLimit)'

# Bulk TCP, connection churn, UDP and idle connections, each with no monitor, nettop, nethogs and iftop
# (Benchmarks/bench.py says how); bounded to well under 15 minutes. BENCH_ARGS go to bench.py.
BENCH_ARGS ?=
bench: setup
	$(SWIFT) build -c release --product nettop
	Benchmarks/run.sh $(BENCH_ARGS)

setup:
	@scripts/setup.sh

clean:
	rm -rf .build

# The kernel tests (or CMD) under another Debian kernel, booted in qemu with this machine's / shared
# read-only; scripts/vmtest/vmtest.sh documents the variables. KERNEL, BACKEND, NOBTF, TIMEOUT, ... reach
# it through the environment (make exports variables given on its command line); CMD and FILTER are passed
# as written, so `$` in them is the shell's or the regex's, not make's.
vmtest_raw = '$(subst ','\'',$(value $(1)))'
.PHONY: vmtest
vmtest:
	@CMD=$(call vmtest_raw,CMD) FILTER=$(call vmtest_raw,FILTER) scripts/vmtest/vmtest.sh
