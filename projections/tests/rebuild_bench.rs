//! How fast the read models rebuild from the log. Prints figures, asserts
//! nothing about time:
//! `cargo test -p twostep-projections --release --test rebuild_bench -- --ignored --nocapture`
//! (`TWOSTEP_BENCH_USERS` and `TWOSTEP_BENCH_ROUNDS` size the log; the
//! defaults give about 200,000 events. With `TWOSTEP_BENCH_STORE=path` the
//! log is kept in that file and reused by the next run.)

mod support;

use std::time::Instant;

use support::{World, at, busy_licence, busy_rounds};
use twostep_projections::HistoryQuery;

/// CPU seconds (user + system) this process used so far, from `/proc`
/// (0 where there is none): other work on the machine slows the wall clock
/// of a benchmark, not its CPU time.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Bytes this process wrote so far with `write`-like calls, from `/proc`.
fn written_bytes() -> f64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("wchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Times `work` on the wall clock and in CPU seconds, and prints both rates
/// and the bytes written.
async fn measure<F: std::future::Future<Output = ()>>(label: &str, events: u64, work: F) {
    let (wall, cpu, written) = (Instant::now(), cpu_seconds(), written_bytes());
    work.await;
    let (wall, cpu) = (wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    let written = (written_bytes() - written) / 1e6;
    println!(
        "{label:<28} {:>7.0} events/s wall ({wall:.2} s), {:>7.0} events per CPU-second ({cpu:.2} s), {written:.0} MB written",
        events as f64 / wall,
        events as f64 / cpu.max(0.01)
    );
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test -p twostep-projections --release -- --ignored --nocapture"]
async fn rebuild_throughput() {
    let users = setting("TWOSTEP_BENCH_USERS", 1_000);
    let rounds = setting("TWOSTEP_BENCH_ROUNDS", 21) as u64;
    let kept = std::env::var_os("TWOSTEP_BENCH_STORE").map(std::path::PathBuf::from);
    let mut world = World::with_store(kept.as_deref()).await.buffered();
    let licences = ["acme", "globex", "initech", "umbrella"];
    if world.store.head().await.expect("head") == 0 {
        write_log(&mut world, &licences, users, rounds).await;
    }
    let head = world.store.head().await.expect("head");
    println!("log: {head} events");

    measure("reading the log alone", head, async {
        let mut after = 0;
        loop {
            let events = world.store.read_all(after, 1_000).await.expect("read all");
            let Some(last) = events.last() else { break };
            after = last.position;
        }
    })
    .await;

    let models = world.read_models("readmodels.sqlite3");
    measure("first build (catch_up)", head, async {
        models.catch_up(&world.store).await.expect("catch up")
    })
    .await;
    if std::env::var_os("TWOSTEP_BENCH_FIRST_ONLY").is_some() {
        return;
    }
    models.reset(&[]).await.expect("reset");
    measure("reset + rebuild (catch_up)", head, async {
        models.catch_up(&world.store).await.expect("catch up")
    })
    .await;
    for name in twostep_projections::PROJECTORS {
        models.reset(&[name]).await.expect("reset");
        let label = format!("  {name} alone");
        measure(&label, head, async {
            models.catch_up(&world.store).await.expect("catch up")
        })
        .await;
    }

    models.reset(&[]).await.expect("reset");
    measure("spawned followers", head, async {
        let followers = models.spawn(world.store.clone());
        loop {
            let checkpoints = models.checkpoints().await.expect("checkpoints");
            if checkpoints.iter().all(|c| c.position >= head) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        for follower in followers {
            follower.abort();
        }
    })
    .await;

    let licence = World::licence_id(licences[0]);
    let started = Instant::now();
    let page = models
        .login_history(
            licence,
            &HistoryQuery {
                limit: 1_000,
                ..HistoryQuery::default()
            },
        )
        .await
        .expect("history");
    println!(
        "a 1,000-entry history page: {:.2?} ({} entries)",
        started.elapsed(),
        page.entries.len()
    );
    let user = World::user_id(licences[0], "user0");
    let started = Instant::now();
    for _ in 0..1_000 {
        models.lockout(user, at(0)).await.expect("lockout");
    }
    println!("lockout query: {:.1?} each", started.elapsed() / 1_000);
}

/// About 10 events per user and round, in four licences.
async fn write_log(world: &mut World, licences: &[&str], users: usize, rounds: u64) {
    let started = Instant::now();
    for licence in licences {
        busy_licence(world, licence, users / licences.len()).await;
    }
    world.flush().await;
    // One flush per round: the users' appends interleave in the global order
    // as concurrent requests would.
    for round in 0..rounds {
        for licence in licences {
            busy_rounds(world, licence, users / licences.len(), round..round + 1).await;
        }
        world.flush().await;
    }
    println!(
        "log of {users} users, {rounds} rounds written in {:.1?}",
        started.elapsed()
    );
}
