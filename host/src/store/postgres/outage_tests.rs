//! A database that goes away and comes back, on a private server of the
//! test's own (`tests/postgres.sh` in a temp dir): writes fail with a
//! connection-class error (the API's 503, never a 202) and are refused
//! while it is down, nothing unacknowledged is stored, and the store —
//! pool, listener — recovers without a restart.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::PgStore;
use super::fixtures::{add_plugin, alone, event, source, t};
use super::test_db::TestDb;
use crate::domain::plugin::PluginWorld;

/// A PostgreSQL server in a temp dir, stopped when dropped.
struct OwnServer {
    dir: tempfile::TempDir,
}

impl OwnServer {
    fn script() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/postgres.sh")
    }

    /// Runs `tests/postgres.sh ACTION DIR`; its output.
    async fn run(&self, action: &'static str) -> String {
        let dir = self.dir.path().to_owned();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("bash")
                .arg(Self::script())
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
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    /// Starts it; its URL.
    async fn start(&self) -> String {
        self.run("start").await
    }

    async fn stop(&self) {
        self.run("stop").await;
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(Self::script())
            .arg("stop")
            .arg(self.dir.path())
            .output();
    }
}

/// Waits up to `within` for `check`, polling; panics naming `what`.
async fn wait_for(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_fail_while_the_database_is_down_and_resume_when_it_returns() {
    if TestDb::configured().is_none() {
        return;
    }
    let server = OwnServer {
        dir: tempfile::tempdir().unwrap(),
    };
    let url = server.start().await;
    let store = PgStore::connect(&url).await.unwrap();
    store
        .commit_events(vec![alone(&t(), event(1, "before"))])
        .await
        .unwrap();

    server.stop().await;
    let error = store
        .commit_events(vec![alone(&t(), event(2, "during"))])
        .await
        .unwrap_err();
    assert!(error.is_io(), "{error:?} is the database's state (503)");
    assert!(
        store.writable().is_err(),
        "writes are refused while it is down"
    );
    assert!(store.write_problem().is_some());
    assert!(!store.is_ready().await);

    assert_eq!(
        server.start().await,
        url,
        "the server came back on its port"
    );
    wait_for("writes to resume", Duration::from_secs(15), async || {
        store.writable().is_ok()
    })
    .await;
    assert!(store.is_ready().await);
    let after = store
        .commit_events(vec![alone(&t(), event(3, "after"))])
        .await
        .unwrap();
    assert!(!after[0].duplicate);
    assert_eq!(
        store.event_count().await,
        2,
        "what was refused is not stored; what was acknowledged is"
    );

    // The listener reconnected: another node's change still arrives.
    let other = PgStore::connect(&url).await.unwrap();
    add_plugin(&other, "gupshup", PluginWorld::Mapper).await;
    other
        .create_source(&source(&t(), "gs", "gupshup"))
        .await
        .unwrap();
    wait_for(
        "the change through the new listener",
        Duration::from_secs(10),
        async || store.source("gs").is_some(),
    )
    .await;
    store.close().await.unwrap();
    other.close().await.unwrap();
}
