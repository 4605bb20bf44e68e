//! The stores side by side: the ingest and delivery workloads of the
//! `ingest` and `delivery` benchmarks, run in one go on the embedded store
//! (sled, one node), on PostgreSQL with one node and on PostgreSQL with two
//! nodes sharing the database, with where the CPU went.
//!
//! `cargo bench -p wasmhook-tests --bench stores` prints, per system:
//! - ingest: gupshup callbacks to `/ingest/{source}` at each level of
//!   requests in flight (`BENCH_LEVELS`, default `16,64`), spread over the
//!   nodes, for `BENCH_SECS` (default 10) each: requests/s answered 202 (the
//!   event committed), p50/p99, and CPU per request of the wasmhook nodes and
//!   of PostgreSQL;
//! - delivery: `BENCH_EVENTS` (default 20000) callbacks sent over 32
//!   connections to a source with one endpoint (a receiver on loopback),
//!   timed until the receiver has every signed webhook: events delivered/s.
//!
//! PostgreSQL: the server at `BENCH_DATABASE_URL`, else
//! `WASMHOOK_TEST_DATABASE_URL`, else a private one this benchmark starts
//! in a temp dir with `tests/postgres.sh` (the distribution's package,
//! installed if missing) and stops at the end; each system gets a new
//! database. `BENCH_SYSTEMS` picks systems (`sled,pg1,pg2`). Everything —
//! nodes, PostgreSQL, the load generator and the receiver — shares this
//! machine's cores, so a second node adds no CPU: it shows what sharing the
//! work across processes costs, not what a second machine would give.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tempfile::TempDir;
use wasmhook_tests::bench::load::{self, Mode, Target};
use wasmhook_tests::bench::{cpu_seconds, env_or, percentile_ms, server_binary};
use wasmhook_tests::database::{new_database, use_database};
use wasmhook_tests::process::{GupshupCallbacks, ServerProcess};
use wasmhook_tests::receiver::TestReceiver;
use wasmhook_tests::server::ADMIN_TOKEN;

const SOURCE: &str = "gupshup-bench";
const INGEST_TOKEN: &str = "gupshup-bench-token-0123456789";
const WARM_UP: Duration = Duration::from_secs(1);

/// Which store, how many nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sled,
    Postgres { nodes: usize },
}

impl Kind {
    fn parse(text: &str) -> Kind {
        match text.trim() {
            "sled" => Kind::Sled,
            "pg1" => Kind::Postgres { nodes: 1 },
            "pg2" => Kind::Postgres { nodes: 2 },
            other => panic!("BENCH_SYSTEMS: `sled`, `pg1` or `pg2`, got `{other}`"),
        }
    }

    fn label(self) -> String {
        match self {
            Kind::Sled => "sled, 1 node".to_owned(),
            Kind::Postgres { nodes } => format!("postgres, {nodes} node{}", plural(nodes)),
        }
    }
}

fn plural(count: usize) -> &'static str {
    if count == 1 { "" } else { "s" }
}

/// The PostgreSQL server the benchmark uses: given, or its own.
struct Postgres {
    url: String,
    own: Option<TempDir>,
}

