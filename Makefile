# The two set-up commands of the README: `make run` and `make test`.
# Both install what is missing first, so a fresh Debian/Ubuntu machine needs nothing else.

SWIFT        ?= swift
APT_PACKAGES := pkg-config gcc libhwloc-dev libnuma-dev hwloc numactl util-linux
SUDO         := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)
# Recorded in every JSON report, so a number can be traced to the code that produced it.
GIT_COMMIT   := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)

.PHONY: run test deps test-deps build fuzz

# Installs only the Debian packages that are missing, so repeated runs stay offline.
deps:
	@missing=""; \
	for pkg in $(APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

# The tests check .npy output with numpy itself.
test-deps: deps
	@python3 -c 'import numpy' 2>/dev/null || python3 -m pip install -q numpy 2>/dev/null || \
		{ $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3-numpy; }

build: deps
	$(SWIFT) build -c release -Xcc '-DUK_GIT_COMMIT="$(GIT_COMMIT)"'

# The main job on built-in defaults.
run: build
	.build/release/unlocked

test: test-deps
	$(SWIFT) test
	# The engines again under the thread sanitizer, in their own build tree.
	$(SWIFT) test --sanitize=thread --filter Engine --scratch-path .build-tsan
	# The C kernels, the plugin loader and the committed fuzz corpora (FuzzCorpusTests, also
	# run above) under the address sanitizer; fixture plugins get ASan+UBSan too. Leak
	# checking is off: Foundation's Process leaks in the test helper.
	ASAN_OPTIONS=detect_leaks=0 UNLOCKED_PLUGIN_CC=clang \
	UNLOCKED_PLUGIN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" \
		$(SWIFT) test --sanitize=address --filter 'Plugin|Kernel|FuzzCorpus' --scratch-path .build-asan

# Every fuzz harness for FUZZ_SECONDS each, one line per harness (Tests/Fuzz/README.md). The
# driver exists only with UNLOCKED_FUZZ set; -Xswiftc gives every Swift module coverage and ASan,
# --sanitize lets SwiftPM link libFuzzer's main. Release: overflow checks and preconditions stay.
FUZZ_SECONDS ?= 60

fuzz: deps
	UNLOCKED_FUZZ=1 $(SWIFT) build -c release --scratch-path .build-fuzz --product unlocked-fuzz \
		--sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address
	FUZZ_SECONDS=$(FUZZ_SECONDS) Tests/Fuzz/run.sh .build-fuzz/release/unlocked-fuzz
