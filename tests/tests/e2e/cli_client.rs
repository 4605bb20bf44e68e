//! The client commands (`wasmhook plugin push|list|get|activate`,
//! `source`, `endpoint`, `event`) as a user runs them: the real binary
//! against a real server in this process, JSON on stdout, and one-line
//! failures on stderr with exit code 1. The other resources (endpoint
//! changes, deliveries, connectors, blocks, workflows, render, rejected
//! callbacks) and `-o table|json` are in `resources`; tenants, keys, the
//! audit log and `--tenant` in `tenants`.

mod replay;
mod resources;
mod tenants;

use std::process::Output;

use serde_json::Value;
use wasmhook_tests::server::{ADMIN_TOKEN, TestServer, json_of};

use crate::harness::{fixtures_dir, plugin_bytes_tagged, plugin_path};

/// Runs the binary with a clean client environment; the server's runtime
/// keeps serving while it runs (the child is awaited, not blocked on).
pub(super) async fn wasmhook(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_wasmhook-e2e"))
        .args(args)
        .env_remove("WASMHOOK_SERVER")
        .env_remove("WASMHOOK_TOKEN")
        .env_remove("WASMHOOK_TENANT")
        // Loopback requests must not go through a proxy of the machine.
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("no_proxy", "127.0.0.1,localhost")
        .output()
        .await
        .expect("wasmhook runs")
}

/// Runs a client command against `server` with the admin token.
pub(super) async fn client(server: &TestServer, args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend(["--server", &server.base, "--token", ADMIN_TOKEN]);
    wasmhook(&all).await
}

/// The JSON a successful command printed.
pub(super) fn stdout_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

