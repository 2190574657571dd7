# The two set-up commands of the README: `make run` and `make test`.
# Both install what is missing first, so a fresh Debian/Ubuntu machine needs nothing else.

SWIFT        ?= swift
APT_PACKAGES := pkg-config gcc libhwloc-dev libnuma-dev hwloc numactl util-linux openmpi-bin libopenmpi-dev python3-venv python3-dev
# The tests also render the table's SVG to PNG, as a browser would draw it, and
# start a private single-node SLURM (Tests/cluster/slurm.sh).
TEST_APT_PACKAGES := librsvg2-bin slurm-wlm munge
# bench/ceiling.sh's yardstick (likwid-bench); the product never needs it.
BENCH_APT_PACKAGES := likwid
SUDO         := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Recorded in every JSON report, so a number can be traced to the code that produced it.
GIT_COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# The C API test and the thread sanitizer need the toolchain's own clang and runtime libraries.
TOOLCHAIN    := $(dir $(realpath $(shell command -v $(SWIFT))))
SWIFT_LIBDIR := $(TOOLCHAIN)../lib/swift/linux
CAPI_CFLAGS  := -std=c11 -O1 -g -Wall -Wextra -Wno-missing-field-initializers -Werror -I Sources/CUnlockedAPI/include -pthread
PYTHON       ?= python3
PY_VENV      := .build/python

PREFIX       ?= /usr/local

.PHONY: run test deps apt-install test-deps bench-deps ceiling build build-static install test-cluster check-layers test-capi test-python fuzz

# Installs only the Debian packages that are missing, so repeated runs stay offline.
deps:
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(APT_PACKAGES)"

apt-install:
	@missing=""; \
	for pkg in $(PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The tests check .npy output with numpy itself (and the packages above).
test-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(TEST_APT_PACKAGES)"
	@python3 -c 'import numpy' 2>/dev/null || python3 -m pip install -q numpy 2>/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-numpy; }

# Not part of `make test`: a distribution without likwid (or an architecture it
# is not built for) still builds and tests, and bench/ceiling.sh says it skipped.
bench-deps: deps
	@$(MAKE) --no-print-directory apt-install PACKAGES="$(BENCH_APT_PACKAGES)" || \
		echo "bench-deps: could not install $(BENCH_APT_PACKAGES); bench/ceiling.sh will skip likwid-bench"

# Issue 17's comparison with likwid-bench: reductions against the hardware's read ceiling.
ceiling: bench-deps build
	bench/ceiling.sh

build: deps
	$(SWIFT) build -c release -Xcc '-DUK_GIT_COMMIT="$(GIT_COMMIT)"'

# The installed CLI links the Swift standard library and Foundation statically, so it runs on
# machines without a Swift toolchain (cluster compute nodes); hwloc, libnuma and Open MPI stay
# shared system libraries. Only the executable: a shared library (the C API) cannot take a static
# Foundation, so it is built in a tree of its own.
build-static: deps
	$(SWIFT) build -c release --static-swift-stdlib --product unlocked --scratch-path .build-static \
		-Xcc '-DUK_GIT_COMMIT="$(GIT_COMMIT)"'

