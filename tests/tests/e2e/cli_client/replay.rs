//! `wasmhook plugin replay`: a local build of a mapper run over what a real
//! server kept for a source — accepted callbacks (kept by the server with
//! the events they became) and rejected ones — showing which would change.
//! The two builds are the `parcel-v1`/`parcel-v2` test guests: the first
//! rejects `READ` reports and drops a failure's reason, the fixed one does
//! neither.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wasmhook_tests::server::{TestServer, json_of};

use super::{client, stdout_json};
use crate::harness::plugin_path;

fn guest_path(name: &str) -> String {
    wasmhook_tests::ensure_built();
    let path = wasmhook_tests::repo_root()
        .join("tests/guests/dist")
        .join(format!("{name}.wasm"));
    path.to_str().expect("a UTF-8 path").to_owned()
}

async fn send(server: &TestServer, token: &str, report: Value) -> u16 {
    let response = server
        .client
        .post(server.url(&format!("/ingest/parcel-sms?token={token}")))
        .json(&report)
        .send()
        .await
        .expect("ingest");
    json_of(response).await.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_shows_rejected_callbacks_mapping_after_a_fix() {
    let server = TestServer::start().await;
    let (v1, v2) = (guest_path("parcel-v1"), guest_path("parcel-v2"));
    stdout_json(&client(&server, &["plugin", "push", &v1, "--name", "parcel"]).await);
    let token = server
        .create_source("parcel-sms", "parcel", json!({}))
        .await;

    // The first build stores two reports and rejects three `READ` ones.
    let delivered = json!({"id": "p-1", "to": "+15550001", "state": "DELIVERED"});
    let failed = json!({"id": "p-2", "to": "+15550002", "state": "FAILED", "reason": "Line busy"});
    assert_eq!(send(&server, &token, delivered).await, 202);
    assert_eq!(send(&server, &token, failed).await, 202);
    for n in 3..=5 {
        let read = json!({"id": format!("p-{n}"), "to": "+15550003", "state": "READ"});
        assert_eq!(send(&server, &token, read).await, 422, "READ p-{n}");
    }
    // Accepted callbacks are kept after the answer: wait for both.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, page) = server.get("/v1/sources/parcel-sms/callbacks").await;
        assert_eq!(status, 200, "{page}");
        if page["data"].as_array().map(Vec::len) == Some(2) {
            let newest = &page["data"][0];
            assert_eq!(newest["plugin_version"], 1, "{newest}");
            assert_eq!(newest["event_ids"].as_array().map(Vec::len), Some(1));
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the callbacks were never kept: {page}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The fixed build: the three rejected ones map, the failure gains its
    // reason, the delivered one is unchanged (and listed only with -v).
    let fixed = client(
        &server,
        &["plugin", "replay", &v2, "--source", "parcel-sms"],
    )
    .await;
    let out = String::from_utf8_lossy(&fixed.stdout);
    assert!(
        fixed.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&fixed.stderr)
    );
    assert!(
        out.contains(
            "5 callbacks of source `parcel-sms`: 1 unchanged, 1 changed, 3 would now map, \
             0 still rejected, 0 would now be rejected"
        ),
        "{out}"
    );
    for n in 3..=5 {
        assert!(out.contains(&format!("→ status read of p-{n}")), "{out}");
    }
    assert_eq!(
        out.matches("was rejected: plugin_error").count(),
        3,
        "{out}"
    );
    let changed = out
        .lines()
        .skip_while(|line| !line.starts_with("changed"))
        .nth(1)
        .unwrap_or_default();
    assert!(
        changed.contains("events[0].status.description: null → \"Line busy\""),
        "{out}"
    );
    assert!(!out.contains("unchanged  cb_"), "{out}");
    let verbose = client(
        &server,
        &["plugin", "replay", &v2, "--source", "parcel-sms", "-v"],
    )
    .await;
    assert!(String::from_utf8_lossy(&verbose.stdout).contains("unchanged       cb_"));

    // The build the server runs changes nothing; `--since` in the future
    // finds nothing.
    let same = client(
        &server,
        &["plugin", "replay", &v1, "--source", "parcel-sms"],
    )
    .await;
    let out = String::from_utf8_lossy(&same.stdout);
    assert!(same.status.success(), "{out}");
    assert!(
        out.contains("2 unchanged, 0 changed, 0 would now map, 3 still rejected"),
        "{out}"
    );
    let later = client(
        &server,
        &[
            "plugin",
            "replay",
            &v2,
            "--source",
            "parcel-sms",
            "--since",
            "4102444800000",
        ],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&later.stdout).contains("has no kept callbacks since then"),
        "{}",
        String::from_utf8_lossy(&later.stdout)
    );

    // A build that rejects what the server accepted fails the command.
    let gupshup = plugin_path("gupshup");
    let regressed = client(
        &server,
        &[
            "plugin",
            "replay",
            gupshup.to_str().unwrap(),
            "--source",
            "parcel-sms",
        ],
    )
    .await;
    let out = String::from_utf8_lossy(&regressed.stdout);
    assert_eq!(regressed.status.code(), Some(1), "{out}");
    assert!(out.contains("2 would now be rejected"), "{out}");
    server.stop().await;
}
