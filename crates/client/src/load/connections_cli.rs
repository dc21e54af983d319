//! `iotmock load connections`: the many-connections scenario from the command line, with the
//! other scenarios' target, output and sharding flags. It raises its own file-descriptor
//! limit, and spreads its connections over loopback source addresses when the broker is on
//! loopback (each worker of a sharded run on its own addresses).

use super::cli::{TargetArgs, finish, identities, parse_rate};
use super::connections::{self, ConnectionsPlan, loopback_sources};
use super::report::process_cpu;
use super::shard::Shard;
use crate::cli::{CliError, parse_duration, version};
use clap::Args;
use std::time::Duration;

/// Connections one loopback source address carries at most (of ~28,000 ephemeral ports).
const PER_SOURCE: u64 = 20_000;

#[derive(Debug, Clone, Args)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    t: TargetArgs,
    /// Connections to open and hold at once (a sharded run's total).
    #[arg(long = "target")]
    count: u64,
    /// Connections opened per second (a sharded run's total).
    #[arg(long, default_value = "1000", value_parser = parse_rate)]
    rate: f64,
    /// How long they are held once the last is open (e.g. 60s).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    hold: Duration,
    /// The CONNECT keep-alive in seconds; each connection pings at half of it.
    #[arg(long, default_value_t = 60)]
    keep_alive: u16,
    /// Loopback source addresses (127.0.0.x) to spread over, when the broker is on loopback
    /// (default: one per 20,000 connections; 0: the system's choice).
    #[arg(long)]
    sources: Option<usize>,
}

/// Whether `addr` (host:port) is on loopback.
fn on_loopback(addr: &str) -> bool {
    let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
    host == "localhost"
        || host
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Raises the soft file-descriptor limit to what `connections` needs, as far as the hard
/// limit allows; says so when it cannot.
fn raise_fd_limit(connections: u64) {
    let wanted = connections.saturating_add(1024);
    match rlimit::increase_nofile_limit(wanted) {
        Ok(got) if got < wanted => eprintln!(
            "warning: the file-descriptor limit is {got}, under the {wanted} this run needs (raise the hard limit: ulimit -Hn)"
        ),
        Ok(_) => {}
        Err(e) => eprintln!("warning: the file-descriptor limit could not be raised: {e}"),
    }
}

pub(super) async fn run(a: ConnectionsArgs, progress: bool) -> Result<(), CliError> {
    let t = &a.t;
    let shard = Shard::new(t.shard.shard_index, t.shard.shards)?;
    let count = shard.part(a.count);
    raise_fd_limit(count);
    let configs = identities(t, shard).await?;
    let n = a
        .sources
        .unwrap_or_else(|| usize::try_from(count.div_ceil(PER_SOURCE)).unwrap_or(1));
    let sources = if on_loopback(&t.mqtt) && n > 0 {
        loopback_sources(n, shard.index as usize * n)
    } else {
        Vec::new()
    };
    let plan = ConnectionsPlan {
        addr: t.mqtt.clone(),
        server_name: t.server_name.clone(),
        version: version(&t.protocol)?,
        target: count,
        rate: shard.rate(a.rate),
        hold: a.hold,
        keep_alive: a.keep_alive,
        timeout: Duration::from_secs(30),
        id_prefix: format!("conn-{}", shard.label()),
        sources,
    };
    let cpu = process_cpu();
    let report = connections::run(plan, configs, progress && t.output.json.is_none()).await;
    finish(report, cpu, t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_targets_are_recognised() {
        assert!(on_loopback("127.0.0.1:8883"));
        assert!(on_loopback("localhost:8883"));
        assert!(on_loopback("[::1]:8883"));
        assert!(!on_loopback("10.0.0.5:8883"));
        assert!(!on_loopback("iot.example.com:8883"));
    }
}
