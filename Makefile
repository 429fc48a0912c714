# rooms-sync: build, test, demo and benchmarks.
#
# Everything builds in release mode: the tests, the demo and the benchmarks
# share one build of wasmtime (a clean build takes about 10 minutes on 2 cores).

CARGO      ?= cargo
GUEST_WASM := target/wasm32-wasip2/release-wasm/rooms_sync_guest.wasm

.PHONY: help build guest host test test-guest demo bench fmt lint clean

help:
	@echo "make build   build the component and the host (release)"
	@echo "make test    run every test (component unit tests, host, emulator, end to end)"
	@echo "make demo    start the emulator with a seeded tenant and run 'rooms-sync check' against it"
	@echo "make bench   print the benchmark figures"
	@echo "make lint    rustfmt and clippy"

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

bench: build
	$(CARGO) run --release -p rooms-sync-integration --bin rooms-sync-bench
	$(CARGO) run --release -p exo-emulator --example emulator_bench

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --exclude rooms-sync-guest --all-targets
	$(CARGO) clippy -p rooms-sync-guest --target wasm32-wasip2

clean:
	$(CARGO) clean
