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
