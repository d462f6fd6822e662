# Strata quick start. The two commands a newcomer needs:
#   make run    install missing packages, build Release, run the server on its defaults
#   make test   install missing packages, build, run the whole suite (also under ASan+UBSan)
# Everything else is plain CMake/ctest; see README.md.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
ARGS ?=

.PHONY: run build test test-fast lint bench fuzz clean

run: build
	$(BUILD)/release/cmd/strata serve $(ARGS)

build:
	@scripts/deps.sh build
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DSTRATA_TESTS=OFF >/dev/null
	@cmake --build $(BUILD)/release -j$(JOBS) --target strata

test:
	@scripts/test.sh

# The suite once, without the sanitizer pass (for quick local iterations).
test-fast:
	@scripts/test.sh --no-sanitize

lint:
	@scripts/lint.sh

bench:
	@scripts/deps.sh bench
	@cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DSTRATA_BENCH=ON >/dev/null
	@cmake --build $(BUILD)/release -j$(JOBS)
	@echo "benchmarks built in $(BUILD)/release/bench; see docs/benchmarks.md"

fuzz:
	@scripts/fuzz.sh

clean:
	rm -rf $(BUILD)
