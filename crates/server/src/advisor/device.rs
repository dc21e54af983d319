//! Starting and ending the device under test: a shell command, an in-process task, or
//! external hardware the runner only waits for.

use crate::advisor::{Device, DeviceEnv};
use anyhow::{Context, Result};
use std::time::Duration;

/// A device while its case runs.
pub(crate) enum Running {
    Child(tokio::process::Child),
    Task(tokio::task::JoinHandle<()>),
    External,
}

/// Starts the device with `env`.
pub(crate) fn start_device(device: &Device, env: &DeviceEnv) -> Result<Running> {
    match device {
        Device::Command(cmd) => {
            // Its own process group, so that ending it ends whatever the shell started.
            let child = tokio::process::Command::new("sh")
                .args(["-c", cmd])
                .process_group(0)
                .envs(env.vars())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting the device command")?;
            Ok(Running::Child(child))
        }
        Device::Task(task) => Ok(Running::Task(tokio::spawn(task(env.clone())))),
        Device::External => {
            eprintln!("\n{}: connect the device now", env.case);
            for (k, v) in env.vars() {
                eprintln!("  {k}={v}");
            }
            Ok(Running::External)
        }
    }
}

impl Running {
    /// Resolves when the device has ended by itself (never, for external hardware).
    pub(crate) async fn exited(&mut self) {
        match self {
            Running::Child(child) => {
                let _ = child.wait().await;
            }
            Running::Task(task) => {
                let _ = task.await;
            }
            Running::External => std::future::pending().await,
        }
    }

    /// Ends the device: SIGTERM, then SIGKILL after two seconds; a task is aborted.
    pub(crate) async fn stop(&mut self) {
        match self {
            Running::Child(child) => stop_child(child).await,
            Running::Task(task) => {
                task.abort();
                let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
            }
            Running::External => {}
        }
    }
}

/// Sends `signal` to the device's whole process group.
async fn signal_group(pid: u32, signal: &str) {
    let _ = tokio::process::Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .status()
        .await;
}

async fn stop_child(child: &mut tokio::process::Child) {
    let Some(pid) = child.id() else {
        return;
    };
    signal_group(pid, "-TERM").await;
    if tokio::time::timeout(Duration::from_secs(2), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    // Children the shell started may outlive it.
    signal_group(pid, "-KILL").await;
}
