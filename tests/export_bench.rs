#![allow(clippy::unwrap_used, clippy::expect_used)]
//! How `twostep audit export` does on a big log: throughput and the peak
//! resident memory of the process (`VmHWM`, polled from `/proc` while it
//! runs). Prints figures, asserts nothing about time:
//! `cargo test -p twostep-e2e --release --test export_bench -- --ignored --nocapture`
//!
//! The log (about 1,000,000 events: `TWOSTEP_BENCH_USERS` users over four
//! licences, `TWOSTEP_BENCH_ROUNDS` rounds of everyday logins, locks and
//! resets) is written through the domain deciders into
//! `TWOSTEP_BENCH_DATA_DIR/events.sqlite3` (a temporary folder by default)
//! unless that file already holds events, so the rebuild benchmark of the
//! projections crate can share it (`TWOSTEP_BENCH_STORE`).

#[path = "../projections/tests/support/mod.rs"]
mod world;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use world::{World, busy_licence, busy_rounds};

const LICENCES: [&str; 4] = ["acme", "globex", "initech", "umbrella"];

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory of process `pid` so far, in KiB (`None` once it exited).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Runs the binary with `args`, polling its peak memory; returns the wall
/// time, the highest `VmHWM` seen and its stderr.
fn run_measured(args: &[&str]) -> (Duration, u64, String) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_twostep-under-test"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut peak = 0;
    loop {
        if let Some(kib) = peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let output = child.wait_with_output().unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?}: {stderr}");
    (took, peak, stderr)
}

async fn write_log(world: &mut World, users: usize, rounds: u64) {
    let started = Instant::now();
    for licence in LICENCES {
        busy_licence(world, licence, users / LICENCES.len()).await;
    }
    world.flush().await;
    for round in 0..rounds {
        for licence in LICENCES {
            busy_rounds(world, licence, users / LICENCES.len(), round..round + 1).await;
        }
        world.flush().await;
    }
    println!(
        "log of {users} users, {rounds} rounds written in {:.1?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test -p twostep-e2e --release --test export_bench -- --ignored --nocapture"]
async fn export_of_a_million_events_in_bounded_memory() {
    let kept = std::env::var_os("TWOSTEP_BENCH_DATA_DIR").map(std::path::PathBuf::from);
    let scratch = tempfile::tempdir().unwrap();
    let dir = kept.unwrap_or_else(|| scratch.path().to_owned());
    std::fs::create_dir_all(&dir).unwrap();
    let store = dir.join("events.sqlite3");
    let head = {
        let mut world = World::with_store(Some(&store)).await.buffered();
        if world.store.head().await.unwrap() == 0 {
            let users = setting("TWOSTEP_BENCH_USERS", 4_000);
            let rounds = setting("TWOSTEP_BENCH_ROUNDS", 25) as u64;
            write_log(&mut world, users, rounds).await;
        }
        world.store.head().await.unwrap()
    };
    let bytes = std::fs::metadata(&store).map(|m| m.len()).unwrap_or(0);
    println!(
        "log: {head} events, {:.0} MB; the export reads it all, licence acme holds a quarter",
        bytes as f64 / 1e6
    );
    let dir_text = dir.to_string_lossy().into_owned();
    let out = scratch.path().join("export");
    let out_text = out.to_string_lossy().into_owned();
    for (label, extra) in [
        (
            "csv, whole licence",
            vec!["--format", "csv", "--out", &out_text],
        ),
        (
            "jsonl, whole licence",
            vec!["--format", "jsonl", "--out", &out_text],
        ),
        (
            "jsonl, one user",
            vec!["--format", "jsonl", "--login", "user7"],
        ),
    ] {
        let mut args = vec![
            "audit",
            "export",
            "--licence",
            "acme",
            "--data-dir",
            &dir_text,
        ];
        args.extend(extra);
        let (took, peak, summary) = run_measured(&args);
        let rows = summary
            .lines()
            .find_map(|l| l.strip_prefix("rows: "))
            .unwrap_or("?");
        let written = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        println!(
            "{label:<22} {rows:>7} rows in {:.2} s: {:>7.0} log events/s, peak RSS {:.1} MiB{}",
            took.as_secs_f64(),
            head as f64 / took.as_secs_f64(),
            peak as f64 / 1024.0,
            if args.contains(&"--out") {
                format!(", file {:.0} MB", written as f64 / 1e6)
            } else {
                String::new()
            }
        );
    }
}
