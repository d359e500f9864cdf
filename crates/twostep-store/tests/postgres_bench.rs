//! Throughput of single-event appends to PostgreSQL from many concurrent
//! tasks (one store, as one instance has). Prints figures, asserts nothing
//! about time: `cargo test --release -p twostep-store --test postgres_bench
//! -- --ignored --nocapture` (server at `TWOSTEP_TEST_POSTGRES_URL`, default
//! `postgres://root@127.0.0.1:5432/test`; a fresh schema, dropped after).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use twostep_store::ExpectedVersion::Exact;
use twostep_store::postgres::PostgresStore;
use twostep_store::{EventStore, Metadata, NewEvent};
use uuid::Uuid;

/// Shaped like a code-step event: a few ids, a timestamp, some metadata; its
/// id is time-ordered (UUIDv7) as the application's are.
fn code_verified(n: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::now_v7(),
        event_type: "CodeVerified".into(),
        schema_version: 1,
        data: json!({
            "challenge_id": Uuid::new_v4(),
            "code_id": Uuid::new_v4(),
            "user_id": Uuid::new_v4(),
            "attempt": n,
            "at": "2026-01-01T12:00:00.123456789Z",
        }),
        metadata: Metadata {
            correlation_id: Uuid::new_v4(),
            causation_id: Some(Uuid::new_v4()),
            actor: "anonymous".into(),
            client_ip: Some("198.51.100.23".into()),
            user_agent: Some("Mozilla/5.0 (benchmark)".into()),
            chain: None,
        },
    }
}

/// `tasks` tasks, each appending `per_task` single events to its own stream
/// with an exact expected version; appends/s and latency percentiles.
async fn run(store: Arc<dyn EventStore>, tasks: usize, per_task: u64) {
    let started = Instant::now();
    let mut running = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let store = Arc::clone(&store);
        running.spawn(async move {
            let stream = format!("bench-{}-{task}", Uuid::new_v4());
            let mut latencies = Vec::with_capacity(per_task as usize);
            for version in 0..per_task {
                let sent = Instant::now();
                store
                    .append(&stream, Exact(version), vec![code_verified(version)])
                    .await
                    .expect("append");
                latencies.push(sent.elapsed());
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = Vec::new();
    while let Some(joined) = running.join_next().await {
        latencies.extend(joined.expect("a benchmark task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{tasks:>4} tasks: {:>6} appends in {:>6.2} s = {:>7.0} appends/s; latency p50 {:>6.2} ms, p99 {:>6.2} ms, max {:>6.2} ms",
        latencies.len(),
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}

/// Rounds of (tasks, appends per task): `TWOSTEP_BENCH_RUNS="64x500,256x200"`
/// overrides the default.
fn runs() -> Vec<(usize, u64)> {
    let default = "1x300,16x200,64x100,256x20";
    let spec = std::env::var("TWOSTEP_BENCH_RUNS").unwrap_or_else(|_| default.into());
    spec.split(',')
        .filter_map(|run| run.trim().split_once('x'))
        .filter_map(|(tasks, per_task)| Some((tasks.parse().ok()?, per_task.parse().ok()?)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --ignored --nocapture"]
async fn single_event_appends_per_second() {
    let base = std::env::var("TWOSTEP_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".into());
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!(
        "{base}{separator}schema=twostep_bench_{}",
        Uuid::new_v4().simple()
    );
    let store: Arc<dyn EventStore> = Arc::new(
        PostgresStore::open(&url)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL is needed for this benchmark: {err}")),
    );
    for (tasks, per_task) in runs() {
        run(Arc::clone(&store), tasks, per_task).await;
    }
    drop(store);
    PostgresStore::drop_schema(&url)
        .await
        .expect("dropping the schema");
}
