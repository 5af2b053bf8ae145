# `make demo`, `make test` and `make bench` install missing system packages first.
SWIFT ?= swift
SYSTEM_PACKAGES := librdkafka-dev libcurl4-openssl-dev libre2-dev libjemalloc-dev pkg-config
TEST_PACKAGES := chromium

.PHONY: demo test bench build deps test-deps lint format

# Installs whichever of the given Debian packages are missing.
define install_missing
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
endef

deps:
	$(call install_missing,$(SYSTEM_PACKAGES))

# The status page's test renders it in headless Chromium.
test-deps: deps
	$(call install_missing,$(TEST_PACKAGES))

build: deps
	$(SWIFT) build --product syncbridge

demo: build
	$(SWIFT) run --skip-build syncbridge demo

# A hung test fails its target after this many seconds instead of stalling the run.
TEST_TIMEOUT ?= 900
TEST_TARGETS := SyncBridgeCoreTests BrazeCDITests KafkaTests SyncBridgeTests FaultTests

# One process per test target: the Kafka and process-level tests block threads while they
# wait, and must not starve the client tests' timeouts of the 2 cores' cooperative pool.
test: test-deps
	$(SWIFT) build --build-tests
	for t in $(TEST_TARGETS); do echo "== $$t"; timeout $(TEST_TIMEOUT) $(SWIFT) test --skip-build --filter "^$$t\\." || exit 1; done

# Style: .swift-format, checked by CI; `make format` rewrites the sources to it.
LINT_PATHS := Package.swift Sources Tests Benchmarks Fuzz/Sources

lint:
	$(SWIFT) format lint --strict --recursive $(LINT_PATHS)

format:
	$(SWIFT) format format --in-place --recursive $(LINT_PATHS)

BENCHMARKS := SchedulingBenchmark RulesBenchmark HotPathBenchmark MemoryBenchmark ThroughputBenchmark

# Every benchmark runs even if an earlier one misses a target; the exit status reports any miss.
# The benchmarks are declared only when SYNCBRIDGE_BENCHMARKS is set (see Package.swift).
bench: export SYNCBRIDGE_BENCHMARKS = 1
bench: deps
	for b in syncbridge $(BENCHMARKS); do $(SWIFT) build -c release --product $$b || exit 1; done
	status=0; for b in $(BENCHMARKS); do echo; echo "== $$b"; $(SWIFT) run -c release --skip-build $$b || status=1; done; exit $$status

# libFuzzer targets (Fuzz/): `make fuzz` runs each for FUZZ_SECONDS, `make fuzz-smoke` for
# SMOKE_SECONDS after replaying its seed corpus; both fail on any crash, hang or memory blow-up.
# FUZZ_TARGETS picks some, e.g. FUZZ_TARGETS="FuzzJSON FuzzRules".
FUZZ_SECONDS ?= 600
SMOKE_SECONDS ?= 20
FUZZ_TARGETS ?=

.PHONY: fuzz fuzz-smoke

fuzz: deps
	FUZZ_SECONDS=$(FUZZ_SECONDS) SWIFT=$(SWIFT) Fuzz/run.sh fuzz $(FUZZ_TARGETS)

fuzz-smoke: deps
	SMOKE_SECONDS=$(SMOKE_SECONDS) SWIFT=$(SWIFT) Fuzz/run.sh smoke $(FUZZ_TARGETS)
