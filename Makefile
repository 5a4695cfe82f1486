# The two commands of the README, each of which installs what a fresh machine lacks:
#   make demo   the main job: build the `ledger` tool (release) and run its demo
#   make test   the test suite (what CI runs)
# Other targets: make bench (release benchmarks, see README), make deps.

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: deps test-deps test demo bench build

# LZ4 comes from Debian's liblz4-dev through pkg-config, and zlib (ZIPFoundation's deflate,
# for the xlsx export) from zlib1g-dev; install them when missing.
deps:
	@if ! pkg-config --exists liblz4 zlib 2>/dev/null; then \
		echo "installing liblz4-dev, zlib1g-dev and pkg-config with apt-get"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq liblz4-dev zlib1g-dev pkg-config; \
	fi

build: deps
	swift build -c release --product ledger

# The contract test validates the JSON Lines examples against the input's JSON Schema with
# Python's jsonschema (a kept validator rather than one written here); install it when missing.
test-deps: deps
	@if ! python3 -c "import jsonschema" 2>/dev/null; then \
		echo "installing python3 and jsonschema"; \
		command -v python3 >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq python3 python3-pip; }; \
		python3 -m pip install -q jsonschema 2>/dev/null || python3 -m pip install -q --break-system-packages jsonschema; \
	fi

# The end-to-end tests run the built `ledger` binary, so it is built first.
test: test-deps
	swift build --product ledger
	swift test --disable-xctest

demo: build
	.build/release/ledger demo

bench: deps
	cd Benchmarks && swift package --allow-writing-to-package-directory benchmark --no-progress
