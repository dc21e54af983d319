//! The `iotmock` binary.

/// mimalloc: the broker's handshake and delivery paths allocate per packet, and glibc's
/// malloc took 7-9 % of their CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    iotmock_server::cli::main()
}