/// The one error line a failed command printed (exit code 1, stdout empty).
pub(super) fn error_line(output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(output.stdout.is_empty(), "nothing on stdout on failure");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    stderr.trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_push_version_activate_list_and_get() {
    let server = TestServer::start().await;
    let wasm = plugin_path("gupshup");
    let wasm = wasm.to_str().unwrap();

    let first = stdout_json(&client(&server, &["plugin", "push", wasm, "--name", "gs-cli"]).await);
    assert_eq!(first["version"]["version"], 1);
    assert_eq!(first["version"]["world"], "mapper");
    assert_eq!(first["plugin"]["active_version"], 1);

    // The same file again adds no version: it is version 1.
    let repeated = client(&server, &["plugin", "push", wasm, "--name", "gs-cli"]).await;
    assert_eq!(stdout_json(&repeated)["version"]["version"], 1);
    let summary = String::from_utf8_lossy(&repeated.stderr);
    assert!(
        summary.contains("already has these bytes as version 1; no version added"),
        "summary on stderr: {summary}"
    );

    let tagged = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tagged.path(), plugin_bytes_tagged("gupshup", "v2")).unwrap();
    let pushed = client(
        &server,
        &[
            "plugin",
            "push",
            tagged.path().to_str().unwrap(),
            "--name",
            "gs-cli",
            "--activate",
        ],
    )
    .await;
    let second = stdout_json(&pushed);
    assert_eq!(second["version"]["version"], 2);
    assert_eq!(second["plugin"]["active_version"], 2);
    let summary = String::from_utf8_lossy(&pushed.stderr);
    assert!(
        summary.contains("`gs-cli` version 2 (active version: 2)"),
        "summary on stderr: {summary}"
    );

    let activated = stdout_json(&client(&server, &["plugin", "activate", "gs-cli", "1"]).await);
    assert_eq!(activated["active_version"], 1);
    assert_eq!(activated["latest_version"], 2);

    let listed = stdout_json(&client(&server, &["plugin", "list"]).await);
    let mine = listed
        .as_array()
        .expect("a list")
        .iter()
        .find(|plugin| plugin["name"] == "gs-cli")
        .expect("gs-cli listed");
    assert_eq!(mine["active_version"], 1);

    let detail = stdout_json(&client(&server, &["plugin", "get", "gs-cli"]).await);
    assert_eq!(detail["active_version"], 1);
    let versions: Vec<&Value> = detail["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| &v["version"])
        .collect();
    assert_eq!(versions, [1, 2]);
    assert_ne!(
        detail["versions"][0]["sha256"], detail["versions"][1]["sha256"],
        "two versions, two contents"
    );

    assert_eq!(
        error_line(&client(&server, &["plugin", "get", "nope"]).await),
        "wasmhook: GET /v1/plugins/nope: 404 not_found: no plugin named `nope`"
    );
    let not_a_version = error_line(&client(&server, &["plugin", "activate", "gs-cli", "9"]).await);
    assert!(
        not_a_version.starts_with("wasmhook: POST /v1/plugins/gs-cli/activate: 4"),
        "{not_a_version}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sources_and_events_of_an_ingested_callback() {
    let server = TestServer::start().await;
    let config_dir = tempfile::tempdir().unwrap();
    let config_file = config_dir.path().join("config.json");
    std::fs::write(&config_file, "{}").unwrap();
    let config_arg = format!("@{}", config_file.display());

    let created = stdout_json(
        &client(
            &server,
            &[
                "source",
                "create",
                "--name",
                "wa-cli",
                "--mapper",
                "gupshup",
                "--channel",
                "whatsapp",
                "--config",
                &config_arg,
            ],
        )
        .await,
    );
    assert_eq!(created["name"], "wa-cli");
    assert_eq!(created["channel"], "whatsapp");
    let ingest_token = created["ingest_token"]
        .as_str()
        .expect("a generated ingest token");

    let listed = stdout_json(&client(&server, &["source", "list"]).await);
    assert!(
        listed
            .as_array()
            .expect("a list")
            .iter()
            .any(|source| source["name"] == "wa-cli")
    );
    let source = stdout_json(&client(&server, &["source", "get", "wa-cli"]).await);
    assert_eq!(source["mapper"], "gupshup");
    assert_eq!(
        error_line(
            &client(
                &server,
                &[
                    "source", "create", "--name", "wa-cli", "--mapper", "gupshup"
                ]
            )
            .await
        ),
        "wasmhook: POST /v1/sources: 409 conflict: a source named `wa-cli` exists"
    );

    let body = std::fs::read(fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json"))
        .expect("fixture");
    let (status, accepted) = json_of(
        server
            .client
            .post(server.url(&format!("/ingest/wa-cli?token={ingest_token}")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("ingest"),
    )
    .await;
    assert_eq!(status, 202, "{accepted}");
    let event_id = accepted["events"][0]["id"].as_str().expect("an event id");

    let page = stdout_json(
        &client(
            &server,
            &[
                "event",
                "list",
                "--source",
                "wa-cli",
                "--status",
                "delivered",
                "--channel",
                "whatsapp",
                "--event-type",
                "status",
                "--limit",
                "5",
            ],
        )
        .await,
    );
    let events = page["data"].as_array().expect("a page of events");
    assert_eq!(events.len(), 1, "{page}");
    assert_eq!(events[0]["id"], event_id);

    let other = stdout_json(&client(&server, &["event", "list", "--status", "failed"]).await);
    assert_eq!(other["data"], Value::Array(Vec::new()));

    let event = stdout_json(&client(&server, &["event", "get", event_id]).await);
    assert_eq!(event["source"], "wa-cli");
    assert_eq!(event["status"]["status"], "delivered");

    let bad_filter = error_line(&client(&server, &["event", "list", "--status", "bogus"]).await);
    assert!(
        bad_filter.starts_with("wasmhook: GET /v1/events?status=bogus: 400 ")
            && bad_filter.contains("status"),
        "{bad_filter}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_list_get_and_a_missing_one() {
    let server = TestServer::start().await;
    let (status, created) = server
        .post(
            "/v1/endpoints",
            &serde_json::json!({"url": "https://receiver.example.com/hooks", "description": "cli"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("an endpoint id");

    let listed = stdout_json(&client(&server, &["endpoint", "list"]).await);
    let ids: Vec<&Value> = listed
        .as_array()
        .expect("a list")
        .iter()
        .map(|endpoint| &endpoint["id"])
        .collect();
    assert_eq!(ids, [id]);
    let endpoint = stdout_json(&client(&server, &["endpoint", "get", id]).await);
    assert_eq!(endpoint["url"], "https://receiver.example.com/hooks");
    assert_eq!(endpoint["description"], "cli");

    let missing = error_line(&client(&server, &["endpoint", "get", "ep_nope"]).await);
    assert!(
        missing.starts_with("wasmhook: GET /v1/endpoints/ep_nope: 404 not_found: "),
        "{missing}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_or_missing_admin_token_is_refused() {
    let server = TestServer::start().await;
    let wrong = wasmhook(&[
        "plugin",
        "list",
        "--server",
        &server.base,
        "--token",
        "wrong",
    ])
    .await;
    assert_eq!(
        error_line(&wrong),
        "wasmhook: GET /v1/plugins: 401 unauthorized: the admin token is wrong \
         (check --token or WASMHOOK_TOKEN)"
    );
    let missing = error_line(&wasmhook(&["source", "list", "--server", &server.base]).await);
    assert!(
        missing.contains("no admin token")
            && missing.contains("export WASMHOOK_TOKEN=$(cat wasmhook-data/admin_token)"),
        "{missing}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_named() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let server = format!("http://127.0.0.1:{port}");
    let line = error_line(&wasmhook(&["event", "list", "--server", &server, "--token", "t"]).await);
    assert!(
        line.starts_with(&format!(
            "wasmhook: cannot reach the server at {server} (is `wasmhook serve` running?): "
        )),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_component_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.wasm");
    let line = error_line(
        &wasmhook(&[
            "plugin",
            "push",
            missing.to_str().unwrap(),
            "--name",
            "x",
            "--token",
            "t",
        ])
        .await,
    );
    assert!(
        line.starts_with(&format!("wasmhook: cannot read {}: ", missing.display())),
        "{line}"
    );
    let config = dir.path().join("absent.json");
    let line = error_line(
        &wasmhook(&[
            "source",
            "create",
            "--name",
            "x",
            "--mapper",
            "gupshup",
            "--config",
            &format!("@{}", config.display()),
            "--token",
            "t",
        ])
        .await,
    );
    assert!(
        line.starts_with(&format!("wasmhook: cannot read {}: ", config.display())),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_invoke_dry_runs_any_version_on_a_file() {
    let server = TestServer::start().await;
    let gupshup = plugin_path("gupshup");
    let twilio = plugin_path("twilio");
    stdout_json(
        &client(
            &server,
            &[
                "plugin",
                "push",
                gupshup.to_str().unwrap(),
                "--name",
                "inv-cli",
            ],
        )
        .await,
    );
    stdout_json(
        &client(
            &server,
            &[
                "plugin",
                "push",
                twilio.to_str().unwrap(),
                "--name",
                "inv-cli",
                "--activate",
            ],
        )
        .await,
    );
    let sample = fixtures_dir("gupshup").join("secondary-wa-v2-delivered.json");
    let sample = sample.to_str().unwrap();

    // Version 1 (gupshup) maps the gupshup sample; stats go to stderr.
    let ran = client(
        &server,
        &[
            "plugin",
            "invoke",
            "inv-cli",
            "--version",
            "1",
            "--input",
            sample,
        ],
    )
    .await;
    let result = stdout_json(&ran);
    assert_eq!(
        result["events"][0]["status"]["status"], "delivered",
        "{result}"
    );
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(stderr.contains("`inv-cli` version 1 ran in"), "{stderr}");

    // The active version (twilio) refuses it: exit 1, why on stderr.
    let refused = client(&server, &["plugin", "invoke", "inv-cli", "--input", sample]).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("version 2 ran in") && stderr.contains("`inv-cli` failed"),
        "{stderr}"
    );

    // A plugin that is not there: the API's 404, on one line.
    let missing = client(&server, &["plugin", "invoke", "nope", "--input", sample]).await;
    assert!(error_line(&missing).contains("404"), "{:?}", missing);
    server.stop().await;
}
