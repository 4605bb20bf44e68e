//! The database stops for 10 s under load, then starts again: two nodes on
//! a PostgreSQL server of the test's own (`tests/postgres.sh` in a temp
//! dir) answer 503, never 202, while writes fail, fail `/readyz` while it
//! is down, come back by themselves when it returns, and then every
//! callback they acknowledged is stored and delivered.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use wasmhook_tests::database::{postgres_configured, use_database};
use wasmhook_tests::process::GupshupCallbacks;
use wasmhook_tests::receiver::TestReceiver;

use crate::{Cluster, SOURCE_TOKEN, arrived, my_turn, stored_events};

/// A PostgreSQL server in a temp dir, stopped when dropped.
struct OwnServer {
    dir: TempDir,
}

impl OwnServer {
    async fn start() -> (OwnServer, String) {
        let server = OwnServer {
            dir: tempfile::tempdir().unwrap(),
        };
        let url = server.run("start").await;
        (server, url)
    }

    /// Runs `tests/postgres.sh ACTION DIR`; what it printed (the URL).
    async fn run(&self, action: &'static str) -> String {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("postgres.sh");
        let dir = self.dir.path().to_owned();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(script)
                .arg(action)
                .arg(dir)
                .output()
                .expect("running tests/postgres.sh")
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "tests/postgres.sh {action}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("postgres.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// What the load saw: the event ids answered 202, and every status by
/// phase.
#[derive(Default)]
struct Seen {
    accepted: Vec<String>,
    statuses: BTreeMap<(&'static str, u16), usize>,
}

/// Callbacks over both nodes, 8 at a time, until `stop`; `phase` names
/// the moment each answer belongs to.
fn load(
    cluster: &Cluster,
    stop: Arc<AtomicBool>,
    phase: Arc<Mutex<&'static str>>,
    seen: Arc<Mutex<Seen>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let callbacks = GupshupCallbacks::load();
    let next = Arc::new(AtomicUsize::new(0));
    let bases: Vec<String> = cluster.nodes.iter().map(|node| node.base.clone()).collect();
    (0..8)
        .map(|_| {
            let (client, callbacks, bases) =
                (cluster.client.clone(), callbacks.clone(), bases.clone());
            let (stop, phase, seen, next) = (
                Arc::clone(&stop),
                Arc::clone(&phase),
                Arc::clone(&seen),
                Arc::clone(&next),
            );
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let sent_in = *phase.lock().unwrap();
                    let response = client
                        .post(format!(
                            "{}/ingest/gs?token={SOURCE_TOKEN}",
                            bases[i % bases.len()]
                        ))
                        .header("content-type", "application/json")
                        .body(callbacks.body(&format!("outage-{i}")))
                        .timeout(Duration::from_secs(30))
                        .send()
                        .await;
                    let (status, body) = match response {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (
                                status,
                                response.json::<Value>().await.unwrap_or(Value::Null),
                            )
                        }
                        // No answer is no acknowledgement: the vendor resends.
                        Err(_) => (0, Value::Null),
                    };
                    {
                        let mut seen = seen.lock().unwrap();
                        *seen.statuses.entry((sent_in, status)).or_default() += 1;
                        if status == 202 {
                            let id = body["events"][0]["id"].as_str().expect("an event id");
                            seen.accepted.push(id.to_owned());
                        } else if status == 503 {
                            assert!(
                                body["code"].is_string() && body["detail"].is_string(),
                                "a 503 says why: {body}"
                            );
                        } else if status != 0 {
                            panic!("ingest answered {status}: {body}");
                        }
                    }
                    if status != 202 {
                        // Refused: back off a little, as a vendor would.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect()
}

/// Waits until every node's `/readyz` answers `ready`.
async fn wait_readiness(cluster: &Cluster, ready: bool, within: Duration) {
    let deadline = Instant::now() + within;
    for node in &cluster.nodes {
        loop {
            let status = cluster
                .client
                .get(node.url("/readyz"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map(|response| response.status().as_u16());
            if matches!(status, Ok(200)) == ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} /readyz still {status:?} after {within:?} (ready wanted: {ready})",
                node.base
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn accepted(seen: &Mutex<Seen>) -> usize {
    seen.lock().unwrap().accepted.len()
}

/// Waits until `seen` holds more than `count` acknowledgements.
async fn wait_accepted(seen: &Mutex<Seen>, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while accepted(seen) <= count {
        assert!(
            Instant::now() < deadline,
            "no more than {count} callbacks acknowledged in {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_ride_out_the_database_stopping_for_ten_seconds() {
    let _turn = my_turn().await;
    if !postgres_configured("the database outage test") {
        return;
    }
    let (database, url) = OwnServer::start().await;
    let dirs: Vec<TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    use_database(
        &dirs.iter().map(TempDir::path).collect::<Vec<&Path>>(),
        &url,
    );
    let cluster = Cluster::start_in(dirs).await;
    let receiver = TestReceiver::start().await;
    cluster.source_and_endpoint(&receiver).await;
    wait_readiness(&cluster, true, Duration::from_secs(30)).await;

    let stop = Arc::new(AtomicBool::new(false));
    let phase = Arc::new(Mutex::new("before"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let load = load(
        &cluster,
        Arc::clone(&stop),
        Arc::clone(&phase),
        Arc::clone(&seen),
    );
    // Both nodes take callbacks (the source reaches node 2 from the
    // database), then the database stops.
    wait_accepted(&seen, 200, Duration::from_secs(60)).await;
    *phase.lock().unwrap() = "stopping";
    database.run("stop").await;
    let stopped = Instant::now();
    wait_readiness(&cluster, false, Duration::from_secs(20)).await;
    *phase.lock().unwrap() = "down";
    // Down for 10 s under load.
    let down_for = Duration::from_secs(10).saturating_sub(stopped.elapsed());
    tokio::time::sleep(down_for).await;
    *phase.lock().unwrap() = "starting";
    assert_eq!(
        database.run("start").await,
        url,
        "the server came back on its port"
    );
    let restarted = Instant::now();
    wait_readiness(&cluster, true, Duration::from_secs(60)).await;
    *phase.lock().unwrap() = "after";
    let before_recovery = accepted(&seen);
    wait_accepted(&seen, before_recovery + 200, Duration::from_secs(60)).await;
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.expect("a load task");
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    eprintln!(
        "outage: ready again {} ms after the database started; answers by phase: {:?}",
        restarted.elapsed().as_millis(),
        seen.statuses
    );
    // While it was down (readiness failing on both nodes), nothing was
    // acknowledged and the refusals were 503s.
    let down_202 = seen.statuses.get(&("down", 202)).copied().unwrap_or(0);
    assert_eq!(down_202, 0, "202 while the database was down");
    assert!(
        seen.statuses.get(&("down", 503)).copied().unwrap_or(0) > 0,
        "no 503 while the database was down: {:?}",
        seen.statuses
    );

    // Every acknowledged callback is stored (through either node) ...
    let expected: HashSet<String> = seen.accepted.iter().cloned().collect();
    assert_eq!(
        expected.len(),
        seen.accepted.len(),
        "an event id answered twice"
    );
    let stored: HashSet<String> = stored_events(&cluster, 1).await.into_iter().collect();
    let lost: Vec<&String> = expected.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost: {lost:?}",
        lost.len()
    );
    // ... and delivered.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got: HashSet<String> = arrived(&receiver).into_iter().collect();
        let missing = expected.difference(&got).count();
        if missing == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged events never arrived"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!(
        "outage: {} acknowledged, all stored and delivered",
        expected.len()
    );
}