impl Postgres {
    fn find_or_start() -> Postgres {
        for variable in ["BENCH_DATABASE_URL", "WASMHOOK_TEST_DATABASE_URL"] {
            if let Ok(url) = std::env::var(variable) {
                return Postgres { url, own: None };
            }
        }
        let dir = tempfile::tempdir().expect("a temp dir for PostgreSQL");
        let url = postgres_script("start", dir.path());
        eprintln!("started a private PostgreSQL at {url}");
        Postgres {
            url,
            own: Some(dir),
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(dir) = &self.own {
            postgres_script("stop", dir.path());
        }
    }
}

/// Runs `tests/postgres.sh ACTION DIR`; what it printed.
fn postgres_script(action: &str, dir: &Path) -> String {
    let script: PathBuf = wasmhook_tests::repo_root().join("tests/postgres.sh");
    let output = std::process::Command::new("bash")
        .arg(&script)
        .arg(action)
        .arg(dir)
        .output()
        .expect("running tests/postgres.sh");
    assert!(
        output.status.success(),
        "tests/postgres.sh {action}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The nodes of one system under test.
struct System {
    kind: Kind,
    nodes: Vec<ServerProcess>,
    _dirs: Vec<TempDir>,
}

impl System {
    fn start(kind: Kind, postgres: Option<&Postgres>) -> System {
        let count = match kind {
            Kind::Sled => 1,
            Kind::Postgres { nodes } => nodes,
        };
        let dirs: Vec<TempDir> = (0..count)
            .map(|_| tempfile::tempdir().expect("a data dir"))
            .collect();
        if let Kind::Postgres { .. } = kind {
            let postgres = postgres.expect("PostgreSQL for a postgres system");
            let paths: Vec<&Path> = dirs.iter().map(TempDir::path).collect();
            use_database(&paths, &new_database(&postgres.url));
        }
        let binary = server_binary(env!("CARGO_BIN_EXE_wasmhook-e2e"));
        let nodes = dirs
            .iter()
            .map(|dir| {
                ServerProcess::start(
                    &binary,
                    dir.path(),
                    &["--outbound-allowlist", "127.0.0.1/32"],
                )
            })
            .collect();
        System {
            kind,
            nodes,
            _dirs: dirs,
        }
    }

    fn admin(&self, path: &str, body: serde_json::Value) {
        let response = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
            .post(self.nodes[0].url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(&body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        assert!(
            status.is_success(),
            "POST {path}: {status} {}",
            response.text().unwrap_or_default()
        );
    }

    /// Wasmhook CPU seconds so far, all nodes.
    fn node_cpu(&self) -> f64 {
        self.nodes.iter().map(|node| cpu_seconds(node.pid())).sum()
    }

    fn target(&self, callbacks: &Arc<GupshupCallbacks>, next_id: &Arc<AtomicU64>) -> Target {
        Target {
            nodes: self.nodes.iter().map(|node| node.addr).collect(),
            source: SOURCE.to_owned(),
            token: INGEST_TOKEN.to_owned(),
            mode: Mode::Ingest,
            callbacks: Arc::clone(callbacks),
            next_id: Arc::clone(next_id),
        }
    }
}

/// CPU seconds so far of every PostgreSQL process on the machine (the
/// benchmark's server is the only one running while it measures).
fn postgres_cpu() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .sum()
}

/// One line of the side-by-side table.
struct Row {
    system: String,
    workload: String,
    rate: f64,
    unit: &'static str,
    detail: String,
}

fn main() {
    let seconds: u64 = env_or("BENCH_SECS", 10);
    let events: u64 = env_or("BENCH_EVENTS", 20_000);
    let levels: Vec<usize> = std::env::var("BENCH_LEVELS")
        .unwrap_or_else(|_| "16,64".to_owned())
        .split(',')
        .map(|level| level.trim().parse().expect("BENCH_LEVELS: numbers"))
        .collect();
    let kinds: Vec<Kind> = std::env::var("BENCH_SYSTEMS")
        .unwrap_or_else(|_| "sled,pg1,pg2".to_owned())
        .split(',')
        .map(Kind::parse)
        .collect();
    let postgres = kinds
        .iter()
        .any(|kind| matches!(kind, Kind::Postgres { .. }))
        .then(Postgres::find_or_start);
    let callbacks = Arc::new(GupshupCallbacks::load());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("generator runtime");
    println!(
        "stores: gupshup callbacks, {seconds} s per ingest level, {events} events for delivery; CPU per request: wasmhook nodes + PostgreSQL"
    );
    let mut rows = Vec::new();
    for kind in kinds {
        let system = System::start(kind, postgres.as_ref());
        system.admin(
            "/v1/sources",
            json!({"name": SOURCE, "mapper": "gupshup", "config": {}, "ingest_token": INGEST_TOKEN}),
        );
        let next_id = Arc::new(AtomicU64::new(0));
        let target = system.target(&callbacks, &next_id);
        // Every node knows the source (the others learn of it from the
        // database) before anything is measured.
        runtime.block_on(until_every_node_accepts(&system, &target));
        for &concurrency in &levels {
            rows.push(ingest(&runtime, &system, &target, concurrency, seconds));
        }
        rows.push(runtime.block_on(delivery(&system, &target, events)));
        drop(system);
    }
    println!("\nside by side:");
    let mut by_workload: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in &rows {
        by_workload
            .entry(row.workload.clone())
            .or_default()
            .push(row);
    }
    for (workload, rows) in by_workload {
        for row in rows {
            println!(
                "{workload:<18} {:<20} {:>8.0} {:<12} {}",
                row.system, row.rate, row.unit, row.detail
            );
        }
    }
}

/// Sends callbacks to each node until each answers 202.
async fn until_every_node_accepts(system: &System, target: &Target) {
    for (index, node) in system.nodes.iter().enumerate() {
        let alone = Target {
            nodes: vec![node.addr],
            ..target.clone()
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let until = target.next_id.load(Ordering::Relaxed) + 1;
            let run = load::drive(&alone, 1, Duration::from_secs(5), Some(until)).await;
            if !run.latencies.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "node {index} never accepted a callback"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `concurrency` callbacks in flight over the nodes for `seconds`.
fn ingest(
    runtime: &tokio::runtime::Runtime,
    system: &System,
    target: &Target,
    concurrency: usize,
    seconds: u64,
) -> Row {
    runtime.block_on(load::drive(target, concurrency, WARM_UP, None));
    let (nodes_before, postgres_before) = (system.node_cpu(), postgres_cpu());
    let run = runtime.block_on(load::drive(
        target,
        concurrency,
        Duration::from_secs(seconds),
        None,
    ));
    let accepted = run.latencies.len().max(1) as f64;
    let per_request = |cpu: f64| cpu * 1e6 / accepted;
    let nodes_cpu = per_request(system.node_cpu() - nodes_before);
    let postgres_cpu = per_request(postgres_cpu() - postgres_before);
    let (p50, p99) = (
        percentile_ms(&run.latencies, 0.50),
        percentile_ms(&run.latencies, 0.99),
    );
    let row = Row {
        system: system.kind.label(),
        workload: format!("ingest c={concurrency}"),
        rate: run.per_second(),
        unit: "requests/s",
        detail: format!(
            "p50 {p50:.2} ms  p99 {p99:.2} ms  CPU/request: wasmhook {nodes_cpu:.0} µs + postgres {postgres_cpu:.0} µs  ({} refused)",
            run.failures
        ),
    };
    println!(
        "{:<20} {:<18} {:>8.0} {} {}",
        row.system, row.workload, row.rate, row.unit, row.detail
    );
    row
}

/// `events` callbacks to a source with one endpoint, timed until the
/// receiver has them all.
async fn delivery(system: &System, target: &Target, events: u64) -> Row {
    let receiver = TestReceiver::start().await;
    system.admin(
        "/v1/endpoints",
        json!({"url": receiver.url("/bench"), "description": "stores bench"}),
    );
    // Every node fans out to the endpoint (the others learn of it from the
    // database): one callback through each until it arrives.
    for node in &system.nodes {
        let alone = Target {
            nodes: vec![node.addr],
            ..target.clone()
        };
        let give_up = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < give_up,
                "{} never delivered to the endpoint",
                node.base
            );
            let before = receiver.count();
            let until = alone.next_id.load(Ordering::Relaxed) + 1;
            load::drive(&alone, 1, Duration::from_secs(5), Some(until)).await;
            let deadline = Instant::now() + Duration::from_secs(2);
            while receiver.count() == before && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if receiver.count() > before {
                break;
            }
        }
    }
    // Warm-up: connections open, plugins hot.
    let probes = receiver.count();
    let warm = 200 * system.nodes.len() as u64;
    let first = target.next_id.load(Ordering::Relaxed);
    let run = load::drive(target, 8, Duration::from_secs(60), Some(first + warm)).await;
    let warmed = probes + run.latencies.len();
    wait_for(&receiver, warmed).await;
    let (nodes_before, postgres_before) = (system.node_cpu(), postgres_cpu());
    let started = Instant::now();
    let from = target.next_id.load(Ordering::Relaxed);
    let run = load::drive(target, 32, Duration::from_secs(600), Some(from + events)).await;
    let accepted = run.latencies.len();
    let ingested = started.elapsed();
    let done = wait_for(&receiver, warmed + accepted).await;
    let elapsed = done - started;
    let per_event = |cpu: f64| cpu * 1e6 / accepted.max(1) as f64;
    let row = Row {
        system: system.kind.label(),
        workload: "delivery 1 endpoint".to_owned(),
        rate: accepted as f64 / elapsed.as_secs_f64(),
        unit: "events/s",
        detail: format!(
            "ingest {:.0}/s, all delivered in {:.1} s  CPU/event: wasmhook {:.0} µs + postgres {:.0} µs",
            accepted as f64 / ingested.as_secs_f64(),
            elapsed.as_secs_f64(),
            per_event(system.node_cpu() - nodes_before),
            per_event(postgres_cpu() - postgres_before),
        ),
    };
    println!(
        "{:<20} {:<18} {:>8.0} {} {}",
        row.system, row.workload, row.rate, row.unit, row.detail
    );
    row
}

/// Waits until `receiver` has `count` requests; when the last arrived.
async fn wait_for(receiver: &TestReceiver, count: usize) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        if receiver.count() >= count {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} deliveries arrived in 10 minutes",
            receiver.count()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
