# The two commands of the README, each of which installs what a fresh machine lacks:
#   make demo   the main job: build the `ledger` tool (release) and run its demo
#   make test   the test suite (what CI runs)
# Other targets: make bench (release benchmarks, see README), make deps.

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps test demo bench build

# LZ4 comes from Debian's liblz4-dev through pkg-config; install both when missing.
deps:
	@if ! pkg-config --exists liblz4 2>/dev/null; then \
		echo "installing liblz4-dev and pkg-config with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblz4-dev pkg-config; \
	fi

build: deps
	swift build -c release --product ledger

# The end-to-end tests run the built `ledger` binary, so it is built first.
test: deps
	swift build --product ledger
	swift test --disable-xctest

demo: build
	.build/release/ledger demo

bench: deps
	cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --no-progress
