# The two set-up commands of the README: `make run` and `make test`.
# Both install what is missing first, so a fresh Debian/Ubuntu machine needs nothing else.

SWIFT        ?= swift
APT_PACKAGES := pkg-config libhwloc-dev libnuma-dev hwloc numactl
SUDO         := $(shell [ "$$(id -u)" -eq 0 ] || echo sudo)

.PHONY: run test deps build

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

build: deps
	$(SWIFT) build -c release

# The main job on built-in defaults.
run: build
	.build/release/unlocked

test: deps
	$(SWIFT) test
	# The engines again under the thread sanitizer, in their own build tree.
	$(SWIFT) test --sanitize=thread --filter Engine --scratch-path .build-tsan
