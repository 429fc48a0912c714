# rooms-sync: build, test, demo and benchmarks.
#
# Everything builds in release mode: the tests, the demo and the benchmarks
# share one build of wasmtime (a clean build takes about 10 minutes on 2 cores).

CARGO      ?= cargo
GUEST_WASM := target/wasm32-wasip2/release-wasm/rooms_sync_guest.wasm

.PHONY: help build guest host test test-guest demo bench fuzz fmt lint clean

help:
	@echo "make build   build the component and the host (release)"
	@echo "make test    run every test (component unit tests, host, emulator, end to end)"
	@echo "make demo    start the emulator with a seeded tenant; run 'rooms-sync check' and two-way sync against it"
	@echo "make bench   print the benchmark figures"
	@echo "make lint    rustfmt and clippy"
	@echo "make fuzz    fuzz the component's parsers (FUZZ_SECONDS per target, default 300)"

guest:
	$(CARGO) build -p rooms-sync-guest --target wasm32-wasip2 --profile release-wasm

host:
	$(CARGO) build --release -p rooms-sync-host -p exo-emulator

build: guest host

test-guest:
	$(CARGO) test -p rooms-sync-guest

test: guest test-guest
	$(CARGO) test --release --workspace --exclude rooms-sync-guest

demo: build
	scripts/demo.sh

# BENCH_ARGS=--quick takes about a tenth of the samples.
BENCH_ARGS ?=
bench: build
	$(CARGO) build --release -p rooms-sync-guest --example parse_map
	$(CARGO) build -p rooms-sync-guest --target wasm32-wasip2 --profile release-wasm --example parse_map
	$(CARGO) run --release -p rooms-sync-integration --bin rooms-sync-bench -- $(BENCH_ARGS)
	$(CARGO) run --release -p exo-emulator --example emulator_bench

FUZZ_SECONDS ?= 300
FUZZ := cd guest/fuzz && $(CARGO) fuzz run -s none

fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p guest/fuzz/corpus/ews_answer guest/fuzz/corpus/token_answer guest/fuzz/corpus/safe_text
	$(FUZZ) ews_answer corpus/ews_answer regressions ../../tests/fixtures/ews ../../tests/fixtures/ews-derived -- -dict=dict/xml.dict -max_total_time=$(FUZZ_SECONDS)
	$(FUZZ) token_answer corpus/token_answer seeds/token_answer ../../tests/fixtures/oauth -- -dict=dict/json.dict -max_total_time=$(FUZZ_SECONDS)
	$(FUZZ) safe_text corpus/safe_text ../../tests/fixtures/ews ../../tests/fixtures/oauth -- -max_total_time=$(FUZZ_SECONDS)

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --exclude rooms-sync-guest --all-targets
	$(CARGO) clippy -p rooms-sync-guest --target wasm32-wasip2

clean:
	$(CARGO) clean
