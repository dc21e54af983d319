//! The `iotmock` binary.

fn main() -> anyhow::Result<()> {
    iotmock_server::cli::main()
}