# What a cluster user copies to a shared prefix: the binary, the plugin header, the example
# plugins and the sbatch script (README, "Running on a cluster").
install: build-static
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/include/unlocked \
		$(DESTDIR)$(PREFIX)/share/unlocked/examples/slurm
	install -m 0755 .build-static/release/unlocked $(DESTDIR)$(PREFIX)/bin/unlocked
	install -m 0644 CKernels/include/unlocked_plugin.h $(DESTDIR)$(PREFIX)/include/unlocked/
	install -m 0644 examples/slurm/unlocked.sbatch $(DESTDIR)$(PREFIX)/share/unlocked/examples/slurm/
	for plugin in plugins/*/*.c; do \
		install -D -m 0644 $$plugin $(DESTDIR)$(PREFIX)/share/unlocked/examples/$$plugin; \
	done
	install -m 0644 plugins/README.md $(DESTDIR)$(PREFIX)/share/unlocked/examples/plugins/README.md

# The embeddable library must not link MPI: only the CLI depends on UnlockedCluster.
check-layers:
	$(SWIFT) package describe --type json | python3 Tests/layers/no-mpi-in-library.py

# The installed binary without the toolchain, then a private SLURM running the sbatch
# example; installed into a scratch prefix, removed afterwards.
test-cluster: build-static
	prefix=$$(mktemp -d /tmp/uk-prefix.XXXXXX); \
	$(MAKE) --no-print-directory install PREFIX=$$prefix >/dev/null && \
	Tests/install/test-install.sh $$prefix && \
	Tests/cluster/test-slurm.sh $$prefix/bin/unlocked; \
	status=$$?; rm -rf $$prefix; exit $$status

test: test-deps build
	$(SWIFT) test
	# Cluster users are never root, and root passes every permission check: the plugin-permission
	# and output tests again as an unprivileged user, from the same test build.
	[ "$$(id -u)" -ne 0 ] || setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp TMPDIR=/tmp \
		"$$($(SWIFT) build --show-bin-path)/UnlockedPackageTests.xctest" --testing-library swift-testing \
		--filter 'PluginLoaderTests|OutputSafetyTests'
	$(MAKE) --no-print-directory check-layers
	# Issue 12 (clusters): make install without the toolchain, then the sbatch example under SLURM.
	$(MAKE) --no-print-directory test-cluster
	# The engines and the oversubscribed pool again under the thread sanitizer, in their own build
	# tree. Not `isolated`: its dlmopen copies bring an uninstrumented libc of their own, which
	# TSan cannot follow.
	# Not `openmp` either: libgomp is not instrumented, so TSan cannot see how it hands work
	# between its threads (the engine suites leave it out in a TSan build, EngineFixture).
	$(SWIFT) test --sanitize=thread --filter 'Engine|Oversubscription' --skip 'Isolated|OpenMP' --scratch-path .build-tsan
	# The C kernels, the plugin loader and the committed fuzz corpora (FuzzCorpusTests, also
	# run above) under the address sanitizer; fixture plugins get ASan+UBSan too. Leak
	# checking is off: Foundation's Process leaks in the test helper. Not `isolated`: a plugin
	# loaded into a link-map namespace of its own finds no ASan runtime there to resolve against.
	ASAN_OPTIONS=detect_leaks=0 UNLOCKED_PLUGIN_CC=clang \
	UNLOCKED_PLUGIN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		$(SWIFT) test --sanitize=address --filter 'Plugin|Kernel|FuzzCorpus' --skip 'Isolated' --scratch-path .build-asan
	$(MAKE) --no-print-directory test-capi test-python

# The C API's test program against the release library (the program under ASan/UBSan), then
# against a thread-sanitized library; TSan cannot start threads in a forked child: no fork checks.
test-capi: build
	$(CC) $(CAPI_CFLAGS) -fsanitize=address,undefined Tests/capi/capi_test.c -o .build/release/capi_test \
		-L.build/release -lUnlockedCAPI -Wl,-rpath,$(CURDIR)/.build/release
	.build/release/capi_test .build/release/libPluginSqdist.so
	$(SWIFT) build --sanitize=thread --product UnlockedCAPI --scratch-path .build-tsan
	$(SWIFT) build --sanitize=thread --product unlocked --scratch-path .build-tsan
	$(TOOLCHAIN)clang $(CAPI_CFLAGS) -fsanitize=thread Tests/capi/capi_test.c -o .build-tsan/capi_test \
		-L.build-tsan/debug -lUnlockedCAPI -L$(SWIFT_LIBDIR) -ldispatch -lBlocksRuntime \
		-Wl,-rpath,$(CURDIR)/.build-tsan/debug -Wl,-rpath,$(SWIFT_LIBDIR)
	.build-tsan/capi_test .build/release/libPluginSqdist.so --no-fork

# The Python package as a user installs it, in a virtual environment of its own
# (pytest, numpy and threadpoolctl from PyPI when missing).
test-python: build
	$(PYTHON) -m venv --system-site-packages $(PY_VENV)
	$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check pytest numpy threadpoolctl
	$(PY_VENV)/bin/python -m pip install -q --disable-pip-version-check ./python
	$(PY_VENV)/bin/python -m pytest -q -p no:cacheprovider python/tests

# Every fuzz harness for FUZZ_SECONDS each, one line per harness (Tests/Fuzz/README.md). The
# driver exists only with UNLOCKED_FUZZ set; -Xswiftc gives every Swift module coverage and ASan,
# --sanitize lets SwiftPM link libFuzzer's main. Release: overflow checks and preconditions stay.
FUZZ_SECONDS ?= 60

fuzz: deps
	UNLOCKED_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --product unlocked-fuzz \
		--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
	FUZZ_SECONDS=$(FUZZ_SECONDS) Tests/Fuzz/run.sh .build-fuzz/release/unlocked-fuzz
