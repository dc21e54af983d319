# iotmock tasks. `just --list` shows them.

# Run the mock on its defaults (API 127.0.0.1:4580, state in ./.iotmock)
run *ARGS:
    cargo run --release -- {{ARGS}}

# Every test in the workspace
test:
    cargo test

# The acceptance scripts against a freshly built mock, as CI runs them
conformance:
    bash .ci/run

# Formatting and lints, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Regenerate the committed fixtures
fixtures:
    bash fixtures/generate.sh

# API documentation
doc:
    cargo doc --no-deps --workspace

# Fuzz every target for SECS seconds each (cargo-fuzz on the stable toolchain)
fuzz SECS="60":
    command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
    for t in mqtt_decode policy pem stored_records stored_message api_request rules_sql; do RUSTC_BOOTSTRAP=1 cargo fuzz run -s none $t fuzz/corpus/$t -- -max_total_time={{SECS}} || exit 1; done
