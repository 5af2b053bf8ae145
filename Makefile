# `make demo`, `make test` and `make bench` install missing system packages first.
SWIFT ?= swift
SYSTEM_PACKAGES := librdkafka-dev libcurl4-openssl-dev pkg-config

.PHONY: demo test bench build deps

deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build --product syncbridge

demo: build
	$(SWIFT) run --skip-build syncbridge demo

test: deps
	$(SWIFT) test

bench: deps
	$(SWIFT) build -c release --product SchedulingBenchmark
	$(SWIFT) run -c release --skip-build SchedulingBenchmark
	$(SWIFT) build -c release --product RulesBenchmark
	$(SWIFT) run -c release --skip-build RulesBenchmark
