# Every target runs from the workspace root. `make test` is what CI runs.
CARGO ?= cargo

.PHONY: test test-unit test-examples lint fmt run-axum run-actix bench doc stress

## test: format check, clippy, unit and integration tests, doc tests, then the smoke run
test: lint test-unit test-examples

## test-unit: every crate's tests (cargo-nextest when installed, else cargo test), and doc tests
test-unit:
	@if command -v cargo-nextest >/dev/null 2>&1; then \
		$(CARGO) nextest run --workspace --no-fail-fast; \
	else \
		$(CARGO) test --workspace --no-fail-fast; \
	fi
	$(CARGO) test --workspace --doc

## test-examples: start both example servers and run the black-box suite against them
test-examples:
	$(CARGO) xtask smoke

## lint: rustfmt check, clippy with warnings as errors, rustdoc without warnings
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --all-features -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --quiet

fmt:
	$(CARGO) fmt --all

## run-axum / run-actix: run one example server in the foreground
run-axum:
	$(CARGO) run -p webhook-axum

run-actix:
	$(CARGO) run -p webhook-actix

## bench: measure both servers against the performance targets
bench:
	$(CARGO) xtask bench

## stress: both servers under mixed traffic, slow clients, SIGTERM in flight and a restart (about 3 minutes, so not part of `make test`)
stress:
	$(CARGO) xtask stress
